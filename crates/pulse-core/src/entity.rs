//! The entities Pulse ingests, their enumerations and the rules that make a
//! record valid.
//!
//! Every entity has a stable external id chosen by the caller (usage rows are
//! keyed by account and day instead). Each is declared once with `entity!`
//! (see [`crate::column`]): its fields are its columns, in order, each with the
//! kind that says how it is read from and written to an import file (CSV,
//! JSON Lines; the synthetic base writes its files through it) and how the
//! store keeps it. So the import format and the stored rows are defined
//! exactly once. [`Entity`] adds, by hand, the key, the account and the rules
//! of a valid record, with one [`FieldError`] per bad record.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::column::{Columns, TextEnum, entity};
use crate::time::{self, Day, Ts};

/// Longest accepted external id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted short text (names, topics, subjects, reasons), in bytes.
pub const MAX_SHORT_TEXT: usize = 1_000;
/// Longest accepted free text (interaction bodies, survey comments, notes), in bytes.
pub const MAX_TEXT: usize = 32 * 1024;
/// Largest accepted amount of money (MRR and the like): 10^12. Larger is a
/// unit mistake; it would make ARR sums overflow to infinity downstream.
pub const MAX_MONEY: f64 = 1e12;
/// Largest accepted count of seats or users.
pub const MAX_SEATS: i64 = 10_000_000;
/// Earliest accepted date: 1900-01-01.
pub const MIN_DAY: Day = -25_567;
/// Latest accepted date: 2200-12-31 (a fixed bound, so validation needs no
/// clock: well past any renewal, and far before dates that overflow).
pub const MAX_DAY: Day = 84_370;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl TextEnum for $name {
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                // Most values are already written as the name: no allocation.
                let t = s.trim();
                $(if t == $text { return Ok($name::$variant); })+
                let norm = t.to_ascii_lowercase().replace(['-', ' '], "_");
                $(if norm == $text { return Ok($name::$variant); })+
                let allowed: Vec<&str> = vec![$($text),+];
                Err(format!("'{}' is not one of {}", s.trim(), allowed.join(", ")))
            }
        }
    };
}

text_enum!(
    /// Customer segment by size.
    Segment { Smb => "smb", MidMarket => "mid_market", Enterprise => "enterprise" }
);
text_enum!(
    /// Whether an account is a customer today.
    AccountStatus { Active => "active", Churned => "churned" }
);
text_enum!(
    /// The role a contact plays at the customer.
    Persona {
        Admin => "admin",
        Champion => "champion",
        ExecutiveSponsor => "executive_sponsor",
        Billing => "billing",
        EndUser => "end_user",
    }
);
text_enum!(
    /// Three-level sentiment, as people and the sentiment model label it.
    Sentiment { Negative => "negative", Neutral => "neutral", Positive => "positive" }
);
text_enum!(
    /// How an interaction reached the service team.
    Channel { Ticket => "ticket", Chat => "chat", Call => "call", Email => "email" }
);
text_enum!(
    /// Subscription and billing events.
    SubscriptionKind {
        Start => "start",
        Upgrade => "upgrade",
        Downgrade => "downgrade",
        SeatChange => "seat_change",
        Renewal => "renewal",
        Churn => "churn",
        PaymentFailed => "payment_failed",
    }
);
text_enum!(
    /// The survey a response answers.
    SurveyKind { Nps => "nps", Csat => "csat" }
);
text_enum!(
    /// What became of an outreach.
    OutreachOutcome {
        Pending => "pending",
        Reached => "reached",
        NoAnswer => "no_answer",
        Saved => "saved",
        ChurnedAnyway => "churned_anyway",
        Expanded => "expanded",
    }
);
text_enum!(
    /// The kind of entity a record or import file holds, in load order:
    /// an entity only refers to kinds listed before it.
    EntityKind {
        Account => "account",
        Contact => "contact",
        Interaction => "interaction",
        Usage => "usage",
        Subscription => "subscription_event",
        Survey => "survey_response",
        Operational => "operational_event",
        Outreach => "outreach",
    }
);

