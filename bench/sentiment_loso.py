#!/usr/bin/env python3
"""Leave-one-source-out sentiment benchmark: Pulse's default model vs VADER and a plain
scikit-learn TF-IDF + LogisticRegression, on the same rows, in one run.

    python3 bench/sentiment_loso.py            # from the workspace root

1. Creates bench/.venv-sentiment (or --venv DIR) with the pinned bench/requirements-sentiment.txt
   unless it already holds exactly these, then re-runs itself with the venv's Python.
2. Builds and runs the Rust half, `cargo build --release -p pulse-sentiment --example
   sentiment_loso`: for each labelled source in training-data/sentiment (VADER's four ground-truth
   sets, the three UCI sentence sets), Pulse's default model (TrainParams::default()) is trained
   on every other source and predicts the left-out one. It writes corpus.csv and pulse.csv.
3. Here, for each left-out source, on exactly the same training rows: TF-IDF word 1-2-grams +
   char_wb 2-5-grams (sublinear tf, min_df 2) + LogisticRegression(C=1), and VADER (lexicon
   only, nothing to train; compound >= 0.05 positive, <= -0.05 negative, else neutral).
4. Prints one table of macro-F1 per left-out source (scikit-learn's f1_score, average="macro":
   the classes present in the truth or the predictions, as Pulse's own evaluation counts them;
   the UCI sets have no neutral class, so a neutral prediction there costs every model the same
   way), writes it to bench-out/sentiment_loso/results.md, and checks the targets:
   Pulse above the TF-IDF baseline on every left-out source, and Pulse's mean at least 0.12
   above VADER's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "bench" / "requirements-sentiment.txt"
VADER_MARGIN = 0.12


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venv", default=str(ROOT / "bench" / ".venv-sentiment"))
    p.add_argument("--out", default=str(ROOT / "bench-out" / "sentiment_loso"))
    p.add_argument("--no-build", action="store_true", help="use the already built example binary")
    return p.parse_args()


def ensure_venv(venv: Path) -> None:
    """Re-executes this script inside `venv` (see bench_venv.py)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_venv import ensure_venv as ensure

    ensure(venv, REQUIREMENTS, __file__)


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def main() -> None:
    args = parse_args()
    ensure_venv(Path(args.venv))
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.pipeline import make_pipeline, make_union
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    out = Path(args.out)
    exe = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples" / "sentiment_loso"
    if not args.no_build:
        cmd = ["cargo", "build", "--release", "--locked", "-p", "pulse-sentiment", "--example", "sentiment_loso"]
        print("$ " + " ".join(cmd), flush=True)
        subprocess.run(cmd, cwd=ROOT, check=True)
    load0 = load_average()
    subprocess.run([str(exe), str(out)], cwd=ROOT, check=True)
    corpus = pd.read_csv(out / "corpus.csv", keep_default_na=False)
    pulse = pd.read_csv(out / "pulse.csv", keep_default_na=False)
    assert (pulse["row"].values == corpus["row"].values).all(), "rows differ between the halves"
    corpus["pulse"] = pulse["predicted"].values

    vader = SentimentIntensityAnalyzer()

    def vader_label(text: str) -> str:
        c = vader.polarity_scores(text)["compound"]
        return "positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral"

    corpus["vader"] = [vader_label(t) for t in corpus["text"]]
    rows = []
    for source in sorted(corpus["source"].unique()):
        train, test = corpus[corpus["source"] != source], corpus[corpus["source"] == source]
        t0 = time.perf_counter()
        tfidf = make_pipeline(
            make_union(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
                TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            ),
            LogisticRegression(C=1.0, max_iter=2000),
        )
        tfidf.fit(train["text"], train["label"])
        secs = time.perf_counter() - t0
        f1 = {
            "pulse": f1_score(test["label"], test["pulse"], average="macro"),
            "tfidf": f1_score(test["label"], tfidf.predict(test["text"]), average="macro"),
            "vader": f1_score(test["label"], test["vader"], average="macro"),
        }
        rows.append((source, len(test), len(train), f1, secs))
        print(f"  {source}: {f1} (TF-IDF fit {secs:.1f} s)", flush=True)
    load1 = load_average()

    lines = [
        "| left-out source | docs | training docs | Pulse default | TF-IDF + LogisticRegression | VADER |",
        "|---|---|---|---|---|---|",
    ]
    for source, n, n_train, f1, _ in rows:
        lines.append(
            f"| {source} | {n:,} | {n_train:,} | {f1['pulse']:.4f} | {f1['tfidf']:.4f} | {f1['vader']:.4f} |"
        )
    mean = {k: sum(r[3][k] for r in rows) / len(rows) for k in ("pulse", "tfidf", "vader")}
    lines.append(f"| **mean** | | | {mean['pulse']:.4f} | {mean['tfidf']:.4f} | {mean['vader']:.4f} |")
    checks = []
    for source, _, _, f1, _ in rows:
        gap = f1["pulse"] - f1["tfidf"]
        checks.append(f"{'MET ' if gap > 0 else 'MISS'} {source}: Pulse {f1['pulse']:.4f} vs TF-IDF {f1['tfidf']:.4f} ({gap:+.4f}; target > 0)")
    gap = mean["pulse"] - mean["vader"]
    checks.append(
        f"{'MET ' if gap >= VADER_MARGIN else 'MISS'} mean: Pulse {mean['pulse']:.4f} vs VADER {mean['vader']:.4f} "
        f"({gap:+.4f}; target >= +{VADER_MARGIN})"
    )
    md = "\n".join(lines) + f"\n\nload average {load0} before, {load1} after\n\n" + "\n".join(checks) + "\n"
    print()
    print(md)
    (out / "results.md").write_text(md)


if __name__ == "__main__":
    main()
