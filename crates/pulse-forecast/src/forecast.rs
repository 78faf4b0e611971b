//! The leadership forecast: per group (segment, owner, plan) and in total,
//! the expected churned accounts and churned ARR, expansion ARR, and the
//! resulting gross and net revenue retention over a horizon, each with 80%
//! and 95% intervals derived from the account-level probabilities, beside
//! the current ARR and last period's actual figures.
//!
//! Account `i` (ARR `a_i`) churns within the horizon with probability `c_i`
//! (the survival curve), else expands with probability `e_i` (the expansion
//! model's probability over the horizon: its label is "expanded and did not
//! churn", so the two outcomes exclude each other) and then gains
//! `a_i x uplift` ARR. `uplift` and the contraction rate (downgrades of
//! accounts that stay) are measured on last period's actuals and stated in
//! the output. Then
//! - churned accounts: exact Poisson-binomial;
//! - churned ARR, expansion ARR, GRR = (ARR - churned - contraction) / ARR
//!   and NRR = (ARR - churned - contraction + expansion) / ARR: seeded Monte
//!   Carlo over the same outcomes (one draw decides churn, expansion or
//!   neither for each account, so the figures of one draw are consistent).

use std::collections::BTreeMap;

use pulse_core::rng::{SplitMix64, mix};
use pulse_core::time::Day;
use pulse_features::{AccountHistory, churn_label, end_of_day, is_customer_at, mrr_at};
use serde::{Deserialize, Serialize};

use crate::dist::{Interval, MonteCarlo, pmf_interval, poisson_binomial, sample_interval};
use crate::error::ForecastError;

/// How to split the forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// The total only.
    Total,
    Segment,
    Owner,
    Plan,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Total => "total",
            GroupBy::Segment => "segment",
            GroupBy::Owner => "owner",
            GroupBy::Plan => "plan",
        }
    }

    /// Parses `total`, `segment`, `owner` or `plan` (empty = total).
    pub fn parse(s: &str) -> Result<Self, ForecastError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "total" => Ok(GroupBy::Total),
            "segment" => Ok(GroupBy::Segment),
            "owner" => Ok(GroupBy::Owner),
            "plan" => Ok(GroupBy::Plan),
            other => Err(ForecastError::invalid(
                "group_by",
                format!("'{other}' is not total, segment, owner or plan"),
            )),
        }
    }

    fn key<'a>(self, segment: &'a str, owner: &'a str, plan: &'a str) -> &'a str {
        match self {
            GroupBy::Total => "total",
            GroupBy::Segment => segment,
            GroupBy::Owner => owner,
            GroupBy::Plan => plan,
        }
    }
}

/// One account's outlook over the horizon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountOutlook {
    pub id: String,
    pub segment: String,
    pub owner: String,
    pub plan: String,
    /// ARR now (12 x MRR at the as-of instant).
    pub arr: f64,
    /// P(churn within the horizon).
    pub p_churn: f64,
    /// P(expand and not churn within the horizon).
    pub p_expand: f64,
}

/// An expected value with its intervals.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub expected: f64,
    pub i80: Interval,
    pub i95: Interval,
}

/// Last period's actual figures for the accounts that were customers at its
/// start (a retention cohort: new customers do not count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actuals {
    pub group: String,
    pub from: Day,
    pub to: Day,
    pub accounts: usize,
    pub start_arr: f64,
    pub churned_accounts: usize,
    /// ARR at the period's start of the accounts that churned in it.
    pub churned_arr: f64,
    /// ARR gained by accounts that stayed and grew.
    pub expansion_arr: f64,
    /// ARR lost by accounts that stayed and shrank.
    pub contraction_arr: f64,
    /// Accounts that stayed and grew by at least the expansion label's 10%.
    pub expanded_accounts: usize,
    /// Their ARR at the period's start.
    pub expanded_start_arr: f64,
    /// Each of them: ARR gained / start ARR (the sizes expansions come in).
    #[serde(default)]
    pub expansion_ratios: Vec<f64>,
    pub grr: f64,
    pub nrr: f64,
}

/// The forecast of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupForecast {
    pub group: String,
    pub accounts: usize,
    pub current_arr: f64,
    pub churned_accounts: Estimate,
    pub churned_arr: Estimate,
    pub expansion_arr: Estimate,
    /// Expected contraction (deterministic: rate x ARR that stays).
    pub contraction_arr: f64,
    pub grr: Estimate,
    pub nrr: Estimate,
    /// The same group's figures over last period, when it existed.
    pub last_period: Option<Actuals>,
}

