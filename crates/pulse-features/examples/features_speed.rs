//! Speed of point-in-time features: builds synthetic histories in memory
//! (by default 50,000 accounts with ~50 interactions and ~100 weekly usage
//! rows each) and times `compute_matrix` as of one date, then a year of weekly
//! training snapshots for a tenth of them.
//!
//! Run: `cargo run --release -p pulse-features --example features_speed [accounts]`

use std::time::Instant;

use pulse_core::time::{Day, SECONDS_PER_DAY as DAY, Ts, parse_day, ts_of_day};
use pulse_core::{
    Account, AccountStatus, Channel, Persona, Segment, Sentiment, SubscriptionKind, SurveyKind,
};
use pulse_features::{
    AccountHistory, ContactFact, InteractionFact, OpKind, OperationalFact, SubscriptionFact,
    SurveyFact, UsageFact, compute_matrix, end_of_day, features, snapshots,
};

/// splitmix64: enough randomness for shapes, no dependency.
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
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const TOPICS: &[&str] = &[
    "payroll_run",
    "tax_filing",
    "benefits",
    "onboarding",
    "billing",
];

fn history(r: &mut Rng, i: usize, first: Day, last: Day) -> AccountHistory {
    let span = i64::from(last - first) * DAY;
    let at = |r: &mut Rng| ts_of_day(first) + r.below(span as u64) as Ts;
    let seats = 5 + r.below(200) as i64;
    let mut h = AccountHistory::new(Account {
        id: format!("a-{i}"),
        name: format!("Account {i}"),
        segment: Segment::ALL[r.below(3) as usize],
        industry: "services".into(),
        region: "emea".into(),
        plan: "growth".into(),
        mrr: seats as f64 * 12.0,
        seats,
        owner: "csm".into(),
        start_date: first - r.below(1_000) as Day,
        renewal_date: None,
        status: AccountStatus::Active,
    });
    h.interactions = (0..40 + r.below(21))
        .map(|_| {
            let opened_at = at(r);
            InteractionFact {
                opened_at,
                first_response_at: Some(opened_at + r.below(86_400) as Ts),
                resolved_at: (r.below(10) > 0).then(|| opened_at + r.below(7 * 86_400) as Ts),
                channel: Channel::ALL[r.below(4) as usize],
                topic: TOPICS[r.below(TOPICS.len() as u64) as usize].into(),
                escalated: r.below(10) == 0,
                reopened: r.below(12) == 0,
                contacts_to_resolve: 1 + r.below(3) as i64,
                csat: (r.below(3) == 0).then(|| 1 + r.below(5) as i64),
                sentiment: Some((r.unit() * 2.0 - 1.0) as f32),
                contact_id: None,
            }
        })
        .collect();
    let weeks = i64::from(last - first) / 7;
    h.usage = (0..weeks)
        .map(|w| UsageFact {
            day: first + (w * 7) as Day,
            period_days: 7,
            active_users: r.below(seats as u64 + 1) as i64,
            logins: r.below(500) as i64,
            features_used: r.below(12) as i64,
        })
        .collect();
    h.contacts = (0..5 + r.below(6))
        .map(|c| ContactFact {
            contact_id: format!("c-{}", c % 5).into(),
            persona: Persona::ALL[(c % 5) as usize],
            relationship_strength: 1 + r.below(4) as i64,
            sentiment: Sentiment::ALL[r.below(3) as usize],
            active: r.below(8) > 0,
            observed_at: at(r),
        })
        .collect();
    let mut mrr = seats as f64 * 10.0;
    h.subscriptions = (0..3 + r.below(6))
        .map(|_| {
            let kind = [
                SubscriptionKind::Upgrade,
                SubscriptionKind::Downgrade,
                SubscriptionKind::Renewal,
                SubscriptionKind::PaymentFailed,
            ][r.below(4) as usize];
            let before = mrr;
            mrr *= match kind {
                SubscriptionKind::Upgrade => 1.2,
                SubscriptionKind::Downgrade => 0.8,
                _ => 1.0,
            };
            SubscriptionFact {
                kind,
                occurred_at: at(r),
                mrr_before: before,
                mrr_after: mrr,
                seats_before: Some(seats),
                seats_after: Some(seats),
            }
        })
        .collect();
    if r.below(10) == 0 {
        h.subscriptions.push(SubscriptionFact {
            kind: SubscriptionKind::Churn,
            occurred_at: at(r),
            mrr_before: mrr,
            mrr_after: 0.0,
            seats_before: Some(seats),
            seats_after: Some(0),
        });
    }
    h.surveys = (0..4)
        .map(|k| {
            let kind = [SurveyKind::Nps, SurveyKind::Csat][k % 2];
            SurveyFact {
                kind,
                score: match kind {
                    SurveyKind::Nps => r.below(11) as i64,
                    SurveyKind::Csat => 1 + r.below(5) as i64,
                },
                responded_at: at(r),
                sentiment: None,
            }
        })
        .collect();
    h.operational = (0..5)
        .map(|_| OperationalFact {
            kind: [
                OpKind::MissedPayrollDeadline,
                OpKind::TaxFilingError,
                OpKind::OnboardingCompleted,
                OpKind::PriceIncrease,
                OpKind::Other,
            ][r.below(5) as usize],
            occurred_at: at(r),
        })
        .collect();
    h.sort();
    h
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let last = parse_day("d", "2026-03-01").expect("valid date");
    let first = last - 700;
    let mut r = Rng(42);
    let t = Instant::now();
    let hs: Vec<AccountHistory> = (0..n).map(|i| history(&mut r, i, first, last)).collect();
    let built = t.elapsed();
    let interactions: usize = hs.iter().map(|h| h.interactions.len()).sum();
    let usage: usize = hs.iter().map(|h| h.usage.len()).sum();
    println!(
        "{n} accounts, {:.1} interactions and {:.1} usage rows each (built in {:.2?})",
        interactions as f64 / n as f64,
        usage as f64 / n as f64,
        built
    );

    let as_of = end_of_day(last);
    let mut best = f64::INFINITY;
    let mut checksum = 0.0;
    for _ in 0..5 {
        let t = Instant::now();
        let x = compute_matrix(&hs, as_of);
        best = best.min(t.elapsed().as_secs_f64());
        checksum = x.iter().filter(|v| v.is_finite()).sum::<f64>();
    }
    println!(
        "compute_matrix: {} x {} features in {:.1} ms (best of 5; {:.2} us per account; checksum {checksum:.3e})",
        n,
        features().len(),
        best * 1e3,
        best * 1e6 / n as f64,
    );

    let sample = &hs[..n.div_ceil(10)];
    let t = Instant::now();
    let s = snapshots(sample, last - 400, last - 90, 7, 90, last);
    println!(
        "snapshots: {} rows (weekly, {} accounts, 90-day horizon) in {:.1} ms",
        s.len(),
        sample.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
}
