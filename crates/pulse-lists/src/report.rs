//! What outreach achieved, and an owner's portfolio.
//!
//! The outreach report compares, per play, the accounts contacted in the
//! week after a list with accounts that were not: (1) comparable accounts of
//! the same weeks, matched on risk band and segment (the contacted group's
//! expected churn is the sum, over its accounts, of the churn rate of the
//! uncontacted accounts in the same week, band and segment), and (2) the
//! random holdout of the same weeks, matched the same way. A churn counts
//! when it happens within `outcome_days` of the week's start; accounts whose
//! window has not closed and that have not churned are pending and left out
//! of every rate. Numbers are too small to conclude when fewer than
//! `min_group` contacted accounts or comparison accounts are settled; a
//! difference is called only when it is at least two standard errors.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::{ListConfig, MoverRow, RiskRow};

/// One account on a week's list, with what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportAccount {
    pub account_id: String,
    pub band: String,
    pub segment: String,
    /// In the random holdout (kept off the list).
    pub holdout: bool,
    /// The play and recorded outcome of the first outreach in the week
    /// after the list, if any.
    pub contact: Option<(String, String)>,
    /// Churned within `outcome_days` of the week's start: `Some(true)`;
    /// did not and the window has closed: `Some(false)`; else `None`.
    pub churned: Option<bool>,
}

/// One week's list as the report reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportWeek {
    pub week: String,
    pub accounts: Vec<ReportAccount>,
}

/// Recorded outcomes of outreach.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub pending: u64,
    pub reached: u64,
    pub no_answer: u64,
    pub saved: u64,
    pub churned_anyway: u64,
    pub expanded: u64,
}

impl OutcomeCounts {
    fn add(&mut self, outcome: &str) {
        match outcome {
            "reached" => self.reached += 1,
            "no_answer" => self.no_answer += 1,
            "saved" => self.saved += 1,
            "churned_anyway" => self.churned_anyway += 1,
            "expanded" => self.expanded += 1,
            _ => self.pending += 1,
        }
    }
}

/// What one play achieved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlayReport {
    pub play: String,
    /// Account-weeks contacted with this play.
    pub contacted: u64,
    pub outcomes: OutcomeCounts,
    /// Contacted accounts whose outcome window has closed or that churned.
    pub settled: u64,
    /// Of those, how many churned.
    pub churned: u64,
    /// Uncontacted, non-holdout accounts of the same weeks, bands and
    /// segments that are settled (the matched comparison group).
    pub matched_accounts: u64,
    /// The contacted group's expected churn rate had it churned like its
    /// matched uncontacted accounts; `None` without any match.
    pub matched_churn_rate: Option<f64>,
    /// Holdout accounts of the same weeks, bands and segments, settled.
    pub holdout_accounts: u64,
    pub holdout_churn_rate: Option<f64>,
    /// The contacted group's churn rate; `None` when nothing is settled.
    pub churn_rate: Option<f64>,
    /// The conclusion in plain words.
    pub verdict: String,
}

#[derive(Default, Clone, Copy)]
struct Cell {
    n: u64,
    churned: u64,
}

impl Cell {
    fn rate(self) -> Option<f64> {
        (self.n > 0).then(|| self.churned as f64 / self.n as f64)
    }
}

