//! Base-wide views: health bands per week, quadrant counts, support and
//! survey KPIs per month and segment, and the drivers behind the risk.
//! Inputs are plain values (stored scores, histories); nothing is read here.

use std::collections::BTreeMap;

use pulse_core::SurveyKind;
use pulse_core::time::{Day, Ts, day_of_ts, format_day};
use pulse_features::AccountHistory;
use serde::{Deserialize, Serialize};

/// One stored score, as the views need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreFact {
    pub band: String,
    pub quadrant: String,
    pub arr: f64,
    /// The stored drivers: (feature, log-odds contribution).
    pub drivers: Vec<(String, f64)>,
}

/// Accounts and ARR per band in one scoring run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandWeek {
    pub as_of: Day,
    /// green, yellow, red.
    pub accounts: [usize; 3],
    pub arr: [f64; 3],
}

impl BandWeek {
    /// Share of accounts (`by_arr` false) or ARR in each band.
    pub fn shares(&self, by_arr: bool) -> [f64; 3] {
        let v: [f64; 3] = if by_arr {
            self.arr
        } else {
            self.accounts.map(|n| n as f64)
        };
        let t: f64 = v.iter().sum();
        if t > 0.0 { v.map(|x| x / t) } else { [0.0; 3] }
    }
}

/// The bands of one run.
pub fn band_week(as_of: Day, scores: &[ScoreFact]) -> BandWeek {
    let mut w = BandWeek {
        as_of,
        accounts: [0; 3],
        arr: [0.0; 3],
    };
    for s in scores {
        let i = match s.band.as_str() {
            "green" => 0,
            "yellow" => 1,
            _ => 2,
        };
        w.accounts[i] += 1;
        w.arr[i] += s.arr;
    }
    w
}

/// Accounts and ARR per Outcome x Experience quadrant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuadrantCount {
    pub quadrant: String,
    pub accounts: usize,
    pub arr: f64,
}

/// The quadrants in reading order (unknown last, only when present).
pub fn quadrant_counts(scores: &[ScoreFact]) -> Vec<QuadrantCount> {
    let order = [
        "happy_and_successful",
        "trapped",
        "accessible",
        "high_risk",
        "unknown",
    ];
    let mut out: Vec<QuadrantCount> = order
        .iter()
        .map(|q| QuadrantCount {
            quadrant: q.to_string(),
            accounts: 0,
            arr: 0.0,
        })
        .collect();
    for s in scores {
        let i = order.iter().position(|q| *q == s.quadrant).unwrap_or(4);
        out[i].accounts += 1;
        out[i].arr += s.arr;
    }
    if out[4].accounts == 0 {
        out.pop();
    }
    out
}

/// A driver's weight across the base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverShare {
    pub feature: String,
    /// Mean |contribution| (log-odds) over all scored accounts, counting 0
    /// where the driver is not among an account's stored drivers.
    pub mean_abs_contribution: f64,
    /// Accounts where it raises risk, and their ARR.
    pub accounts_raising: usize,
    pub arr_raising: f64,
}

/// The `top` drivers by mean |contribution|.
pub fn top_drivers(scores: &[ScoreFact], top: usize) -> Vec<DriverShare> {
    let mut by: BTreeMap<&str, DriverShare> = BTreeMap::new();
    for s in scores {
        for (f, c) in &s.drivers {
            let d = by.entry(f.as_str()).or_insert_with(|| DriverShare {
                feature: f.clone(),
                mean_abs_contribution: 0.0,
                accounts_raising: 0,
                arr_raising: 0.0,
            });
            d.mean_abs_contribution += c.abs();
            if *c > 0.0 {
                d.accounts_raising += 1;
                d.arr_raising += s.arr;
            }
        }
    }
    let n = scores.len().max(1) as f64;
    let mut v: Vec<DriverShare> = by
        .into_values()
        .map(|mut d| {
            d.mean_abs_contribution /= n;
            d
        })
        .collect();
    v.sort_by(|a, b| b.mean_abs_contribution.total_cmp(&a.mean_abs_contribution));
    v.truncate(top);
    v
}

/// Support and survey KPIs of one month and segment ("all" = every segment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiMonth {
    /// YYYY-MM.
    pub month: String,
    pub segment: String,
    pub interactions: usize,
    /// Resolved in one contact and not reopened, among resolved interactions.
    pub fcr: Option<f64>,
    pub escalation_rate: Option<f64>,
    /// Median hours from opening to the first response.
    pub first_response_hours: Option<f64>,
    /// Mean CSAT (1-5) of rated interactions and CSAT surveys.
    pub csat: Option<f64>,
    /// % promoters (9-10) minus % detractors (0-6).
    pub nps: Option<f64>,
}

