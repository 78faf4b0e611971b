//! Compact in-memory histories: everything Pulse knows about one account, as
//! time-sorted event slices without free text.
//!
//! The store fills these (it loads rows without subjects, bodies, comments or
//! notes), and every feature and label in this crate reads only them. Each fact
//! type converts from its `pulse_core` entity with `From<&Entity>`.
//!
//! Outreach records are deliberately not part of a history: the retention loop
//! must not feed its own actions into the score it acts on, so nothing here can
//! see them.

use compact_str::CompactString;
use pulse_core::op_kind;
use pulse_core::time::{Day, Ts};
use pulse_core::{
    Account, Channel, Contact, Interaction, OperationalEvent, Persona, Sentiment,
    SubscriptionEvent, SubscriptionKind, SurveyKind, SurveyResponse, Usage,
};
use serde::{Deserialize, Serialize};

/// Whole record sets in memory (a generated base, a test fixture), to be
/// grouped into histories by [`histories_from_records`].
#[derive(Debug, Clone, Copy)]
pub struct Records<'a> {
    pub accounts: &'a [Account],
    pub contacts: &'a [Contact],
    pub interactions: &'a [Interaction],
    pub usage: &'a [Usage],
    pub subscriptions: &'a [SubscriptionEvent],
    pub surveys: &'a [SurveyResponse],
    pub operational: &'a [OperationalEvent],
}

/// One sorted history per account, in the accounts' order. Records deleted
/// at their source (`deleted_at`) go to [`AccountHistory::deleted`]. Records of an
/// account not in `accounts` are skipped (the store's loader refuses them
/// at ingest; this is for in-memory sets).
pub fn histories_from_records(r: Records<'_>) -> Vec<AccountHistory> {
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut hs: Vec<AccountHistory> = Vec::with_capacity(r.accounts.len());
    for a in r.accounts {
        at.insert(&a.id, hs.len());
        hs.push(AccountHistory::new(a.clone()));
    }
    fn push<'a, T: 'a, F>(
        at: &std::collections::HashMap<&str, usize>,
        hs: &mut [AccountHistory],
        rows: &'a [T],
        id: impl Fn(&'a T) -> &'a str,
        add: F,
    ) where
        F: Fn(&mut AccountHistory, &'a T),
    {
        for row in rows {
            if let Some(&i) = at.get(id(row)) {
                add(&mut hs[i], row);
            }
        }
    }
    push(
        &at,
        &mut hs,
        r.contacts,
        |c| &c.account_id,
        |h, c| match c.deleted_at {
            Some(t) => h.deleted_mut().contacts.push((c.into(), t)),
            None => h.contacts.push(c.into()),
        },
    );
    push(
        &at,
        &mut hs,
        r.interactions,
        |i| &i.account_id,
        |h, i| match i.deleted_at {
            Some(t) => h.deleted_mut().interactions.push((i.into(), t)),
            None => h.interactions.push(i.into()),
        },
    );
    push(
        &at,
        &mut hs,
        r.usage,
        |u| &u.account_id,
        |h, u| h.usage.push(u.into()),
    );
    push(
        &at,
        &mut hs,
        r.subscriptions,
        |e| &e.account_id,
        |h, e| match e.deleted_at {
            Some(t) => h.deleted_mut().subscriptions.push((e.into(), t)),
            None => h.subscriptions.push(e.into()),
        },
    );
    push(
        &at,
        &mut hs,
        r.surveys,
        |s| &s.account_id,
        |h, s| match s.deleted_at {
            Some(t) => h.deleted_mut().surveys.push((s.into(), t)),
            None => h.surveys.push(s.into()),
        },
    );
    push(
        &at,
        &mut hs,
        r.operational,
        |e| &e.account_id,
        |h, e| match e.deleted_at {
            Some(t) => h.deleted_mut().operational.push((e.into(), t)),
            None => h.operational.push(e.into()),
        },
    );
    for h in &mut hs {
        h.sort();
    }
    hs
}

/// Everything known about one account, each list sorted by its time (call
/// [`AccountHistory::sort`] after filling it).
///
/// `account` holds the account's *current* state; features read only its
/// static attributes (segment, start date) and the current MRR and seats only
/// when no subscription event says anything (see [`crate::mrr_at`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountHistory {
    pub account: Account,
    /// All observations of all contacts, sorted by `observed_at`.
    pub contacts: Vec<ContactFact>,
    /// Sorted by `opened_at`.
    pub interactions: Vec<InteractionFact>,
    /// Sorted by `day`.
    pub usage: Vec<UsageFact>,
    /// Sorted by `occurred_at`.
    pub subscriptions: Vec<SubscriptionFact>,
    /// Sorted by `responded_at`.
    pub surveys: Vec<SurveyFact>,
    /// Sorted by `occurred_at`.
    pub operational: Vec<OperationalFact>,
    /// Facts deleted at their source, kept apart: none of the lists above
    /// holds them, and [`AccountHistory::known_at`] puts back those still
    /// in their source at an instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<Box<Deleted>>,
}

/// Facts deleted at their source, each with the instant of its deletion.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    pub contacts: Vec<(ContactFact, Ts)>,
    pub interactions: Vec<(InteractionFact, Ts)>,
    pub subscriptions: Vec<(SubscriptionFact, Ts)>,
    pub surveys: Vec<(SurveyFact, Ts)>,
    pub operational: Vec<(OperationalFact, Ts)>,
}