/// Assumptions measured on last period, applied to every account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Assumptions {
    /// ARR gained per unit of start ARR of an expanding account (the mean).
    pub expansion_uplift: f64,
    /// Share of staying ARR lost to downgrades.
    pub contraction_rate: f64,
    /// The relative sizes of last period's expansions: each simulated
    /// expansion draws one (rescaled so their mean is `expansion_uplift`),
    /// so the intervals carry the spread of expansion sizes. Empty: every
    /// expansion is `expansion_uplift`.
    #[serde(default)]
    pub expansion_ratios: Vec<f64>,
}

impl Assumptions {
    /// From the total of last period's actuals; neutral defaults when it
    /// had no expanding account or no ARR.
    pub fn from_actuals(total: &Actuals) -> Self {
        let stay = total.start_arr - total.churned_arr;
        Assumptions {
            expansion_uplift: if total.expanded_start_arr > 0.0 {
                total.expansion_arr / total.expanded_start_arr
            } else {
                0.0
            },
            contraction_rate: if stay > 0.0 {
                total.contraction_arr / stay
            } else {
                0.0
            },
            expansion_ratios: total.expansion_ratios.clone(),
        }
    }
}

/// A whole forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub as_of: Day,
    pub horizon_days: i32,
    pub group_by: GroupBy,
    pub total: GroupForecast,
    /// One per group (empty for [`GroupBy::Total`]), largest ARR first.
    pub groups: Vec<GroupForecast>,
    pub assumptions: Assumptions,
    pub monte_carlo: MonteCarlo,
    /// How each figure's interval is computed, in words.
    pub methods: Vec<String>,
}

/// Checks a horizon in days.
pub fn check_horizon(days: i32) -> Result<(), ForecastError> {
    if !(1..=crate::survival::MAX_HORIZON_DAYS).contains(&days) {
        return Err(ForecastError::invalid(
            "horizon_days",
            format!(
                "{days} is outside 1..={}",
                crate::survival::MAX_HORIZON_DAYS
            ),
        ));
    }
    Ok(())
}

/// Forecasts the accounts' outcomes over `horizon_days` from `as_of`.
/// `last_period` are the actuals of the same groups (and `"total"`).
pub fn forecast(
    accounts: &[AccountOutlook],
    as_of: Day,
    horizon_days: i32,
    group_by: GroupBy,
    assumptions: Assumptions,
    mc: MonteCarlo,
    last_period: &[Actuals],
) -> Result<Forecast, ForecastError> {
    check_horizon(horizon_days)?;
    if mc.draws < 100 {
        return Err(ForecastError::invalid(
            "draws",
            format!("{} is below 100", mc.draws),
        ));
    }
    for a in accounts {
        for (field, v) in [("p_churn", a.p_churn), ("p_expand", a.p_expand)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(ForecastError::invalid(
                    field,
                    format!("{v} for {} is not a probability", a.id),
                ));
            }
        }
        if !(a.arr.is_finite() && a.arr >= 0.0) {
            return Err(ForecastError::invalid(
                "arr",
                format!("{} for {} is not a non-negative amount", a.arr, a.id),
            ));
        }
    }
    let _span = tracing::info_span!("forecast::forecast", accounts = accounts.len()).entered();
    let actual = |g: &str| last_period.iter().find(|a| a.group == g).cloned();
    let all: Vec<&AccountOutlook> = accounts.iter().collect();
    let total = group_forecast("total", &all, &assumptions, mc, actual("total"));
    let mut groups = Vec::new();
    if group_by != GroupBy::Total {
        let mut by: BTreeMap<&str, Vec<&AccountOutlook>> = BTreeMap::new();
        for a in accounts {
            by.entry(group_by.key(&a.segment, &a.owner, &a.plan))
                .or_default()
                .push(a);
        }
        for (g, members) in by {
            groups.push(group_forecast(g, &members, &assumptions, mc, actual(g)));
        }
        groups.sort_by(|a, b| b.current_arr.total_cmp(&a.current_arr));
    }
    let methods = vec![
            "churned accounts: exact Poisson-binomial distribution of the sum of the accounts' churn probabilities (dynamic programming)".into(),
            format!(
                "churned ARR, expansion ARR, GRR and NRR: Monte Carlo, {} draws with fixed seed {} (SplitMix64 streams), each draw deciding churn, expansion or neither for every account",
                mc.draws, mc.seed
            ),
            format!(
                "expansion: an expanding account gains {:.1}% of its ARR on average (last period's expansion ARR over the start ARR of the accounts that grew by 10% or more), each simulated expansion drawing its size from last period's {} expansions; contraction: {:.2}% of the ARR that stays (last period's rate), as an expectation without interval",
                assumptions.expansion_uplift * 100.0,
                assumptions.expansion_ratios.len(),
                assumptions.contraction_rate * 100.0
            ),
    ];
    Ok(Forecast {
        as_of,
        horizon_days,
        group_by,
        total,
        groups,
        assumptions,
        monte_carlo: mc,
        methods,
    })
}

