//! The at-risk list (ranking, each owner's capacity slice, expected saved
//! ARR), the seeded holdout, and the movers.

use std::cmp::Ordering;
use std::collections::HashMap;

use pulse_core::time::Day;
use serde::{Deserialize, Serialize};

use crate::{Candidate, LastContact, ListConfig, RankBy};

/// Driver sentences shown on a row.
const ROW_DRIVERS: usize = 3;

/// How an account's score moved since the previous week's run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// This week's churn probability minus last week's.
    pub churn_probability: f64,
    /// This week's health minus last week's (points).
    pub health: f64,
    /// Whether it was red last week.
    pub was_red: bool,
}

/// One row of the at-risk list (or of the holdout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskRow {
    /// 1-based position in the whole ranked list.
    pub rank: u32,
    pub account_id: String,
    pub name: String,
    pub owner: String,
    pub segment: String,
    pub arr: f64,
    pub churn_probability: f64,
    pub health: f64,
    pub band: String,
    /// churn_probability x ARR.
    pub arr_at_risk: f64,
    /// Since the previous week's run; `None` when it had no score then.
    pub change: Option<Change>,
    /// The top three reasons (actionable drivers) as sentences.
    pub drivers: Vec<String>,
    /// The play with its urgency prefix ("Before the renewal in 7 days: ...").
    pub suggested_play: String,
    pub days_to_renewal: Option<i32>,
    /// The cause of the strongest risk-raising reason, the one the play
    /// addresses (`adoption`, `data_gap`, ...); empty for a band's play.
    #[serde(default)]
    pub reason: String,
    /// The play alone, without its urgency prefix.
    #[serde(default)]
    pub base_play: String,
    /// Probability of churning before the renewal (time-to-churn curve).
    #[serde(default)]
    pub churn_before_renewal: Option<f64>,
    /// The latest outreach within `contacted_days` before the list.
    pub contacted: Option<LastContact>,
    /// 1-based position within the owner's own accounts on the list.
    pub owner_rank: u32,
    /// In the owner's weekly slice (top `capacity_per_owner` of their
    /// yellow and red accounts not held back).
    pub in_capacity: bool,
    /// Kept out of the slice because it was contacted within `hold_back_days`.
    pub held_back: bool,
}

/// What the at-risk list adds up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskSummary {
    /// Accounts ranked (holdout excluded).
    pub accounts: usize,
    /// Yellow and red accounts among them.
    pub at_risk: usize,
    /// Accounts in the owners' slices.
    pub in_capacity: usize,
    /// Expected ARR at risk of the slices.
    pub capacity_arr_at_risk: f64,
    /// `save_rate` x the slices' ARR at risk: what outreach at capacity is
    /// expected to save if it saves `save_rate` of the ARR at risk it reaches.
    pub expected_saved_arr: f64,
    /// The assumed save rate behind `expected_saved_arr`.
    pub save_rate: f64,
    /// Accounts held out as the control group.
    pub holdout: usize,
    /// ARR at risk of the whole list.
    pub total_arr_at_risk: f64,
    /// What the owners' slices are about: rows per play and per cause.
    #[serde(default)]
    pub reasons: ReasonMix,
}

/// A list dominated by one play or one cause is flagged when the top share
/// is above this.
pub const CONCENTRATED_SHARE: f64 = 0.4;

/// Rows of one play or one cause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub name: String,
    pub rows: usize,
    /// rows / the rows counted.
    pub share: f64,
}

/// The reasons of the owners' slices: how many rows each play and each
/// cause of the strongest reason take, most first, and whether one
/// dominates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReasonMix {
    /// Rows counted (the owners' slices).
    pub rows: usize,
    /// By play (without the urgency prefix), most first.
    pub plays: Vec<Share>,
    /// By the cause of each row's strongest reason, most first.
    pub causes: Vec<Share>,
    /// The top play or the top cause is above [`CONCENTRATED_SHARE`].
    pub concentrated: bool,
    /// The mix in one sentence, concentrated or not.
    pub statement: String,
}