impl Deleted {
    /// Whether any fact was still in its source at `t` (deleted after it).
    fn any_after(&self, t: Ts) -> bool {
        fn after<F>(v: &[(F, Ts)], t: Ts) -> bool {
            v.iter().any(|(_, d)| *d > t)
        }
        after(&self.contacts, t)
            || after(&self.interactions, t)
            || after(&self.subscriptions, t)
            || after(&self.surveys, t)
            || after(&self.operational, t)
    }
}

impl AccountHistory {
    /// A history with no events yet.
    pub fn new(account: Account) -> Self {
        AccountHistory {
            account,
            contacts: Vec::new(),
            interactions: Vec::new(),
            usage: Vec::new(),
            subscriptions: Vec::new(),
            surveys: Vec::new(),
            operational: Vec::new(),
            deleted: None,
        }
    }

    /// The facts deleted at their source, created on first use.
    pub fn deleted_mut(&mut self) -> &mut Deleted {
        self.deleted.get_or_insert_with(Box::default)
    }

    /// The history as its sources held it at `as_of`: the lists, plus the
    /// facts deleted after `as_of` (a fact deleted at or before it is left
    /// out). Borrowed, with no copy, when no such fact exists, which is
    /// every account with no deletion.
    pub fn known_at(&self, as_of: Ts) -> std::borrow::Cow<'_, AccountHistory> {
        use std::borrow::Cow;
        let Some(d) = self.deleted.as_deref().filter(|d| d.any_after(as_of)) else {
            return Cow::Borrowed(self);
        };
        fn with<F: Clone>(live: &[F], gone: &[(F, Ts)], as_of: Ts) -> Vec<F> {
            let mut v = live.to_vec();
            v.extend(
                gone.iter()
                    .filter(|(_, d)| *d > as_of)
                    .map(|(f, _)| f.clone()),
            );
            v
        }
        let mut h = AccountHistory {
            account: self.account.clone(),
            contacts: with(&self.contacts, &d.contacts, as_of),
            interactions: with(&self.interactions, &d.interactions, as_of),
            usage: self.usage.clone(),
            subscriptions: with(&self.subscriptions, &d.subscriptions, as_of),
            surveys: with(&self.surveys, &d.surveys, as_of),
            operational: with(&self.operational, &d.operational, as_of),
            deleted: None,
        };
        h.sort();
        Cow::Owned(h)
    }

    /// Sorts every list by its time. The sort is stable: events at the same
    /// instant keep the order they were added in.
    pub fn sort(&mut self) {
        self.contacts.sort_by_key(|c| c.observed_at);
        self.interactions.sort_by_key(|i| i.opened_at);
        self.usage.sort_by_key(|u| u.day);
        self.subscriptions.sort_by_key(|e| e.occurred_at);
        self.surveys.sort_by_key(|s| s.responded_at);
        self.operational.sort_by_key(|e| e.occurred_at);
    }

    /// Whether every list is sorted by its time, as [`crate::compute`] and the
    /// labels require.
    pub fn is_sorted(&self) -> bool {
        self.contacts.is_sorted_by_key(|c| c.observed_at)
            && self.interactions.is_sorted_by_key(|i| i.opened_at)
            && self.usage.is_sorted_by_key(|u| u.day)
            && self.subscriptions.is_sorted_by_key(|e| e.occurred_at)
            && self.surveys.is_sorted_by_key(|s| s.responded_at)
            && self.operational.is_sorted_by_key(|e| e.occurred_at)
    }
}