impl EntityKind {
    /// Recognises the entity of an import file from its name: `accounts.csv`,
    /// `interactions.jsonl`, `2026-11-subscription_events.csv.gz`...
    pub fn from_file_name(name: &str) -> Option<EntityKind> {
        let stem = name.to_ascii_lowercase();
        // Longest names first so that "subscription_events" is not read as something shorter.
        const NAMES: &[(&str, EntityKind)] = &[
            ("subscription_event", EntityKind::Subscription),
            ("subscription", EntityKind::Subscription),
            ("operational_event", EntityKind::Operational),
            ("survey_response", EntityKind::Survey),
            ("interaction", EntityKind::Interaction),
            ("outreach", EntityKind::Outreach),
            ("account", EntityKind::Account),
            ("contact", EntityKind::Contact),
            ("survey", EntityKind::Survey),
            ("usage", EntityKind::Usage),
        ];
        NAMES
            .iter()
            .find(|(n, _)| stem.contains(n))
            .map(|&(_, k)| k)
    }

    /// The import columns of this entity.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            EntityKind::Account => Account::COLUMNS,
            EntityKind::Contact => Contact::COLUMNS,
            EntityKind::Interaction => Interaction::COLUMNS,
            EntityKind::Usage => Usage::COLUMNS,
            EntityKind::Subscription => SubscriptionEvent::COLUMNS,
            EntityKind::Survey => SurveyResponse::COLUMNS,
            EntityKind::Operational => OperationalEvent::COLUMNS,
            EntityKind::Outreach => Outreach::COLUMNS,
        }
    }

    /// The column definitions of this entity (names, kinds, which are required).
    pub fn column_defs(self) -> &'static [crate::Column] {
        match self {
            EntityKind::Account => Account::COLUMN_DEFS,
            EntityKind::Contact => Contact::COLUMN_DEFS,
            EntityKind::Interaction => Interaction::COLUMN_DEFS,
            EntityKind::Usage => Usage::COLUMN_DEFS,
            EntityKind::Subscription => SubscriptionEvent::COLUMN_DEFS,
            EntityKind::Survey => SurveyResponse::COLUMN_DEFS,
            EntityKind::Operational => OperationalEvent::COLUMN_DEFS,
            EntityKind::Outreach => Outreach::COLUMN_DEFS,
        }
    }

    /// Recognises the entity of a CSV file from its header (the set of columns
    /// that only this entity's files have).
    pub fn from_header(header: &[&str]) -> Option<EntityKind> {
        let has = |c: &str| header.iter().any(|h| h.trim().eq_ignore_ascii_case(c));
        if has("renewal_date") || has("segment") {
            Some(EntityKind::Account)
        } else if has("persona") {
            Some(EntityKind::Contact)
        } else if has("channel") && has("opened_at") {
            Some(EntityKind::Interaction)
        } else if has("active_users") {
            Some(EntityKind::Usage)
        } else if has("mrr_before") {
            Some(EntityKind::Subscription)
        } else if has("score") && has("responded_at") {
            Some(EntityKind::Survey)
        } else if has("play") {
            Some(EntityKind::Outreach)
        } else if has("kind") && has("occurred_at") {
            Some(EntityKind::Operational)
        } else {
            None
        }
    }
}

/// Named text fields of one record, as an import file or a JSON object holds
/// them. A missing field reads as empty.
pub trait Fields {
    fn get(&self, name: &str) -> &str;
}

impl Fields for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> &str {
        self.get(name).map(String::as_str).unwrap_or("")
    }
}

/// An entity: its columns (generated by `entity!`), its key, the account it
/// belongs to and the rules of a valid record.
pub trait Entity: Columns {
    const KIND: EntityKind;
    /// Parses and validates one record.
    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let r = Self::parse_fields(f)?;
        r.validate()?;
        Ok(r)
    }
    /// The record's external id (usage rows: `account_id/day`).
    fn key(&self) -> String;
    /// The account the record belongs to (an account: itself).
    fn account_id(&self) -> &str;
    /// Checks every rule of a valid record.
    fn validate(&self) -> Result<(), FieldError>;
}

// ---------------------------------------------------------------------------
// Field parsing helpers shared by every entity.

/// A record's `deleted_at`, when it has one, is an instant in range.
fn check_deleted_at(t: Option<Ts>) -> Result<(), FieldError> {
    match t {
        Some(t) => check_ts("deleted_at", t),
        None => Ok(()),
    }
}

/// A required, trimmed external id.
pub fn parse_id(field: &str, s: &str) -> Result<String, FieldError> {
    let s = s.trim();
    check_id(field, s)?;
    Ok(s.to_string())
}