fn shares<'a>(names: impl Iterator<Item = &'a str>, total: usize) -> Vec<Share> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for n in names {
        *counts.entry(n).or_default() += 1;
    }
    let mut out: Vec<Share> = counts
        .into_iter()
        .map(|(name, rows)| Share {
            name: name.to_string(),
            rows,
            share: rows as f64 / total.max(1) as f64,
        })
        .collect();
    out.sort_by(|a, b| b.rows.cmp(&a.rows).then(a.name.cmp(&b.name)));
    out
}

/// The reason mix of `rows`.
pub fn reason_mix<'a>(rows: impl Iterator<Item = &'a RiskRow> + Clone) -> ReasonMix {
    let n = rows.clone().count();
    if n == 0 {
        return ReasonMix {
            statement: "no rows in the owners' slices".into(),
            ..Default::default()
        };
    }
    let plays = shares(rows.clone().map(|r| r.base_play.as_str()), n);
    let causes = shares(
        rows.map(|r| {
            if r.reason.is_empty() {
                "none"
            } else {
                r.reason.as_str()
            }
        }),
        n,
    );
    let (tp, tc) = (&plays[0], &causes[0]);
    let concentrated = tp.share > CONCENTRATED_SHARE || tc.share > CONCENTRATED_SHARE;
    let pct = |s: f64| format!("{:.0}%", 100.0 * s);
    let statement = format!(
        "{}: the top play \"{}\" is on {} of {n} rows ({} plays in all); the top cause, {}, on {} ({} causes)",
        if concentrated {
            "Concentrated"
        } else {
            "Varied"
        },
        tp.name,
        pct(tp.share),
        plays.len(),
        tc.name.replace('_', " "),
        pct(tc.share),
        causes.len()
    );
    ReasonMix {
        rows: n,
        plays,
        causes,
        concentrated,
        statement,
    }
}

/// The at-risk list of a week.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskList {
    /// Every scored account not held out, highest risk first.
    pub rows: Vec<RiskRow>,
    /// The held-out accounts, highest risk first (rank within the holdout).
    pub holdout: Vec<RiskRow>,
    pub summary: RiskSummary,
}

