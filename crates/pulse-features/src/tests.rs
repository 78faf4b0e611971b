//! Unit tests over hand-built histories: exact feature values, window bounds,
//! missing values, labels and censoring. The leakage property lives in
//! [`leakage`].

mod leakage;

use pulse_core::time::{Day, SECONDS_PER_DAY as DAY, Ts, parse_day, ts_of_day};
use pulse_core::{
    Account, AccountStatus, Channel, Persona, Segment, Sentiment, SubscriptionKind, SurveyKind,
};

use crate::*;

/// The as-of day of most tests: Tuesday 2026-03-10.
fn d0() -> Day {
    parse_day("d", "2026-03-10").unwrap()
}

/// The as-of instant of most tests: the end of [`d0`].
fn t0() -> Ts {
    end_of_day(d0())
}

fn account() -> Account {
    Account {
        id: "a-1".into(),
        name: "Acme Payroll".into(),
        segment: Segment::MidMarket,
        industry: "retail".into(),
        region: "emea".into(),
        plan: "growth".into(),
        mrr: 999.0,
        seats: 99,
        owner: "sam".into(),
        start_date: parse_day("d", "2024-03-15").unwrap(),
        renewal_date: None,
        status: AccountStatus::Active,
    }
}

fn history() -> AccountHistory {
    AccountHistory::new(account())
}

fn interaction(opened_at: Ts) -> InteractionFact {
    InteractionFact {
        opened_at,
        first_response_at: None,
        resolved_at: None,
        channel: Channel::Ticket,
        topic: Default::default(),
        escalated: false,
        reopened: false,
        contacts_to_resolve: 1,
        csat: None,
        sentiment: None,
        contact_id: None,
    }
}

fn sub(
    kind: SubscriptionKind,
    at: Ts,
    mrr: (f64, f64),
    seats: Option<(i64, i64)>,
) -> SubscriptionFact {
    SubscriptionFact {
        kind,
        occurred_at: at,
        mrr_before: mrr.0,
        mrr_after: mrr.1,
        seats_before: seats.map(|s| s.0),
        seats_after: seats.map(|s| s.1),
    }
}

fn contact(
    id: &str,
    persona: Persona,
    strength: i64,
    s: Sentiment,
    active: bool,
    at: Ts,
) -> ContactFact {
    ContactFact {
        contact_id: id.into(),
        persona,
        relationship_strength: strength,
        sentiment: s,
        active,
        observed_at: at,
    }
}

fn usage(
    day: Day,
    period_days: i64,
    active_users: i64,
    logins: i64,
    features_used: i64,
) -> UsageFact {
    UsageFact {
        day,
        period_days,
        active_users,
        logins,
        features_used,
    }
}

fn op(kind: OpKind, at: Ts) -> OperationalFact {
    OperationalFact {
        kind,
        occurred_at: at,
    }
}

fn survey(kind: SurveyKind, score: i64, at: Ts, sentiment: Option<f32>) -> SurveyFact {
    SurveyFact {
        kind,
        score,
        responded_at: at,
        sentiment,
    }
}

fn feats(h: &AccountHistory, t: Ts) -> Vec<f64> {
    let mut h = h.clone();
    h.sort();
    let mut out = vec![0.0; n_features()];
    compute(&h, t, &mut out);
    assert!(out.iter().all(|v| !v.is_infinite()), "{out:?}");
    out
}

/// Asserts named features: `NAN` expects a missing value.
#[track_caller]
fn check(out: &[f64], expected: &[(&str, f64)]) {
    for &(name, want) in expected {
        let i = feature_index(name).unwrap_or_else(|| panic!("no feature {name}"));
        let got = out[i];
        if want.is_nan() {
            assert!(got.is_nan(), "{name}: want NaN, got {got}");
        } else {
            assert!((got - want).abs() < 1e-9, "{name}: want {want}, got {got}");
        }
    }
}

const NAN: f64 = f64::NAN;

