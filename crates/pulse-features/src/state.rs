//! The commercial state of an account at an instant, rebuilt from its
//! subscription events: MRR, seats and whether it is a customer.
//!
//! The account record holds today's values (MRR, seats, plan, status, renewal
//! date); reading them for a past instant would leak the future into features
//! and labels. State at t therefore comes from events:
//! 1. the latest event at or before t states the state after it;
//! 2. with none, the earliest later event states the state *before* it, which
//!    is the state at t (an account that started before the data window has
//!    no start event, and its first recorded change tells what it paid until
//!    then; an account whose first event after t is its start had MRR 0);
//! 3. only when no event states the value at all is the account's current
//!    value used: nothing recorded ever changed it.
//!
//! Rule 2 reads an event after t, but only its "before" values, which describe
//! t itself. Failed payments state no MRR and are skipped.

use pulse_core::SubscriptionKind;
use pulse_core::time::{Ts, day_of_ts};

use crate::history::AccountHistory;

/// MRR at the instant `t` (see the module rules). Subscriptions must be sorted.
pub fn mrr_at(h: &AccountHistory, t: Ts) -> f64 {
    let evs = &h.subscriptions;
    let k = evs.partition_point(|e| e.occurred_at <= t);
    if let Some(e) = evs[..k].iter().rev().find(|e| e.carries_mrr()) {
        return e.mrr_after;
    }
    if let Some(e) = evs[k..].iter().find(|e| e.carries_mrr()) {
        return e.mrr_before;
    }
    h.account.mrr
}

/// Seats at the instant `t`: `seats_after` of the latest event at or before
/// `t` that states it; else `seats_before` of the earliest later event that
/// states seats; else the account's current seats if no event states seats
/// at all; `None` when events state seats but none tells them at `t`.
pub fn seats_at(h: &AccountHistory, t: Ts) -> Option<i64> {
    let evs = &h.subscriptions;
    let k = evs.partition_point(|e| e.occurred_at <= t);
    if let Some(s) = evs[..k].iter().rev().find_map(|e| e.seats_after) {
        return Some(s);
    }
    match evs[k..]
        .iter()
        .find(|e| e.seats_before.is_some() || e.seats_after.is_some())
    {
        Some(e) => e.seats_before,
        None if evs[..k].iter().any(|e| e.seats_before.is_some()) => None,
        None => Some(h.account.seats),
    }
}

/// Whether the account is a paying customer at the instant `t`: the latest
/// start or churn event at or before `t` decides; with none, it is a customer
/// once its start date has come, unless its first later lifecycle event is a
/// start (it was not a customer yet).
pub fn is_customer_at(h: &AccountHistory, t: Ts) -> bool {
    let lifecycle =
        |k: SubscriptionKind| matches!(k, SubscriptionKind::Start | SubscriptionKind::Churn);
    let evs = &h.subscriptions;
    let k = evs.partition_point(|e| e.occurred_at <= t);
    if let Some(e) = evs[..k].iter().rev().find(|e| lifecycle(e.kind)) {
        return e.kind == SubscriptionKind::Start;
    }
    if let Some(e) = evs[k..].iter().find(|e| lifecycle(e.kind))
        && e.kind == SubscriptionKind::Start
    {
        return false;
    }
    day_of_ts(t) >= h.account.start_date
}
