//! The entities Pulse ingests, their enumerations and the rules that make a
//! record valid.
//!
//! Every entity has a stable external id chosen by the caller (usage rows are
//! keyed by account and day instead). Each implements [`Entity`]: the column
//! names of its import files, parsing from named text fields (CSV, JSON Lines)
//! with one [`FieldError`] per bad record, and writing the same fields back out
//! (the synthetic base writes its files through it), so the import format is
//! defined exactly once.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::time::{self, Day, Ts};

/// Longest accepted external id, in bytes.
pub const MAX_ID_LEN: usize = 128;
/// Longest accepted short text (names, topics, subjects, reasons), in bytes.
pub const MAX_SHORT_TEXT: usize = 1_000;
/// Longest accepted free text (interaction bodies, survey comments, notes), in bytes.
pub const MAX_TEXT: usize = 32 * 1024;

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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let norm = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
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

/// An entity's import format: its columns, how to read one and how to write one.
pub trait Entity: Sized {
    const KIND: EntityKind;
    /// Column names, in the order [`Entity::write_fields`] writes them.
    const COLUMNS: &'static [&'static str];
    /// Parses and validates one record.
    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError>;
    /// Writes the record's fields, in [`Entity::COLUMNS`] order.
    fn write_fields(&self, out: &mut Vec<String>);
    /// The record's external id (usage rows: `account_id/day`).
    fn key(&self) -> String;
    /// The account the record belongs to (an account: itself).
    fn account_id(&self) -> &str;
    /// Checks every rule of a valid record.
    fn validate(&self) -> Result<(), FieldError>;
}

// ---------------------------------------------------------------------------
// Field parsing helpers shared by every entity.

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

fn parse_opt_enum<T: FromStr<Err = String>>(field: &str, s: &str) -> Result<Option<T>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_enum(field, s).map(Some)
    }
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

fn parse_opt_f64(field: &str, s: &str) -> Result<Option<f64>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_f64(field, s).map(Some)
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

fn parse_opt_i64(field: &str, s: &str) -> Result<Option<i64>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_i64(field, s).map(Some)
    }
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

fn opt_id(field: &str, s: &str) -> Result<Option<String>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(field, s).map(Some)
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

fn non_negative(field: &str, v: f64) -> Result<(), FieldError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("{v} is negative")))
    }
}

fn fmt_opt_day(d: Option<Day>) -> String {
    d.map(time::format_day).unwrap_or_default()
}
fn fmt_opt_ts(t: Option<Ts>) -> String {
    t.map(time::format_ts).unwrap_or_default()
}
fn fmt_opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(|v| v.to_string()).unwrap_or_default()
}
fn fmt_f64(v: f64) -> String {
    // Money and rates: two decimals are what people read and keep files small.
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r}")
    }
}

// ---------------------------------------------------------------------------

/// A business customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub segment: Segment,
    pub industry: String,
    pub region: String,
    pub plan: String,
    /// Monthly recurring revenue today, in the company's currency.
    pub mrr: f64,
    pub seats: i64,
    /// The customer success manager who owns the account.
    pub owner: String,
    pub start_date: Day,
    pub renewal_date: Option<Day>,
    pub status: AccountStatus,
}

impl Entity for Account {
    const KIND: EntityKind = EntityKind::Account;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "name",
        "segment",
        "industry",
        "region",
        "plan",
        "mrr",
        "seats",
        "owner",
        "start_date",
        "renewal_date",
        "status",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let a = Account {
            id: parse_id("id", f.get("id"))?,
            name: f.get("name").trim().to_string(),
            segment: parse_enum("segment", f.get("segment"))?,
            industry: f.get("industry").trim().to_string(),
            region: f.get("region").trim().to_string(),
            plan: f.get("plan").trim().to_string(),
            mrr: parse_f64("mrr", f.get("mrr"))?,
            seats: parse_i64("seats", f.get("seats"))?,
            owner: f.get("owner").trim().to_string(),
            start_date: time::parse_day("start_date", f.get("start_date"))?,
            renewal_date: time::parse_opt_day("renewal_date", f.get("renewal_date"))?,
            status: parse_opt_enum("status", f.get("status"))?.unwrap_or(AccountStatus::Active),
        };
        a.validate()?;
        Ok(a)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.name.clone(),
            self.segment.to_string(),
            self.industry.clone(),
            self.region.clone(),
            self.plan.clone(),
            fmt_f64(self.mrr),
            self.seats.to_string(),
            self.owner.clone(),
            time::format_day(self.start_date),
            fmt_opt_day(self.renewal_date),
            self.status.to_string(),
        ]);
    }

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
        non_negative("mrr", self.mrr)?;
        in_range("seats", self.seats, 0, 10_000_000)?;
        if let Some(r) = self.renewal_date
            && r < self.start_date
        {
            return Err(FieldError::new("renewal_date", "is before start_date"));
        }
        Ok(())
    }
}