#[test]
fn an_empty_history_has_zero_counts_and_missing_rates() {
    let out = feats(&history(), t0());
    check(
        &out,
        &[
            ("interactions_7d", 0.0),
            ("interactions_90d", 0.0),
            ("interactions_trend", 0.0),
            ("open_interactions", 0.0),
            ("first_response_hours_90d", NAN),
            ("fcr_rate_90d", NAN),
            ("resolution_hours_90d", NAN),
            ("escalation_rate_90d", NAN),
            ("csat_mean_90d", NAN),
            ("repeat_topic_contacts_90d", 0.0),
            ("sentiment_mean_30d", NAN),
            ("sentiment_trend", NAN),
            ("survey_sentiment_mean_180d", NAN),
            ("contacts_active", 0.0),
            ("relationship_strength_mean", NAN),
            ("champion_strength", NAN),
            ("champion_left", 0.0),
            ("exec_sponsor_present", 0.0),
            ("exec_sponsor_negative", 0.0),
            ("active_users_per_seat_30d", NAN),
            ("logins_per_day_30d", NAN),
            ("logins_trend", NAN),
            ("feature_breadth_30d", NAN),
            ("days_since_active", NAN),
            // No subscription event at all: today's values are all there is.
            ("mrr", 999.0),
            ("seats", 99.0),
            ("mrr_change_90d", 0.0),
            ("segment_size", 1.0),
            ("tenure_days", f64::from(d0() - account().start_date)),
            ("days_to_renewal", 5.0),
            ("downgrades_180d", 0.0),
            ("missed_payroll_90d", 0.0),
            ("onboarding_completed", 0.0),
            ("onboarding_days", NAN),
            ("nps_latest", NAN),
            ("nps_trend", NAN),
            ("days_since_nps", NAN),
            ("csat_survey_latest", NAN),
        ],
    );
}

#[test]
fn windows_include_t_and_exclude_their_lower_bound() {
    let t = t0();
    let mut h = history();
    h.interactions = vec![
        interaction(t - 7 * DAY),
        interaction(t - 7 * DAY + 1),
        interaction(t),
    ];
    let base = feats(&h, t);
    check(
        &base,
        &[
            ("interactions_7d", 2.0),
            ("interactions_30d", 3.0),
            ("open_interactions", 3.0),
        ],
    );
    // One second after t is the future.
    h.interactions.push(interaction(t + 1));
    assert_eq!(bits(&feats(&h, t)), bits(&base));
    // One second later the window moves: t - 7d + 1 is now its excluded bound.
    check(
        &feats(&h, t + 1),
        &[("interactions_7d", 2.0), ("interactions_30d", 4.0)],
    );
}

#[test]
fn a_record_deleted_at_its_source_counts_until_its_deletion() {
    let t = t0();
    let mut h = history();
    h.interactions = vec![interaction(t - 20 * DAY), interaction(t - 10 * DAY)];
    h.surveys = vec![survey(SurveyKind::Nps, 9, t - 30 * DAY, None)];
    // A ticket and an NPS answer deleted at the source five days before t.
    let gone_at = t - 5 * DAY;
    h.deleted_mut()
        .interactions
        .push((interaction(t - 12 * DAY), gone_at));
    h.deleted_mut()
        .surveys
        .push((survey(SurveyKind::Nps, 2, t - 8 * DAY, None), gone_at));
    // Before the deletion both count, exactly as if never deleted.
    let mut whole = history();
    whole.interactions = vec![
        interaction(t - 20 * DAY),
        interaction(t - 12 * DAY),
        interaction(t - 10 * DAY),
    ];
    whole.surveys = vec![
        survey(SurveyKind::Nps, 9, t - 30 * DAY, None),
        survey(SurveyKind::Nps, 2, t - 8 * DAY, None),
    ];
    let before = gone_at - 1;
    assert_eq!(bits(&feats(&h, before)), bits(&feats(&whole, before)));
    check(&feats(&h, before), &[("interactions_30d", 3.0)]);
    // From the deletion on, neither does.
    let mut kept = history();
    kept.interactions = h.interactions.clone();
    kept.surveys = h.surveys.clone();
    for at in [gone_at, t] {
        assert_eq!(bits(&feats(&h, at)), bits(&feats(&kept, at)), "{at}");
    }
    check(&feats(&h, t), &[("interactions_30d", 2.0)]);
    // With nothing deleted after the instant, the view is the history itself.
    assert!(matches!(h.known_at(t), std::borrow::Cow::Borrowed(_)));
    assert!(matches!(h.known_at(before), std::borrow::Cow::Owned(_)));
}

