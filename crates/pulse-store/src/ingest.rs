//! Batch ingest: reference checks, idempotent upserts, one transaction a batch.
//!
//! A batch may mix entity kinds. Accounts are written first, so records later
//! in the same batch may refer to them. A record that refers to an unknown
//! account or contact is rejected with its position, id, field and reason, and
//! the rest of the batch is stored. Re-sending a record with the same key
//! updates it in place (`ON CONFLICT ... DO UPDATE`), so replaying a file or a
//! stream never duplicates anything.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use pulse_core::{
    Account, Contact, EntityKind, FieldError, Interaction, OperationalEvent, Outreach, Record,
    SubscriptionEvent, SurveyResponse, TextScorer, Usage,
};

use crate::value::{Value, bind_all, upsert_sql};
use crate::{Store, StoreError, on_backend};

/// SQLite accepts 32,766 bound values per statement, PostgreSQL 65,535.
const MAX_BINDS: usize = 32_000;
/// Ids per `IN (...)` look-up.
const LOOKUP_CHUNK: usize = 2_000;

/// One record that was not stored, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The record's position in the caller's stream or file.
    pub position: usize,
    pub kind: EntityKind,
    pub id: String,
    pub error: FieldError,
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchOutcome {
    pub inserted: u64,
    pub updated: u64,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Default)]
pub(crate) struct KnownIds {
    accounts: HashSet<String>,
    contacts: HashSet<String>,
}

/// How one entity maps onto its table.
trait Row: Sized {
    const TABLE: &'static str;
    const COLS: &'static [&'static str];
    const KEY: &'static [&'static str];
    /// The column the "already stored?" look-up filters on with `IN (...)`.
    const LOOKUP: &'static str;
    /// The stored key; borrowed for single-column keys, so that checking a
    /// batch allocates nothing per record.
    fn key(&self) -> Cow<'_, str>;
    fn lookup(&self) -> &str;
    fn push_values(self, out: &mut Vec<Value>);
}

fn key2(a: &str, b: i64) -> String {
    format!("{a}\u{1f}{b}")
}

impl Row for Account {
    const TABLE: &'static str = "accounts";
    const COLS: &'static [&'static str] = &[
        "id",
        "name",
        "segment",
        "industry",
        "region",
        "plan",
        "mrr",
        "seats",
        "owner",
        "start_day",
        "renewal_day",
        "status",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.name.into(),
            self.segment.as_str().to_string().into(),
            self.industry.into(),
            self.region.into(),
            self.plan.into(),
            self.mrr.into(),
            self.seats.into(),
            self.owner.into(),
            self.start_date.into(),
            self.renewal_date.into(),
            self.status.as_str().to_string().into(),
        ]);
    }
}

impl Row for Contact {
    const TABLE: &'static str = "contacts";
    const COLS: &'static [&'static str] = &[
        "id",
        "observed_at",
        "account_id",
        "name",
        "persona",
        "relationship_strength",
        "sentiment",
        "active",
    ];
    const KEY: &'static [&'static str] = &["id", "observed_at"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Owned(key2(&self.id, self.observed_at))
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.observed_at.into(),
            self.account_id.into(),
            self.name.into(),
            self.persona.as_str().to_string().into(),
            self.relationship_strength.into(),
            self.sentiment.as_str().to_string().into(),
            self.active.into(),
        ]);
    }
}

impl Row for Interaction {
    const TABLE: &'static str = "interactions";
    const COLS: &'static [&'static str] = &[
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
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.account_id.into(),
            self.contact_id.into(),
            self.channel.as_str().to_string().into(),
            self.topic.into(),
            self.opened_at.into(),
            self.first_response_at.into(),
            self.resolved_at.into(),
            self.escalated.into(),
            self.reopened.into(),
            self.contacts_to_resolve.into(),
            self.csat.into(),
            self.subject.into(),
            self.body.into(),
        ]);
    }
}

