//! Computing the feature vector of one account as of one instant, and the
//! matrix of many.
//!
//! Every window is found by a galloping binary search from the end of the
//! time-sorted slices of an [`AccountHistory`]. Nothing here allocates, except
//! an account with more than 16 distinct contacts or topics in one window. The
//! one rule every function keeps: read nothing that happened after `as_of`.

use ndarray::Array2;
use pulse_core::time::{Day, SECONDS_PER_DAY, Ts, day_of_ts};
use pulse_core::{Persona, Segment, Sentiment, SubscriptionKind, SurveyKind};

use crate::civil;
use crate::defs::{Feature as F, n_features};
use crate::history::{AccountHistory, MAX_USAGE_PERIOD, OpKind, UsageFact};
use crate::state::{mrr_at, seats_at};

const DAY: Ts = SECONDS_PER_DAY;
/// Interaction sentiment below this is negative (the lower third of [-1, 1]).
pub const NEGATIVE_SENTIMENT_BELOW: f32 = -1.0 / 3.0;

/// Computes every feature of `h` as of the instant `as_of` into `out`, in
/// [`crate::features`] order. Missing values are `f64::NAN`.
///
/// Only what was known at `as_of` is read: events at exactly `as_of` count,
/// events one second later do not, and a record deleted at its source counts
/// only before its deletion ([`AccountHistory::known_at`]). The lists of `h` must be sorted
/// ([`AccountHistory::sort`]).
///
/// # Panics
/// If `out.len() != features().len()`.
pub fn compute(h: &AccountHistory, as_of: Ts, out: &mut [f64]) {
    assert_eq!(
        out.len(),
        n_features(),
        "feature buffer has the wrong length"
    );
    // Records deleted at their source count until their deletion.
    let h = &*h.known_at(as_of);
    debug_assert!(h.is_sorted(), "account history is not sorted");
    out.fill(f64::NAN);
    let mut o = Out(out);
    support(h, as_of, &mut o);
    sentiment(h, as_of, &mut o);
    relationships(h, as_of, &mut o);
    let seats = seats_at(h, as_of).map_or(f64::NAN, |s| s as f64);
    adoption(h, as_of, seats, &mut o);
    commercial(h, as_of, seats, &mut o);
    operational(h, as_of, &mut o);
    surveys(h, as_of, &mut o);
}

/// The features of every history as of one instant: one row per history, in
/// order, columns in [`crate::features`] order.
pub fn compute_matrix(hs: &[AccountHistory], as_of: Ts) -> Array2<f64> {
    let mut x = Array2::from_elem((hs.len(), n_features()), f64::NAN);
    for (h, mut row) in hs.iter().zip(x.rows_mut()) {
        match row.as_slice_mut() {
            Some(out) => compute(h, as_of, out),
            None => unreachable!("a freshly built Array2 is in standard layout"),
        }
    }
    x
}

struct Out<'a>(&'a mut [f64]);

impl Out<'_> {
    fn set(&mut self, f: F, v: f64) {
        self.0[f as usize] = v;
    }
    fn count(&mut self, f: F, n: usize) {
        self.0[f as usize] = n as f64;
    }
    fn flag(&mut self, f: F, b: bool) {
        self.0[f as usize] = if b { 1.0 } else { 0.0 };
    }
}

/// The number of leading elements of a slice sorted by `key` with `key <= x`.
///
/// Gallops from the end: as-of instants are mostly recent, so the answer is
/// near the end and the probes stay in a few cache lines instead of jumping
/// across the slice as a plain binary search does.
fn count_upto<T>(v: &[T], key: impl Fn(&T) -> i64, x: i64) -> usize {
    let mut hi = v.len(); // every element at or after `hi` is > x
    let mut step = 1;
    while hi > 0 {
        let probe = hi.saturating_sub(step);
        if key(&v[probe]) <= x {
            return probe + 1 + v[probe + 1..hi].partition_point(|e| key(e) <= x);
        }
        hi = probe;
        step *= 2;
    }
    0
}