/// Records with `deleted_at` go to the deleted facts of their history.
#[test]
fn records_deleted_at_their_source_are_kept_apart() {
    let t = t0();
    let mut a = account();
    a.id = "a-1".into();
    let ticket = |id: &str, deleted_at: Option<Ts>| pulse_core::Interaction {
        id: id.into(),
        account_id: "a-1".into(),
        contact_id: None,
        channel: Channel::Ticket,
        topic: "payroll_run".into(),
        opened_at: t - 3 * DAY,
        first_response_at: None,
        resolved_at: None,
        escalated: false,
        reopened: false,
        contacts_to_resolve: 1,
        csat: None,
        subject: String::new(),
        body: String::new(),
        deleted_at,
    };
    let interactions = [ticket("i-1", None), ticket("i-2", Some(t - DAY))];
    let hs = histories_from_records(Records {
        accounts: &[a],
        contacts: &[],
        interactions: &interactions,
        usage: &[],
        subscriptions: &[],
        surveys: &[],
        operational: &[],
    });
    assert_eq!(hs[0].interactions.len(), 1);
    let d = hs[0].deleted.as_deref().expect("a deleted record");
    assert_eq!(d.interactions.len(), 1);
    assert_eq!(d.interactions[0].1, t - DAY);
    check(&feats(&hs[0], t - 2 * DAY), &[("interactions_7d", 2.0)]);
    check(&feats(&hs[0], t), &[("interactions_7d", 1.0)]);
}

fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn support_features_have_exact_values() {
    let t = t0();
    let h = |hours: i64| hours * 3600;
    let mut a = interaction(t - 10 * DAY);
    a.first_response_at = Some(a.opened_at + h(2));
    a.resolved_at = Some(a.opened_at + h(10));
    a.csat = Some(5);
    a.topic = "payroll_run".into();
    let mut b = interaction(t - 5 * DAY);
    b.first_response_at = Some(b.opened_at + h(4));
    b.resolved_at = Some(b.opened_at + h(30));
    b.contacts_to_resolve = 3;
    b.escalated = true;
    b.reopened = true;
    b.csat = Some(2);
    b.topic = "payroll_run".into();
    // Open at t: its resolution, flags and CSAT lie in the future.
    let mut c = interaction(t - DAY);
    c.first_response_at = Some(c.opened_at + h(1));
    c.resolved_at = Some(t + 1);
    c.escalated = true;
    c.contacts_to_resolve = 4;
    c.csat = Some(1);
    c.topic = "tax".into();
    let mut d = interaction(t - h(2));
    d.first_response_at = Some(t + 60);
    d.topic = "payroll_run".into();
    // Before the 90-day window, in the prior trend window.
    let mut e = interaction(t - 100 * DAY);
    e.resolved_at = Some(e.opened_at + h(1));
    e.topic = "payroll_run".into();
    let mut hist = history();
    hist.interactions = vec![e, a, b, c, d];
    let out = feats(&hist, t);
    check(
        &out,
        &[
            ("interactions_7d", 3.0),
            ("interactions_30d", 4.0),
            ("interactions_90d", 4.0),
            ("interactions_trend", 11.0 / 13.0),
            ("open_interactions", 2.0),
            ("first_response_hours_90d", 7.0 / 3.0),
            ("fcr_rate_90d", 0.5),
            ("resolution_hours_90d", 20.0),
            ("escalation_rate_90d", 0.5),
            ("reopen_rate_90d", 0.5),
            ("contacts_to_resolve_90d", 2.0),
            ("repeat_topic_contacts_90d", 2.0),
            ("csat_mean_90d", 3.5),
            ("csat_low_share_90d", 0.5),
        ],
    );
    // A resolution at exactly t is known.
    hist.interactions[3].resolved_at = Some(t);
    check(
        &feats(&hist, t),
        &[
            ("open_interactions", 1.0),
            ("escalation_rate_90d", 2.0 / 3.0),
            ("csat_mean_90d", 8.0 / 3.0),
        ],
    );
}