impl Row for Usage {
    const TABLE: &'static str = "usage";
    const COLS: &'static [&'static str] = &[
        "account_id",
        "day",
        "period_days",
        "active_users",
        "logins",
        "features_used",
    ];
    const KEY: &'static [&'static str] = &["account_id", "day"];
    const LOOKUP: &'static str = "account_id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Owned(key2(&self.account_id, self.day as i64))
    }
    fn lookup(&self) -> &str {
        &self.account_id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.account_id.into(),
            self.day.into(),
            self.period_days.into(),
            self.active_users.into(),
            self.logins.into(),
            self.features_used.into(),
        ]);
    }
}

impl Row for SubscriptionEvent {
    const TABLE: &'static str = "subscription_events";
    const COLS: &'static [&'static str] = &[
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
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.account_id.into(),
            self.kind.as_str().to_string().into(),
            self.occurred_at.into(),
            self.mrr_before.into(),
            self.mrr_after.into(),
            self.seats_before.into(),
            self.seats_after.into(),
            self.plan.into(),
            self.reason.into(),
        ]);
    }
}

impl Row for SurveyResponse {
    const TABLE: &'static str = "survey_responses";
    const COLS: &'static [&'static str] = &[
        "id",
        "account_id",
        "contact_id",
        "kind",
        "score",
        "comment",
        "responded_at",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.account_id.into(),
            self.contact_id.into(),
            self.kind.as_str().to_string().into(),
            self.score.into(),
            self.comment.into(),
            self.responded_at.into(),
        ]);
    }
}

impl Row for OperationalEvent {
    const TABLE: &'static str = "operational_events";
    const COLS: &'static [&'static str] = &["id", "account_id", "kind", "occurred_at", "detail"];
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.account_id.into(),
            self.kind.into(),
            self.occurred_at.into(),
            self.detail.into(),
        ]);
    }
}

impl Row for Outreach {
    const TABLE: &'static str = "outreach";
    const COLS: &'static [&'static str] = &[
        "id",
        "account_id",
        "play",
        "owner",
        "channel",
        "contacted_at",
        "outcome",
        "note",
    ];
    const KEY: &'static [&'static str] = &["id"];
    const LOOKUP: &'static str = "id";
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.id)
    }
    fn lookup(&self) -> &str {
        &self.id
    }
    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            self.id.into(),
            self.account_id.into(),
            self.play.into(),
            self.owner.into(),
            self.channel.into(),
            self.contacted_at.into(),
            self.outcome.as_str().to_string().into(),
            self.note.into(),
        ]);
    }
}

/// The sentiment columns of a scored record: score, label, model version
/// (all NULL when the text had nothing to score).
#[derive(Debug, Clone, Default, PartialEq)]
struct SentimentCols {
    score: Option<f64>,
    label: Option<String>,
    model: Option<String>,
}

impl SentimentCols {
    fn of(scorer: &dyn TextScorer, text: &str) -> Self {
        match scorer.score(text) {
            Some((score, label)) => SentimentCols {
                score: Some(score),
                label: Some(label.as_str().to_string()),
                model: Some(scorer.version().to_string()),
            },
            None => SentimentCols::default(),
        }
    }

    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([self.score.into(), self.label.into(), self.model.into()]);
    }
}

/// A record written with its sentiment columns. Only used when a scorer is
/// given, so ingest without one never overwrites stored scores with NULL.
struct Scored<T>(T, SentimentCols);

/// `$ty`'s columns followed by the sentiment columns (a test checks the
/// prefix matches `<$ty as Row>::COLS`).
macro_rules! scored_row {
    ($ty:ty, [$($col:literal),* $(,)?]) => {
        impl Row for Scored<$ty> {
            const TABLE: &'static str = <$ty as Row>::TABLE;
            const COLS: &'static [&'static str] =
                &[$($col,)* "sentiment_score", "sentiment_label", "sentiment_model"];
            const KEY: &'static [&'static str] = <$ty as Row>::KEY;
            const LOOKUP: &'static str = <$ty as Row>::LOOKUP;
            fn key(&self) -> Cow<'_, str> {
                self.0.key()
            }
            fn lookup(&self) -> &str {
                self.0.lookup()
            }
            fn push_values(self, out: &mut Vec<Value>) {
                self.0.push_values(out);
                self.1.push_values(out);
            }
        }
    };
}

