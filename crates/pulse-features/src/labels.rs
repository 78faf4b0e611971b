//! Forward-looking labels (churn, expansion) and the training snapshots that
//! pair them with point-in-time features.
//!
//! A snapshot at day `t` sees everything up to the end of that day
//! ([`end_of_day`]) and its label looks at the days `(t, t + H]`. Rows whose
//! label window runs past the end of the data are right-censored: their
//! outcome is not known yet, so they are left out rather than counted as
//! "did not churn".

use ndarray::{Array2, ArrayViewMut2};
use pulse_core::SubscriptionKind;
use pulse_core::time::{Day, Ts, ts_of_day};

use crate::compute::compute;
use crate::defs::n_features;
use crate::history::AccountHistory;
use crate::state::{is_customer_at, mrr_at};

/// The expansion threshold of [`snapshots`]: MRR up by at least 10%.
pub const DEFAULT_EXPANSION_THRESHOLD_PCT: f64 = 10.0;

/// The last second of a day (23:59:59 UTC): the as-of instant of a daily snapshot.
pub fn end_of_day(day: Day) -> Ts {
    ts_of_day(day + 1) - 1
}

/// Whether the account churns within the `horizon_days` days after day `t`,
/// `(t, t + H]`: a churn subscription event in that span. `None` when the
/// account is not a customer at the end of day `t` (not started yet, or
/// already churned).
pub fn churn_label(h: &AccountHistory, t: Day, horizon_days: i32) -> Option<bool> {
    let from = end_of_day(t);
    if !is_customer_at(h, from) {
        return None;
    }
    let to = end_of_day(t + horizon_days);
    let k = h.subscriptions.partition_point(|e| e.occurred_at <= from);
    Some(
        h.subscriptions[k..]
            .iter()
            .take_while(|e| e.occurred_at <= to)
            .any(|e| e.kind == SubscriptionKind::Churn),
    )
}

/// Whether the account expands within `horizon_days` after day `t`: it does
/// not churn in `(t, t + H]` and its MRR at the end of day `t + H` exceeds its
/// MRR at the end of day `t` by at least `threshold_pct` percent (a zero MRR
/// that stays zero is no expansion). `None` as for [`churn_label`].
pub fn expansion_label(
    h: &AccountHistory,
    t: Day,
    horizon_days: i32,
    threshold_pct: f64,
) -> Option<bool> {
    if churn_label(h, t, horizon_days)? {
        return Some(false);
    }
    let before = mrr_at(h, end_of_day(t));
    let after = mrr_at(h, end_of_day(t + horizon_days));
    Some(after > before && after - before >= before * threshold_pct / 100.0)
}

/// Training rows: one per (as-of day, customer account), with features as of
/// the end of that day and both labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshots {
    /// Features, one row per snapshot, columns in [`crate::features`] order;
    /// shared with the training datasets built on it (not copied).
    pub x: std::sync::Arc<Array2<f64>>,
    /// [`churn_label`] of each row.
    pub churn: Vec<bool>,
    /// [`expansion_label`] of each row at [`DEFAULT_EXPANSION_THRESHOLD_PCT`].
    pub expansion: Vec<bool>,
    /// Index into the histories passed to [`snapshots`].
    pub account: Vec<usize>,
    /// The as-of day of each row.
    pub as_of: Vec<Day>,
}

impl Snapshots {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.churn.len()
    }

    pub fn is_empty(&self) -> bool {
        self.churn.is_empty()
    }
}

/// Snapshots at days `first, first + step, ...` up to `last`, for every
/// account that is a customer on that day, rows ordered by account then day.
///
/// Only rows whose label window is fully observed are kept:
/// `t + horizon_days <= data_end`. Later days are right-censored and left out.
///
/// [`snapshot_rows`] then [`fill_snapshot_features`] into one matrix: the
/// features are written in place, never held twice.
///
/// # Panics
/// If `step_days < 1`.
pub fn snapshots(
    hs: &[AccountHistory],
    first: Day,
    last: Day,
    step_days: i32,
    horizon_days: i32,
    data_end: Day,
) -> Snapshots {
    let mut s = snapshot_rows(hs, first, last, step_days, horizon_days, data_end);
    let mut x = Array2::zeros((s.len(), n_features()));
    fill_snapshot_features(hs, &s.account, &s.as_of, x.view_mut());
    s.x = x.into();
    s
}

/// The rows of [`snapshots`] without their features: both labels, the
/// account and the as-of day of each row, and an empty feature matrix
/// (0 rows). Cheap next to the features, so a caller can count the rows
/// before it allocates them.
///
/// # Panics
/// If `step_days < 1`.
pub fn snapshot_rows(
    hs: &[AccountHistory],
    first: Day,
    last: Day,
    step_days: i32,
    horizon_days: i32,
    data_end: Day,
) -> Snapshots {
    assert!(step_days >= 1, "step_days must be at least 1");
    let mut s = Snapshots {
        x: std::sync::Arc::new(Array2::zeros((0, n_features()))),
        churn: Vec::new(),
        expansion: Vec::new(),
        account: Vec::new(),
        as_of: Vec::new(),
    };
    let last = last.min(data_end - horizon_days);
    for (i, h) in hs.iter().enumerate() {
        let mut t = first;
        while t <= last {
            if let Some(churn) = churn_label(h, t, horizon_days) {
                let expansion = !churn
                    && expansion_label(h, t, horizon_days, DEFAULT_EXPANSION_THRESHOLD_PCT)
                        .unwrap_or(false);
                s.churn.push(churn);
                s.expansion.push(expansion);
                s.account.push(i);
                s.as_of.push(t);
            }
            t += step_days;
        }
    }
    s
}

/// Writes the features of each row (`hs[account[r]]` as of the end of day
/// `as_of[r]`) into row `r` of `x`.
///
/// # Panics
/// If `account`, `as_of` and `x` disagree on the number of rows, `x` has
/// other than [`n_features`] columns, or an account index is out of range.
pub fn fill_snapshot_features(
    hs: &[AccountHistory],
    account: &[usize],
    as_of: &[Day],
    mut x: ArrayViewMut2<f64>,
) {
    assert_eq!(account.len(), as_of.len(), "one as-of day per row");
    assert_eq!(account.len(), x.nrows(), "one feature row per row");
    let mut row = vec![0.0; n_features()];
    // Rows come account by account, so one history stays in cache for all
    // its days.
    for ((&a, &t), mut out) in account.iter().zip(as_of).zip(x.rows_mut()) {
        match out.as_slice_mut() {
            Some(cells) => compute(&hs[a], end_of_day(t), cells),
            None => {
                compute(&hs[a], end_of_day(t), &mut row);
                out.assign(&ndarray::ArrayView1::from(&row[..]));
            }
        }
    }
}