#[test]
fn sentiment_features_skip_unscored_interactions() {
    let t = t0();
    let scored = |at: Ts, s: Option<f32>| InteractionFact {
        sentiment: s,
        ..interaction(at)
    };
    let mut h = history();
    h.interactions = vec![
        scored(t - 100 * DAY, Some(0.2)),
        scored(t - 100 * DAY, Some(0.4)),
        scored(t - 60 * DAY, Some(-0.9)),
        scored(t - 20 * DAY, Some(0.5)),
        scored(t - 10 * DAY, Some(-0.5)),
        scored(t - 5 * DAY, None),
        scored(t - 4 * DAY, Some(f32::NAN)),
        scored(t + 1, Some(-1.0)),
    ];
    h.surveys = vec![
        survey(SurveyKind::Nps, 9, t - 200 * DAY, Some(1.0)),
        survey(SurveyKind::Nps, 3, t - 10 * DAY, Some(-0.25)),
        survey(SurveyKind::Csat, 2, t + 1, Some(-1.0)),
    ];
    let out = feats(&h, t);
    let f = |x: f32| f64::from(x);
    let prior = (f(0.2) + f(0.4) + f(-0.9)) / 3.0;
    check(
        &out,
        &[
            ("sentiment_mean_30d", 0.0),
            ("sentiment_mean_90d", (f(0.5) + f(-0.5) + f(-0.9)) / 3.0),
            ("sentiment_negative_share_90d", 2.0 / 3.0),
            ("sentiment_min_30d", -0.5),
            ("sentiment_trend", -prior),
            ("survey_sentiment_mean_180d", -0.25),
        ],
    );
    // Nothing scored in the last 30 days: the trend is unknown too.
    h.interactions.retain(|i| i.opened_at < t - 30 * DAY);
    check(
        &feats(&h, t),
        &[
            ("sentiment_mean_30d", NAN),
            ("sentiment_min_30d", NAN),
            ("sentiment_trend", NAN),
            ("sentiment_mean_90d", f(-0.9)),
        ],
    );
}

#[test]
fn relationships_read_each_contacts_latest_observation() {
    use Persona::*;
    use Sentiment::*;
    let t = t0();
    let mut h = history();
    h.contacts = vec![
        contact("c1", Champion, 4, Positive, true, t - 100 * DAY),
        contact("c2", Champion, 2, Neutral, true, t - 50 * DAY),
        contact("c3", ExecutiveSponsor, 3, Negative, true, t - 20 * DAY),
        contact("c1", Champion, 4, Positive, false, t - 10 * DAY),
        contact("c5", EndUser, 2, Negative, true, t - 5 * DAY),
        contact("c4", Admin, 1, Positive, true, t),
        contact("c3", ExecutiveSponsor, 4, Positive, true, t + 1),
    ];
    check(
        &feats(&h, t),
        &[
            ("contacts_active", 4.0),
            ("relationship_strength_mean", 2.0),
            ("champion_strength", 2.0),
            ("champion_sentiment", 0.0),
            ("exec_sponsor_strength", 3.0),
            ("exec_sponsor_sentiment", -1.0),
            ("admin_strength", 1.0),
            ("admin_sentiment", 1.0),
            ("champion_left", 1.0),
            ("exec_sponsor_present", 1.0),
            ("exec_sponsor_negative", 1.0),
        ],
    );
    // Before the champion left and before the sponsor was observed.
    check(
        &feats(&h, t - 21 * DAY),
        &[
            ("contacts_active", 2.0),
            ("champion_strength", 4.0),
            ("champion_sentiment", 0.5),
            ("champion_left", 0.0),
            ("exec_sponsor_present", 0.0),
            ("exec_sponsor_strength", NAN),
            ("admin_strength", NAN),
        ],
    );
    // The sponsor's later observation replaces the negative one.
    check(
        &feats(&h, t + 1),
        &[
            ("exec_sponsor_negative", 0.0),
            ("exec_sponsor_strength", 4.0),
        ],
    );
}