fn check_id(field: &str, s: &str) -> Result<(), FieldError> {
    if s.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if s.len() > MAX_ID_LEN {
        return Err(FieldError::new(
            field,
            format!("is longer than {MAX_ID_LEN} bytes"),
        ));
    }
    // ASCII ids (nearly all) are checked byte by byte; the same test as
    // `char::is_control` on that range.
    let control = if s.is_ascii() {
        s.bytes().any(|b| b.is_ascii_control())
    } else {
        s.chars().any(char::is_control)
    };
    if control {
        return Err(FieldError::new(field, "contains control characters"));
    }
    Ok(())
}

fn check_text(field: &str, s: &str, max: usize, required: bool) -> Result<(), FieldError> {
    if required && s.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if s.len() > max {
        return Err(FieldError::new(
            field,
            format!("is {} bytes, over the limit of {max}", s.len()),
        ));
    }
    Ok(())
}

pub fn parse_enum<T: FromStr<Err = String>>(field: &str, s: &str) -> Result<T, FieldError> {
    if s.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    s.parse().map_err(|e| FieldError::new(field, e))
}

pub fn parse_f64(field: &str, s: &str) -> Result<f64, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(FieldError::new(field, format!("'{t}' is not a number"))),
    }
}

pub fn parse_i64(field: &str, s: &str) -> Result<i64, FieldError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    t.parse::<i64>()
        .map_err(|_| FieldError::new(field, format!("'{t}' is not a whole number")))
}

/// `true/false`, `yes/no`, `1/0`, `y/n`, `t/f`; empty is `default`.
pub fn parse_bool(field: &str, s: &str, default: bool) -> Result<bool, FieldError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(default),
        "true" | "t" | "yes" | "y" | "1" => Ok(true),
        "false" | "f" | "no" | "n" | "0" => Ok(false),
        other => Err(FieldError::new(
            field,
            format!("'{other}' is not true or false"),
        )),
    }
}

fn in_range(field: &str, v: i64, lo: i64, hi: i64) -> Result<(), FieldError> {
    if v < lo || v > hi {
        Err(FieldError::new(
            field,
            format!("{v} is outside {lo}..={hi}"),
        ))
    } else {
        Ok(())
    }
}

/// An amount of money: finite, 0 or more and at most [`MAX_MONEY`].
fn money(field: &str, v: f64) -> Result<(), FieldError> {
    if !v.is_finite() {
        Err(FieldError::new(field, format!("{v} is not a number")))
    } else if v < 0.0 {
        Err(FieldError::new(field, format!("{v} is negative")))
    } else if v > MAX_MONEY {
        Err(FieldError::new(
            field,
            format!("{v} is over the limit of {MAX_MONEY:e}"),
        ))
    } else {
        Ok(())
    }
}

/// A date between [`MIN_DAY`] and [`MAX_DAY`].
fn check_day(field: &str, d: Day) -> Result<(), FieldError> {
    if (MIN_DAY..=MAX_DAY).contains(&d) {
        Ok(())
    } else {
        Err(outside_dates(field, &time::format_day(d)))
    }
}

/// An instant within the days [`check_day`] accepts.
fn check_ts(field: &str, t: Ts) -> Result<(), FieldError> {
    let d = t.div_euclid(time::SECONDS_PER_DAY);
    if (i64::from(MIN_DAY)..=i64::from(MAX_DAY)).contains(&d) {
        Ok(())
    } else {
        Err(outside_dates(field, &time::format_ts(t)))
    }
}

fn outside_dates(field: &str, shown: &str) -> FieldError {
    FieldError::new(
        field,
        format!(
            "{} is outside {}..={}",
            crate::echo(shown),
            time::format_day(MIN_DAY),
            time::format_day(MAX_DAY)
        ),
    )
}

// ---------------------------------------------------------------------------

entity! {
    /// A business customer.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Account {
        pub id: String => Id,
        pub name: String => Trimmed,
        pub segment: Segment => Choice,
        pub industry: String => Trimmed,
        pub region: String => Trimmed,
        pub plan: String => Trimmed,
        /// Monthly recurring revenue today, in the company's currency.
        pub mrr: f64 => Money,
        pub seats: i64 => Int,
        /// The customer success manager who owns the account.
        pub owner: String => Trimmed,
        pub start_date: Day => Date stored "start_day",
        pub renewal_date: Option<Day> => OptDate stored "renewal_day",
        pub status: AccountStatus => Choice or AccountStatus::Active,
    }
}