/// The elements of a slice sorted by `key` with `key <= hi`.
fn upto<T>(v: &[T], key: impl Fn(&T) -> i64, hi: i64) -> &[T] {
    &v[..count_upto(v, key, hi)]
}

/// The elements of a slice sorted by `key` with `key > lo`.
fn after<T>(v: &[T], key: impl Fn(&T) -> i64, lo: i64) -> &[T] {
    &v[count_upto(v, key, lo)..]
}

/// The elements of a slice sorted by `key` with `lo < key <= hi`.
fn between<T>(v: &[T], key: impl Fn(&T) -> i64, lo: i64, hi: i64) -> &[T] {
    let end = count_upto(v, &key, hi);
    after(&v[..end], key, lo)
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { f64::NAN }
}

/// `(recent - prior) / (recent + prior)` of two non-negative rates; 0 when both are 0.
fn sym_trend(recent: f64, prior: f64) -> f64 {
    let s = recent + prior;
    if s > 0.0 { (recent - prior) / s } else { 0.0 }
}

#[derive(Default)]
struct Mean {
    sum: f64,
    n: u32,
}

impl Mean {
    fn add(&mut self, v: f64) {
        self.sum += v;
        self.n += 1;
    }
    fn get(&self) -> f64 {
        if self.n > 0 {
            self.sum / self.n as f64
        } else {
            f64::NAN
        }
    }
}

/// A set of distinct strings that allocates only past its first 16.
#[derive(Default)]
struct Seen<'a> {
    inline: [&'a str; 16],
    n: usize,
    spill: Vec<&'a str>,
}

impl<'a> Seen<'a> {
    fn contains(&self, s: &str) -> bool {
        self.inline[..self.n].contains(&s) || self.spill.contains(&s)
    }

    fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Adds `s`; false if it was already there.
    fn insert(&mut self, s: &'a str) -> bool {
        if self.inline[..self.n].contains(&s) || self.spill.contains(&s) {
            return false;
        }
        if self.n < self.inline.len() {
            self.inline[self.n] = s;
            self.n += 1;
        } else {
            self.spill.push(s);
        }
        true
    }
}

fn resolved_by(resolved_at: Option<Ts>, t: Ts) -> bool {
    resolved_at.is_some_and(|r| r <= t)
}

fn support(h: &AccountHistory, t: Ts, o: &mut Out<'_>) {
    let key = |i: &crate::InteractionFact| i.opened_at;
    let known = upto(&h.interactions, key, t);
    let w90 = after(known, key, t - 90 * DAY);
    let w30 = after(w90, key, t - 30 * DAY);
    let w7 = after(w30, key, t - 7 * DAY);
    let prior = between(known, key, t - 120 * DAY, t - 30 * DAY);
    o.count(F::Interactions7d, w7.len());
    o.count(F::Interactions30d, w30.len());
    o.count(F::Interactions90d, w90.len());
    o.set(
        F::InteractionsTrend,
        sym_trend(w30.len() as f64 / 30.0, prior.len() as f64 / 90.0),
    );
    o.count(
        F::OpenInteractions,
        known
            .iter()
            .filter(|i| !resolved_by(i.resolved_at, t))
            .count(),
    );

    let (mut first_response, mut resolution, mut ctr, mut csat) = (
        Mean::default(),
        Mean::default(),
        Mean::default(),
        Mean::default(),
    );
    let (mut resolved, mut fcr, mut escalated, mut reopened, mut csat_low, mut repeats) =
        (0u32, 0u32, 0u32, 0u32, 0u32, 0usize);
    let mut topics = Seen::default();
    for i in w90 {
        if let Some(fr) = i.first_response_at
            && fr <= t
        {
            first_response.add((fr - i.opened_at) as f64 / 3600.0);
        }
        if let Some(r) = i.resolved_at
            && r <= t
        {
            resolved += 1;
            resolution.add((r - i.opened_at) as f64 / 3600.0);
            fcr += u32::from(i.contacts_to_resolve == 1);
            escalated += u32::from(i.escalated);
            reopened += u32::from(i.reopened);
            ctr.add(i.contacts_to_resolve as f64);
            if let Some(c) = i.csat {
                csat.add(c as f64);
                csat_low += u32::from(c <= 2);
            }
        }
        if !i.topic.is_empty() && !topics.insert(&i.topic) {
            repeats += 1;
        }
    }
    let resolved = f64::from(resolved);
    o.set(F::FirstResponseHours90d, first_response.get());
    o.set(F::FcrRate90d, ratio(f64::from(fcr), resolved));
    o.set(F::ResolutionHours90d, resolution.get());
    o.set(F::EscalationRate90d, ratio(f64::from(escalated), resolved));
    o.set(F::ReopenRate90d, ratio(f64::from(reopened), resolved));
    o.set(F::ContactsToResolve90d, ctr.get());
    o.count(F::RepeatTopicContacts90d, repeats);
    o.set(F::CsatMean90d, csat.get());
    o.set(
        F::CsatLowShare90d,
        ratio(f64::from(csat_low), f64::from(csat.n)),
    );
}