#[test]
fn exec_sponsor_interaction_sentiment_is_the_latest_a_sponsor_wrote() {
    use Persona::*;
    use Sentiment::*;
    let t = t0();
    let mut h = history();
    h.contacts = vec![
        contact("s1", ExecutiveSponsor, 3, Positive, true, t - 300 * DAY),
        contact("s2", ExecutiveSponsor, 2, Neutral, true, t - 300 * DAY),
        contact("a1", Admin, 3, Positive, true, t - 300 * DAY),
        // s2 leaves before t: what they wrote no longer counts.
        contact("s2", ExecutiveSponsor, 2, Neutral, false, t - DAY),
    ];
    let by = |who: Option<&str>, at: Ts, s: Option<f32>| InteractionFact {
        sentiment: s,
        contact_id: who.map(Into::into),
        ..interaction(at)
    };
    h.interactions = vec![
        by(Some("s1"), t - 200 * DAY, Some(0.9)), // outside the 180 days
        by(Some("s1"), t - 40 * DAY, Some(-0.7)),
        by(Some("s1"), t - 30 * DAY, None), // not scored
        by(Some("s2"), t - 20 * DAY, Some(0.8)),
        by(Some("a1"), t - 10 * DAY, Some(0.5)),
        by(None, t - 5 * DAY, Some(0.4)),
        by(Some("s1"), t + 1, Some(0.6)), // after t
    ];
    check(
        &feats(&h, t),
        &[
            ("exec_sponsor_interaction_sentiment", -0.7f32 as f64),
            ("exec_sponsor_sentiment", 1.0),
        ],
    );
    // While s2 was still an active sponsor, theirs was the latest.
    check(
        &feats(&h, t - 2 * DAY),
        &[("exec_sponsor_interaction_sentiment", 0.8f32 as f64)],
    );
    check(
        &feats(&h, t + 1),
        &[("exec_sponsor_interaction_sentiment", 0.6f32 as f64)],
    );
    // No sponsor: missing.
    h.contacts.retain(|c| c.persona != ExecutiveSponsor);
    check(
        &feats(&h, t),
        &[("exec_sponsor_interaction_sentiment", NAN)],
    );
}

/// A start event long before the tests' as-of day, with `seats` seats.
fn started(seats: i64) -> SubscriptionFact {
    sub(
        SubscriptionKind::Start,
        ts_of_day(account().start_date),
        (0.0, 100.0),
        Some((0, seats)),
    )
}

#[test]
fn weekly_and_daily_usage_give_the_same_rates() {
    let d = d0();
    let t = t0();
    let mut weekly = history();
    weekly.subscriptions = vec![started(20)];
    // Weeks ending on d, d-7, ... and one week still running at t.
    weekly.usage = (0..20)
        .map(|k| usage(d - 6 - 7 * k, 7, 10, 70, 3))
        .chain([usage(d - 2, 7, 99, 7_000, 9)])
        .collect();
    let mut daily = history();
    daily.subscriptions = vec![started(20)];
    daily.usage = (0..140).map(|k| usage(d - k, 1, 10, 10, 3)).collect();
    daily.usage.push(usage(d + 1, 1, 99, 7_000, 9));
    let want = [
        ("active_users_per_seat_30d", 0.5),
        ("logins_per_day_7d", 10.0),
        ("logins_per_day_30d", 10.0),
        ("logins_trend", 0.0),
        ("active_users_trend", 0.0),
        ("feature_breadth_30d", 3.0),
        ("days_since_active", 0.0),
    ];
    check(&feats(&weekly, t), &want);
    check(&feats(&daily, t), &want);

    // Mid-day, today's daily row is not complete: the window ends yesterday.
    daily.usage.retain(|u| u.day != d);
    daily.usage.push(usage(d, 1, 10, 1_000, 3));
    check(
        &feats(&daily, t),
        &[("logins_per_day_7d", (60.0 + 1_000.0) / 7.0)],
    );
    check(
        &feats(&daily, ts_of_day(d) + 3_600),
        &[("logins_per_day_7d", 10.0)],
    );
}