/// A person at a customer, observed at a point in time. Re-sending a contact
/// with a later `observed_at` records how the relationship changed (a champion
/// who left, a sponsor whose sentiment turned); features read the latest
/// observation at or before their as-of date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    pub id: String,
    pub account_id: String,
    pub name: String,
    pub persona: Persona,
    /// 1 (weak) to 4 (strong).
    pub relationship_strength: i64,
    pub sentiment: Sentiment,
    /// False once the person has left the customer.
    pub active: bool,
    pub observed_at: Ts,
}

impl Entity for Contact {
    const KIND: EntityKind = EntityKind::Contact;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "name",
        "persona",
        "relationship_strength",
        "sentiment",
        "active",
        "observed_at",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let c = Contact {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            name: f.get("name").trim().to_string(),
            persona: parse_enum("persona", f.get("persona"))?,
            relationship_strength: parse_i64(
                "relationship_strength",
                f.get("relationship_strength"),
            )?,
            sentiment: parse_opt_enum("sentiment", f.get("sentiment"))?
                .unwrap_or(Sentiment::Neutral),
            active: parse_bool("active", f.get("active"), true)?,
            observed_at: time::parse_ts("observed_at", f.get("observed_at"))?,
        };
        c.validate()?;
        Ok(c)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.name.clone(),
            self.persona.to_string(),
            self.relationship_strength.to_string(),
            self.sentiment.to_string(),
            self.active.to_string(),
            time::format_ts(self.observed_at),
        ]);
    }

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
        in_range("relationship_strength", self.relationship_strength, 1, 4)
    }
}

/// A ticket, chat, call or email with the customer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub id: String,
    pub account_id: String,
    pub contact_id: Option<String>,
    pub channel: Channel,
    pub topic: String,
    pub opened_at: Ts,
    pub first_response_at: Option<Ts>,
    pub resolved_at: Option<Ts>,
    pub escalated: bool,
    pub reopened: bool,
    /// How many contacts it took to resolve (1 is first-contact resolution).
    pub contacts_to_resolve: i64,
    pub csat: Option<i64>,
    pub subject: String,
    pub body: String,
}

impl Entity for Interaction {
    const KIND: EntityKind = EntityKind::Interaction;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "contact_id",
        "channel",
        "topic",
        "opened_at",
        "first_response_at",
        "resolved_at",
        "escalated",
        "reopened",
        "contacts_to_resolve",
        "csat",
        "subject",
        "body",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let i = Interaction {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            contact_id: opt_id("contact_id", f.get("contact_id"))?,
            channel: parse_enum("channel", f.get("channel"))?,
            topic: f.get("topic").trim().to_string(),
            opened_at: time::parse_ts("opened_at", f.get("opened_at"))?,
            first_response_at: time::parse_opt_ts("first_response_at", f.get("first_response_at"))?,
            resolved_at: time::parse_opt_ts("resolved_at", f.get("resolved_at"))?,
            escalated: parse_bool("escalated", f.get("escalated"), false)?,
            reopened: parse_bool("reopened", f.get("reopened"), false)?,
            contacts_to_resolve: parse_opt_i64(
                "contacts_to_resolve",
                f.get("contacts_to_resolve"),
            )?
            .unwrap_or(1),
            csat: parse_opt_i64("csat", f.get("csat"))?,
            subject: f.get("subject").to_string(),
            body: f.get("body").to_string(),
        };
        i.validate()?;
        Ok(i)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.contact_id.clone().unwrap_or_default(),
            self.channel.to_string(),
            self.topic.clone(),
            time::format_ts(self.opened_at),
            fmt_opt_ts(self.first_response_at),
            fmt_opt_ts(self.resolved_at),
            self.escalated.to_string(),
            self.reopened.to_string(),
            self.contacts_to_resolve.to_string(),
            fmt_opt(&self.csat),
            self.subject.clone(),
            self.body.clone(),
        ]);
    }

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