impl Entity for Account {
    const KIND: EntityKind = EntityKind::Account;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_text("name", &self.name, MAX_SHORT_TEXT, true)?;
        check_text("industry", &self.industry, MAX_SHORT_TEXT, false)?;
        check_text("region", &self.region, MAX_SHORT_TEXT, false)?;
        check_text("plan", &self.plan, MAX_SHORT_TEXT, true)?;
        check_text("owner", &self.owner, MAX_SHORT_TEXT, false)?;
        money("mrr", self.mrr)?;
        in_range("seats", self.seats, 0, MAX_SEATS)?;
        check_day("start_date", self.start_date)?;
        if let Some(r) = self.renewal_date {
            check_day("renewal_date", r)?;
        }
        if let Some(r) = self.renewal_date
            && r < self.start_date
        {
            return Err(FieldError::new("renewal_date", "is before start_date"));
        }
        Ok(())
    }
}

entity! {
    /// A person at a customer, observed at a point in time. Re-sending a
    /// contact with a later `observed_at` records how the relationship changed
    /// (a champion who left, a sponsor whose sentiment turned); features read
    /// the latest observation at or before their as-of date.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Contact {
        pub id: String => Id,
        pub account_id: String => Id,
        pub name: String => Trimmed,
        pub persona: Persona => Choice,
        /// 1 (weak) to 4 (strong).
        pub relationship_strength: i64 => Int,
        pub sentiment: Sentiment => Choice or Sentiment::Neutral,
        /// False once the person has left the customer.
        pub active: bool => Flag or true,
        pub observed_at: Ts => Instant,
        /// When the record was deleted at its source: from then on features
        /// leave it out (before then they count it, as they did).
        pub deleted_at: Option<Ts> => OptInstant,
    }
}

impl Entity for Contact {
    const KIND: EntityKind = EntityKind::Contact;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        check_text("name", &self.name, MAX_SHORT_TEXT, false)?;
        check_ts("observed_at", self.observed_at)?;
        check_deleted_at(self.deleted_at)?;
        in_range("relationship_strength", self.relationship_strength, 1, 4)
    }
}

entity! {
    /// A ticket, chat, call or email with the customer.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Interaction {
        pub id: String => Id,
        pub account_id: String => Id,
        pub contact_id: Option<String> => OptId,
        pub channel: Channel => Choice,
        pub topic: String => Trimmed,
        pub opened_at: Ts => Instant,
        pub first_response_at: Option<Ts> => OptInstant,
        pub resolved_at: Option<Ts> => OptInstant,
        pub escalated: bool => Flag or false,
        pub reopened: bool => Flag or false,
        /// How many contacts it took to resolve (1 is first-contact resolution).
        pub contacts_to_resolve: i64 => Int or 1,
        pub csat: Option<i64> => OptInt,
        pub subject: String => Verbatim,
        pub body: String => Verbatim,
        /// When the record was deleted at its source: from then on features
        /// leave it out (before then they count it, as they did).
        pub deleted_at: Option<Ts> => OptInstant,
    }
}

impl Entity for Interaction {
    const KIND: EntityKind = EntityKind::Interaction;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        if let Some(c) = &self.contact_id {
            check_id("contact_id", c)?;
        }
        check_text("topic", &self.topic, MAX_SHORT_TEXT, false)?;
        check_text("subject", &self.subject, MAX_SHORT_TEXT, false)?;
        check_text("body", &self.body, MAX_TEXT, false)?;
        check_ts("opened_at", self.opened_at)?;
        check_deleted_at(self.deleted_at)?;
        if let Some(t) = self.first_response_at {
            check_ts("first_response_at", t)?;
        }
        if let Some(t) = self.resolved_at {
            check_ts("resolved_at", t)?;
        }
        if let Some(t) = self.first_response_at
            && t < self.opened_at
        {
            return Err(FieldError::new("first_response_at", "is before opened_at"));
        }
        if let Some(t) = self.resolved_at
            && t < self.opened_at
        {
            return Err(FieldError::new("resolved_at", "is before opened_at"));
        }
        in_range("contacts_to_resolve", self.contacts_to_resolve, 1, 1_000)?;
        if let Some(c) = self.csat {
            in_range("csat", c, 1, 5)?;
        }
        Ok(())
    }
}

entity! {
    /// Product usage of one account over `period_days` days starting at `day`
    /// (1 for daily rows; rollups such as weekly rows use 7).
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Usage {
        pub account_id: String => Id,
        pub day: Day => Date,
        pub period_days: i64 => Int or 1,
        /// Distinct users active in the period.
        pub active_users: i64 => Int,
        pub logins: i64 => Int,
        /// Distinct key features used in the period.
        pub features_used: i64 => Int or 0,
    }
}