#[derive(Default)]
struct Acc {
    n: usize,
    resolved: usize,
    first_contact: usize,
    escalated: usize,
    response_hours: Vec<f64>,
    csat: Vec<f64>,
    nps: Vec<i64>,
}

fn month_of(ts: Ts) -> String {
    format_day(day_of_ts(ts))[..7].to_string()
}

/// KPIs per month (of the interaction's opening or the survey's answer) and
/// segment, plus "all", for events in `(from, to]` (day numbers). An
/// interaction's resolution counts only if it happened by the end of `to`.
pub fn kpis(hs: &[AccountHistory], from: Day, to: Day) -> Vec<KpiMonth> {
    let lo = pulse_features::end_of_day(from);
    let hi = pulse_features::end_of_day(to);
    let mut acc: BTreeMap<(String, String), Acc> = BTreeMap::new();
    for h in hs {
        let seg = h.account.segment.to_string();
        for i in h
            .interactions
            .iter()
            .filter(|i| i.opened_at > lo && i.opened_at <= hi)
        {
            for s in [seg.as_str(), "all"] {
                let a = acc
                    .entry((month_of(i.opened_at), s.to_string()))
                    .or_default();
                a.n += 1;
                a.escalated += usize::from(i.escalated);
                if let Some(r) = i.first_response_at.filter(|&r| r <= hi) {
                    a.response_hours.push((r - i.opened_at) as f64 / 3600.0);
                }
                if i.resolved_at.is_some_and(|r| r <= hi) {
                    a.resolved += 1;
                    a.first_contact += usize::from(i.contacts_to_resolve <= 1 && !i.reopened);
                    if let Some(c) = i.csat {
                        a.csat.push(c as f64);
                    }
                }
            }
        }
        for v in h
            .surveys
            .iter()
            .filter(|v| v.responded_at > lo && v.responded_at <= hi)
        {
            for s in [seg.as_str(), "all"] {
                let a = acc
                    .entry((month_of(v.responded_at), s.to_string()))
                    .or_default();
                match v.kind {
                    SurveyKind::Nps => a.nps.push(v.score),
                    SurveyKind::Csat => a.csat.push(v.score as f64),
                }
            }
        }
    }
    acc.into_iter()
        .map(|((month, segment), mut a)| {
            let rate = |k: usize, n: usize| (n > 0).then(|| k as f64 / n as f64);
            a.response_hours.sort_by(f64::total_cmp);
            let median = (!a.response_hours.is_empty()).then(|| {
                let n = a.response_hours.len();
                if n % 2 == 1 {
                    a.response_hours[n / 2]
                } else {
                    (a.response_hours[n / 2 - 1] + a.response_hours[n / 2]) / 2.0
                }
            });
            let nps = (!a.nps.is_empty()).then(|| {
                let p = a.nps.iter().filter(|&&s| s >= 9).count() as f64;
                let d = a.nps.iter().filter(|&&s| s <= 6).count() as f64;
                (p - d) / a.nps.len() as f64 * 100.0
            });
            KpiMonth {
                month,
                segment,
                interactions: a.n,
                fcr: rate(a.first_contact, a.resolved),
                escalation_rate: rate(a.escalated, a.n),
                first_response_hours: median,
                csat: (!a.csat.is_empty())
                    .then(|| a.csat.iter().sum::<f64>() / a.csat.len() as f64),
                nps,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(band: &str, quadrant: &str, arr: f64, drivers: &[(&str, f64)]) -> ScoreFact {
        ScoreFact {
            band: band.into(),
            quadrant: quadrant.into(),
            arr,
            drivers: drivers.iter().map(|(f, c)| (f.to_string(), *c)).collect(),
        }
    }

    #[test]
    fn bands_quadrants_and_drivers_add_up() {
        let scores = [
            s("green", "happy_and_successful", 100.0, &[("a", -0.5)]),
            s("yellow", "trapped", 300.0, &[("a", 1.0), ("b", 0.2)]),
            s("red", "high_risk", 600.0, &[("b", 2.0)]),
        ];
        let w = band_week(10, &scores);
        assert_eq!(w.accounts, [1, 1, 1]);
        assert_eq!(w.shares(true), [0.1, 0.3, 0.6]);
        let q = quadrant_counts(&scores);
        assert_eq!(q.len(), 4);
        assert_eq!(q.iter().map(|c| c.accounts).sum::<usize>(), 3);
        let d = top_drivers(&scores, 5);
        assert_eq!(d[0].feature, "b");
        assert!((d[0].mean_abs_contribution - 2.2 / 3.0).abs() < 1e-12);
        assert_eq!((d[0].accounts_raising, d[0].arr_raising), (2, 900.0));
        assert_eq!((d[1].accounts_raising, d[1].arr_raising), (1, 300.0));
    }
}
