//! The expansion-ready list: healthy accounts (green, good experience)
//! ranked by expected expansion ARR = expansion propensity x headroom.
//!
//! Headroom is built from what the data holds: the plan ladder (each plan's
//! median ARR per seat among this week's accounts, plans ordered by it), so
//! moving an account to the next plan is worth
//! `seats x (next plan's median minus its plan's median)`; and active users
//! beyond the seats paid for
//! (`active users per seat > 1`), worth the extra seats at the account's own
//! price per seat.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Candidate, ListConfig};

/// Plans ordered by their median ARR per seat.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanLadder {
    /// `(plan, median ARR per seat)`, cheapest first.
    pub steps: Vec<(String, f64)>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

impl PlanLadder {
    /// The ladder of the plans the candidates are on (accounts with seats and
    /// ARR only).
    pub fn from_candidates(cs: &[Candidate]) -> Self {
        let mut by_plan: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for c in cs {
            if let Some(s) = c.seats
                && s > 0.0
                && c.arr > 0.0
            {
                by_plan.entry(&c.plan).or_default().push(c.arr / s);
            }
        }
        let mut steps: Vec<(String, f64)> = by_plan
            .into_iter()
            .map(|(p, v)| (p.to_string(), median(v)))
            .collect();
        steps.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        PlanLadder { steps }
    }

    /// The plan above `plan` and the difference in median ARR per seat.
    pub fn next(&self, plan: &str) -> Option<(&str, f64)> {
        let i = self.steps.iter().position(|(p, _)| p == plan)?;
        let (own, next) = (self.steps.get(i)?, self.steps.get(i + 1)?);
        Some((next.0.as_str(), next.1 - own.1))
    }
}

/// One row of the expansion-ready list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpansionRow {
    pub rank: u32,
    pub account_id: String,
    pub name: String,
    pub owner: String,
    pub segment: String,
    pub plan: String,
    pub arr: f64,
    pub health: f64,
    pub experience: Option<f64>,
    pub expansion_probability: f64,
    /// The next plan on the ladder, if any.
    pub next_plan: Option<String>,
    /// ARR that moving to the next plan would add.
    pub upgrade_arr: f64,
    /// ARR of the active users beyond the seats paid for.
    pub seat_overage_arr: f64,
    /// upgrade_arr + seat_overage_arr.
    pub headroom_arr: f64,
    /// expansion_probability x headroom_arr: what the list is ranked by.
    pub expected_expansion_arr: f64,
    /// What makes the account ready, in words.
    pub signals: Vec<String>,
}

/// Whole dollars with thousands separators (`$12,345`, `-$80`).
pub use pulse_core::money::dollars as money;