/// One observation of a contact (see [`pulse_core::Contact`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactFact {
    /// The contact's external id: observations with the same id are the same person.
    /// Ids up to 24 bytes are kept inline, without an allocation of their own.
    pub contact_id: CompactString,
    pub persona: Persona,
    /// 1 (weak) to 4 (strong).
    pub relationship_strength: i64,
    pub sentiment: Sentiment,
    /// False once the person has left the customer.
    pub active: bool,
    pub observed_at: Ts,
}

impl From<&Contact> for ContactFact {
    fn from(c: &Contact) -> Self {
        ContactFact {
            contact_id: CompactString::from(c.id.as_str()),
            persona: c.persona,
            relationship_strength: c.relationship_strength,
            sentiment: c.sentiment,
            active: c.active,
            observed_at: c.observed_at,
        }
    }
}

/// An interaction without its text (see [`pulse_core::Interaction`]).
///
/// At an as-of instant t an interaction is known if `opened_at <= t`; its
/// `first_response_at` and `resolved_at` only if they are `<= t`. The fields
/// with no time of their own (`escalated`, `reopened`, `contacts_to_resolve`,
/// `csat`) are final values, so features use them only for interactions
/// resolved at or before t. `sentiment` is scored from the text written when
/// the interaction was opened and is known with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionFact {
    pub opened_at: Ts,
    pub first_response_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub channel: Channel,
    pub topic: CompactString,
    pub escalated: bool,
    pub reopened: bool,
    /// 1 is first-contact resolution.
    pub contacts_to_resolve: i64,
    /// 1-5.
    pub csat: Option<i64>,
    /// Model sentiment of the text in [-1, 1]; `None` (or NaN) until scored.
    pub sentiment: Option<f32>,
    /// The contact who wrote or called, if known (per-persona sentiment).
    pub contact_id: Option<CompactString>,
}

impl From<&Interaction> for InteractionFact {
    fn from(i: &Interaction) -> Self {
        InteractionFact {
            opened_at: i.opened_at,
            first_response_at: i.first_response_at,
            resolved_at: i.resolved_at,
            channel: i.channel,
            topic: CompactString::from(i.topic.as_str()),
            escalated: i.escalated,
            reopened: i.reopened,
            contacts_to_resolve: i.contacts_to_resolve,
            csat: i.csat,
            sentiment: None,
            contact_id: i.contact_id.as_deref().map(CompactString::from),
        }
    }
}

/// A usage row (see [`pulse_core::Usage`]): `period_days` days starting at `day`.
///
/// A row is known once its period is over, and counts in a window by its last
/// day (see the crate docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageFact {
    pub day: Day,
    /// 1 for daily rows, 7 for weekly rollups; read as 1..=31.
    pub period_days: i64,
    pub active_users: i64,
    pub logins: i64,
    pub features_used: i64,
}

impl UsageFact {
    /// The length of the period in days, clamped to pulse-core's valid 1..=31.
    pub fn period(&self) -> i32 {
        self.period_days.clamp(1, MAX_USAGE_PERIOD as i64) as i32
    }

    /// The last day the row covers.
    pub fn last_day(&self) -> Day {
        self.day + self.period() - 1
    }
}

/// The longest usage period pulse-core accepts, in days.
pub(crate) const MAX_USAGE_PERIOD: i32 = 31;

impl From<&Usage> for UsageFact {
    fn from(u: &Usage) -> Self {
        UsageFact {
            day: u.day,
            period_days: u.period_days,
            active_users: u.active_users,
            logins: u.logins,
            features_used: u.features_used,
        }
    }
}