#[test]
fn usage_silence_reads_as_zero_and_decline_as_a_trend() {
    let d = d0();
    let mut h = history();
    h.subscriptions = vec![started(10)];
    // Active until 200 days ago, then nothing.
    h.usage = vec![usage(d - 206, 7, 5, 35, 2)];
    check(
        &feats(&h, t0()),
        &[
            ("logins_per_day_30d", 0.0),
            ("active_users_per_seat_30d", 0.0),
            ("feature_breadth_30d", 0.0),
            ("logins_trend", NAN),
            ("days_since_active", 200.0),
        ],
    );
    // Weekly rows: 14 logins a day in the prior window, 7 a day recently,
    // and two idle weeks at the end.
    h.usage = (0..17)
        .map(|k| {
            let day = d - 6 - 7 * k;
            let (au, logins) = match k {
                0 | 1 => (0, 0),
                2..=4 => (4, 49),
                _ => (8, 98),
            };
            usage(day, 7, au, logins, 1)
        })
        .collect();
    let recent = 3.0 * 49.0 / 35.0; // 5 weeks end in the last 30 days
    check(
        &feats(&h, t0()),
        &[
            ("logins_per_day_30d", recent),
            ("logins_trend", (recent - 14.0) / (recent + 14.0)),
            ("active_users_per_seat_30d", 12.0 / 5.0 / 10.0),
            ("days_since_active", 14.0),
        ],
    );
}

#[test]
fn commercial_state_comes_from_events_not_the_current_record() {
    use SubscriptionKind::*;
    let t = t0();
    let mut h = history();
    h.subscriptions = vec![
        sub(Downgrade, t - 120 * DAY, (200.0, 100.0), Some((20, 10))),
        sub(Upgrade, t - 100 * DAY, (100.0, 150.0), Some((10, 15))),
        sub(Downgrade, t - 30 * DAY, (150.0, 120.0), Some((15, 12))),
        sub(PaymentFailed, t - 5 * DAY, (0.0, 0.0), None),
        sub(Upgrade, t + 1, (120.0, 500.0), Some((12, 50))),
    ];
    check(
        &feats(&h, t),
        &[
            ("mrr", 120.0),
            ("seats", 12.0),
            ("mrr_change_90d", -0.2),
            ("downgrades_90d", 1.0),
            ("downgrades_180d", 2.0),
            ("upgrades_180d", 1.0),
            ("payment_failures_90d", 1.0),
        ],
    );
    // Before any event: the first event's "before" values.
    check(
        &feats(&h, t - 121 * DAY),
        &[("mrr", 200.0), ("seats", 20.0), ("mrr_change_90d", 0.0)],
    );
    // The account starts after t: no MRR yet, not a customer.
    let mut new = history();
    new.subscriptions = vec![sub(Start, t + DAY, (0.0, 300.0), Some((0, 5)))];
    check(
        &feats(&new, t),
        &[("mrr", 0.0), ("seats", 0.0), ("mrr_change_90d", NAN)],
    );
    assert!(!is_customer_at(&new, t));
    assert!(is_customer_at(&new, t + DAY));
    // Events that never state seats: the current seats are all there is.
    new.subscriptions = vec![sub(Upgrade, t - DAY, (100.0, 130.0), None)];
    check(&feats(&new, t), &[("mrr", 130.0), ("seats", 99.0)]);
    assert_eq!(seats_at(&new, t), Some(99));
}

#[test]
fn operational_and_survey_features() {
    use OpKind::*;
    let t = t0();
    let mut h = history();
    let start = ts_of_day(account().start_date);
    h.operational = vec![
        op(OnboardingStarted, start + 2 * DAY),
        op(OnboardingCompleted, start + 22 * DAY),
        op(TaxFilingError, t - 200 * DAY),
        op(TaxFilingError, t - 179 * DAY),
        op(MissedPayrollDeadline, t - 100 * DAY),
        op(PriceIncrease, t - 90 * DAY),
        op(PriceIncrease, t - 89 * DAY),
        op(MissedPayrollDeadline, t - 10 * DAY),
        op(Other, t - DAY),
        op(MissedPayrollDeadline, t + 1),
        op(TrainingCompleted, t + 1),
    ];
    h.surveys = vec![
        survey(SurveyKind::Nps, 9, t - 200 * DAY, None),
        survey(SurveyKind::Nps, 6, t - 30 * DAY, None),
        survey(SurveyKind::Csat, 4, t - 3 * DAY, None),
        survey(SurveyKind::Nps, 2, t + 1, None),
    ];
    check(
        &feats(&h, t),
        &[
            ("missed_payroll_90d", 1.0),
            ("missed_payroll_180d", 2.0),
            ("tax_errors_90d", 0.0),
            ("tax_errors_180d", 1.0),
            ("price_increase_90d", 1.0),
            ("onboarding_completed", 1.0),
            ("onboarding_days", 20.0),
            ("training_completed", 0.0),
            ("nps_latest", 6.0),
            ("nps_trend", -3.0),
            ("days_since_nps", 30.0),
            ("csat_survey_latest", 4.0),
        ],
    );
    // Without a start event, onboarding counts from the start date.
    h.operational.remove(0);
    check(&feats(&h, t), &[("onboarding_days", 22.0)]);
    check(
        &feats(&h, start + 21 * DAY),
        &[("onboarding_completed", 0.0), ("onboarding_days", NAN)],
    );
}

