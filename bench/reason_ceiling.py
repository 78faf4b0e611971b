"""How well could anyone name why a synthetic account churned?

Reads a base's ground truth (`pulse synth --out DIR` writes DIR/truth/) and,
for every health-driven churner, takes the hidden state of its last simulated
week before the churn (price shock, support quality, adoption, business
climate, a competitor's evaluation) to name the reason an oracle would: the
largest of the generator's reason weights (docs/synthetic-base.md). The
oracle's hit rate is the ceiling of any reason-accuracy measure on that base:
no model sees more than the hidden state. `champion_left` is left out (the
state file does not say whether the champion was lost) and exogenous churns
are not health-driven. A renewal churn's price weight assumes the ordinary
regime (renewal logit weight 0.9; a base written with `--price-regime-from`
weighs 2.5 after that day).

    python3 bench/reason_ceiling.py DIR/truth

With a week's list (`pulse lists export --format csv > LIST.csv`) it also
says how concentrated the true causes of that list are: for each row in the
owners' slices, the largest deficit of the account's latest simulated week
(the reason it would be given if it churned now; price weighed as at a
renewal when the renewal is within 90 days), next to the cause Pulse named.

    python3 bench/reason_ceiling.py DIR/truth LIST.csv

Standard library only.
"""

import collections
import csv
import sys
from pathlib import Path

EXOGENOUS = {"out_of_business", "acquired"}
# The cause each reason's play addresses (the reason-accuracy mapping).
CAUSE = {
    "price": "commercial",
    "support_experience": "support",
    "low_adoption": "adoption",
    "weak_relationship": "relationships",
    "budget_cuts": "commercial",
    "competitor": "sentiment",
}


RENEW_SLOPE = 2.2
PRICE_WEIGHT = 0.9
EVALUATION_PULL = 0.8


def weights(week, renewal):
    # Each deficit in units of health (its weight in x); at a renewal the
    # price shock also carries the renewal logit's own weight.
    price = 1.2 + (PRICE_WEIGHT / RENEW_SLOPE if renewal else 0.0)
    shock = float(week["price_shock"])
    s = float(week["support_quality"])
    a = float(week["adoption"])
    u = float(week["business"])
    r = float(week["relationship"])
    evaluating = week.get("evaluating") == "true"
    return {
        "price": price * shock + 0.05,
        "support_experience": 3.5 * max(0.65 - s, 0) + 0.05,
        "low_adoption": 3 * max(0.6 - a, 0) + 0.05,
        "weak_relationship": 3 * max(0.55 - r, 0) + 0.05,
        "competitor": EVALUATION_PULL if evaluating else 0.0,
        "budget_cuts": 0.35 * max(-u, 0),
    }


def main(truth: Path) -> None:
    churners = {
        r["account_id"]: r
        for r in csv.DictReader(open(truth / "truth_accounts.csv", newline=""))
        if r["churned"] == "true" and r["churn_reason"] not in EXOGENOUS
    }
    last = {}
    for w in csv.DictReader(open(truth / "truth_health.csv", newline="")):
        c = churners.get(w["account_id"])
        if c is not None and w["week"] <= c["churn_day"]:
            last[w["account_id"]] = w
    n = hit = 0
    by = collections.Counter()
    hits = collections.Counter()
    for a, c in churners.items():
        reason = c["churn_reason"]
        if reason == "champion_left" or a not in last:
            continue
        w = weights(last[a], c["churn_kind"] == "renewal")
        guess = max(w, key=w.get)
        n += 1
        by[reason] += 1
        if guess == reason:
            hit += 1
            hits[reason] += 1
    common = by.most_common(1)[0] if by else ("-", 0)
    print(f"health-driven churners (champion_left aside): {n}")
    print(f"oracle (largest reason weight of the hidden state): {hit / max(n, 1):.1%}")
    print(f"always '{common[0]}': {common[1] / max(n, 1):.1%}")
    for reason, k in by.most_common():
        print(f"  {reason:<20} {k:>5} churners, oracle right for {hits[reason]}")


def list_causes(truth: Path, listed: Path) -> None:
    rows = [
        r
        for r in csv.DictReader(open(listed, newline=""))
        if r["in_capacity"] == "true"
    ]
    ids = {r["account_id"] for r in rows}
    last = {}
    for w in csv.DictReader(open(truth / "truth_health.csv", newline="")):
        if w["account_id"] in ids:
            last[w["account_id"]] = w
    true = collections.Counter()
    named = collections.Counter()
    pairs = collections.Counter()
    for r in rows:
        days = r["days_to_renewal"]
        w = weights(last[r["account_id"]], days != "" and int(days) <= 90)
        cause = CAUSE[max(w, key=w.get)]
        true[cause] += 1
        named[r["reason"]] += 1
        pairs[(cause, r["reason"])] += 1
    n = max(len(rows), 1)
    share = lambda c: ", ".join(f"{k} {v} ({v / n:.0%})" for k, v in c.most_common())
    print(f"rows in the owners' slices: {len(rows)}")
    print(f"true largest deficit: {share(true)}")
    print(f"cause Pulse named:    {share(named)}")
    hit = sum(v for (t, p), v in pairs.items() if t == p)
    print(f"same cause: {hit} of {len(rows)}; true -> named:")
    for (t, p), v in pairs.most_common():
        print(f"  {t:<14} -> {p:<14} {v:>4}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: reason_ceiling.py DIR/truth [LIST.csv]")
    main(Path(sys.argv[1]))
    if len(sys.argv) == 3:
        print()
        list_causes(Path(sys.argv[1]), Path(sys.argv[2]))