impl Entity for Usage {
    const KIND: EntityKind = EntityKind::Usage;

    fn key(&self) -> String {
        format!("{}/{}", self.account_id, time::format_day(self.day))
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("account_id", &self.account_id)?;
        check_day("day", self.day)?;
        in_range("period_days", self.period_days, 1, 31)?;
        in_range("active_users", self.active_users, 0, MAX_SEATS)?;
        in_range("logins", self.logins, 0, 1_000_000_000)?;
        in_range("features_used", self.features_used, 0, 10_000)
    }
}

entity! {
    /// A subscription or billing event, with the MRR and seats before and after.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SubscriptionEvent {
        pub id: String => Id,
        pub account_id: String => Id,
        pub kind: SubscriptionKind => Choice,
        pub occurred_at: Ts => Instant,
        pub mrr_before: f64 => Money or 0.0,
        pub mrr_after: f64 => Money or 0.0,
        pub seats_before: Option<i64> => OptInt,
        pub seats_after: Option<i64> => OptInt,
        pub plan: String => Trimmed,
        /// Why, for churns and downgrades.
        pub reason: String => Trimmed,
        /// When the record was deleted at its source: from then on features
        /// leave it out (before then they count it, as they did).
        pub deleted_at: Option<Ts> => OptInstant,
    }
}

impl Entity for SubscriptionEvent {
    const KIND: EntityKind = EntityKind::Subscription;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        check_ts("occurred_at", self.occurred_at)?;
        check_deleted_at(self.deleted_at)?;
        money("mrr_before", self.mrr_before)?;
        money("mrr_after", self.mrr_after)?;
        if let Some(s) = self.seats_before {
            in_range("seats_before", s, 0, MAX_SEATS)?;
        }
        if let Some(s) = self.seats_after {
            in_range("seats_after", s, 0, MAX_SEATS)?;
        }
        check_text("plan", &self.plan, MAX_SHORT_TEXT, false)?;
        check_text("reason", &self.reason, MAX_SHORT_TEXT, false)?;
        if self.kind == SubscriptionKind::Churn && self.mrr_after != 0.0 {
            return Err(FieldError::new("mrr_after", "must be 0 for a churn"));
        }
        Ok(())
    }
}

entity! {
    /// An NPS (0-10) or CSAT (1-5) survey answer.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct SurveyResponse {
        pub id: String => Id,
        pub account_id: String => Id,
        pub contact_id: Option<String> => OptId,
        pub kind: SurveyKind => Choice,
        pub score: i64 => Int,
        pub comment: String => Verbatim,
        pub responded_at: Ts => Instant,
        /// When the record was deleted at its source: from then on features
        /// leave it out (before then they count it, as they did).
        pub deleted_at: Option<Ts> => OptInstant,
    }
}

impl Entity for SurveyResponse {
    const KIND: EntityKind = EntityKind::Survey;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        if let Some(c) = &self.contact_id {
            check_id("contact_id", c)?;
        }
        check_ts("responded_at", self.responded_at)?;
        check_deleted_at(self.deleted_at)?;
        match self.kind {
            SurveyKind::Nps => in_range("score", self.score, 0, 10)?,
            SurveyKind::Csat => in_range("score", self.score, 1, 5)?,
        }
        check_text("comment", &self.comment, MAX_TEXT, false)
    }
}

entity! {
    /// A typed operational event on an account: `missed_payroll_deadline`,
    /// `tax_filing_error`, `onboarding_started`, `onboarding_completed`, ...
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct OperationalEvent {
        pub id: String => Id,
        pub account_id: String => Id,
        pub kind: String => Lowered,
        pub occurred_at: Ts => Instant,
        pub detail: String => Verbatim,
        /// When the record was deleted at its source: from then on features
        /// leave it out (before then they count it, as they did).
        pub deleted_at: Option<Ts> => OptInstant,
    }
}

/// Operational event kinds Pulse's features know by name. Other kinds are
/// stored and shown, but no feature counts them.
pub mod op_kind {
    pub const MISSED_PAYROLL_DEADLINE: &str = "missed_payroll_deadline";
    pub const TAX_FILING_ERROR: &str = "tax_filing_error";
    pub const ONBOARDING_STARTED: &str = "onboarding_started";
    pub const ONBOARDING_COMPLETED: &str = "onboarding_completed";
    pub const TRAINING_COMPLETED: &str = "training_completed";
    pub const OPEN_ENROLLMENT_STARTED: &str = "open_enrollment_started";
    pub const PRICE_INCREASE: &str = "price_increase";
}

