//! The leakage property: over random histories, whatever happens after the
//! as-of instant t (events changed, moved, added or deleted; the account's
//! current MRR, seats, plan, status and renewal date rewritten) leaves every
//! feature at t bitwise unchanged.
//!
//! Every generated history has a subscription event before any t, so MRR and
//! seats never fall back to a later event's "before" values (that documented
//! fallback is covered by the unit tests).

use proptest::prelude::*;
use pulse_core::time::{Day, SECONDS_PER_DAY as DAY, Ts, ts_of_day};
use pulse_core::{AccountStatus, Channel, Persona, Sentiment, SubscriptionKind, SurveyKind};

use super::{account, bits, d0, history};
use crate::compute::last_complete_day;
use crate::*;

/// Generated events fall in `[base, base + SPAN)`.
const SPAN: i64 = 400 * DAY;

fn base() -> Ts {
    ts_of_day(d0() - 400)
}

/// A time in the span: any second, or a whole day (to land on window edges).
fn arb_ts() -> impl Strategy<Value = Ts> {
    prop_oneof![0..SPAN, (0..400i64).prop_map(|d| d * DAY)].prop_map(|o| base() + o)
}

fn arb_interaction() -> impl Strategy<Value = InteractionFact> {
    (
        arb_ts(),
        proptest::option::of(0..20 * DAY),
        proptest::option::of(0..60 * DAY),
        any::<(bool, bool)>(),
        1..5i64,
        proptest::option::of(1..=5i64),
        proptest::option::of(-1.0f32..=1.0),
        0..4usize,
        proptest::option::of(0..4usize),
    )
        .prop_map(
            |(opened_at, fr, res, (escalated, reopened), ctr, csat, sentiment, topic, contact)| {
                InteractionFact {
                    opened_at,
                    first_response_at: fr.map(|d| opened_at + d),
                    resolved_at: res.map(|d| opened_at + d),
                    channel: Channel::ALL[topic],
                    topic: ["", "payroll", "tax", "benefits"][topic].into(),
                    escalated,
                    reopened,
                    contacts_to_resolve: ctr,
                    csat,
                    sentiment,
                    contact_id: contact.map(|c| format!("c{c}").into()),
                }
            },
        )
}

fn arb_contact() -> impl Strategy<Value = ContactFact> {
    (
        arb_ts(),
        0..4usize,
        0..5usize,
        1..=4i64,
        0..3usize,
        any::<bool>(),
    )
        .prop_map(
            |(observed_at, id, persona, strength, sentiment, active)| ContactFact {
                contact_id: format!("c{id}").into(),
                persona: Persona::ALL[persona],
                relationship_strength: strength,
                sentiment: Sentiment::ALL[sentiment],
                active,
                observed_at,
            },
        )
}

fn arb_usage() -> impl Strategy<Value = UsageFact> {
    (
        0..400i32,
        prop_oneof![Just(1i64), Just(7)],
        0..20i64,
        0..200i64,
        0..8i64,
    )
        .prop_map(
            |(day, period_days, active_users, logins, features_used)| UsageFact {
                day: d0() - 400 + day,
                period_days,
                active_users,
                logins,
                features_used,
            },
        )
}

fn arb_subscription() -> impl Strategy<Value = SubscriptionFact> {
    (
        arb_ts(),
        0..7usize,
        0..500u32,
        0..500u32,
        proptest::option::of((0..50i64, 0..50i64)),
    )
        .prop_map(
            |(occurred_at, kind, before, after, seats)| SubscriptionFact {
                kind: SubscriptionKind::ALL[kind],
                occurred_at,
                mrr_before: f64::from(before),
                mrr_after: f64::from(after),
                seats_before: seats.map(|s| s.0),
                seats_after: seats.map(|s| s.1),
            },
        )
}

fn arb_survey() -> impl Strategy<Value = SurveyFact> {
    (
        arb_ts(),
        any::<bool>(),
        0..=10i64,
        proptest::option::of(-1.0f32..=1.0),
    )
        .prop_map(|(responded_at, nps, score, sentiment)| SurveyFact {
            kind: if nps {
                SurveyKind::Nps
            } else {
                SurveyKind::Csat
            },
            score: if nps { score } else { score / 2 + 1 },
            responded_at,
            sentiment,
        })
}

const OP_KINDS: [OpKind; 8] = [
    OpKind::MissedPayrollDeadline,
    OpKind::TaxFilingError,
    OpKind::OnboardingStarted,
    OpKind::OnboardingCompleted,
    OpKind::TrainingCompleted,
    OpKind::OpenEnrollmentStarted,
    OpKind::PriceIncrease,
    OpKind::Other,
];

fn arb_operational() -> impl Strategy<Value = OperationalFact> {
    (arb_ts(), 0..8usize).prop_map(|(occurred_at, k)| OperationalFact {
        kind: OP_KINDS[k],
        occurred_at,
    })
}