/// A uniform number in [0, 1) from `seed` and `id` (FNV-1a, then the
/// splitmix64 finaliser): the same on every machine and in every release.
fn unit_hash(seed: u64, id: &str) -> f64 {
    use pulse_core::rng::{FNV_OFFSET, fnv1a_from, splitmix64};
    let h = splitmix64(fnv1a_from(FNV_OFFSET ^ seed, id.as_bytes()));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether an at-risk account belongs to the holdout: a reproducible draw
/// from the seed and the account id alone, so the control group is the same
/// accounts every week.
pub fn held_out(seed: u64, account_id: &str, share: f64) -> bool {
    share > 0.0 && unit_hash(seed, account_id) < share
}

fn is_at_risk(c: &Candidate) -> bool {
    c.band == "yellow" || c.band == "red"
}

fn key(c: &Candidate, by: RankBy) -> f64 {
    match by {
        RankBy::ArrAtRisk => c.arr_at_risk(),
        RankBy::Probability => c.churn_probability,
    }
}

/// Highest key first; ties by higher probability, then account id.
fn by_risk(a: &Candidate, b: &Candidate, by: RankBy) -> Ordering {
    key(b, by)
        .total_cmp(&key(a, by))
        .then(b.churn_probability.total_cmp(&a.churn_probability))
        .then(b.margin.total_cmp(&a.margin))
        .then(a.account_id.cmp(&b.account_id))
}

fn row(c: &Candidate, rank: u32, cfg: &ListConfig, today: Day) -> RiskRow {
    let contacted = c
        .last_contact
        .clone()
        .filter(|l| today - l.day < cfg.contacted_days as i32);
    RiskRow {
        rank,
        account_id: c.account_id.clone(),
        name: c.name.clone(),
        owner: c.owner.clone(),
        segment: c.segment.clone(),
        arr: c.arr,
        churn_probability: c.churn_probability,
        health: c.health,
        band: c.band.clone(),
        arr_at_risk: c.arr_at_risk(),
        change: c.previous.map(|p| Change {
            churn_probability: c.churn_probability - p.churn_probability,
            health: c.health - p.health,
            was_red: p.red,
        }),
        drivers: c.drivers.iter().take(ROW_DRIVERS).cloned().collect(),
        suggested_play: c.suggested_play.clone(),
        days_to_renewal: c.days_to_renewal,
        reason: c.reason.clone(),
        base_play: c.base_play.clone(),
        churn_before_renewal: c.churn_before_renewal,
        contacted,
        owner_rank: 0,
        in_capacity: false,
        held_back: false,
    }
}

/// Ranks the week's accounts (`today` is the list's as-of day).
pub fn risk_list(candidates: &[Candidate], cfg: &ListConfig, today: Day) -> RiskList {
    let mut sorted: Vec<&Candidate> = candidates.iter().collect();
    sorted.sort_by(|a, b| by_risk(a, b, cfg.rank_by));
    let (held, ranked): (Vec<&Candidate>, Vec<&Candidate>) = sorted.into_iter().partition(|c| {
        is_at_risk(c) && held_out(cfg.holdout_seed, &c.account_id, cfg.holdout_share)
    });
    let mut rows: Vec<RiskRow> = ranked
        .iter()
        .enumerate()
        .map(|(i, c)| row(c, i as u32 + 1, cfg, today))
        .collect();
    // Each owner's slice: the top K of their own yellow and red accounts,
    // skipping those contacted within the hold-back window.
    let mut seen: HashMap<String, (u32, usize)> = HashMap::new();
    for (r, c) in rows.iter_mut().zip(&ranked) {
        let e = seen.entry(r.owner.clone()).or_insert((0, 0));
        e.0 += 1;
        r.owner_rank = e.0;
        r.held_back = cfg.hold_back_days > 0
            && c.last_contact
                .as_ref()
                .is_some_and(|l| today - l.day < cfg.hold_back_days as i32);
        if is_at_risk(c) && !r.held_back && e.1 < cfg.capacity_per_owner {
            e.1 += 1;
            r.in_capacity = true;
        }
    }
    let holdout: Vec<RiskRow> = held
        .iter()
        .enumerate()
        .map(|(i, c)| row(c, i as u32 + 1, cfg, today))
        .collect();
    let capacity_arr_at_risk: f64 = rows
        .iter()
        .filter(|r| r.in_capacity)
        .map(|r| r.arr_at_risk)
        .sum();
    let summary = RiskSummary {
        accounts: rows.len(),
        at_risk: rows.iter().filter(|r| r.band != "green").count(),
        in_capacity: rows.iter().filter(|r| r.in_capacity).count(),
        capacity_arr_at_risk,
        expected_saved_arr: cfg.save_rate * capacity_arr_at_risk,
        save_rate: cfg.save_rate,
        holdout: holdout.len(),
        total_arr_at_risk: rows.iter().map(|r| r.arr_at_risk).sum(),
        reasons: reason_mix(rows.iter().filter(|r| r.in_capacity)),
    };
    RiskList {
        rows,
        holdout,
        summary,
    }
}

/// An account whose risk rose, or that newly turned red.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoverRow {
    pub rank: u32,
    pub account_id: String,
    pub name: String,
    pub owner: String,
    pub segment: String,
    pub band: String,
    pub arr: f64,
    pub churn_probability: f64,
    pub previous_churn_probability: f64,
    /// Health points lost (negative) or gained since last week.
    pub health_change: f64,
    /// Red now, not red last week.
    pub newly_red: bool,
    /// Why, in the drivers' words (top three).
    pub drivers: Vec<String>,
    pub suggested_play: String,
}