/// Expected rate of `settled` contacted accounts (their cells) from `cells`:
/// the mean of the cell rates over the accounts that have a matching cell,
/// with the number of comparison accounts behind them.
fn matched(
    keys: &[(String, String, String)],
    cells: &HashMap<(String, String, String), Cell>,
) -> (Option<f64>, u64, f64) {
    let mut sum = 0.0;
    let mut n = 0u64;
    let mut var = 0.0;
    let mut used: HashMap<&(String, String, String), ()> = HashMap::new();
    let mut accounts = 0u64;
    for k in keys {
        if let Some(c) = cells.get(k)
            && let Some(r) = c.rate()
        {
            sum += r;
            n += 1;
            var += r * (1.0 - r) / c.n as f64;
            if used.insert(k, ()).is_none() {
                accounts += c.n;
            }
        }
    }
    if n == 0 {
        return (None, 0, 0.0);
    }
    let nf = n as f64;
    (Some(sum / nf), accounts, var / (nf * nf))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

/// Compares `rate` over `n` accounts with a reference rate of variance
/// `ref_var`: "lower", "higher" or `None` when within two standard errors.
fn compare(rate: f64, n: u64, reference: f64, ref_var: f64) -> Option<&'static str> {
    let p = (rate * n as f64 + reference) / (n as f64 + 1.0);
    let se = (p * (1.0 - p) / n as f64 + ref_var).sqrt();
    if se <= 0.0 {
        return None;
    }
    let z = (rate - reference) / se;
    if z <= -2.0 {
        Some("lower")
    } else if z >= 2.0 {
        Some("higher")
    } else {
        None
    }
}

/// The outreach report over the weeks given, one entry per play, most
/// contacted first.
pub fn outreach_report(weeks: &[ReportWeek], cfg: &ListConfig) -> Vec<PlayReport> {
    type Key = (String, String, String);
    let mut control: HashMap<Key, Cell> = HashMap::new();
    let mut holdout: HashMap<Key, Cell> = HashMap::new();
    struct Acc {
        contacted: u64,
        outcomes: OutcomeCounts,
        settled: Vec<Key>,
        churned: u64,
    }
    let mut plays: BTreeMap<String, Acc> = BTreeMap::new();
    for w in weeks {
        for a in &w.accounts {
            let key = (w.week.clone(), a.band.clone(), a.segment.clone());
            match (&a.contact, a.holdout) {
                (Some((play, outcome)), _) => {
                    let p = plays.entry(play.clone()).or_insert(Acc {
                        contacted: 0,
                        outcomes: OutcomeCounts::default(),
                        settled: Vec::new(),
                        churned: 0,
                    });
                    p.contacted += 1;
                    p.outcomes.add(outcome);
                    if let Some(c) = a.churned {
                        p.settled.push(key);
                        p.churned += u64::from(c);
                    }
                }
                (None, holdout_member) => {
                    if let Some(c) = a.churned {
                        let cell = if holdout_member {
                            holdout.entry(key).or_default()
                        } else {
                            control.entry(key).or_default()
                        };
                        cell.n += 1;
                        cell.churned += u64::from(c);
                    }
                }
            }
        }
    }
    let min = cfg.min_group as u64;
    let mut out: Vec<PlayReport> = plays
        .into_iter()
        .map(|(play, a)| {
            let settled = a.settled.len() as u64;
            let churn_rate = (settled > 0).then(|| a.churned as f64 / settled as f64);
            let (m_rate, m_n, m_var) = matched(&a.settled, &control);
            let (h_rate, h_n, h_var) = matched(&a.settled, &holdout);
            let verdict = match churn_rate.filter(|_| settled >= min.max(1)) {
                None => format!(
                    "too few to conclude: {settled} contacted account(s) with a known outcome, at least {} needed",
                    min.max(1)
                ),
                Some(r) => {
                    let mut parts = Vec::new();
                    match m_rate {
                        Some(m) if m_n >= min => parts.push(match compare(r, settled, m, m_var) {
                            Some(dir) => format!(
                                "churned {dir} than matched uncontacted accounts ({} vs {})",
                                pct(r),
                                pct(m)
                            ),
                            None => format!(
                                "no clear difference from matched uncontacted accounts ({} vs {}, within two standard errors)",
                                pct(r),
                                pct(m)
                            ),
                        }),
                        _ => parts.push(format!(
                            "too few matched uncontacted accounts to conclude ({m_n}, at least {min} needed)"
                        )),
                    }
                    match h_rate {
                        Some(h) if h_n >= min => parts.push(match compare(r, settled, h, h_var) {
                            Some(dir) => format!("churned {dir} than the holdout ({} vs {})", pct(r), pct(h)),
                            None => format!(
                                "no clear difference from the holdout ({} vs {})",
                                pct(r),
                                pct(h)
                            ),
                        }),
                        _ => parts.push(format!(
                            "too few holdout accounts to conclude ({h_n}, at least {min} needed)"
                        )),
                    }
                    parts.join("; ")
                }
            };
            PlayReport {
                play,
                contacted: a.contacted,
                outcomes: a.outcomes,
                settled,
                churned: a.churned,
                matched_accounts: m_n,
                matched_churn_rate: m_rate,
                holdout_accounts: h_n,
                holdout_churn_rate: h_rate,
                churn_rate,
                verdict,
            }
        })
        .collect();
    out.sort_by(|a, b| b.contacted.cmp(&a.contacted).then(a.play.cmp(&b.play)));
    out
}