/// Green accounts with experience at least `cfg.expansion_min_experience`
/// (or no scorecard to tell) and an expansion score, ranked by expected
/// expansion ARR; accounts with no headroom are left out.
pub fn expansion_list(
    cs: &[Candidate],
    ladder: &PlanLadder,
    cfg: &ListConfig,
) -> Vec<ExpansionRow> {
    let mut rows: Vec<ExpansionRow> = cs
        .iter()
        .filter(|c| c.band == "green")
        .filter(|c| {
            c.experience
                .is_none_or(|e| e >= cfg.expansion_min_experience)
        })
        .filter_map(|c| {
            let p = c.expansion_probability?;
            let seats = c.seats.filter(|s| *s > 0.0);
            let next = ladder.next(&c.plan);
            let upgrade_arr = match (next, seats) {
                (Some((_, step)), Some(s)) if step > 0.0 => step * s,
                _ => 0.0,
            };
            let aups = c.active_users_per_seat.filter(|x| x.is_finite());
            let seat_overage_arr = match aups {
                Some(u) if u > 1.0 => (u - 1.0) * c.arr,
                _ => 0.0,
            };
            let headroom_arr = upgrade_arr + seat_overage_arr;
            if headroom_arr <= 0.0 {
                return None;
            }
            let mut signals = vec![
                format!("healthy: {} (health {:.0})", c.band, c.health),
                format!("expansion propensity {:.0}%", 100.0 * p),
            ];
            if let Some(e) = c.experience {
                signals.push(format!(
                    "experience {e:.0}/100 ({})",
                    c.quadrant.replace('_', " ")
                ));
            }
            if let (Some((plan, _)), true) = (next, upgrade_arr > 0.0) {
                signals.push(format!(
                    "on {}: {plan} would add about {} ARR at its median price per seat",
                    c.plan,
                    money(upgrade_arr)
                ));
            }
            if let (Some(u), Some(s)) = (aups, seats)
                && u > 1.0
            {
                signals.push(format!(
                    "{:.0} active users on {:.0} seats ({u:.2} per seat): {} ARR of unpaid seats",
                    u * s,
                    s,
                    money(seat_overage_arr)
                ));
            }
            Some(ExpansionRow {
                rank: 0,
                account_id: c.account_id.clone(),
                name: c.name.clone(),
                owner: c.owner.clone(),
                segment: c.segment.clone(),
                plan: c.plan.clone(),
                arr: c.arr,
                health: c.health,
                experience: c.experience,
                expansion_probability: p,
                next_plan: next.map(|(n, _)| n.to_string()),
                upgrade_arr,
                seat_overage_arr,
                headroom_arr,
                expected_expansion_arr: p * headroom_arr,
                signals,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.expected_expansion_arr
            .total_cmp(&a.expected_expansion_arr)
            .then(a.account_id.cmp(&b.account_id))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i as u32 + 1;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::cand;

    fn healthy(id: &str, plan: &str, arr: f64, seats: f64, p: f64) -> Candidate {
        let mut c = cand(id, "ann", 0.02, arr);
        c.plan = plan.into();
        c.seats = Some(seats);
        c.expansion_probability = Some(p);
        c.experience = Some(70.0);
        c.active_users_per_seat = Some(0.9);
        c
    }

    #[test]
    fn the_ladder_orders_plans_by_median_price_per_seat() {
        let cs = vec![
            healthy("a", "pro", 1_200.0, 10.0, 0.1),  // 120 per seat
            healthy("b", "pro", 2_400.0, 20.0, 0.1),  // 120
            healthy("c", "basic", 720.0, 10.0, 0.1),  // 72
            healthy("d", "top", 1_800.0, 10.0, 0.1),  // 180
            healthy("e", "basic", 7_200.0, 0.0, 0.1), // no seats: ignored
        ];
        let l = PlanLadder::from_candidates(&cs);
        assert_eq!(
            l.steps,
            vec![
                ("basic".into(), 72.0),
                ("pro".into(), 120.0),
                ("top".into(), 180.0)
            ]
        );
        assert_eq!(l.next("basic"), Some(("pro", 48.0)));
        assert_eq!(l.next("top"), None);
        assert_eq!(l.next("unknown"), None);
    }

    #[test]
    fn healthy_accounts_ranked_by_propensity_times_headroom() {
        let mut cs = vec![
            healthy("basic-likely", "basic", 720.0, 10.0, 0.5), // 0.5 x 480 = 240
            healthy("basic-big", "basic", 7_200.0, 100.0, 0.1), // 0.1 x 4,800 = 480
            healthy("pro", "pro", 1_200.0, 10.0, 0.3),          // 0.3 x 600 = 180
            healthy("top", "top", 1_800.0, 10.0, 0.9),          // no next plan, no overage
        ];
        // Over its seats: 30 users on 20 seats -> 0.5 x ARR of overage.
        let mut over = healthy("top-over", "top", 3_600.0, 20.0, 0.2);
        over.active_users_per_seat = Some(1.5);
        cs.push(over); // 0.2 x 1,800 = 360
        let mut sick = healthy("sick", "basic", 72_000.0, 1_000.0, 0.9);
        sick.churn_probability = 0.3;
        sick.band = "red".into();
        cs.push(sick);
        let mut unhappy = healthy("unhappy", "basic", 72_000.0, 1_000.0, 0.9);
        unhappy.experience = Some(30.0);
        cs.push(unhappy);
        let ladder = PlanLadder::from_candidates(&cs);
        let rows = expansion_list(&cs, &ladder, &ListConfig::default());
        let ids: Vec<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
        assert_eq!(ids, ["basic-big", "top-over", "basic-likely", "pro"]);
        assert_eq!(rows[0].rank, 1);
        assert_eq!(rows[0].next_plan.as_deref(), Some("pro"));
        assert!((rows[0].expected_expansion_arr - 480.0).abs() < 1e-9);
        assert!((rows[1].seat_overage_arr - 1_800.0).abs() < 1e-9);
        assert!(
            rows[1]
                .signals
                .iter()
                .any(|s| s.contains("30 active users on 20 seats")),
            "{:?}",
            rows[1].signals
        );
        assert!(
            rows[0]
                .signals
                .iter()
                .any(|s| s.contains("pro would add about $4,800 ARR")),
            "{:?}",
            rows[0].signals
        );
    }
}