scored_row!(
    Interaction,
    [
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
    ]
);
scored_row!(
    SurveyResponse,
    [
        "id",
        "account_id",
        "contact_id",
        "kind",
        "score",
        "comment",
        "responded_at",
    ]
);

/// The text of an interaction that is scored: subject and body.
fn interaction_text(r: &Interaction) -> String {
    subject_and_body(&r.subject, &r.body)
}

/// `subject. body`, or whichever of the two is not blank.
pub(crate) fn subject_and_body(subject: &str, body: &str) -> String {
    match (subject.trim().is_empty(), body.trim().is_empty()) {
        (true, _) => body.to_string(),
        (false, true) => subject.to_string(),
        (false, false) => format!("{}. {}", subject.trim_end_matches('.'), body),
    }
}

/// The records of one batch, split by kind, positions kept.
#[derive(Default)]
struct Split {
    accounts: Vec<(usize, Account)>,
    contacts: Vec<(usize, Contact)>,
    interactions: Vec<(usize, Interaction)>,
    usage: Vec<(usize, Usage)>,
    subscriptions: Vec<(usize, SubscriptionEvent)>,
    surveys: Vec<(usize, SurveyResponse)>,
    operational: Vec<(usize, OperationalEvent)>,
    outreach: Vec<(usize, Outreach)>,
}

fn reject(out: &mut Vec<Rejected>, pos: usize, kind: EntityKind, id: String, e: FieldError) {
    out.push(Rejected {
        position: pos,
        kind,
        id,
        error: e,
    });
}

/// Keeps the last record of each key; earlier copies count as updates.
fn dedupe<T: Row>(rows: Vec<(usize, T)>, updated: &mut u64) -> Vec<T> {
    // Which positions are superseded by a later record with the same key?
    let mut last: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(rows.len());
    for (i, (_, r)) in rows.iter().enumerate() {
        last.insert(r.key(), i);
    }
    if last.len() == rows.len() {
        drop(last);
        return rows.into_iter().map(|(_, r)| r).collect();
    }
    let keep: Vec<bool> = {
        let mut keep = vec![false; rows.len()];
        for &i in last.values() {
            keep[i] = true;
        }
        keep
    };
    drop(last);
    *updated += keep.iter().filter(|k| !**k).count() as u64;
    rows.into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|((_, r), _)| r)
        .collect()
}

impl Store {
    /// Validates references and writes one batch in a single transaction.
    /// `records` carry their position in the caller's stream. Records are
    /// expected to be valid on their own (`Entity::validate`); this checks what
    /// needs the database: that referenced accounts and contacts exist.
    pub async fn ingest(&self, records: Vec<(usize, Record)>) -> Result<BatchOutcome, StoreError> {
        self.ingest_scored(records, None).await
    }