#[test]
fn every_feature_is_set_on_a_full_history() {
    use SubscriptionKind::*;
    let t = t0();
    let mut h = history();
    let mut i = interaction(t - 40 * DAY);
    i.first_response_at = Some(i.opened_at + 60);
    i.resolved_at = Some(i.opened_at + 600);
    i.csat = Some(4);
    i.sentiment = Some(0.3);
    // Written by the executive sponsor below.
    i.contact_id = Some(Persona::ExecutiveSponsor.as_str().into());
    h.interactions = vec![
        i.clone(),
        InteractionFact {
            opened_at: t - DAY,
            ..i
        },
    ];
    h.contacts = [Persona::Champion, Persona::ExecutiveSponsor, Persona::Admin]
        .iter()
        .map(|&p| contact(p.as_str(), p, 3, Sentiment::Positive, true, t - DAY))
        .collect();
    h.usage = (0..20)
        .map(|k| usage(d0() - 6 - 7 * k, 7, 10, 70, 3))
        .collect();
    h.subscriptions = vec![
        started(20),
        sub(Upgrade, t - 10 * DAY, (100.0, 120.0), Some((20, 24))),
    ];
    h.surveys = vec![
        survey(SurveyKind::Nps, 7, t - 100 * DAY, Some(0.1)),
        survey(SurveyKind::Nps, 8, t - 10 * DAY, Some(0.1)),
        survey(SurveyKind::Csat, 5, t - 10 * DAY, None),
    ];
    h.operational = vec![op(OpKind::OnboardingCompleted, t - 300 * DAY)];
    let out = feats(&h, t);
    for (f, v) in features().iter().zip(&out) {
        assert!(v.is_finite(), "{} is {v}", f.name);
    }
}

#[test]
fn compute_matrix_stacks_compute() {
    let mut a = history();
    a.interactions = vec![interaction(t0() - DAY)];
    let b = history();
    let x = compute_matrix(&[a.clone(), b.clone()], t0());
    assert_eq!(x.dim(), (2, n_features()));
    assert_eq!(bits(x.row(0).as_slice().unwrap()), bits(&feats(&a, t0())));
    assert_eq!(bits(x.row(1).as_slice().unwrap()), bits(&feats(&b, t0())));
    assert_eq!(compute_matrix(&[], t0()).dim(), (0, n_features()));
}

/// An account that started at `start` (with an event) and churns at `churn`.
fn lifecycle(start: Ts, churn: Option<Ts>) -> AccountHistory {
    let mut h = history();
    h.subscriptions.push(sub(
        SubscriptionKind::Start,
        start,
        (0.0, 100.0),
        Some((0, 10)),
    ));
    if let Some(c) = churn {
        h.subscriptions
            .push(sub(SubscriptionKind::Churn, c, (100.0, 0.0), Some((10, 0))));
    }
    h
}

#[test]
fn churn_labels_look_at_the_horizon_after_t() {
    let d = d0();
    let h = lifecycle(ts_of_day(d - 400), Some(ts_of_day(d + 30) + 3_600));
    assert_eq!(churn_label(&h, d, 30), Some(true));
    assert_eq!(churn_label(&h, d, 29), Some(false));
    assert_eq!(churn_label(&h, d + 29, 1), Some(true));
    // Churned during day d+30: not a customer at its end.
    assert_eq!(churn_label(&h, d + 30, 30), None);
    // Not started yet.
    assert_eq!(churn_label(&h, d - 401, 30), None);
    assert_eq!(churn_label(&h, d - 400, 30), Some(false));
    // Without a start event the start date decides.
    let mut h = history();
    let start = h.account.start_date;
    assert_eq!(churn_label(&h, start - 1, 30), None);
    assert_eq!(churn_label(&h, start, 30), Some(false));
    // A win-back: churned, then started again.
    h = lifecycle(ts_of_day(d - 400), Some(ts_of_day(d - 100)));
    h.subscriptions.push(sub(
        SubscriptionKind::Start,
        ts_of_day(d - 50),
        (0.0, 80.0),
        None,
    ));
    assert_eq!(churn_label(&h, d - 70, 10), None);
    assert_eq!(churn_label(&h, d, 10), Some(false));
}