impl Entity for OperationalEvent {
    const KIND: EntityKind = EntityKind::Operational;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        check_text("kind", &self.kind, 100, true)?;
        check_ts("occurred_at", self.occurred_at)?;
        check_deleted_at(self.deleted_at)?;
        if !self
            .kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(FieldError::new(
                "kind",
                "may hold only letters, digits and '_'",
            ));
        }
        check_text("detail", &self.detail, MAX_TEXT, false)
    }
}

entity! {
    /// A proactive contact made by the retention team, and what came of it.
    /// Outreach is never a model feature: the loop must not score its own
    /// actions.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub struct Outreach {
        pub id: String => Id,
        pub account_id: String => Id,
        pub play: String => Trimmed,
        /// Who reached out.
        pub owner: String => Trimmed,
        pub channel: String => Trimmed,
        pub contacted_at: Ts => Instant,
        pub outcome: OutreachOutcome => Choice or OutreachOutcome::Pending,
        pub note: String => Verbatim,
    }
}

impl Entity for Outreach {
    const KIND: EntityKind = EntityKind::Outreach;

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        check_text("play", &self.play, MAX_SHORT_TEXT, true)?;
        check_text("owner", &self.owner, MAX_SHORT_TEXT, false)?;
        check_text("channel", &self.channel, 100, false)?;
        check_ts("contacted_at", self.contacted_at)?;
        check_text("note", &self.note, MAX_TEXT, false)
    }
}

/// One record of any entity, as a mixed ingest stream carries them.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Account(Account),
    Contact(Contact),
    Interaction(Interaction),
    Usage(Usage),
    Subscription(SubscriptionEvent),
    Survey(SurveyResponse),
    Operational(OperationalEvent),
    Outreach(Outreach),
}

impl Record {
    pub fn kind(&self) -> EntityKind {
        match self {
            Record::Account(_) => EntityKind::Account,
            Record::Contact(_) => EntityKind::Contact,
            Record::Interaction(_) => EntityKind::Interaction,
            Record::Usage(_) => EntityKind::Usage,
            Record::Subscription(_) => EntityKind::Subscription,
            Record::Survey(_) => EntityKind::Survey,
            Record::Operational(_) => EntityKind::Operational,
            Record::Outreach(_) => EntityKind::Outreach,
        }
    }

    pub fn key(&self) -> String {
        match self {
            Record::Account(r) => r.key(),
            Record::Contact(r) => r.key(),
            Record::Interaction(r) => r.key(),
            Record::Usage(r) => r.key(),
            Record::Subscription(r) => r.key(),
            Record::Survey(r) => r.key(),
            Record::Operational(r) => r.key(),
            Record::Outreach(r) => r.key(),
        }
    }

    pub fn account_id(&self) -> &str {
        match self {
            Record::Account(r) => r.account_id(),
            Record::Contact(r) => r.account_id(),
            Record::Interaction(r) => r.account_id(),
            Record::Usage(r) => r.account_id(),
            Record::Subscription(r) => r.account_id(),
            Record::Survey(r) => r.account_id(),
            Record::Operational(r) => r.account_id(),
            Record::Outreach(r) => r.account_id(),
        }
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        match self {
            Record::Account(r) => r.validate(),
            Record::Contact(r) => r.validate(),
            Record::Interaction(r) => r.validate(),
            Record::Usage(r) => r.validate(),
            Record::Subscription(r) => r.validate(),
            Record::Survey(r) => r.validate(),
            Record::Operational(r) => r.validate(),
            Record::Outreach(r) => r.validate(),
        }
    }

    /// When the record was deleted at its source (`None` for accounts,
    /// usage and outreach, which are not deleted this way).
    pub fn deleted_at(&self) -> Option<Ts> {
        match self {
            Record::Contact(r) => r.deleted_at,
            Record::Interaction(r) => r.deleted_at,
            Record::Subscription(r) => r.deleted_at,
            Record::Survey(r) => r.deleted_at,
            Record::Operational(r) => r.deleted_at,
            Record::Account(_) | Record::Usage(_) | Record::Outreach(_) => None,
        }
    }