fn arb_history() -> impl Strategy<Value = AccountHistory> {
    (
        proptest::collection::vec(arb_contact(), 0..10),
        proptest::collection::vec(arb_interaction(), 0..30),
        proptest::collection::vec(arb_usage(), 0..40),
        proptest::collection::vec(arb_subscription(), 0..8),
        proptest::collection::vec(arb_survey(), 0..6),
        proptest::collection::vec(arb_operational(), 0..8),
    )
        .prop_map(
            |(contacts, interactions, usage, mut subscriptions, surveys, operational)| {
                subscriptions.push(SubscriptionFact {
                    kind: SubscriptionKind::Start,
                    occurred_at: base() - DAY,
                    mrr_before: 0.0,
                    mrr_after: 100.0,
                    seats_before: Some(0),
                    seats_after: Some(10),
                });
                let mut h = AccountHistory {
                    contacts,
                    interactions,
                    usage,
                    subscriptions,
                    surveys,
                    operational,
                    ..history()
                };
                h.sort();
                h
            },
        )
}

/// A small deterministic generator for the mutations (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }
    /// A time after `t`.
    fn after(&mut self, t: Ts) -> Ts {
        let range = if self.coin() { 100 } else { 200 * DAY as u64 };
        t + 1 + self.below(range) as i64
    }
}

enum Fate {
    Keep,
    Delete,
    Change,
}

fn fate(r: &mut Rng) -> Fate {
    match r.below(3) {
        0 => Fate::Keep,
        1 => Fate::Delete,
        _ => Fate::Change,
    }
}

/// Rewrites everything about `h` that lies after `t`.
fn mutate_future(h: &AccountHistory, t: Ts, seed: u64) -> AccountHistory {
    let r = &mut Rng(seed);
    let mut m = h.clone();
    // Today's values of the account record.
    m.account.mrr = r.below(10_000) as f64;
    m.account.seats = r.below(500) as i64;
    m.account.plan = "enterprise_plus".into();
    m.account.status = AccountStatus::Churned;
    m.account.renewal_date = Some(d0() + r.below(400) as Day);

    let mut contacts = Vec::new();
    for c in &h.contacts {
        if c.observed_at <= t {
            contacts.push(c.clone());
            continue;
        }
        match fate(r) {
            Fate::Keep => contacts.push(c.clone()),
            Fate::Delete => {}
            Fate::Change => contacts.push(ContactFact {
                contact_id: format!("c{}", r.below(5)).into(),
                persona: r.pick(Persona::ALL),
                relationship_strength: 1 + r.below(4) as i64,
                sentiment: r.pick(Sentiment::ALL),
                active: r.coin(),
                observed_at: r.after(t),
            }),
        }
    }
    for _ in 0..r.below(3) {
        contacts.push(ContactFact {
            contact_id: format!("c{}", r.below(5)).into(),
            persona: r.pick(Persona::ALL),
            relationship_strength: 1 + r.below(4) as i64,
            sentiment: r.pick(Sentiment::ALL),
            active: r.coin(),
            observed_at: r.after(t),
        });
    }
    m.contacts = contacts;

    let mut interactions = Vec::new();
    let future_interaction = |r: &mut Rng| {
        let opened_at = r.after(t);
        InteractionFact {
            opened_at,
            first_response_at: r.coin().then(|| opened_at + r.below(1_000) as i64),
            resolved_at: r.coin().then(|| opened_at + r.below(100_000) as i64),
            channel: r.pick(Channel::ALL),
            topic: r.pick(&["", "payroll", "tax"]).into(),
            escalated: r.coin(),
            reopened: r.coin(),
            contacts_to_resolve: 1 + r.below(5) as i64,
            csat: r.coin().then(|| 1 + r.below(5) as i64),
            sentiment: r.coin().then(|| r.below(200) as f32 / 100.0 - 1.0),
            contact_id: r.coin().then(|| format!("c{}", r.below(4)).into()),
        }
    };
    for i in &h.interactions {
        if i.opened_at > t {
            match fate(r) {
                Fate::Keep => interactions.push(i.clone()),
                Fate::Delete => {}
                Fate::Change => interactions.push(future_interaction(r)),
            }
            continue;
        }
        let mut i = i.clone();
        if i.first_response_at.is_none_or(|f| f > t) && r.coin() {
            i.first_response_at = r.coin().then(|| r.after(t));
        }
        if i.resolved_at.is_none_or(|x| x > t) {
            // Still open at t: its resolution and final flags are the future.
            if r.coin() {
                i.resolved_at = r.coin().then(|| r.after(t));
            }
            if r.coin() {
                i.escalated = r.coin();
                i.reopened = r.coin();
                i.contacts_to_resolve = 1 + r.below(5) as i64;
                i.csat = r.coin().then(|| 1 + r.below(5) as i64);
            }
        }
        interactions.push(i);
    }
    for _ in 0..r.below(3) {
        interactions.push(future_interaction(r));
    }
    m.interactions = interactions;

    let du = last_complete_day(t);
    let mut usage = Vec::new();
    let future_row = |r: &mut Rng| {
        let period_days = r.pick(&[1i64, 7]);
        UsageFact {
            // Ends after the last complete day.
            day: du + 1 - period_days as Day + 1 + r.below(30) as Day,
            period_days,
            active_users: r.below(50) as i64,
            logins: r.below(500) as i64,
            features_used: r.below(10) as i64,
        }
    };
    for u in &h.usage {
        if u.last_day() <= du {
            usage.push(*u);
            continue;
        }
        match fate(r) {
            Fate::Keep => usage.push(*u),
            Fate::Delete => {}
            Fate::Change => usage.push(future_row(r)),
        }
    }
    for _ in 0..r.below(3) {
        usage.push(future_row(r));
    }
    m.usage = usage;

    let future_sub = |r: &mut Rng| SubscriptionFact {
        kind: r.pick(SubscriptionKind::ALL),
        occurred_at: r.after(t),
        mrr_before: r.below(1_000) as f64,
        mrr_after: r.below(1_000) as f64,
        seats_before: r.coin().then(|| r.below(50) as i64),
        seats_after: r.coin().then(|| r.below(50) as i64),
    };
    m.subscriptions = rewrite(r, &h.subscriptions, |e| e.occurred_at > t, future_sub);
    let future_survey = |r: &mut Rng| SurveyFact {
        kind: r.pick(&[SurveyKind::Nps, SurveyKind::Csat]),
        score: 1 + r.below(5) as i64,
        responded_at: r.after(t),
        sentiment: r.coin().then(|| -1.0),
    };
    m.surveys = rewrite(r, &h.surveys, |s| s.responded_at > t, future_survey);
    let future_op = |r: &mut Rng| OperationalFact {
        kind: r.pick(&OP_KINDS),
        occurred_at: r.after(t),
    };
    m.operational = rewrite(r, &h.operational, |e| e.occurred_at > t, future_op);
    m.sort();
    m
}