fn group_forecast(
    name: &str,
    members: &[&AccountOutlook],
    assumptions: &Assumptions,
    mc: MonteCarlo,
    last_period: Option<Actuals>,
) -> GroupForecast {
    let arr: f64 = members.iter().map(|a| a.arr).sum();
    let ps: Vec<f64> = members.iter().map(|a| a.p_churn).collect();
    let pmf = poisson_binomial(&ps);
    let churned_accounts = Estimate {
        expected: ps.iter().sum(),
        i80: pmf_interval(&pmf, 0.8),
        i95: pmf_interval(&pmf, 0.95),
    };
    let r = assumptions.contraction_rate;
    let u = assumptions.expansion_uplift;
    // Seeded per group name, so a group's figures do not depend on the others.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (mut churned, mut expansion) = simulate(
        members,
        assumptions,
        mc,
        mc.seed ^ pulse_core::rng::fnv1a(name.as_bytes()),
        threads,
    );
    let (mut grr, mut nrr): (Vec<f64>, Vec<f64>) = if arr > 0.0 {
        churned
            .iter()
            .zip(&expansion)
            .map(|(&c, &e)| {
                let kept = (arr - c) * (1.0 - r);
                (kept / arr, (kept + e) / arr)
            })
            .unzip()
    } else {
        (Vec::new(), Vec::new())
    };
    let exp_churn: f64 = members.iter().map(|a| a.p_churn * a.arr).sum();
    let exp_expand: f64 = members.iter().map(|a| a.p_expand * a.arr * u).sum();
    let contraction = (arr - exp_churn) * r;
    let est = |expected: f64, s: &mut Vec<f64>| Estimate {
        expected,
        i80: sample_interval(s, 0.8),
        i95: sample_interval(s, 0.95),
    };
    let (g, n) = if arr > 0.0 {
        (
            (arr - exp_churn - contraction) / arr,
            (arr - exp_churn - contraction + exp_expand) / arr,
        )
    } else {
        (1.0, 1.0)
    };
    GroupForecast {
        group: name.to_string(),
        accounts: members.len(),
        current_arr: arr,
        churned_accounts,
        churned_arr: est(exp_churn, &mut churned),
        expansion_arr: est(exp_expand, &mut expansion),
        contraction_arr: contraction,
        grr: est(g, &mut grr),
        nrr: est(n, &mut nrr),
        last_period,
    }
}