#[test]
fn expansion_labels_need_the_threshold_and_no_churn() {
    let d = d0();
    let mut h = lifecycle(ts_of_day(d - 400), None);
    h.subscriptions.push(sub(
        SubscriptionKind::Upgrade,
        ts_of_day(d + 10),
        (100.0, 110.0),
        None,
    ));
    assert_eq!(expansion_label(&h, d, 30, 10.0), Some(true));
    assert_eq!(expansion_label(&h, d, 30, 10.5), Some(false));
    assert_eq!(expansion_label(&h, d, 9, 10.0), Some(false));
    assert_eq!(expansion_label(&h, d - 401, 30, 10.0), None);
    h.subscriptions.push(sub(
        SubscriptionKind::Churn,
        ts_of_day(d + 20),
        (110.0, 0.0),
        None,
    ));
    assert_eq!(expansion_label(&h, d, 30, 10.0), Some(false));
    // Free accounts that stay free do not expand.
    let mut free = history();
    free.account.mrr = 0.0;
    assert_eq!(expansion_label(&free, d, 30, 10.0), Some(false));
}

#[test]
fn snapshots_keep_customers_and_drop_censored_rows() {
    let d = d0();
    let a = lifecycle(ts_of_day(d - 400), Some(ts_of_day(d + 20)));
    let b = lifecycle(ts_of_day(d - 400), None);
    let c = lifecycle(ts_of_day(d + 1), None);
    let hs = [a, b, c];
    let s = snapshots(&hs, d - 14, d + 28, 7, 14, d + 21);
    assert_eq!(s.account, [0, 0, 0, 0, 1, 1, 1, 1, 2]);
    let days = [d - 14, d - 7, d, d + 7];
    assert_eq!(s.as_of, [&days[..], &days[..], &[d + 7]].concat());
    assert_eq!(
        s.churn,
        [false, false, false, true, false, false, false, false, false]
    );
    assert_eq!(s.expansion, [false; 9]);
    assert_eq!(s.x.dim(), (9, n_features()));
    assert_eq!(s.len(), 9);
    for (r, row) in s.x.rows().into_iter().enumerate() {
        let want = feats(&hs[s.account[r]], end_of_day(s.as_of[r]));
        assert_eq!(bits(row.as_slice().unwrap()), bits(&want), "row {r}");
    }
    // Nothing is fully observed.
    let none = snapshots(&hs, d, d + 28, 7, 30, d + 29);
    assert!(none.is_empty());
    assert_eq!(none.x.dim(), (0, n_features()));
}

#[test]
fn conversions_drop_text_and_leave_sentiment_unscored() {
    let i = pulse_core::Interaction {
        deleted_at: None,
        id: "i-1".into(),
        account_id: "a-1".into(),
        contact_id: None,
        channel: Channel::Chat,
        topic: "tax".into(),
        opened_at: 10,
        first_response_at: Some(20),
        resolved_at: Some(30),
        escalated: true,
        reopened: false,
        contacts_to_resolve: 2,
        csat: Some(3),
        subject: "s".into(),
        body: "secret".into(),
    };
    let f = InteractionFact::from(&i);
    assert_eq!(
        (f.opened_at, f.resolved_at, f.topic.as_str(), f.sentiment),
        (10, Some(30), "tax", None)
    );
    let e = pulse_core::OperationalEvent {
        deleted_at: None,
        id: "o".into(),
        account_id: "a-1".into(),
        kind: "tax_filing_error".into(),
        occurred_at: 5,
        detail: "x".into(),
    };
    assert_eq!(OperationalFact::from(&e).kind, OpKind::TaxFilingError);
}