    /// Parses one record of a known kind from named fields.
    pub fn from_fields(kind: EntityKind, f: &dyn Fields) -> Result<Record, FieldError> {
        Ok(match kind {
            EntityKind::Account => Record::Account(Account::from_fields(f)?),
            EntityKind::Contact => Record::Contact(Contact::from_fields(f)?),
            EntityKind::Interaction => Record::Interaction(Interaction::from_fields(f)?),
            EntityKind::Usage => Record::Usage(Usage::from_fields(f)?),
            EntityKind::Subscription => Record::Subscription(SubscriptionEvent::from_fields(f)?),
            EntityKind::Survey => Record::Survey(SurveyResponse::from_fields(f)?),
            EntityKind::Operational => Record::Operational(OperationalEvent::from_fields(f)?),
            EntityKind::Outreach => Record::Outreach(Outreach::from_fields(f)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Each value's name, and the same name spaced, dashed or capitalised,
    /// reads as that value; anything else is an error naming the choices.
    fn reads_every_spelling<T: TextEnum + FromStr<Err = String> + PartialEq + fmt::Debug>(
        all: &[T],
    ) {
        for &v in all {
            let name = v.name();
            for spelling in [
                name.to_string(),
                format!("  {name}\t"),
                name.to_ascii_uppercase(),
                name.replace('_', " "),
                name.replace('_', "-"),
            ] {
                assert_eq!(spelling.parse::<T>(), Ok(v), "{spelling:?}");
            }
        }
        let e = "no such value".parse::<T>().unwrap_err();
        assert!(e.contains(all[0].name()), "{e}");
    }

    #[test]
    fn text_enums_read_their_names_in_any_spelling() {
        reads_every_spelling(Segment::ALL);
        reads_every_spelling(AccountStatus::ALL);
        reads_every_spelling(Persona::ALL);
        reads_every_spelling(Sentiment::ALL);
        reads_every_spelling(Channel::ALL);
        reads_every_spelling(SubscriptionKind::ALL);
        reads_every_spelling(SurveyKind::ALL);
        reads_every_spelling(OutreachOutcome::ALL);
        reads_every_spelling(EntityKind::ALL);
    }

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse<E: Entity>(m: &HashMap<String, String>) -> Result<E, FieldError> {
        E::from_fields(m)
    }

    fn interaction() -> HashMap<String, String> {
        fields(&[
            ("id", "i-1"),
            ("account_id", "a-1"),
            ("channel", "Ticket"),
            ("topic", "payroll_run"),
            ("opened_at", "2026-03-01T14:05:00Z"),
            ("first_response_at", "2026-03-01T15:00:00Z"),
            ("csat", "4"),
            ("subject", "Payroll did not run"),
            ("body", "Our Friday payroll did not go out."),
        ])
    }

    fn account() -> HashMap<String, String> {
        fields(&[
            ("id", "a-1"),
            ("name", "Acme"),
            ("segment", "smb"),
            ("plan", "core"),
            ("mrr", "300"),
            ("seats", "12"),
            ("start_date", "2025-01-01"),
            ("renewal_date", "2026-01-01"),
        ])
    }

    #[test]
    fn bounds_on_money_counts_and_dates() {
        assert_eq!(time::format_day(MIN_DAY), "1900-01-01");
        assert_eq!(time::format_day(MAX_DAY), "2200-12-31");
        let a: Account = parse(&account()).unwrap();
        a.validate().unwrap();
        let cases: &[(&str, &str, &str)] = &[
            ("mrr", "1e308", "over the limit of 1e12"),
            ("mrr", "1000000000001", "over the limit"),
            ("mrr", "-1", "is negative"),
            ("seats", "10000001", "outside 0..=10000000"),
            (
                "start_date",
                "1899-12-31",
                "outside 1900-01-01..=2200-12-31",
            ),
            (
                "renewal_date",
                "2201-01-01",
                "outside 1900-01-01..=2200-12-31",
            ),
        ];
        for (field, value, reason) in cases {
            let mut m = account();
            m.insert(field.to_string(), value.to_string());
            let e = parse::<Account>(&m)
                .and_then(|a| a.validate().map(|_| a))
                .unwrap_err();
            assert_eq!(e.field, *field, "{field}={value}: {e}");
            assert!(e.reason.contains(reason), "{field}={value}: {e}");
        }
        // The largest accepted values pass.
        let mut m = account();
        m.insert("mrr".into(), "1e12".into());
        m.insert("seats".into(), "10000000".into());
        m.insert("renewal_date".into(), "2200-12-31".into());
        parse::<Account>(&m).unwrap().validate().unwrap();
        // Instants: an interaction opened in year -262143 or 9999 is refused.
        let mut i: Interaction = parse(&interaction()).unwrap();
        for (ts, ok) in [
            (i64::from(MIN_DAY) * 86_400, true),
            (i64::from(MIN_DAY) * 86_400 - 1, false),
            (i64::from(MAX_DAY + 1) * 86_400 - 1, true),
            (i64::from(MAX_DAY + 1) * 86_400, false),
            (-8_334_632_851_200, false),
        ] {
            i.opened_at = ts;
            i.first_response_at = None;
            let r = i.validate();
            assert_eq!(r.is_ok(), ok, "{ts}: {r:?}");
            if let Err(e) = r {
                assert_eq!(e.field, "opened_at");
            }
        }
    }

    #[test]
    fn an_interaction_parses_with_defaults() {
        let i: Interaction = parse(&interaction()).unwrap();
        assert_eq!(i.channel, Channel::Ticket);
        assert_eq!(i.contacts_to_resolve, 1);
        assert!(!i.escalated);
        assert_eq!(i.csat, Some(4));
        assert_eq!(i.resolved_at, None);
    }

    #[test]
    fn bad_interactions_name_field_and_reason() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("csat", "9", "csat", "outside 1..=5"),
            ("opened_at", "31/02/2026", "opened_at", "not a timestamp"),
            (
                "channel",
                "fax",
                "channel",
                "not one of ticket, chat, call, email",
            ),
            (
                "first_response_at",
                "2026-02-01T00:00:00Z",
                "first_response_at",
                "before opened_at",
            ),
            ("id", "", "id", "is required"),
            ("escalated", "maybe", "escalated", "not true or false"),
        ];
        for &(k, v, field, reason) in cases {
            let mut m = interaction();
            m.insert(k.into(), v.into());
            let e = parse::<Interaction>(&m).unwrap_err();
            assert_eq!(e.field, field, "{k}={v}");
            assert!(e.reason.contains(reason), "{k}={v}: {}", e.reason);
        }
        let mut m = interaction();
        m.insert("body".into(), "x".repeat(MAX_TEXT + 1));
        let e = parse::<Interaction>(&m).unwrap_err();
        assert_eq!(e.field, "body");
        assert!(e.reason.contains("over the limit"), "{}", e.reason);
    }

    #[test]
    fn accounts_reject_negative_mrr() {
        let m = fields(&[
            ("id", "a-1"),
            ("name", "Acme"),
            ("segment", "mid-market"),
            ("plan", "core"),
            ("mrr", "-5"),
            ("seats", "10"),
            ("start_date", "2025-01-01"),
        ]);
        let e = parse::<Account>(&m).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.reason.as_str()),
            ("mrr", "-5 is negative")
        );
    }

