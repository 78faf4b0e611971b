//! Weekly lists for retention teams, as pure functions over one week's
//! stored scores: the at-risk list ranked by expected ARR at risk (or by
//! probability) with each owner's capacity slice and its expected saved ARR,
//! the expansion-ready list ranked by propensity x headroom, the movers and
//! the accounts newly red, the seeded random holdout kept off the list, the
//! outreach report (contacted accounts against matched uncontacted ones and
//! the holdout) and an owner's portfolio.
//!
//! Architecture Invariant: no I/O, no async, no clock reads (the caller
//! passes the day). The server reads the stored scoring run, the accounts
//! and the outreach records, turns them into [`Candidate`]s and stores what
//! [`generate`] returns; this crate only computes.

mod config;
mod expansion;
mod report;
mod risk;
mod week;

pub use config::{ListConfig, RankBy};
pub use expansion::{ExpansionRow, PlanLadder, expansion_list, money};
pub use report::{
    OutcomeCounts, PlayReport, Portfolio, PortfolioBand, ReportAccount, ReportWeek,
    outreach_report, portfolio,
};
pub use risk::{
    CONCENTRATED_SHARE, Change, MoverRow, Movers, RISK_CSV_HEADER, ReasonMix, RiskList, RiskRow,
    RiskSummary, Share, held_out, movers, reason_mix, risk_csv_record, risk_list,
};
pub use week::{Week, parse_week};

use pulse_core::time::Day;
use serde::{Deserialize, Serialize};

/// The latest outreach to an account before the list, as marked on its row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastContact {
    /// Day of the contact.
    pub day: Day,
    pub play: String,
    pub owner: String,
    pub channel: String,
    /// reached, no_answer, saved, churned_anyway, expanded or pending.
    pub outcome: String,
}

/// The account's score in the previous week's run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    pub churn_probability: f64,
    pub health: f64,
    /// Whether it was red then.
    pub red: bool,
}

/// One scored account as list generation sees it: its stored score with the
/// facts the lists show beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub account_id: String,
    pub name: String,
    pub owner: String,
    pub segment: String,
    pub plan: String,
    pub arr: f64,
    pub churn_probability: f64,
    /// The churn model's raw score (log-odds) before calibration: it orders
    /// accounts the calibration maps to the same probability (an isotonic
    /// step ties many), so the top of a list is never arbitrary among ties.
    pub margin: f64,
    pub health: f64,
    /// green, yellow or red.
    pub band: String,
    pub quadrant: String,
    /// 0-100 experience score (support, sentiment, relationships); `None`
    /// without a scorecard.
    pub experience: Option<f64>,
    pub expansion_probability: Option<f64>,
    /// Reason sentences (actionable drivers), strongest first.
    pub drivers: Vec<String>,
    /// The play with its urgency prefix.
    pub suggested_play: String,
    /// The play alone.
    pub base_play: String,
    /// The cause of the strongest reason; empty when there is none.
    pub reason: String,
    pub days_to_renewal: Option<i32>,
    /// Probability of churning before the renewal, when known.
    pub churn_before_renewal: Option<f64>,
    /// Seats at the as-of day, when known.
    pub seats: Option<f64>,
    /// Mean active users per seat over the last 30 days (may exceed 1).
    pub active_users_per_seat: Option<f64>,
    /// The previous week's score, when the account had one.
    pub previous: Option<Previous>,
    /// The latest outreach within the marking window.
    pub last_contact: Option<LastContact>,
}

impl Candidate {
    /// Expected ARR at risk: churn probability x ARR.
    pub fn arr_at_risk(&self) -> f64 {
        self.churn_probability * self.arr
    }
}

/// Every list of one week.
#[derive(Debug, Clone, PartialEq)]
pub struct WeekLists {
    pub risk: RiskList,
    pub expansion: Vec<ExpansionRow>,
    pub movers: Movers,
}

/// Generates a week's lists from its candidates (`today` is the list's
/// as-of day, for contact windows).
pub fn generate(candidates: &[Candidate], cfg: &ListConfig, today: Day) -> WeekLists {
    let ladder = PlanLadder::from_candidates(candidates);
    WeekLists {
        risk: risk_list(candidates, cfg, today),
        expansion: expansion_list(candidates, &ladder, cfg),
        movers: movers(candidates, cfg),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;

    /// A yellow smb account owned by `owner` with churn probability `p` and ARR `arr`.
    pub(crate) fn cand(id: &str, owner: &str, p: f64, arr: f64) -> Candidate {
        let health = 100.0 * (1.0 - p);
        Candidate {
            account_id: id.into(),
            name: format!("Customer {id}"),
            owner: owner.into(),
            segment: "smb".into(),
            plan: "essentials".into(),
            arr,
            churn_probability: p,
            margin: (p / (1.0 - p)).ln(),
            health,
            band: if health >= 90.0 {
                "green"
            } else if health >= 75.0 {
                "yellow"
            } else {
                "red"
            }
            .into(),
            quadrant: "trapped".into(),
            experience: Some(40.0),
            expansion_probability: Some(0.1),
            drivers: vec![
                "14 tickets in 30 days".into(),
                "the champion left".into(),
                "usage fell 30%".into(),
                "a fourth driver".into(),
            ],
            suggested_play: "Before the renewal in 45 days: Champion call".into(),
            base_play: "Champion call".into(),
            reason: "relationships".into(),
            days_to_renewal: Some(45),
            churn_before_renewal: Some(p / 2.0),
            seats: Some(20.0),
            active_users_per_seat: Some(0.8),
            previous: None,
            last_contact: None,
        }
    }
}