/// A usable sentiment score: present and finite.
fn score(s: Option<f32>) -> Option<f64> {
    s.filter(|v| v.is_finite()).map(f64::from)
}

fn sentiment(h: &AccountHistory, t: Ts, o: &mut Out<'_>) {
    let key = |i: &crate::InteractionFact| i.opened_at;
    let known = upto(&h.interactions, key, t);
    let w90 = after(known, key, t - 90 * DAY);
    let (mut m30, mut m90, mut prior) = (Mean::default(), Mean::default(), Mean::default());
    let (mut negative, mut min30) = (0u32, f64::INFINITY);
    for i in w90 {
        let Some(s) = score(i.sentiment) else {
            continue;
        };
        m90.add(s);
        negative += u32::from(s < f64::from(NEGATIVE_SENTIMENT_BELOW));
        if i.opened_at > t - 30 * DAY {
            m30.add(s);
            min30 = min30.min(s);
        }
    }
    for i in between(known, key, t - 120 * DAY, t - 30 * DAY) {
        if let Some(s) = score(i.sentiment) {
            prior.add(s);
        }
    }
    o.set(F::SentimentMean30d, m30.get());
    o.set(F::SentimentMean90d, m90.get());
    o.set(
        F::SentimentNegativeShare90d,
        ratio(f64::from(negative), f64::from(m90.n)),
    );
    o.set(F::SentimentMin30d, if m30.n > 0 { min30 } else { f64::NAN });
    o.set(F::SentimentTrend, m30.get() - prior.get());

    let mut surveys = Mean::default();
    for s in between(&h.surveys, |s| s.responded_at, t - 180 * DAY, t) {
        if let Some(v) = score(s.sentiment) {
            surveys.add(v);
        }
    }
    o.set(F::SurveySentimentMean180d, surveys.get());
}

fn sentiment_value(s: Sentiment) -> f64 {
    match s {
        Sentiment::Negative => -1.0,
        Sentiment::Neutral => 0.0,
        Sentiment::Positive => 1.0,
    }
}

/// Strength and sentiment of the active contacts of one persona.
#[derive(Default)]
struct PersonaAgg {
    strength: Option<i64>,
    sentiment: Mean,
    negative: bool,
}

impl PersonaAgg {
    fn add(&mut self, strength: i64, s: Sentiment) {
        self.strength = Some(self.strength.map_or(strength, |m| m.max(strength)));
        self.sentiment.add(sentiment_value(s));
        self.negative |= s == Sentiment::Negative;
    }
    fn strength(&self) -> f64 {
        self.strength.map_or(f64::NAN, |s| s as f64)
    }
}