    #[test]
    fn every_entity_round_trips_through_its_fields() {
        let i: Interaction = parse(&interaction()).unwrap();
        let mut out = Vec::new();
        i.write_fields(&mut out);
        let m: HashMap<String, String> = Interaction::COLUMNS
            .iter()
            .map(|c| c.to_string())
            .zip(out)
            .collect();
        assert_eq!(parse::<Interaction>(&m).unwrap(), i);
        for kind in EntityKind::ALL {
            let cols = kind.columns();
            assert_eq!(EntityKind::from_header(cols), Some(*kind), "{kind}");
        }
    }

    #[test]
    fn surveys_check_score_by_kind() {
        let m = fields(&[
            ("id", "s-1"),
            ("account_id", "a-1"),
            ("kind", "csat"),
            ("score", "9"),
            ("responded_at", "2026-03-01"),
        ]);
        assert_eq!(parse::<SurveyResponse>(&m).unwrap_err().field, "score");
        let mut m = m;
        m.insert("kind".into(), "nps".into());
        assert_eq!(parse::<SurveyResponse>(&m).unwrap().score, 9);
    }

    #[test]
    fn file_names_map_to_entities() {
        assert_eq!(
            EntityKind::from_file_name("accounts.csv"),
            Some(EntityKind::Account)
        );
        assert_eq!(
            EntityKind::from_file_name("data/subscription_events.jsonl"),
            Some(EntityKind::Subscription)
        );
        assert_eq!(
            EntityKind::from_file_name("x/usage.csv"),
            Some(EntityKind::Usage)
        );
        assert_eq!(EntityKind::from_file_name("notes.csv"), None);
    }
}