/// One band of an owner's book.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PortfolioBand {
    pub band: String,
    pub accounts: u64,
    pub arr: f64,
    pub arr_at_risk: f64,
}

/// An owner's book in a week.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Portfolio {
    pub owner: String,
    /// green, yellow, red (each present, possibly empty).
    pub bands: Vec<PortfolioBand>,
    pub accounts: u64,
    pub arr: f64,
    pub arr_at_risk: f64,
    /// Accounts in the owner's slice this week.
    pub in_capacity: u64,
    /// The owner's risers and newly red accounts.
    pub movers: Vec<MoverRow>,
    /// Outreach the owner recorded in the week, by outcome.
    pub outreach: OutcomeCounts,
    pub outreach_total: u64,
}

/// An owner's portfolio from the week's list rows (holdout included: it is
/// still their book), their movers and the outcomes of their outreach.
pub fn portfolio<'a>(
    owner: &str,
    rows: impl IntoIterator<Item = &'a RiskRow>,
    movers: impl IntoIterator<Item = &'a MoverRow>,
    outreach_outcomes: impl IntoIterator<Item = &'a str>,
) -> Portfolio {
    let mut bands: Vec<PortfolioBand> = ["green", "yellow", "red"]
        .iter()
        .map(|b| PortfolioBand {
            band: b.to_string(),
            ..Default::default()
        })
        .collect();
    let mut in_capacity = 0;
    for r in rows.into_iter().filter(|r| r.owner == owner) {
        if let Some(b) = bands.iter_mut().find(|b| b.band == r.band) {
            b.accounts += 1;
            b.arr += r.arr;
            b.arr_at_risk += r.arr_at_risk;
        }
        in_capacity += u64::from(r.in_capacity);
    }
    let mut seen = std::collections::HashSet::new();
    let movers: Vec<MoverRow> = movers
        .into_iter()
        .filter(|m| m.owner == owner && seen.insert(m.account_id.clone()))
        .cloned()
        .collect();
    let mut outreach = OutcomeCounts::default();
    let mut total = 0;
    for o in outreach_outcomes {
        outreach.add(o);
        total += 1;
    }
    Portfolio {
        owner: owner.to_string(),
        accounts: bands.iter().map(|b| b.accounts).sum(),
        arr: bands.iter().map(|b| b.arr).sum(),
        arr_at_risk: bands.iter().map(|b| b.arr_at_risk).sum(),
        bands,
        in_capacity,
        movers,
        outreach,
        outreach_total: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk_list;
    use crate::testutil::cand;

    fn acct(
        id: usize,
        band: &str,
        contact: Option<&str>,
        holdout: bool,
        churned: Option<bool>,
    ) -> ReportAccount {
        ReportAccount {
            account_id: format!("a-{id}"),
            band: band.into(),
            segment: "smb".into(),
            holdout,
            contact: contact.map(|p| (p.to_string(), "reached".to_string())),
            churned,
        }
    }

    #[test]
    fn too_few_contacted_says_so() {
        let w = ReportWeek {
            week: "2026-W40".into(),
            accounts: (0..50)
                .map(|i| acct(i, "red", (i < 5).then_some("call"), false, Some(i % 2 == 0)))
                .collect(),
        };
        let r = outreach_report(&[w], &ListConfig::default());
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].contacted, r[0].settled), (5, 5));
        assert!(
            r[0].verdict.starts_with("too few to conclude"),
            "{}",
            r[0].verdict
        );
        assert_eq!(r[0].outcomes.reached, 5);
    }

    #[test]
    fn a_play_that_saves_is_called_and_one_that_does_not_is_not() {
        // Red accounts churn 40% uncontacted and in the holdout; the call
        // play brings that to 10%; the email play changes nothing. Yellow
        // accounts churn 10% and are never contacted by the call play, so
        // the matched rate for call is the red one.
        let mut accounts = Vec::new();
        for i in 0..200 {
            accounts.push(acct(i, "red", None, false, Some(i % 5 < 2))); // 40%
        }
        for i in 200..300 {
            accounts.push(acct(i, "red", None, true, Some(i % 5 < 2))); // holdout 40%
        }
        for i in 300..400 {
            accounts.push(acct(i, "red", Some("call"), false, Some(i % 10 == 0))); // 10%
        }
        for i in 400..500 {
            accounts.push(acct(i, "red", Some("email"), false, Some(i % 5 < 2))); // 40%
        }
        for i in 500..700 {
            accounts.push(acct(i, "yellow", None, false, Some(i % 10 == 0)));
        }
        for i in 700..720 {
            accounts.push(acct(i, "yellow", Some("email"), false, None)); // pending
        }
        let w = ReportWeek {
            week: "2026-W40".into(),
            accounts,
        };
        let r = outreach_report(&[w], &ListConfig::default());
        let call = r.iter().find(|p| p.play == "call").unwrap();
        assert_eq!((call.contacted, call.settled, call.churned), (100, 100, 10));
        assert!((call.matched_churn_rate.unwrap() - 0.4).abs() < 1e-12);
        assert!((call.holdout_churn_rate.unwrap() - 0.4).abs() < 1e-12);
        assert_eq!((call.matched_accounts, call.holdout_accounts), (200, 100));
        assert!(
            call.verdict
                .contains("churned lower than matched uncontacted accounts (10.0% vs 40.0%)")
                && call.verdict.contains("churned lower than the holdout"),
            "{}",
            call.verdict
        );
        let email = r.iter().find(|p| p.play == "email").unwrap();
        assert_eq!((email.contacted, email.settled), (120, 100));
        assert!(
            email.verdict.contains("no clear difference from matched"),
            "{}",
            email.verdict
        );
        // Most contacted first.
        assert_eq!(r[0].play, "email");
    }

    #[test]
    fn portfolio_adds_up_an_owners_book() {
        let cs = vec![
            cand("a", "ann", 0.5, 10_000.0),
            cand("b", "ann", 0.15, 20_000.0),
            cand("c", "ann", 0.01, 30_000.0),
            cand("d", "bob", 0.5, 40_000.0),
        ];
        let l = risk_list(&cs, &ListConfig::default(), 100);
        let p = portfolio("ann", &l.rows, &[], ["saved", "reached", "saved"]);
        assert_eq!(p.accounts, 3);
        assert_eq!(p.arr, 60_000.0);
        assert!((p.arr_at_risk - (5_000.0 + 3_000.0 + 300.0)).abs() < 1e-6);
        let red = p.bands.iter().find(|b| b.band == "red").unwrap();
        assert_eq!((red.accounts, red.arr), (1, 10_000.0));
        assert_eq!(p.in_capacity, 2);
        assert_eq!((p.outreach.saved, p.outreach_total), (2, 3));
        let nobody = portfolio("zed", &l.rows, &[], []);
        assert_eq!(nobody.accounts, 0);
    }
}