/// The week's movers.
#[derive(Debug, Clone, PartialEq)]
pub struct Movers {
    /// The `cfg.movers` accounts whose churn probability rose the most.
    pub risers: Vec<MoverRow>,
    /// Every account red now and not red in the previous run, by ARR at risk.
    pub newly_red: Vec<MoverRow>,
}

fn mover(c: &Candidate, p: crate::Previous, rank: u32) -> MoverRow {
    MoverRow {
        rank,
        account_id: c.account_id.clone(),
        name: c.name.clone(),
        owner: c.owner.clone(),
        segment: c.segment.clone(),
        band: c.band.clone(),
        arr: c.arr,
        churn_probability: c.churn_probability,
        previous_churn_probability: p.churn_probability,
        health_change: c.health - p.health,
        newly_red: c.band == "red" && !p.red,
        drivers: c.drivers.iter().take(ROW_DRIVERS).cloned().collect(),
        suggested_play: c.suggested_play.clone(),
    }
}

/// Accounts whose churn probability rose the most since the previous run
/// (only rises count), and the accounts newly red.
pub fn movers(candidates: &[Candidate], cfg: &ListConfig) -> Movers {
    let mut rising: Vec<(&Candidate, crate::Previous)> = candidates
        .iter()
        .filter_map(|c| c.previous.map(|p| (c, p)))
        .filter(|(c, p)| c.churn_probability > p.churn_probability)
        .collect();
    rising.sort_by(|(a, pa), (b, pb)| {
        (b.churn_probability - pb.churn_probability)
            .total_cmp(&(a.churn_probability - pa.churn_probability))
            .then(a.account_id.cmp(&b.account_id))
    });
    let risers = rising
        .iter()
        .take(cfg.movers)
        .enumerate()
        .map(|(i, (c, p))| mover(c, *p, i as u32 + 1))
        .collect();
    let mut red: Vec<(&Candidate, crate::Previous)> = candidates
        .iter()
        .filter_map(|c| c.previous.map(|p| (c, p)))
        .filter(|(c, p)| c.band == "red" && !p.red)
        .collect();
    red.sort_by(|(a, _), (b, _)| by_risk(a, b, RankBy::ArrAtRisk));
    let newly_red = red
        .iter()
        .enumerate()
        .map(|(i, (c, p))| mover(c, *p, i as u32 + 1))
        .collect();
    Movers { risers, newly_red }
}

/// The columns of an at-risk list as CSV (`pulse lists export`, the web
/// console's download), in [`risk_csv_record`]'s order.
/// Columns added later go at the end, so existing readers keep working.
pub const RISK_CSV_HEADER: [&str; 27] = [
    "week",
    "rank",
    "account_id",
    "name",
    "owner",
    "segment",
    "arr",
    "churn_probability",
    "health",
    "band",
    "arr_at_risk",
    "churn_probability_change",
    "health_change",
    "driver_1",
    "driver_2",
    "driver_3",
    "suggested_play",
    "days_to_renewal",
    "contacted_day",
    "contacted_play",
    "contacted_outcome",
    "owner_rank",
    "in_capacity",
    "held_back",
    "reason",
    "play",
    "churn_before_renewal",
];