/// Draws of the members' churned and expansion ARR: in each draw every
/// account churns with its `p_churn`, else expands with its `p_expand`, else
/// neither. The draws are cut into [`MC_BLOCKS`] blocks, each with its own
/// SplitMix64 stream from `seed` and the block number, run on the machine's
/// cores: the result depends on the seed, never on the thread count. An
/// account's uniform draw is compared as an integer against `p · 2^64`,
/// with its ARR and thresholds in flat arrays the loop streams through.
fn simulate(
    members: &[&AccountOutlook],
    assumptions: &Assumptions,
    mc: MonteCarlo,
    seed: u64,
    threads: usize,
) -> (Vec<f64>, Vec<f64>) {
    let to_threshold = |p: f64| {
        if p >= 1.0 {
            u64::MAX
        } else {
            // Exact below 2^64: p < 1 and the product is truncated.
            (p.max(0.0) * 18_446_744_073_709_551_616.0) as u64
        }
    };
    let churn_at: Vec<u64> = members.iter().map(|a| to_threshold(a.p_churn)).collect();
    let expand_at: Vec<u64> = members
        .iter()
        .map(|a| to_threshold(a.p_churn + a.p_expand))
        .collect();
    let arr: Vec<f64> = members.iter().map(|a| a.arr).collect();
    let u = assumptions.expansion_uplift;
    let ratios = &assumptions.expansion_ratios;
    let mean_ratio = ratios.iter().sum::<f64>() / ratios.len().max(1) as f64;
    let scale = if mean_ratio > 0.0 {
        u / mean_ratio
    } else {
        0.0
    };
    let mut churned = vec![0.0; mc.draws];
    let mut expansion = vec![0.0; mc.draws];
    let block = mc.draws.div_ceil(MC_BLOCKS).max(1);
    let run_block = |b: usize, c_out: &mut [f64], e_out: &mut [f64]| {
        let mut rng = SplitMix64::new(mix(seed, b as u64));
        for (c_slot, e_slot) in c_out.iter_mut().zip(e_out.iter_mut()) {
            let (mut c, mut e) = (0.0, 0.0);
            for i in 0..arr.len() {
                let x = rng.next_u64();
                if x < churn_at[i] {
                    c += arr[i];
                } else if x < expand_at[i] {
                    e += if ratios.is_empty() || scale == 0.0 {
                        arr[i] * u
                    } else {
                        arr[i] * ratios[rng.below(ratios.len())] * scale
                    };
                }
            }
            *c_slot = c;
            *e_slot = e;
        }
    };
    let blocks: Vec<McBlock> = churned
        .chunks_mut(block)
        .zip(expansion.chunks_mut(block))
        .enumerate()
        .collect();
    let threads = threads.min(blocks.len()).max(1);
    if threads == 1 {
        for (b, (c, e)) in blocks {
            run_block(b, c, e);
        }
    } else {
        // Block b goes to thread b % threads.
        let mut per_thread: Vec<Vec<McBlock>> = (0..threads).map(|_| Vec::new()).collect();
        for (b, slices) in blocks {
            per_thread[b % threads].push((b, slices));
        }
        std::thread::scope(|scope| {
            for work in per_thread {
                let run_block = &run_block;
                scope.spawn(move || {
                    for (b, (c, e)) in work {
                        run_block(b, c, e);
                    }
                });
            }
        });
    }
    (churned, expansion)
}

/// Blocks of Monte Carlo draws, each with its own generator stream.
const MC_BLOCKS: usize = 16;

/// One block of draws: its index (which picks its stream) and its slices of
/// the churned and expansion ARR outputs.
type McBlock<'a> = (usize, (&'a mut [f64], &'a mut [f64]));

/// What happened between the ends of days `from` and `to` to the accounts
/// that were customers at the end of `from`, in total and per group.
/// Reads only events up to the end of `to`.
pub fn actuals(hs: &[AccountHistory], from: Day, to: Day, group_by: GroupBy) -> Vec<Actuals> {
    let mut by: BTreeMap<String, Actuals> = BTreeMap::new();
    let blank = |g: &str| Actuals {
        group: g.to_string(),
        from,
        to,
        accounts: 0,
        start_arr: 0.0,
        churned_accounts: 0,
        churned_arr: 0.0,
        expansion_arr: 0.0,
        contraction_arr: 0.0,
        expanded_accounts: 0,
        expanded_start_arr: 0.0,
        expansion_ratios: Vec::new(),
        grr: 1.0,
        nrr: 1.0,
    };
    let horizon = to - from;
    for h in hs {
        if !is_customer_at(h, end_of_day(from)) {
            continue;
        }
        let a = &h.account;
        let seg = a.segment.to_string();
        let start = 12.0 * mrr_at(h, end_of_day(from));
        let churned = churn_label(h, from, horizon).unwrap_or(false);
        let end = if churned {
            0.0
        } else {
            12.0 * mrr_at(h, end_of_day(to))
        };
        let mut keys = vec!["total".to_string()];
        if group_by != GroupBy::Total {
            keys.push(group_by.key(&seg, &a.owner, &a.plan).to_string());
        }
        for k in keys {
            let e = by.entry(k.clone()).or_insert_with(|| blank(&k));
            e.accounts += 1;
            e.start_arr += start;
            if churned {
                e.churned_accounts += 1;
                e.churned_arr += start;
            } else if end > start {
                e.expansion_arr += end - start;
                if end - start >= start * pulse_features::DEFAULT_EXPANSION_THRESHOLD_PCT / 100.0 {
                    e.expanded_accounts += 1;
                    e.expanded_start_arr += start;
                    e.expansion_ratios.push((end - start) / start);
                }
            } else {
                e.contraction_arr += start - end;
            }
        }
    }
    by.into_values()
        .map(|mut a| {
            if a.start_arr > 0.0 {
                a.grr = (a.start_arr - a.churned_arr - a.contraction_arr) / a.start_arr;
                a.nrr = (a.start_arr - a.churned_arr - a.contraction_arr + a.expansion_arr)
                    / a.start_arr;
            }
            a
        })
        .collect()
}