    /// [`ingest`](Self::ingest), scoring the text of every interaction
    /// (subject and body) and survey comment with `scorer` into the
    /// `sentiment_score`, `sentiment_label` and `sentiment_model` columns
    /// (NULL for text with nothing to score). Without a scorer those columns
    /// are left as they are, so re-sending a record keeps its stored score.
    pub async fn ingest_scored(
        &self,
        records: Vec<(usize, Record)>,
        scorer: Option<&dyn TextScorer>,
    ) -> Result<BatchOutcome, StoreError> {
        let mut out = BatchOutcome::default();
        let mut s = Split::default();
        for (pos, r) in records {
            if let Err(e) = r.validate() {
                reject(&mut out.rejected, pos, r.kind(), r.key().to_string(), e);
                continue;
            }
            match r {
                Record::Account(x) => s.accounts.push((pos, x)),
                Record::Contact(x) => s.contacts.push((pos, x)),
                Record::Interaction(x) => s.interactions.push((pos, x)),
                Record::Usage(x) => s.usage.push((pos, x)),
                Record::Subscription(x) => s.subscriptions.push((pos, x)),
                Record::Survey(x) => s.surveys.push((pos, x)),
                Record::Operational(x) => s.operational.push((pos, x)),
                Record::Outreach(x) => s.outreach.push((pos, x)),
            }
        }

        // Which referenced accounts and contacts exist?
        let batch_accounts: HashSet<String> =
            s.accounts.iter().map(|(_, a)| a.id.clone()).collect();
        let mut want_accounts: HashSet<String> = HashSet::new();
        let mut want_contacts: HashSet<String> = HashSet::new();
        {
            let mut note = |id: &str| {
                if !batch_accounts.contains(id) {
                    want_accounts.insert(id.to_string());
                }
            };
            s.contacts.iter().for_each(|(_, r)| note(&r.account_id));
            s.interactions.iter().for_each(|(_, r)| note(&r.account_id));
            s.usage.iter().for_each(|(_, r)| note(&r.account_id));
            s.subscriptions
                .iter()
                .for_each(|(_, r)| note(&r.account_id));
            s.surveys.iter().for_each(|(_, r)| note(&r.account_id));
            s.operational.iter().for_each(|(_, r)| note(&r.account_id));
            s.outreach.iter().for_each(|(_, r)| note(&r.account_id));
        }
        let mut batch_contacts: HashSet<String> =
            s.contacts.iter().map(|(_, c)| c.id.clone()).collect();
        for c in s
            .interactions
            .iter()
            .filter_map(|(_, r)| r.contact_id.as_deref())
            .chain(
                s.surveys
                    .iter()
                    .filter_map(|(_, r)| r.contact_id.as_deref()),
            )
        {
            if !batch_contacts.contains(c) {
                want_contacts.insert(c.to_string());
            }
        }
        let accounts_ok = self.existing(want_accounts, "accounts", true).await?;
        let contacts_ok = self.existing(want_contacts, "contacts", false).await?;
        let account_known = |id: &str| batch_accounts.contains(id) || accounts_ok.contains(id);
        let unknown_account = |id: &str| {
            FieldError::new(
                "account_id",
                format!("account '{id}' does not exist (send the account first)"),
            )
        };

        macro_rules! check_refs {
            ($rows:expr, $kind:expr, |$r:ident| $contact:expr) => {{
                let mut kept = Vec::with_capacity($rows.len());
                for (pos, $r) in std::mem::take(&mut $rows) {
                    if !account_known(&$r.account_id) {
                        let e = unknown_account(&$r.account_id);
                        reject(&mut out.rejected, pos, $kind, $r.key().into_owned(), e);
                        continue;
                    }
                    let contact: Option<&str> = $contact;
                    if let Some(c) = contact
                        && !batch_contacts.contains(c)
                        && !contacts_ok.contains(c)
                    {
                        let e =
                            FieldError::new("contact_id", format!("contact '{c}' does not exist"));
                        reject(&mut out.rejected, pos, $kind, $r.key().into_owned(), e);
                        continue;
                    }
                    kept.push((pos, $r));
                }
                $rows = kept;
            }};
        }
        check_refs!(s.contacts, EntityKind::Contact, |r| None);
        // Only contacts that will be stored can be referred to.
        batch_contacts = s.contacts.iter().map(|(_, c)| c.id.clone()).collect();
        check_refs!(s.interactions, EntityKind::Interaction, |r| r
            .contact_id
            .as_deref());
        check_refs!(s.usage, EntityKind::Usage, |r| None);
        check_refs!(s.subscriptions, EntityKind::Subscription, |r| None);
        check_refs!(s.surveys, EntityKind::Survey, |r| r.contact_id.as_deref());
        check_refs!(s.operational, EntityKind::Operational, |r| None);
        check_refs!(s.outreach, EntityKind::Outreach, |r| None);
        out.rejected.sort_by_key(|r| r.position);

        let new_accounts: Vec<String> = s.accounts.iter().map(|(_, a)| a.id.clone()).collect();
        let new_contacts: Vec<String> = s.contacts.iter().map(|(_, c)| c.id.clone()).collect();

        let accounts = dedupe(s.accounts, &mut out.updated);
        let contacts = dedupe(s.contacts, &mut out.updated);
        let interactions = dedupe(s.interactions, &mut out.updated);
        let usage = dedupe(s.usage, &mut out.updated);
        let subscriptions = dedupe(s.subscriptions, &mut out.updated);
        let surveys = dedupe(s.surveys, &mut out.updated);
        let operational = dedupe(s.operational, &mut out.updated);
        let outreach = dedupe(s.outreach, &mut out.updated);
        // Scored before the transaction opens, so scoring never holds the
        // write lock. Exactly one of each pair is non-empty.
        let (interactions, scored_interactions, surveys, scored_surveys) = match scorer {
            None => (interactions, Vec::new(), surveys, Vec::new()),
            Some(scorer) => {
                let _p =
                    tracing::info_span!("ingest::score", n = interactions.len() + surveys.len())
                        .entered();
                let scored_interactions: Vec<Scored<Interaction>> = interactions
                    .into_iter()
                    .map(|r| {
                        let s = SentimentCols::of(scorer, &interaction_text(&r));
                        Scored(r, s)
                    })
                    .collect();
                let scored_surveys: Vec<Scored<SurveyResponse>> = surveys
                    .into_iter()
                    .map(|r| {
                        let s = SentimentCols::of(scorer, &r.comment);
                        Scored(r, s)
                    })
                    .collect();
                (Vec::new(), scored_interactions, Vec::new(), scored_surveys)
            }
        };

        on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            macro_rules! write {
                ($rows:expr, $ty:ty) => {{
                    let rows: Vec<$ty> = $rows;
                    if !rows.is_empty() {
                        // Which keys are already stored (for inserted/updated counts)?
                        let mut stored: HashSet<String> = HashSet::new();
                        let lookups: Vec<&str> = {
                            let set: HashSet<&str> = rows.iter().map(|r| r.lookup()).collect();
                            set.into_iter().collect()
                        };
                        let key_cols = <$ty as Row>::KEY.join(", ");
                        // An empty table (the first bulk load) has nothing to look up.
                        let probe = format!("SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) t", <$ty as Row>::TABLE);
                        let (any,): (i64,) = sqlx::query_as(&probe).fetch_one(&mut *tx).await?;
                        let lookups = if any == 0 { Vec::new() } else { lookups };
                        for chunk in lookups.chunks(LOOKUP_CHUNK) {
                            let sql = format!(
                                "SELECT {key_cols} FROM {} WHERE {} IN ({})",
                                <$ty as Row>::TABLE,
                                <$ty as Row>::LOOKUP,
                                self.params().list(chunk.len())
                            );
                            let mut q = sqlx::query(&sql);
                            for id in chunk {
                                q = q.bind(*id);
                            }
                            for row in q.fetch_all(&mut *tx).await? {
                                stored.insert(stored_key::<$ty, _>(&row)?);
                            }
                        }
                        let per_stmt = (MAX_BINDS / <$ty as Row>::COLS.len()).max(1);
                        let mut rows = rows;
                        while !rows.is_empty() {
                            let take = per_stmt.min(rows.len());
                            let chunk: Vec<$ty> = rows.drain(..take).collect();
                            let mut values = Vec::with_capacity(take * <$ty as Row>::COLS.len());
                            for r in chunk {
                                if stored.contains(r.key().as_ref()) {
                                    out.updated += 1;
                                } else {
                                    out.inserted += 1;
                                }
                                r.push_values(&mut values);
                            }
                            let sql = upsert_sql(
                                <$ty as Row>::TABLE,
                                <$ty as Row>::COLS,
                                <$ty as Row>::KEY,
                                take,
                                self.params(),
                            );
                            bind_all(sqlx::query(&sql), &values).execute(&mut *tx).await?;
                        }
                    }
                }};
            }
            write!(accounts, Account);
            write!(contacts, Contact);
            write!(interactions, Interaction);
            write!(scored_interactions, Scored<Interaction>);
            write!(usage, Usage);
            write!(subscriptions, SubscriptionEvent);
            write!(surveys, SurveyResponse);
            write!(scored_surveys, Scored<SurveyResponse>);
            write!(operational, OperationalEvent);
            write!(outreach, Outreach);
            tx.commit().await?;
        });

        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.accounts.extend(new_accounts);
        known.contacts.extend(new_contacts);
        Ok(out)
    }

    /// The ids among `want` that exist in `table` (accounts or contacts),
    /// answered from the cache where possible and from the database otherwise.
    async fn existing(
        &self,
        want: HashSet<String>,
        table: &'static str,
        accounts: bool,
    ) -> Result<HashSet<String>, StoreError> {
        let mut found = HashSet::new();
        let mut misses = Vec::new();
        {
            let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let cache = if accounts {
                &known.accounts
            } else {
                &known.contacts
            };
            for id in want {
                if cache.contains(&id) {
                    found.insert(id);
                } else {
                    misses.push(id);
                }
            }
        }
        let mut fetched = Vec::new();
        for chunk in misses.chunks(LOOKUP_CHUNK) {
            let sql = format!(
                "SELECT DISTINCT id FROM {table} WHERE id IN ({})",
                self.params().list(chunk.len())
            );
            let ids: Vec<(String,)> = on_backend!(self, pool => {
                let mut q = sqlx::query_as::<_, (String,)>(&sql);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(pool).await?
            });
            fetched.extend(ids.into_iter().map(|(id,)| id));
        }
        if !fetched.is_empty() {
            let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
            let cache = if accounts {
                &mut known.accounts
            } else {
                &mut known.contacts
            };
            cache.extend(fetched.iter().cloned());
        }
        found.extend(fetched);
        Ok(found)
    }
}