/// Product usage of one account over `period_days` days starting at `day`
/// (1 for daily rows; rollups such as weekly rows use 7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub account_id: String,
    pub day: Day,
    pub period_days: i64,
    /// Distinct users active in the period.
    pub active_users: i64,
    pub logins: i64,
    /// Distinct key features used in the period.
    pub features_used: i64,
}

impl Entity for Usage {
    const KIND: EntityKind = EntityKind::Usage;
    const COLUMNS: &'static [&'static str] = &[
        "account_id",
        "day",
        "period_days",
        "active_users",
        "logins",
        "features_used",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let u = Usage {
            account_id: parse_id("account_id", f.get("account_id"))?,
            day: time::parse_day("day", f.get("day"))?,
            period_days: parse_opt_i64("period_days", f.get("period_days"))?.unwrap_or(1),
            active_users: parse_i64("active_users", f.get("active_users"))?,
            logins: parse_i64("logins", f.get("logins"))?,
            features_used: parse_opt_i64("features_used", f.get("features_used"))?.unwrap_or(0),
        };
        u.validate()?;
        Ok(u)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.account_id.clone(),
            time::format_day(self.day),
            self.period_days.to_string(),
            self.active_users.to_string(),
            self.logins.to_string(),
            self.features_used.to_string(),
        ]);
    }

    fn key(&self) -> String {
        format!("{}/{}", self.account_id, time::format_day(self.day))
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("account_id", &self.account_id)?;
        in_range("period_days", self.period_days, 1, 31)?;
        in_range("active_users", self.active_users, 0, 10_000_000)?;
        in_range("logins", self.logins, 0, 1_000_000_000)?;
        in_range("features_used", self.features_used, 0, 10_000)
    }
}

/// A subscription or billing event, with the MRR and seats before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionEvent {
    pub id: String,
    pub account_id: String,
    pub kind: SubscriptionKind,
    pub occurred_at: Ts,
    pub mrr_before: f64,
    pub mrr_after: f64,
    pub seats_before: Option<i64>,
    pub seats_after: Option<i64>,
    pub plan: String,
    /// Why, for churns and downgrades.
    pub reason: String,
}

impl Entity for SubscriptionEvent {
    const KIND: EntityKind = EntityKind::Subscription;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "kind",
        "occurred_at",
        "mrr_before",
        "mrr_after",
        "seats_before",
        "seats_after",
        "plan",
        "reason",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let e = SubscriptionEvent {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            kind: parse_enum("kind", f.get("kind"))?,
            occurred_at: time::parse_ts("occurred_at", f.get("occurred_at"))?,
            mrr_before: parse_opt_f64("mrr_before", f.get("mrr_before"))?.unwrap_or(0.0),
            mrr_after: parse_opt_f64("mrr_after", f.get("mrr_after"))?.unwrap_or(0.0),
            seats_before: parse_opt_i64("seats_before", f.get("seats_before"))?,
            seats_after: parse_opt_i64("seats_after", f.get("seats_after"))?,
            plan: f.get("plan").trim().to_string(),
            reason: f.get("reason").trim().to_string(),
        };
        e.validate()?;
        Ok(e)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.kind.to_string(),
            time::format_ts(self.occurred_at),
            fmt_f64(self.mrr_before),
            fmt_f64(self.mrr_after),
            fmt_opt(&self.seats_before),
            fmt_opt(&self.seats_after),
            self.plan.clone(),
            self.reason.clone(),
        ]);
    }

    fn key(&self) -> String {
        self.id.clone()
    }
    fn account_id(&self) -> &str {
        &self.account_id
    }

    fn validate(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        check_id("account_id", &self.account_id)?;
        non_negative("mrr_before", self.mrr_before)?;
        non_negative("mrr_after", self.mrr_after)?;
        if let Some(s) = self.seats_before {
            in_range("seats_before", s, 0, 10_000_000)?;
        }
        if let Some(s) = self.seats_after {
            in_range("seats_after", s, 0, 10_000_000)?;
        }
        check_text("plan", &self.plan, MAX_SHORT_TEXT, false)?;
        check_text("reason", &self.reason, MAX_SHORT_TEXT, false)?;
        if self.kind == SubscriptionKind::Churn && self.mrr_after != 0.0 {
            return Err(FieldError::new("mrr_after", "must be 0 for a churn"));
        }
        Ok(())
    }
}