/// P(expand within `horizon_days`) from a model of horizon `model_days`,
/// assuming a constant rate: `1 - (1 - p)^(horizon / model_days)`, capped
/// so that churn and expansion probabilities sum to at most 1.
pub fn expansion_over(p_model: f64, model_days: i32, horizon_days: i32, p_churn: f64) -> f64 {
    let p = p_model.clamp(0.0, 1.0);
    let scaled = 1.0 - (1.0 - p).powf(f64::from(horizon_days) / f64::from(model_days.max(1)));
    scaled.min(1.0 - p_churn).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn acct(id: &str, seg: &str, arr: f64, pc: f64, pe: f64) -> AccountOutlook {
        AccountOutlook {
            id: id.into(),
            segment: seg.into(),
            owner: "dana".into(),
            plan: "core".into(),
            arr,
            p_churn: pc,
            p_expand: pe,
        }
    }

    #[test]
    fn expectations_add_up_and_intervals_hold_them() {
        let accts: Vec<AccountOutlook> = (0..300)
            .map(|i| {
                acct(
                    &format!("a{i}"),
                    if i % 3 == 0 { "smb" } else { "enterprise" },
                    1_000.0 + f64::from(i) * 10.0,
                    0.02 + f64::from(i % 10) * 0.01,
                    0.05,
                )
            })
            .collect();
        let asm = Assumptions {
            expansion_uplift: 0.3,
            contraction_rate: 0.01,
            ..Default::default()
        };
        let f = forecast(
            &accts,
            100,
            90,
            GroupBy::Segment,
            asm.clone(),
            MonteCarlo::default(),
            &[],
        )
        .unwrap();
        let arr: f64 = accts.iter().map(|a| a.arr).sum();
        assert!((f.total.current_arr - arr).abs() < 1e-6);
        let ec: f64 = accts.iter().map(|a| a.p_churn).sum();
        assert!((f.total.churned_accounts.expected - ec).abs() < 1e-9);
        assert_eq!(f.groups.len(), 2);
        let sum: f64 = f.groups.iter().map(|g| g.churned_arr.expected).sum();
        assert!((sum - f.total.churned_arr.expected).abs() < 1e-6);
        for e in [
            f.total.churned_accounts,
            f.total.churned_arr,
            f.total.expansion_arr,
            f.total.grr,
            f.total.nrr,
        ] {
            assert!(e.i95.lo <= e.i80.lo && e.i80.hi <= e.i95.hi, "{e:?}");
            assert!(e.i80.lo <= e.expected && e.expected <= e.i80.hi, "{e:?}");
        }
        assert!(f.total.nrr.expected > f.total.grr.expected);
        // Reproducible: the same seed gives the same intervals.
        let g = forecast(
            &accts,
            100,
            90,
            GroupBy::Segment,
            asm.clone(),
            MonteCarlo::default(),
            &[],
        )
        .unwrap();
        assert_eq!(f, g);
    }

    #[test]
    fn monte_carlo_draws_do_not_depend_on_the_thread_count_and_average_right() {
        let accts: Vec<AccountOutlook> = (0..300)
            .map(|i| {
                let p = f64::from(i % 10) / 40.0;
                acct(&format!("a{i}"), "smb", 1000.0 + f64::from(i), p, 0.1)
            })
            .collect();
        let members: Vec<&AccountOutlook> = accts.iter().collect();
        let asm = Assumptions {
            expansion_uplift: 0.2,
            contraction_rate: 0.0,
            expansion_ratios: vec![0.1, 0.3],
        };
        let mc = MonteCarlo {
            draws: 4_000,
            seed: 9,
        };
        let one = simulate(&members, &asm, mc, 9, 1);
        for threads in [2, 3, 16, 64] {
            assert_eq!(simulate(&members, &asm, mc, 9, threads), one, "{threads}");
        }
        assert_ne!(simulate(&members, &asm, mc, 10, 2), one, "another seed");
        // The draws' mean churned and expansion ARR match the expectations.
        let exp_churn: f64 = accts.iter().map(|a| a.p_churn * a.arr).sum();
        let exp_expand: f64 = accts.iter().map(|a| a.p_expand * a.arr * 0.2).sum();
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            (mean(&one.0) / exp_churn - 1.0).abs() < 0.01,
            "{}",
            mean(&one.0)
        );
        assert!(
            (mean(&one.1) / exp_expand - 1.0).abs() < 0.02,
            "{}",
            mean(&one.1)
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let a = [acct("a", "smb", 100.0, 1.5, 0.0)];
        let asm = Assumptions {
            expansion_uplift: 0.0,
            contraction_rate: 0.0,
            ..Default::default()
        };
        let e = forecast(
            &a,
            0,
            90,
            GroupBy::Total,
            asm.clone(),
            MonteCarlo::default(),
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ForecastError::Invalid {
                    field: "p_churn",
                    ..
                }
            ),
            "{e}"
        );
        let e = forecast(
            &[],
            0,
            0,
            GroupBy::Total,
            asm.clone(),
            MonteCarlo::default(),
            &[],
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                ForecastError::Invalid {
                    field: "horizon_days",
                    ..
                }
            ),
            "{e}"
        );
        let e = GroupBy::parse("region").unwrap_err();
        assert!(
            matches!(
                e,
                ForecastError::Invalid {
                    field: "group_by",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn arr_intervals_cover_simulated_periods() {
        // Accounts with skewed ARR; the actual churned ARR of 2,000 simulated
        // periods falls inside the 80% interval about 80% of the time.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let accts: Vec<AccountOutlook> = (0..500)
            .map(|i| {
                let arr = 500.0 * (1.0 + 20.0 * rng.r#gen::<f64>().powi(4));
                acct(&format!("a{i}"), "smb", arr, rng.r#gen::<f64>() * 0.2, 0.0)
            })
            .collect();
        let asm = Assumptions {
            expansion_uplift: 0.0,
            contraction_rate: 0.0,
            ..Default::default()
        };
        let f = forecast(
            &accts,
            0,
            90,
            GroupBy::Total,
            asm.clone(),
            MonteCarlo::default(),
            &[],
        )
        .unwrap();
        let trials = 2_000;
        let mut inside = 0;
        for _ in 0..trials {
            let c: f64 = accts
                .iter()
                .filter(|a| rng.r#gen::<f64>() < a.p_churn)
                .map(|a| a.arr)
                .sum();
            inside += usize::from(f.total.churned_arr.i80.contains(c));
        }
        let cov = inside as f64 / trials as f64;
        assert!((0.76..=0.84).contains(&cov), "coverage {cov}");
    }

    #[test]
    fn expansion_sizes_widen_the_interval_not_the_expectation() {
        let accts: Vec<AccountOutlook> = (0..200)
            .map(|i| acct(&format!("a{i}"), "smb", 1_000.0, 0.0, 0.2))
            .collect();
        let fixed = Assumptions {
            expansion_uplift: 0.3,
            ..Default::default()
        };
        let spread = Assumptions {
            expansion_ratios: vec![0.1, 0.1, 0.1, 1.0],
            ..fixed.clone()
        };
        let run = |a: Assumptions| {
            forecast(&accts, 0, 90, GroupBy::Total, a, MonteCarlo::default(), &[])
                .unwrap()
                .total
                .expansion_arr
        };
        let (f, s) = (run(fixed), run(spread));
        assert!((f.expected - s.expected).abs() < 1e-6);
        assert!((f.expected - 200.0 * 0.2 * 300.0).abs() < 1e-6);
        assert!(
            s.i80.hi - s.i80.lo > 1.5 * (f.i80.hi - f.i80.lo),
            "{f:?} {s:?}"
        );
    }

    #[test]
    fn expansion_scaling_is_a_constant_rate() {
        assert!((expansion_over(0.1, 90, 90, 0.0) - 0.1).abs() < 1e-12);
        assert!((expansion_over(0.1, 90, 180, 0.0) - 0.19).abs() < 1e-12);
        assert!(expansion_over(0.9, 90, 365, 0.5) <= 0.5);
    }
}
