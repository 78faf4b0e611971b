//! The scoring population: every current customer's point-in-time features
//! as of one instant, the segment medians drivers are compared with, and the
//! scores of all of them (what `Score` by id and `ScoreBatch` serve).

use std::collections::HashMap;

use ndarray::Array2;
use pulse_core::time::{Day, Ts, day_of_ts};
use pulse_features::AccountHistory;

use crate::{AccountScore, Engine, ScoringError, Subject};

/// What scoring and profiles need of an account besides its features.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountMeta {
    pub id: String,
    pub name: String,
    pub segment: String,
    pub owner: String,
    pub plan: String,
    /// 12 x MRR at the as-of instant (from subscription events).
    pub arr: f64,
    pub renewal_date: Option<Day>,
}

/// Per-feature medians of the population, overall and per segment (NaN
/// values ignored).
#[derive(Debug, Clone, Default)]
pub struct Reference {
    overall: Vec<f64>,
    by_segment: HashMap<String, Vec<f64>>,
}

fn medians(rows: &Array2<f64>, pick: &[usize]) -> Vec<f64> {
    (0..rows.ncols())
        .map(|j| {
            let mut v: Vec<f64> = pick
                .iter()
                .map(|&i| rows[[i, j]])
                .filter(|x| x.is_finite())
                .collect();
            if v.is_empty() {
                return f64::NAN;
            }
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        })
        .collect()
}

fn segment_label(segment: &str) -> &str {
    match segment {
        "smb" => "SMB",
        "mid_market" => "mid-market",
        "enterprise" => "enterprise",
        other => other,
    }
}

impl Reference {
    /// Medians of `rows`, with `segments[i]` the segment of row `i`.
    pub fn new(rows: &Array2<f64>, segments: &[&str]) -> Self {
        let all: Vec<usize> = (0..rows.nrows()).collect();
        let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in segments.iter().enumerate() {
            groups.entry(s).or_default().push(i);
        }
        Reference {
            overall: medians(rows, &all),
            by_segment: groups
                .into_iter()
                .map(|(s, idx)| (s.to_string(), medians(rows, &idx)))
                .collect(),
        }
    }

    /// The median of feature `j` in `segment` (else overall) and who it
    /// describes ("mid-market", "customer").
    pub fn median<'a>(&'a self, segment: Option<&'a str>, j: usize) -> Option<(f64, &'a str)> {
        let (v, who) = match segment.and_then(|s| self.by_segment.get(s).map(|m| (m, s))) {
            Some((m, s)) => (m.get(j).copied()?, segment_label(s)),
            None => (self.overall.get(j).copied()?, "customer"),
        };
        v.is_finite().then_some((v, who))
    }
}

/// Current customers' features as of one instant.
#[derive(Debug, Clone)]
pub struct Population {
    pub as_of: Day,
    pub as_of_ts: Ts,
    pub accounts: Vec<AccountMeta>,
    /// One row per account, catalogue order.
    pub rows: Array2<f64>,
    pub reference: Reference,
    index: HashMap<String, usize>,
    /// Accounts left out before the build because their stored values are
    /// out of bounds (set by whoever screened the histories).
    pub excluded: Vec<pulse_features::Excluded>,
}

impl Population {
    /// The accounts that are customers at `as_of_ts`, with their features.
    /// Runs on up to `threads` threads.
    pub fn build(histories: &[AccountHistory], as_of_ts: Ts, threads: usize) -> Self {
        let customers: Vec<&AccountHistory> = histories
            .iter()
            .filter(|h| pulse_features::is_customer_at(h, as_of_ts))
            .collect();
        let nf = pulse_features::n_features();
        let mut rows = Array2::<f64>::zeros((customers.len(), nf));
        let threads = threads.max(1);
        let chunk = customers.len().div_ceil(threads).max(1);
        if let Some(flat) = rows.as_slice_mut() {
            std::thread::scope(|scope| {
                for (hs, out) in customers.chunks(chunk).zip(flat.chunks_mut(chunk * nf)) {
                    scope.spawn(move || {
                        for (h, row) in hs.iter().zip(out.chunks_mut(nf)) {
                            pulse_features::compute(h, as_of_ts, row);
                        }
                    });
                }
            });
        }
        let accounts: Vec<AccountMeta> = customers
            .iter()
            .map(|h| {
                let a = &h.account;
                AccountMeta {
                    id: a.id.clone(),
                    name: a.name.clone(),
                    segment: a.segment.to_string(),
                    owner: a.owner.clone(),
                    plan: a.plan.clone(),
                    arr: 12.0 * pulse_features::mrr_at(h, as_of_ts),
                    renewal_date: a.renewal_date,
                }
            })
            .collect();
        Self::from_parts(day_of_ts(as_of_ts), as_of_ts, accounts, rows)
    }

    /// A population from already computed rows.
    pub fn from_parts(
        as_of: Day,
        as_of_ts: Ts,
        accounts: Vec<AccountMeta>,
        rows: Array2<f64>,
    ) -> Self {
        assert_eq!(accounts.len(), rows.nrows(), "one row per account");
        let segments: Vec<&str> = accounts.iter().map(|a| a.segment.as_str()).collect();
        let reference = Reference::new(&rows, &segments);
        let index = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Population {
            as_of,
            as_of_ts,
            accounts,
            rows,
            reference,
            index,
            excluded: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.accounts.len()
    }
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }

    /// Row index of an account.
    pub fn position(&self, account_id: &str) -> Option<usize> {
        self.index.get(account_id).copied()
    }

    /// The scoring subject of row `i`.
    pub fn subject(&self, i: usize) -> Subject<'_> {
        let a = &self.accounts[i];
        Subject {
            account_id: &a.id,
            as_of: self.as_of,
            row: self.rows.row(i).to_slice().expect("standard layout"),
            arr: a.arr,
            segment: Some(&a.segment),
        }
    }
}

/// A population with every account scored by one engine.
#[derive(Debug)]
pub struct ScoredPopulation {
    pub population: Population,
    /// In population order.
    pub scores: Vec<AccountScore>,
    /// Drivers kept per stored score.
    pub top_k: usize,
}

impl ScoredPopulation {
    /// Scores every account with its `top_k` drivers on up to `threads` threads.
    pub fn score(
        population: Population,
        engine: &Engine,
        top_k: usize,
        threads: usize,
    ) -> Result<Self, ScoringError> {
        let n = population.len();
        let threads = threads.max(1);
        let chunk = n.div_ceil(threads).max(1);
        let pop = &population;
        let parts: Vec<Result<Vec<AccountScore>, ScoringError>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(chunk)
                .map(|start| {
                    scope.spawn(move || {
                        (start..(start + chunk).min(n))
                            .map(|i| engine.score(&pop.subject(i), Some(&pop.reference), top_k))
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("scoring threads do not panic"))
                .collect()
        });
        let mut scores = Vec::with_capacity(n);
        for p in parts {
            scores.extend(p?);
        }
        Ok(ScoredPopulation {
            population,
            scores,
            top_k,
        })
    }

    /// The stored score of an account.
    pub fn get(&self, account_id: &str) -> Option<&AccountScore> {
        self.population
            .position(account_id)
            .map(|i| &self.scores[i])
    }
}