fn relationships(h: &AccountHistory, t: Ts, o: &mut Out<'_>) {
    let known = upto(&h.contacts, |c| c.observed_at, t);
    let (mut active, mut strength) = (0usize, Mean::default());
    let (mut champion, mut sponsor, mut admin) = (
        PersonaAgg::default(),
        PersonaAgg::default(),
        PersonaAgg::default(),
    );
    let mut champion_left = false;
    let mut seen = Seen::default();
    let mut sponsor_ids = Seen::default();
    // Latest first: only the latest observation of each contact counts.
    for c in known.iter().rev() {
        if !seen.insert(&c.contact_id) {
            continue;
        }
        if !c.active {
            champion_left |= c.persona == Persona::Champion;
            continue;
        }
        active += 1;
        strength.add(c.relationship_strength as f64);
        match c.persona {
            Persona::Champion => champion.add(c.relationship_strength, c.sentiment),
            Persona::ExecutiveSponsor => {
                sponsor.add(c.relationship_strength, c.sentiment);
                sponsor_ids.insert(&c.contact_id);
            }
            Persona::Admin => admin.add(c.relationship_strength, c.sentiment),
            Persona::Billing | Persona::EndUser => {}
        }
    }
    o.count(F::ContactsActive, active);
    o.set(F::RelationshipStrengthMean, strength.get());
    o.set(F::ChampionStrength, champion.strength());
    o.set(F::ChampionSentiment, champion.sentiment.get());
    o.set(F::ExecSponsorStrength, sponsor.strength());
    o.set(F::ExecSponsorSentiment, sponsor.sentiment.get());
    o.set(F::AdminStrength, admin.strength());
    o.set(F::AdminSentiment, admin.sentiment.get());
    o.flag(F::ChampionLeft, champion_left);
    o.flag(F::ExecSponsorPresent, sponsor.strength.is_some());
    o.flag(F::ExecSponsorNegative, sponsor.negative);

    // What the sponsors wrote: the latest scored interaction of one of them.
    if !sponsor_ids.is_empty() {
        let key = |i: &crate::InteractionFact| i.opened_at;
        let recent = between(&h.interactions, key, t - 180 * DAY, t);
        let latest = recent.iter().rev().find_map(|i| {
            i.contact_id
                .as_deref()
                .filter(|id| sponsor_ids.contains(id))
                .and(score(i.sentiment))
        });
        if let Some(s) = latest {
            o.set(F::ExecSponsorInteractionSentiment, s);
        }
    }
}

/// The last day whose usage is complete at `t`: a day is over at 23:59:59 UTC.
pub(crate) fn last_complete_day(t: Ts) -> Day {
    day_of_ts(t + 1) - 1
}

/// Sums over the usage rows whose last day falls in a window.
#[derive(Default)]
struct UsageAgg {
    rows: u32,
    days: i64,
    logins: i64,
    active_users: i64,
    features_max: i64,
}

impl UsageAgg {
    /// Rows of `usage` (sorted by day) whose last day is in `(lo, hi]`.
    fn over(usage: &[UsageFact], lo: Day, hi: Day) -> UsageAgg {
        let rows = between(
            usage,
            |u| i64::from(u.day),
            i64::from(lo) - i64::from(MAX_USAGE_PERIOD),
            i64::from(hi),
        );
        let mut a = UsageAgg::default();
        for u in rows {
            let last = u.last_day();
            if last > lo && last <= hi {
                a.rows += 1;
                a.days += i64::from(u.period());
                a.logins += u.logins;
                a.active_users += u.active_users;
                a.features_max = a.features_max.max(u.features_used);
            }
        }
        a
    }
    fn logins_per_day(&self) -> f64 {
        if self.days > 0 {
            self.logins as f64 / self.days as f64
        } else {
            0.0
        }
    }
    fn mean_active_users(&self) -> f64 {
        if self.rows > 0 {
            self.active_users as f64 / f64::from(self.rows)
        } else {
            0.0
        }
    }
}