/// An NPS (0-10) or CSAT (1-5) survey answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveyResponse {
    pub id: String,
    pub account_id: String,
    pub contact_id: Option<String>,
    pub kind: SurveyKind,
    pub score: i64,
    pub comment: String,
    pub responded_at: Ts,
}

impl Entity for SurveyResponse {
    const KIND: EntityKind = EntityKind::Survey;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "contact_id",
        "kind",
        "score",
        "comment",
        "responded_at",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let s = SurveyResponse {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            contact_id: opt_id("contact_id", f.get("contact_id"))?,
            kind: parse_enum("kind", f.get("kind"))?,
            score: parse_i64("score", f.get("score"))?,
            comment: f.get("comment").to_string(),
            responded_at: time::parse_ts("responded_at", f.get("responded_at"))?,
        };
        s.validate()?;
        Ok(s)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.contact_id.clone().unwrap_or_default(),
            self.kind.to_string(),
            self.score.to_string(),
            self.comment.clone(),
            time::format_ts(self.responded_at),
        ]);
    }

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
        match self.kind {
            SurveyKind::Nps => in_range("score", self.score, 0, 10)?,
            SurveyKind::Csat => in_range("score", self.score, 1, 5)?,
        }
        check_text("comment", &self.comment, MAX_TEXT, false)
    }
}

/// A typed operational event on an account: `missed_payroll_deadline`,
/// `tax_filing_error`, `onboarding_started`, `onboarding_completed`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationalEvent {
    pub id: String,
    pub account_id: String,
    pub kind: String,
    pub occurred_at: Ts,
    pub detail: String,
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
    const COLUMNS: &'static [&'static str] = &["id", "account_id", "kind", "occurred_at", "detail"];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let e = OperationalEvent {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            kind: f.get("kind").trim().to_ascii_lowercase(),
            occurred_at: time::parse_ts("occurred_at", f.get("occurred_at"))?,
            detail: f.get("detail").to_string(),
        };
        e.validate()?;
        Ok(e)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.kind.clone(),
            time::format_ts(self.occurred_at),
            self.detail.clone(),
        ]);
    }

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

/// A proactive contact made by the retention team, and what came of it.
/// Outreach is never a model feature: the loop must not score its own actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outreach {
    pub id: String,
    pub account_id: String,
    pub play: String,
    /// Who reached out.
    pub owner: String,
    pub channel: String,
    pub contacted_at: Ts,
    pub outcome: OutreachOutcome,
    pub note: String,
}

impl Entity for Outreach {
    const KIND: EntityKind = EntityKind::Outreach;
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "account_id",
        "play",
        "owner",
        "channel",
        "contacted_at",
        "outcome",
        "note",
    ];

    fn from_fields(f: &dyn Fields) -> Result<Self, FieldError> {
        let o = Outreach {
            id: parse_id("id", f.get("id"))?,
            account_id: parse_id("account_id", f.get("account_id"))?,
            play: f.get("play").trim().to_string(),
            owner: f.get("owner").trim().to_string(),
            channel: f.get("channel").trim().to_string(),
            contacted_at: time::parse_ts("contacted_at", f.get("contacted_at"))?,
            outcome: parse_opt_enum("outcome", f.get("outcome"))?
                .unwrap_or(OutreachOutcome::Pending),
            note: f.get("note").to_string(),
        };
        o.validate()?;
        Ok(o)
    }

    fn write_fields(&self, out: &mut Vec<String>) {
        out.extend([
            self.id.clone(),
            self.account_id.clone(),
            self.play.clone(),
            self.owner.clone(),
            self.channel.clone(),
            time::format_ts(self.contacted_at),
            self.outcome.to_string(),
            self.note.clone(),
        ]);
    }

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