/// One at-risk row of week `week` as CSV cells (see [`RISK_CSV_HEADER`]).
pub fn risk_csv_record(week: &str, r: &RiskRow) -> Vec<String> {
    let opt = |v: Option<String>| v.unwrap_or_default();
    let d = |i: usize| r.drivers.get(i).cloned().unwrap_or_default();
    let c = r.contacted.as_ref();
    vec![
        week.to_string(),
        r.rank.to_string(),
        r.account_id.clone(),
        r.name.clone(),
        r.owner.clone(),
        r.segment.clone(),
        format!("{:.2}", r.arr),
        format!("{:.6}", r.churn_probability),
        format!("{:.2}", r.health),
        r.band.clone(),
        format!("{:.2}", r.arr_at_risk),
        opt(r.change.map(|c| format!("{:.6}", c.churn_probability))),
        opt(r.change.map(|c| format!("{:.2}", c.health))),
        d(0),
        d(1),
        d(2),
        r.suggested_play.clone(),
        opt(r.days_to_renewal.map(|d| d.to_string())),
        c.map(|c| pulse_core::time::format_day(c.day))
            .unwrap_or_default(),
        c.map(|c| c.play.clone()).unwrap_or_default(),
        c.map(|c| c.outcome.clone()).unwrap_or_default(),
        r.owner_rank.to_string(),
        r.in_capacity.to_string(),
        r.held_back.to_string(),
        r.reason.clone(),
        r.base_play.clone(),
        opt(r.churn_before_renewal.map(|p| format!("{p:.6}"))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Previous;
    use crate::testutil::cand;

    fn ids(rows: &[RiskRow]) -> Vec<&str> {
        rows.iter().map(|r| r.account_id.as_str()).collect()
    }

    #[test]
    fn the_reason_mix_counts_plays_and_causes_of_the_slices() {
        let mut cs: Vec<Candidate> = (0..10)
            .map(|i| {
                cand(
                    &format!("a{i}"),
                    "dana",
                    0.5 - 0.01 * f64::from(i),
                    10_000.0,
                )
            })
            .collect();
        // Six of ten on one play: concentrated.
        for c in cs.iter_mut().skip(6) {
            c.base_play = "Adoption workshop".into();
            c.reason = "adoption".into();
        }
        let cfg = ListConfig::default();
        let l = risk_list(&cs, &cfg, 20_000);
        let mix = &l.summary.reasons;
        assert_eq!(mix.rows, 10);
        assert_eq!(mix.plays[0].name, "Champion call");
        assert_eq!(mix.plays[0].rows, 6);
        assert!((mix.plays[0].share - 0.6).abs() < 1e-12);
        assert_eq!(mix.causes[1].name, "adoption");
        assert!(mix.concentrated);
        assert!(
            mix.statement.starts_with("Concentrated"),
            "{}",
            mix.statement
        );
        assert!(
            mix.statement.contains("60% of 10 rows"),
            "{}",
            mix.statement
        );
        // Spread over four plays and causes: not concentrated.
        for (i, c) in cs.iter_mut().enumerate() {
            c.base_play = format!("play {}", i % 4);
            c.reason = ["support", "adoption", "data_gap", "commercial"][i % 4].into();
        }
        let mix = risk_list(&cs, &cfg, 20_000).summary.reasons;
        assert!(!mix.concentrated, "{}", mix.statement);
        assert!(mix.statement.starts_with("Varied"), "{}", mix.statement);
        assert_eq!(mix.causes.len(), 4);
        // Only the owners' slices count.
        let cfg = ListConfig {
            capacity_per_owner: 2,
            ..Default::default()
        };
        assert_eq!(risk_list(&cs, &cfg, 20_000).summary.reasons.rows, 2);
        assert_eq!(reason_mix([].iter()).rows, 0);
    }

    #[test]
    fn calibration_ties_are_broken_by_the_model_margin() {
        // Three accounts an isotonic step maps to the same 27.7%.
        let mut cs = vec![
            cand("a", "ann", 0.277, 10_000.0),
            cand("b", "ann", 0.277, 10_000.0),
            cand("c", "ann", 0.277, 10_000.0),
        ];
        cs[0].margin = -1.2;
        cs[1].margin = -0.4;
        cs[2].margin = -0.9;
        for rank_by in [RankBy::ArrAtRisk, RankBy::Probability] {
            let cfg = ListConfig {
                rank_by,
                ..ListConfig::default()
            };
            assert_eq!(ids(&risk_list(&cs, &cfg, 100).rows), ["b", "c", "a"]);
        }
    }

    #[test]
    fn ranks_by_arr_at_risk_or_probability() {
        let cs = vec![
            cand("a", "ann", 0.30, 10_000.0), // 3,000 at risk
            cand("b", "ann", 0.10, 50_000.0), // 5,000
            cand("c", "bob", 0.50, 2_000.0),  // 1,000
            cand("d", "bob", 0.20, 15_000.0), // 3,000: ties a, lower probability
        ];
        let cfg = ListConfig::default();
        let l = risk_list(&cs, &cfg, 100);
        assert_eq!(ids(&l.rows), ["b", "a", "d", "c"]);
        assert_eq!(
            l.rows.iter().map(|r| r.rank).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert_eq!(l.rows[0].arr_at_risk, 5_000.0);
        assert_eq!(l.rows[0].drivers.len(), 3);
        assert_eq!(l.summary.total_arr_at_risk, 12_000.0);
        let by_p = ListConfig {
            rank_by: RankBy::Probability,
            ..ListConfig::default()
        };
        assert_eq!(ids(&risk_list(&cs, &by_p, 100).rows), ["c", "a", "d", "b"]);
    }

    #[test]
    fn each_owner_gets_the_top_k_of_their_own_book() {
        // Ann's accounts all outrank Bob's: a global cut of 4 would be all Ann.
        let mut cs: Vec<Candidate> = (0..6)
            .map(|i| cand(&format!("ann-{i}"), "ann", 0.5, 100_000.0 - i as f64))
            .collect();
        cs.extend((0..3).map(|i| cand(&format!("bob-{i}"), "bob", 0.2, 1_000.0 - i as f64)));
        // A green account is never in a slice.
        cs.push(cand("bob-green", "bob", 0.01, 900_000.0));
        let cfg = ListConfig {
            capacity_per_owner: 2,
            save_rate: 0.25,
            ..ListConfig::default()
        };
        let l = risk_list(&cs, &cfg, 100);
        let slice: Vec<&str> = l
            .rows
            .iter()
            .filter(|r| r.in_capacity)
            .map(|r| r.account_id.as_str())
            .collect();
        assert_eq!(slice, ["ann-0", "ann-1", "bob-0", "bob-1"]);
        let green = l.rows.iter().find(|r| r.account_id == "bob-green").unwrap();
        assert_eq!(
            (green.rank, green.owner_rank, green.in_capacity),
            (7, 1, false)
        );
        let bob1 = l.rows.iter().find(|r| r.account_id == "bob-1").unwrap();
        assert_eq!(bob1.owner_rank, 3);
        let at_risk = 0.5 * (100_000.0 + 99_999.0) + 0.2 * (1_000.0 + 999.0);
        assert!((l.summary.capacity_arr_at_risk - at_risk).abs() < 1e-6);
        assert!((l.summary.expected_saved_arr - 0.25 * at_risk).abs() < 1e-6);
        assert_eq!((l.summary.in_capacity, l.summary.at_risk), (4, 9));
    }

    #[test]
    fn contacts_are_marked_and_optionally_held_back() {
        let mut cs = vec![
            cand("a", "ann", 0.5, 10_000.0),
            cand("b", "ann", 0.4, 10_000.0),
            cand("c", "ann", 0.3, 10_000.0),
        ];
        let contact = |day| LastContact {
            day,
            play: "Champion call".into(),
            owner: "ann".into(),
            channel: "call".into(),
            outcome: "reached".into(),
        };
        cs[0].last_contact = Some(contact(95));
        cs[2].last_contact = Some(contact(60)); // outside the 30-day window
        let cfg = ListConfig {
            capacity_per_owner: 1,
            ..ListConfig::default()
        };
        let l = risk_list(&cs, &cfg, 100);
        assert_eq!(l.rows[0].contacted.as_ref().unwrap().outcome, "reached");
        assert!(l.rows[1].contacted.is_none());
        assert!(l.rows[2].contacted.is_none());
        assert!(l.rows[0].in_capacity && !l.rows[0].held_back);
        let hold = ListConfig {
            hold_back_days: 14,
            ..cfg
        };
        let l = risk_list(&cs, &hold, 100);
        assert!(l.rows[0].held_back && !l.rows[0].in_capacity);
        assert!(l.rows[1].in_capacity, "the next account takes the slot");
    }

    #[test]
    fn the_holdout_is_reproducible_and_near_its_share() {
        let n = 20_000;
        let drawn = (0..n)
            .filter(|i| held_out(7, &format!("acct-{i:06}"), 0.1))
            .count();
        let share = drawn as f64 / n as f64;
        assert!((share - 0.1).abs() < 0.01, "{share}");
        // Another seed draws other accounts.
        let both = (0..n)
            .filter(|i| {
                let id = format!("acct-{i:06}");
                held_out(7, &id, 0.1) && held_out(8, &id, 0.1)
            })
            .count();
        assert!(both < drawn / 5, "{both} of {drawn}");
        assert!(!held_out(7, "acct-000001", 0.0));

        // Only yellow and red accounts are held out; held-out accounts are
        // off the list; the draw does not depend on the order of the input.
        let cs: Vec<Candidate> = (0..2_000)
            .map(|i| {
                cand(
                    &format!("x-{i}"),
                    "ann",
                    if i % 2 == 0 { 0.5 } else { 0.01 },
                    1_000.0,
                )
            })
            .collect();
        let cfg = ListConfig {
            holdout_share: 0.2,
            holdout_seed: 11,
            ..ListConfig::default()
        };
        let l = risk_list(&cs, &cfg, 100);
        assert!(l.holdout.iter().all(|r| r.band != "green"));
        assert!((150..250).contains(&l.holdout.len()), "{}", l.holdout.len());
        assert_eq!(l.rows.len() + l.holdout.len(), 2_000);
        assert!(
            l.rows
                .iter()
                .all(|r| !held_out(11, &r.account_id, 0.2) || r.band == "green")
        );
        let mut rev = cs.clone();
        rev.reverse();
        assert_eq!(risk_list(&rev, &cfg, 100).holdout, l.holdout);
        assert_eq!(l.summary.holdout, l.holdout.len());
    }

    #[test]
    fn week_over_week_change_movers_and_newly_red() {
        let prev = |p: f64| Previous {
            churn_probability: p,
            health: 100.0 * (1.0 - p),
            red: p > 0.25,
        };
        let mut cs = vec![
            cand("up-a-lot", "ann", 0.40, 1_000.0),
            cand("up-a-little", "ann", 0.12, 1_000.0),
            cand("down", "bob", 0.05, 1_000.0),
            cand("new", "bob", 0.30, 1_000.0),
            cand("still-red", "bob", 0.50, 1_000.0),
        ];
        cs[0].previous = Some(prev(0.10));
        cs[1].previous = Some(prev(0.10));
        cs[2].previous = Some(prev(0.20));
        cs[4].previous = Some(prev(0.45));
        let l = risk_list(&cs, &ListConfig::default(), 100);
        let up = l.rows.iter().find(|r| r.account_id == "up-a-lot").unwrap();
        let ch = up.change.unwrap();
        assert!((ch.churn_probability - 0.30).abs() < 1e-12);
        assert!((ch.health + 30.0).abs() < 1e-9);
        assert!(!ch.was_red);
        assert!(
            l.rows
                .iter()
                .find(|r| r.account_id == "new")
                .unwrap()
                .change
                .is_none()
        );

        let m = movers(
            &cs,
            &ListConfig {
                movers: 2,
                ..ListConfig::default()
            },
        );
        let risers: Vec<&str> = m.risers.iter().map(|r| r.account_id.as_str()).collect();
        assert_eq!(risers, ["up-a-lot", "still-red"]);
        assert!(m.risers[0].newly_red);
        let red: Vec<&str> = m.newly_red.iter().map(|r| r.account_id.as_str()).collect();
        // "new" has no previous score: not a mover; "still-red" was red.
        assert_eq!(red, ["up-a-lot"]);
    }
}