fn adoption(h: &AccountHistory, t: Ts, seats: f64, o: &mut Out<'_>) {
    let du = last_complete_day(t);
    // Rows that may be complete: they start on or before the last complete day.
    let started = upto(&h.usage, |u| i64::from(u.day), i64::from(du));
    let mut last_active: Option<Day> = None;
    let mut any_known = false;
    for u in started.iter().rev() {
        if let Some(l) = last_active
            && u.day + MAX_USAGE_PERIOD <= l
        {
            break; // no earlier row can end later than `l`
        }
        let last = u.last_day();
        if last > du {
            continue;
        }
        any_known = true;
        if u.active_users > 0 || u.logins > 0 {
            last_active = Some(last_active.map_or(last, |l| l.max(last)));
        }
    }
    if !any_known {
        // Leave every adoption feature missing: this account has no usage feed at t.
        return;
    }
    let w7 = UsageAgg::over(started, du - 7, du);
    let w30 = UsageAgg::over(started, du - 30, du);
    let prior = UsageAgg::over(started, du - 120, du - 30);
    let au_per_seat = if seats > 0.0 {
        w30.mean_active_users() / seats
    } else {
        f64::NAN
    };
    o.set(F::ActiveUsersPerSeat30d, au_per_seat);
    let both = w30.rows > 0 && prior.rows > 0;
    o.set(
        F::ActiveUsersTrend,
        if both {
            sym_trend(w30.mean_active_users(), prior.mean_active_users())
        } else {
            f64::NAN
        },
    );
    o.set(F::LoginsPerDay7d, w7.logins_per_day());
    o.set(F::LoginsPerDay30d, w30.logins_per_day());
    o.set(
        F::LoginsTrend,
        if both {
            sym_trend(w30.logins_per_day(), prior.logins_per_day())
        } else {
            f64::NAN
        },
    );
    o.set(F::FeatureBreadth30d, w30.features_max as f64);
    o.set(
        F::DaysSinceActive,
        last_active.map_or(f64::NAN, |l| f64::from(du - l)),
    );
}

fn commercial(h: &AccountHistory, t: Ts, seats: f64, o: &mut Out<'_>) {
    let today = day_of_ts(t);
    let mrr = mrr_at(h, t);
    o.set(F::Mrr, mrr);
    o.set(F::Seats, seats);
    o.set(
        F::SegmentSize,
        match h.account.segment {
            Segment::Smb => 0.0,
            Segment::MidMarket => 1.0,
            Segment::Enterprise => 2.0,
        },
    );
    let start = h.account.start_date;
    o.set(F::TenureDays, f64::from(today - start));
    o.set(
        F::DaysToRenewal,
        civil::days_to_anniversary(start, today).map_or(f64::NAN, f64::from),
    );
    let before = mrr_at(h, t - 90 * DAY);
    o.set(
        F::MrrChange90d,
        if before > 0.0 {
            (mrr - before) / before
        } else {
            f64::NAN
        },
    );
    let (mut down90, mut down180, mut up180, mut failed90) = (0, 0, 0, 0);
    for e in between(&h.subscriptions, |e| e.occurred_at, t - 180 * DAY, t) {
        let in90 = e.occurred_at > t - 90 * DAY;
        match e.kind {
            SubscriptionKind::Downgrade => {
                down180 += 1;
                down90 += usize::from(in90);
            }
            SubscriptionKind::Upgrade => up180 += 1,
            SubscriptionKind::PaymentFailed => failed90 += usize::from(in90),
            SubscriptionKind::Start
            | SubscriptionKind::SeatChange
            | SubscriptionKind::Renewal
            | SubscriptionKind::Churn => {}
        }
    }
    o.count(F::Downgrades90d, down90);
    o.count(F::Downgrades180d, down180);
    o.count(F::Upgrades180d, up180);
    o.count(F::PaymentFailures90d, failed90);
}