/// The stored key of a row returned by the "already stored?" look-up.
fn stored_key<T: Row, R: sqlx::Row>(row: &R) -> Result<String, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    String: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let a: String = row.try_get(0)?;
    if T::KEY.len() == 1 {
        Ok(a)
    } else {
        let b: i64 = row.try_get(1)?;
        Ok(key2(&a, b))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use pulse_core::{Channel, Persona, Segment, Sentiment};

    use super::*;

    pub(crate) fn account(id: &str) -> Account {
        Account {
            id: id.into(),
            name: format!("Customer {id}"),
            segment: Segment::Smb,
            industry: "retail".into(),
            region: "us-west".into(),
            plan: "essentials".into(),
            mrr: 500.0,
            seats: 12,
            owner: "dana".into(),
            start_date: 19_000,
            renewal_date: Some(19_365),
            status: pulse_core::AccountStatus::Active,
        }
    }

    pub(crate) fn interaction(id: &str, account: &str) -> Interaction {
        Interaction {
            id: id.into(),
            account_id: account.into(),
            contact_id: None,
            channel: Channel::Ticket,
            topic: "payroll_run".into(),
            opened_at: 1_700_000_000,
            first_response_at: None,
            resolved_at: None,
            escalated: false,
            reopened: false,
            contacts_to_resolve: 1,
            csat: Some(4),
            subject: "Payroll".into(),
            body: "Payroll did not run".into(),
        }
    }

    /// Negative when the text says "broken", positive when it says "great",
    /// nothing for blank text, neutral otherwise.
    struct WordScorer;

    impl TextScorer for WordScorer {
        fn score(&self, text: &str) -> Option<(f64, Sentiment)> {
            if text.trim().is_empty() {
                None
            } else if text.contains("broken") {
                Some((-0.75, Sentiment::Negative))
            } else if text.contains("great") {
                Some((0.5, Sentiment::Positive))
            } else {
                Some((0.0, Sentiment::Neutral))
            }
        }
        fn version(&self) -> &str {
            "words-1"
        }
    }

    type SentimentRow = (String, Option<f64>, Option<String>, Option<String>);

    async fn sentiment_rows(store: &Store, table: &str) -> Vec<SentimentRow> {
        let sql = format!(
            "SELECT id, sentiment_score, sentiment_label, sentiment_model FROM {table} ORDER BY id"
        );
        on_backend!(store, p => sqlx::query_as::<_, SentimentRow>(&sql).fetch_all(p).await.unwrap())
    }

    #[test]
    fn scored_columns_extend_the_plain_ones() {
        for (plain, scored) in [
            (
                <Interaction as Row>::COLS,
                <Scored<Interaction> as Row>::COLS,
            ),
            (
                <SurveyResponse as Row>::COLS,
                <Scored<SurveyResponse> as Row>::COLS,
            ),
        ] {
            assert_eq!(&scored[..plain.len()], plain);
            assert_eq!(
                &scored[plain.len()..],
                ["sentiment_score", "sentiment_label", "sentiment_model"]
            );
        }
    }

    #[tokio::test]
    async fn ingest_with_a_scorer_stores_sentiment() {
        for store in crate::test_stores("ingest_scored").await {
            stores_sentiment(store).await;
        }
    }

    async fn stores_sentiment(store: Store) {
        let mut broken = interaction("i-1", "a-1");
        broken.subject = "Export".into();
        broken.body = "the export is broken".into();
        let mut great = interaction("i-2", "a-1");
        great.subject = "great".into();
        great.body = String::new();
        let mut blank = interaction("i-3", "a-1");
        blank.subject = " ".into();
        blank.body = String::new();
        let survey = |id: &str, comment: &str| SurveyResponse {
            id: id.into(),
            account_id: "a-1".into(),
            contact_id: None,
            kind: pulse_core::SurveyKind::Csat,
            score: 4,
            comment: comment.into(),
            responded_at: 1_700_000_000,
        };
        let records = vec![
            Record::Account(account("a-1")),
            Record::Interaction(broken),
            Record::Interaction(great),
            Record::Interaction(blank),
            Record::Survey(survey("s-1", "great people")),
            Record::Survey(survey("s-2", "")),
        ];
        let records: Vec<(usize, Record)> = records.into_iter().enumerate().collect();
        let out = store
            .ingest_scored(records.clone(), Some(&WordScorer))
            .await
            .unwrap();
        assert!(out.rejected.is_empty(), "{:?}", out.rejected);
        let m = Some("words-1".to_string());
        let expected_interactions = vec![
            (
                "i-1".to_string(),
                Some(-0.75),
                Some("negative".to_string()),
                m.clone(),
            ),
            (
                "i-2".to_string(),
                Some(0.5),
                Some("positive".to_string()),
                m.clone(),
            ),
            ("i-3".to_string(), None, None, None),
        ];
        let expected_surveys = vec![
            (
                "s-1".to_string(),
                Some(0.5),
                Some("positive".to_string()),
                m.clone(),
            ),
            ("s-2".to_string(), None, None, None),
        ];
        assert_eq!(
            sentiment_rows(&store, "interactions").await,
            expected_interactions
        );
        assert_eq!(
            sentiment_rows(&store, "survey_responses").await,
            expected_surveys
        );

        // Re-sending without a scorer keeps the stored scores.
        let out = store.ingest(records).await.unwrap();
        assert_eq!((out.inserted, out.updated), (0, 6));
        assert_eq!(
            sentiment_rows(&store, "interactions").await,
            expected_interactions
        );
        assert_eq!(
            sentiment_rows(&store, "survey_responses").await,
            expected_surveys
        );
    }

    #[tokio::test]
    async fn batches_keep_good_records_and_report_bad_ones() {
        for store in crate::test_stores("batches_keep_good").await {
            keeps_good_records(store).await;
        }
    }

    async fn keeps_good_records(store: Store) {
        let mut bad_csat = interaction("i-3", "a-1");
        bad_csat.csat = Some(9);
        let contact = Contact {
            id: "c-1".into(),
            account_id: "a-1".into(),
            name: "Sam".into(),
            persona: Persona::Champion,
            relationship_strength: 3,
            sentiment: Sentiment::Positive,
            active: true,
            observed_at: 1_700_000_000,
        };
        let mut with_ghost_contact = interaction("i-4", "a-1");
        with_ghost_contact.contact_id = Some("c-404".into());
        let batch = vec![
            (0, Record::Interaction(interaction("i-1", "a-1"))),
            (1, Record::Account(account("a-1"))),
            (2, Record::Interaction(interaction("i-2", "a-404"))),
            (3, Record::Interaction(bad_csat)),
            (4, Record::Contact(contact)),
            (5, Record::Interaction(with_ghost_contact)),
        ];
        let out = store.ingest(batch).await.unwrap();
        assert_eq!((out.inserted, out.updated), (3, 0));
        let why: Vec<(usize, &str, &str)> = out
            .rejected
            .iter()
            .map(|r| (r.position, r.id.as_str(), r.error.field.as_str()))
            .collect();
        assert_eq!(
            why,
            vec![
                (2, "i-2", "account_id"),
                (3, "i-3", "csat"),
                (5, "i-4", "contact_id")
            ]
        );
        assert!(out.rejected[0].error.reason.contains("a-404"));
    }

    #[tokio::test]
    async fn resending_updates_and_never_duplicates() {
        for store in crate::test_stores("resending_updates").await {
            updates_in_place(store).await;
        }
    }

    async fn updates_in_place(store: Store) {
        let first = store
            .ingest(vec![
                (0, Record::Account(account("a-1"))),
                (1, Record::Interaction(interaction("i-1", "a-1"))),
            ])
            .await
            .unwrap();
        assert_eq!((first.inserted, first.updated), (2, 0));
        let mut changed = interaction("i-1", "a-1");
        changed.escalated = true;
        let again = store
            .ingest(vec![
                (0, Record::Interaction(changed.clone())),
                (1, Record::Interaction(changed)),
            ])
            .await
            .unwrap();
        assert_eq!((again.inserted, again.updated), (0, 2));
        let counts = store.record_counts("a-1").await.unwrap();
        assert_eq!(counts.interactions, 1);
        let mut renamed = account("a-1");
        renamed.name = "Renamed".into();
        store
            .ingest(vec![(0, Record::Account(renamed))])
            .await
            .unwrap();
        assert_eq!(store.account("a-1").await.unwrap().unwrap().name, "Renamed");
        let all = store
            .accounts(&crate::AccountFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), 1, "{}", store.backend_name());
    }

    #[tokio::test]
    async fn references_to_accounts_from_earlier_batches_resolve_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("p.db").display());
        let store = Store::connect(&url).await.unwrap();
        store
            .ingest(vec![(0, Record::Account(account("a-1")))])
            .await
            .unwrap();
        store.close().await;
        // A new handle has an empty cache: the check must go to the database.
        let store = Store::connect(&url).await.unwrap();
        let out = store
            .ingest(vec![(0, Record::Interaction(interaction("i-1", "a-1")))])
            .await
            .unwrap();
        assert_eq!((out.inserted, out.rejected.len()), (1, 0));
    }
}