/// Keeps past events, and keeps, deletes or replaces each future one; adds a few.
fn rewrite<T: Clone>(
    r: &mut Rng,
    events: &[T],
    future: impl Fn(&T) -> bool,
    new: impl Fn(&mut Rng) -> T,
) -> Vec<T> {
    let mut out = Vec::new();
    for e in events {
        if !future(e) {
            out.push(e.clone());
            continue;
        }
        match fate(r) {
            Fate::Keep => out.push(e.clone()),
            Fate::Delete => {}
            Fate::Change => out.push(new(r)),
        }
    }
    for _ in 0..r.below(3) {
        out.push(new(r));
    }
    out
}

fn features_at(h: &AccountHistory, t: Ts) -> Vec<f64> {
    let mut out = vec![0.0; n_features()];
    compute(h, t, &mut out);
    out
}

/// The as-of instant: any second, or an event's time shifted by a window
/// length (so events sit exactly on t and on window edges).
fn pick_t(h: &AccountHistory, choice: usize, offset: i64, shift: usize) -> Ts {
    let times: Vec<Ts> = h
        .interactions
        .iter()
        .map(|i| i.opened_at)
        .chain(h.interactions.iter().filter_map(|i| i.resolved_at))
        .chain(h.contacts.iter().map(|c| c.observed_at))
        .chain(h.subscriptions.iter().map(|e| e.occurred_at))
        .chain(h.surveys.iter().map(|s| s.responded_at))
        .chain(h.operational.iter().map(|e| e.occurred_at))
        .collect();
    let shift = [0, 0, 7, 30, 90, 120, 180][shift] * DAY;
    if times.is_empty() || choice < 300 {
        base() + offset
    } else {
        (times[choice % times.len()] + shift).max(base())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn nothing_after_t_changes_a_feature_at_t(
        h in arb_history(),
        choice in 0..1_000usize,
        offset in 0..SPAN,
        shift in 0..7usize,
        seed in any::<u64>(),
    ) {
        let t = pick_t(&h, choice, offset, shift);
        let before = features_at(&h, t);
        prop_assert!(before.iter().all(|v| !v.is_infinite()), "{:?}", before);
        let m = mutate_future(&h, t, seed);
        let after = features_at(&m, t);
        for (k, f) in features().iter().enumerate() {
            prop_assert_eq!(
                before[k].to_bits(),
                after[k].to_bits(),
                "{} changed: {} -> {}",
                f.name,
                before[k],
                after[k]
            );
        }
        prop_assert_eq!(bits(&before), bits(&after));
    }
}

#[test]
fn the_start_date_is_static_and_read() {
    // The one account attribute besides the segment that features read.
    let mut h = history();
    let t = end_of_day(d0());
    let a = features_at(&h, t);
    h.account.start_date = account().start_date - 1;
    assert_ne!(bits(&a), bits(&features_at(&h, t)));
}