fn operational(h: &AccountHistory, t: Ts, o: &mut Out<'_>) {
    let known = upto(&h.operational, |e| e.occurred_at, t);
    let (mut payroll90, mut payroll180, mut tax90, mut tax180, mut price90) = (0, 0, 0, 0, 0);
    for e in after(known, |e| e.occurred_at, t - 180 * DAY) {
        let in90 = usize::from(e.occurred_at > t - 90 * DAY);
        match e.kind {
            OpKind::MissedPayrollDeadline => {
                payroll180 += 1;
                payroll90 += in90;
            }
            OpKind::TaxFilingError => {
                tax180 += 1;
                tax90 += in90;
            }
            OpKind::PriceIncrease => price90 += in90,
            OpKind::OnboardingStarted
            | OpKind::OnboardingCompleted
            | OpKind::TrainingCompleted
            | OpKind::OpenEnrollmentStarted
            | OpKind::Other => {}
        }
    }
    o.count(F::MissedPayroll90d, payroll90);
    o.count(F::MissedPayroll180d, payroll180);
    o.count(F::TaxErrors90d, tax90);
    o.count(F::TaxErrors180d, tax180);
    o.count(F::PriceIncrease90d, price90);

    let mut onboarding_start: Option<Ts> = None;
    let mut completed: Option<Ts> = None;
    let mut trained = false;
    for e in known {
        match e.kind {
            OpKind::OnboardingStarted if completed.is_none() && onboarding_start.is_none() => {
                onboarding_start = Some(e.occurred_at);
            }
            OpKind::OnboardingCompleted if completed.is_none() => {
                completed = Some(e.occurred_at);
            }
            OpKind::TrainingCompleted => trained = true,
            _ => {}
        }
    }
    o.flag(F::OnboardingCompleted, completed.is_some());
    o.set(
        F::OnboardingDays,
        completed.map_or(f64::NAN, |c| {
            let from = onboarding_start.map_or(h.account.start_date, day_of_ts);
            f64::from((day_of_ts(c) - from).max(0))
        }),
    );
    o.flag(F::TrainingCompleted, trained);
}

fn surveys(h: &AccountHistory, t: Ts, o: &mut Out<'_>) {
    let known = upto(&h.surveys, |s| s.responded_at, t);
    let mut nps = known.iter().rev().filter(|s| s.kind == SurveyKind::Nps);
    let latest = nps.next();
    let previous = nps.next();
    if let Some(l) = latest {
        o.set(F::NpsLatest, l.score as f64);
        o.set(
            F::DaysSinceNps,
            f64::from(day_of_ts(t) - day_of_ts(l.responded_at)),
        );
        if let Some(p) = previous {
            o.set(F::NpsTrend, (l.score - p.score) as f64);
        }
    }
    if let Some(c) = known.iter().rev().find(|s| s.kind == SurveyKind::Csat) {
        o.set(F::CsatSurveyLatest, c.score as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_sets_spill_past_their_inline_capacity() {
        let names: Vec<String> = (0..40).map(|i| format!("c{i}")).collect();
        let mut seen = Seen::default();
        for n in &names {
            assert!(seen.insert(n));
        }
        for n in &names {
            assert!(!seen.insert(n));
        }
        assert_eq!(seen.n + seen.spill.len(), 40);
    }

    #[test]
    fn galloping_agrees_with_binary_search() {
        let v: Vec<i64> = vec![1, 3, 3, 3, 7, 8, 8, 20, 21, 40, 41, 41, 90];
        for n in 0..=v.len() {
            let s = &v[..n];
            for x in -1..95 {
                let want = s.partition_point(|&e| e <= x);
                assert_eq!(count_upto(s, |&e| e, x), want, "n={n} x={x}");
                assert_eq!(upto(s, |&e| e, x).len(), want);
                assert_eq!(after(s, |&e| e, x).len(), n - want);
                for lo in -1..x {
                    let b = between(s, |&e| e, lo, x);
                    assert!(b.iter().all(|&e| lo < e && e <= x));
                    assert_eq!(b.len(), s.iter().filter(|&&e| lo < e && e <= x).count());
                }
            }
        }
    }
}