/// A subscription or billing event without its plan and reason (see
/// [`pulse_core::SubscriptionEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionFact {
    pub kind: SubscriptionKind,
    pub occurred_at: Ts,
    pub mrr_before: f64,
    pub mrr_after: f64,
    pub seats_before: Option<i64>,
    pub seats_after: Option<i64>,
}

impl SubscriptionFact {
    /// Whether the event states the MRR. Failed payments do not (their MRR
    /// columns are often left empty, which reads as 0).
    pub fn carries_mrr(&self) -> bool {
        self.kind != SubscriptionKind::PaymentFailed
    }
}

impl From<&SubscriptionEvent> for SubscriptionFact {
    fn from(e: &SubscriptionEvent) -> Self {
        SubscriptionFact {
            kind: e.kind,
            occurred_at: e.occurred_at,
            mrr_before: e.mrr_before,
            mrr_after: e.mrr_after,
            seats_before: e.seats_before,
            seats_after: e.seats_after,
        }
    }
}

/// A survey answer without its comment (see [`pulse_core::SurveyResponse`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SurveyFact {
    pub kind: SurveyKind,
    /// NPS 0-10, CSAT 1-5.
    pub score: i64,
    pub responded_at: Ts,
    /// Model sentiment of the comment in [-1, 1]; `None` (or NaN) if no comment or not scored.
    pub sentiment: Option<f32>,
}

impl From<&SurveyResponse> for SurveyFact {
    fn from(s: &SurveyResponse) -> Self {
        SurveyFact {
            kind: s.kind,
            score: s.score,
            responded_at: s.responded_at,
            sentiment: None,
        }
    }
}

/// The operational event kinds features know by name ([`pulse_core::op_kind`]);
/// every other kind is [`OpKind::Other`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    MissedPayrollDeadline,
    TaxFilingError,
    OnboardingStarted,
    OnboardingCompleted,
    TrainingCompleted,
    OpenEnrollmentStarted,
    PriceIncrease,
    Other,
}

impl OpKind {
    /// The kind of a stored `kind` string (already lower-case after validation).
    pub fn parse(kind: &str) -> OpKind {
        match kind {
            op_kind::MISSED_PAYROLL_DEADLINE => OpKind::MissedPayrollDeadline,
            op_kind::TAX_FILING_ERROR => OpKind::TaxFilingError,
            op_kind::ONBOARDING_STARTED => OpKind::OnboardingStarted,
            op_kind::ONBOARDING_COMPLETED => OpKind::OnboardingCompleted,
            op_kind::TRAINING_COMPLETED => OpKind::TrainingCompleted,
            op_kind::OPEN_ENROLLMENT_STARTED => OpKind::OpenEnrollmentStarted,
            op_kind::PRICE_INCREASE => OpKind::PriceIncrease,
            _ => OpKind::Other,
        }
    }
}

/// An operational event without its detail text (see [`pulse_core::OperationalEvent`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationalFact {
    pub kind: OpKind,
    pub occurred_at: Ts,
}

impl From<&OperationalEvent> for OperationalFact {
    fn from(e: &OperationalEvent) -> Self {
        OperationalFact {
            kind: OpKind::parse(&e.kind),
            occurred_at: e.occurred_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_kinds_parse_by_core_names() {
        assert_eq!(
            OpKind::parse(op_kind::MISSED_PAYROLL_DEADLINE),
            OpKind::MissedPayrollDeadline
        );
        assert_eq!(
            OpKind::parse(op_kind::PRICE_INCREASE),
            OpKind::PriceIncrease
        );
        assert_eq!(OpKind::parse("something_new"), OpKind::Other);
    }

    #[test]
    fn usage_periods_are_clamped() {
        let u = |period_days| UsageFact {
            day: 100,
            period_days,
            active_users: 1,
            logins: 1,
            features_used: 1,
        };
        assert_eq!(u(1).last_day(), 100);
        assert_eq!(u(7).last_day(), 106);
        assert_eq!(u(0).last_day(), 100);
        assert_eq!(u(400).last_day(), 130);
    }
}
