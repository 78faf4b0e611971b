//! Batch ingest: reference checks, idempotent upserts, one transaction a batch.
//!
//! A batch may mix entity kinds. Accounts are written first, so records later
//! in the same batch may refer to them. A record that refers to an unknown
//! account or contact is rejected with its position, id, field and reason, and
//! the rest of the batch is stored. Re-sending a record with the same key
//! updates it in place (`COPY`, then `ON CONFLICT ... DO UPDATE` from a
//! temporary table for the rows already stored, on PostgreSQL, see
//! `pg_copy.rs`; an insert that changed nothing, then an `UPDATE`, on an
//! SQLite file, see `sqlite_ingest.rs`; multi-row `ON CONFLICT ... DO UPDATE`
//! through sqlx on in-memory SQLite), so replaying a file or a stream never
//! duplicates anything.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pulse_core::{
    Account, Columns, Contact, EntityKind, FieldError, Interaction, OperationalEvent, Outreach,
    Record, Sentiment, SubscriptionEvent, SurveyResponse, TextScorer, Usage,
};

use crate::value::{Binds, Value, bind_all, upsert_sql};
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

/// The accounts and contacts a dry run's earlier batches would have stored
/// ([`Store::ingest_dry_run`]).
#[derive(Debug, Default)]
pub struct DryRunIds {
    accounts: HashSet<String>,
    contacts: HashSet<String>,
}

#[derive(Debug, Default)]
pub(crate) struct KnownIds {
    accounts: HashSet<String>,
    contacts: HashSet<String>,
}

/// How one entity maps onto its table. The columns and their values are the
/// entity's own ([`Columns`], one list per entity in `pulse_core`); the
/// table, its key and the look-up column are the store's.
pub(crate) trait Row: Sized {
    const TABLE: &'static str;
    /// Stored column names, in the order [`Row::push_values`] pushes them.
    const COLS: &'static [&'static str];
    const KEY: &'static [&'static str];
    /// The column the "already stored?" look-up filters on with `IN (...)`.
    const LOOKUP: &'static str;
    /// The stored key; borrowed for single-column keys, so that checking a
    /// batch allocates nothing per record.
    fn key(&self) -> Cow<'_, str>;
    /// The key as [`Row::key`], borrowed: for telling records apart
    /// without building a string.
    fn row_key(&self) -> RowKey<'_>;
    fn lookup(&self) -> &str;
    fn push_values(self, out: &mut Vec<Value>);
}

fn key2(a: &str, b: i64) -> String {
    format!("{a}\u{1f}{b}")
}

/// A record's key, borrowed: one text column, or a text column and a
/// number ([`Row::row_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum RowKey<'a> {
    One(&'a str),
    Two(&'a str, i64),
}

/// An entity's table and key: one column, or two whose second is a number
/// (each named as the entity's field; the first is the look-up column).
macro_rules! entity_row {
    ($ty:ty, $table:literal, key $k:ident) => {
        entity_row!(@impl $ty, $table, $k, [stringify!($k)], |r| Cow::Borrowed(&r.$k), RowKey::One(&r.$k));
    };
    ($ty:ty, $table:literal, key $a:ident, $b:ident) => {
        entity_row!(@impl $ty, $table, $a, [stringify!($a), stringify!($b)], |r| {
            Cow::Owned(key2(&r.$a, i64::from(r.$b)))
        }, RowKey::Two(&r.$a, i64::from(r.$b)));
    };
    (@impl $ty:ty, $table:literal, $lookup:ident, $key:expr, |$r:ident| $stored_key:expr, $row_key:expr) => {
        impl Row for $ty {
            const TABLE: &'static str = $table;
            const COLS: &'static [&'static str] = <$ty as Columns>::STORED_COLUMNS;
            const KEY: &'static [&'static str] = &$key;
            const LOOKUP: &'static str = stringify!($lookup);
            fn key(&self) -> Cow<'_, str> {
                let $r = self;
                $stored_key
            }
            fn row_key(&self) -> RowKey<'_> {
                let $r = self;
                $row_key
            }
            fn lookup(&self) -> &str {
                &self.$lookup
            }
            fn push_values(self, out: &mut Vec<Value>) {
                self.write_columns(&mut Binds(out));
            }
        }
    };
}

entity_row!(Account, "accounts", key id);
entity_row!(Contact, "contacts", key id, observed_at);
entity_row!(Interaction, "interactions", key id);
entity_row!(Usage, "usage", key account_id, day);
entity_row!(SubscriptionEvent, "subscription_events", key id);
entity_row!(SurveyResponse, "survey_responses", key id);
entity_row!(OperationalEvent, "operational_events", key id);
entity_row!(Outreach, "outreach", key id);

/// The score and label of one text, as a [`TextScorer`] returns them.
pub type TextScore = (f64, Sentiment);

/// Sentiment the caller computed for a batch before handing it to
/// [`Store::ingest_with_sentiment`] (so that scoring can run in parallel
/// with writing the previous batch).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchSentiment {
    /// The model's version, stored beside every score.
    pub model: String,
    /// One entry per record of the batch, in order: the score of the
    /// record's [`scored_text`], `None` for blank text and for records with
    /// no text to score.
    pub scores: Vec<Option<TextScore>>,
}

/// The text that ingest scores: an interaction's subject and body, a survey
/// response's comment; `None` for every other record.
pub fn scored_text(r: &Record) -> Option<Cow<'_, str>> {
    match r {
        Record::Interaction(i) => Some(subject_and_body_cow(&i.subject, &i.body)),
        Record::Survey(s) => Some(Cow::Borrowed(&s.comment)),
        _ => None,
    }
}

/// The sentiment columns of a scored record: score, label, model version
/// (all NULL when the text had nothing to score).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SentimentCols {
    score: Option<f64>,
    label: Option<&'static str>,
    model: Option<String>,
}

impl SentimentCols {
    pub(crate) fn new(score: Option<TextScore>, model: &str) -> Self {
        match score {
            Some((score, label)) => SentimentCols {
                score: Some(score),
                label: Some(label.as_str()),
                model: Some(model.to_string()),
            },
            None => SentimentCols::default(),
        }
    }

    fn push_values(self, out: &mut Vec<Value>) {
        out.extend([
            Value::OptReal(self.score),
            self.label
                .map(Value::Static)
                .unwrap_or(Value::OptText(None)),
            Value::OptText(self.model),
        ]);
    }
}

/// A record written with its sentiment columns. Only used when the batch was
/// scored, so ingest without a model never overwrites stored scores with NULL.
pub(crate) struct Scored<T>(pub(crate) T, pub(crate) SentimentCols);

/// The columns of a scored row: `$ty`'s, then these.
const SENTIMENT_COLS: [&str; 3] = ["sentiment_score", "sentiment_label", "sentiment_model"];

/// `a` then `b`, in a constant (`N` is their total length).
const fn concat<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
    assert!(a.len() + b.len() == N);
    let mut out = [""; N];
    let mut i = 0;
    while i < a.len() {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - a.len()];
        i += 1;
    }
    out
}

/// `$ty`'s columns followed by the sentiment columns.
macro_rules! scored_row {
    ($ty:ty) => {
        impl Row for Scored<$ty> {
            const TABLE: &'static str = <$ty as Row>::TABLE;
            const COLS: &'static [&'static str] = &concat::<
                { <$ty as Row>::COLS.len() + SENTIMENT_COLS.len() },
            >(<$ty as Row>::COLS, &SENTIMENT_COLS);
            const KEY: &'static [&'static str] = <$ty as Row>::KEY;
            const LOOKUP: &'static str = <$ty as Row>::LOOKUP;
            fn key(&self) -> Cow<'_, str> {
                self.0.key()
            }
            fn row_key(&self) -> RowKey<'_> {
                self.0.row_key()
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

scored_row!(Interaction);
scored_row!(SurveyResponse);

/// `subject. body`, or whichever of the two is not blank.
pub(crate) fn subject_and_body(subject: &str, body: &str) -> String {
    subject_and_body_cow(subject, body).into_owned()
}

fn subject_and_body_cow<'a>(subject: &'a str, body: &'a str) -> Cow<'a, str> {
    match (subject.trim().is_empty(), body.trim().is_empty()) {
        (true, _) => Cow::Borrowed(body),
        (false, true) => Cow::Borrowed(subject),
        (false, false) => Cow::Owned(format!("{}. {}", subject.trim_end_matches('.'), body)),
    }
}

/// One record of a batch: its position in the caller's stream and the score
/// of its text (interactions and surveys of a scored batch only).
pub(crate) struct Item<T> {
    pub(crate) pos: usize,
    pub(crate) rec: T,
    pub(crate) score: Option<TextScore>,
}

/// A batch whose records are validated and sorted by kind: the half of an
/// ingest that needs no database, so that a bulk load can do it for the next
/// batch on another thread while the store writes this one
/// ([`Store::ingest_prepared`]).
pub struct PreparedBatch {
    split: Split,
    keys: Arc<BatchKeys>,
}

impl PreparedBatch {
    /// Validates each record on its own, as an ingest does first, and
    /// works out what the write needs of the batch alone: the accounts and
    /// contacts it refers to, and its records' keys.
    pub fn new(records: Vec<(usize, Record)>, sentiment: Option<BatchSentiment>) -> Self {
        let mut split = Split::new(records, sentiment);
        let (keys, unique) = split.key_hashes();
        split.ahead = Some(Ahead {
            wanted: split.wanted(),
            unique,
        });
        PreparedBatch {
            split,
            keys: Arc::new(keys),
        }
    }

    /// The keys of the records the batch writes ([`BatchKeys::overlap`]).
    pub fn keys(&self) -> Arc<BatchKeys> {
        self.keys.clone()
    }

    /// Whether this batch must wait for the batch of `earlier`'s keys to
    /// be committed before it is written: they share a key (the later
    /// record must win), or this one refers to an account or contact that
    /// the earlier one adds (references are checked against what is
    /// committed).
    pub fn waits_for(&self, earlier: &BatchKeys) -> bool {
        if self.keys.overlap(earlier) {
            return true;
        }
        if earlier.added.is_empty() {
            return false;
        }
        let Some(ahead) = &self.split.ahead else {
            return true;
        };
        let (accounts, contacts) = &ahead.wanted;
        let added = |table: &str, id: &String| {
            earlier
                .added
                .contains(&key_hash(table, RowKey::One(id.as_str())))
        };
        accounts.iter().any(|a| added(Account::TABLE, a))
            || contacts.iter().any(|c| added(Contact::TABLE, c))
    }
}

/// The keys of a prepared batch's records, hashed with their table
/// ([`PreparedBatch::keys`]). Two batches whose keys do not overlap can be
/// written at the same time in any order and leave the same rows.
/// Keys are compared by hash, so a collision only makes a batch wait when
/// it need not.
#[derive(Debug, Default)]
pub struct BatchKeys {
    rows: HashSet<u64>,
    /// The ids of the accounts and contacts the batch adds.
    added: HashSet<u64>,
}

impl BatchKeys {
    /// Whether the two batches may write the same record.
    pub fn overlap(&self, other: &BatchKeys) -> bool {
        let (small, large) = if self.rows.len() <= other.rows.len() {
            (&self.rows, &other.rows)
        } else {
            (&other.rows, &self.rows)
        };
        small.iter().any(|h| large.contains(h))
    }
}

/// A record's key hashed with its table, the same in every process.
fn key_hash(table: &str, key: RowKey<'_>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    table.hash(&mut h);
    key.hash(&mut h);
    h.finish()
}

/// What a prepared batch worked out before its turn to be written.
pub(crate) struct Ahead {
    /// [`Split::wanted`].
    wanted: (HashSet<String>, HashSet<String>),
    /// No kind holds two records with the same key (so rejecting some
    /// leaves none to deduplicate).
    unique: bool,
}

/// The valid records of one batch, split by kind, positions kept, and what
/// has been rejected so far.
#[derive(Default)]
pub(crate) struct Split {
    pub(crate) accounts: Vec<Item<Account>>,
    pub(crate) contacts: Vec<Item<Contact>>,
    pub(crate) interactions: Vec<Item<Interaction>>,
    pub(crate) usage: Vec<Item<Usage>>,
    pub(crate) subscriptions: Vec<Item<SubscriptionEvent>>,
    pub(crate) surveys: Vec<Item<SurveyResponse>>,
    pub(crate) operational: Vec<Item<OperationalEvent>>,
    pub(crate) outreach: Vec<Item<Outreach>>,
    /// The scoring model's version when the batch was scored: the sentiment
    /// columns are then written (NULL for blank text).
    pub(crate) model: Option<String>,
    pub(crate) out: BatchOutcome,
    /// Worked out by [`PreparedBatch::new`], off the writer's path.
    pub(crate) ahead: Option<Ahead>,
}

fn reject(out: &mut Vec<Rejected>, pos: usize, kind: EntityKind, id: String, e: FieldError) {
    out.push(Rejected {
        position: pos,
        kind,
        id,
        error: e,
    });
}

impl Split {
    /// Validates every record on its own and sorts the valid ones by kind.
    fn new(records: Vec<(usize, Record)>, sentiment: Option<BatchSentiment>) -> Split {
        let mut s = Split::default();
        // Batches are usually of one kind: room for all of them at once.
        let n = records.len();
        match records.first().map(|(_, r)| r.kind()) {
            Some(EntityKind::Account) => s.accounts.reserve(n),
            Some(EntityKind::Contact) => s.contacts.reserve(n),
            Some(EntityKind::Interaction) => s.interactions.reserve(n),
            Some(EntityKind::Usage) => s.usage.reserve(n),
            Some(EntityKind::Subscription) => s.subscriptions.reserve(n),
            Some(EntityKind::Survey) => s.surveys.reserve(n),
            Some(EntityKind::Operational) => s.operational.reserve(n),
            Some(EntityKind::Outreach) => s.outreach.reserve(n),
            None => {}
        }
        let mut scores = match sentiment {
            Some(b) => {
                s.model = Some(b.model);
                b.scores.into_iter()
            }
            None => Vec::new().into_iter(),
        };
        for (pos, r) in records {
            let score = scores.next().flatten();
            if let Err(e) = r.validate() {
                reject(&mut s.out.rejected, pos, r.kind(), r.key().to_string(), e);
                continue;
            }
            macro_rules! push {
                ($v:ident, $x:expr) => {
                    s.$v.push(Item {
                        pos,
                        rec: $x,
                        score,
                    })
                };
            }
            match r {
                Record::Account(x) => push!(accounts, x),
                Record::Contact(x) => push!(contacts, x),
                Record::Interaction(x) => push!(interactions, x),
                Record::Usage(x) => push!(usage, x),
                Record::Subscription(x) => push!(subscriptions, x),
                Record::Survey(x) => push!(surveys, x),
                Record::Operational(x) => push!(operational, x),
                Record::Outreach(x) => push!(outreach, x),
            }
        }
        s
    }

    /// The batch's keys ([`BatchKeys`]), and whether no key comes twice
    /// (a hash shared by two keys answers no: the exact check follows).
    fn key_hashes(&self) -> (BatchKeys, bool) {
        fn add<T: Row>(items: &[Item<T>], keys: &mut HashSet<u64>) -> bool {
            let mut unique = true;
            for i in items {
                unique &= keys.insert(key_hash(T::TABLE, i.rec.row_key()));
            }
            unique
        }
        let mut added = HashSet::new();
        for i in &self.accounts {
            added.insert(key_hash(Account::TABLE, RowKey::One(&i.rec.id)));
        }
        for i in &self.contacts {
            added.insert(key_hash(Contact::TABLE, RowKey::One(&i.rec.id)));
        }
        let mut keys = HashSet::new();
        let mut unique = add(&self.accounts, &mut keys);
        unique &= add(&self.contacts, &mut keys);
        unique &= add(&self.interactions, &mut keys);
        unique &= add(&self.usage, &mut keys);
        unique &= add(&self.subscriptions, &mut keys);
        unique &= add(&self.surveys, &mut keys);
        unique &= add(&self.operational, &mut keys);
        unique &= add(&self.outreach, &mut keys);
        (BatchKeys { rows: keys, added }, unique)
    }

    /// The accounts and contacts referred to by the batch that it does not
    /// hold itself: these must already be stored.
    pub(crate) fn wanted(&self) -> (HashSet<String>, HashSet<String>) {
        let batch_accounts: HashSet<&str> =
            self.accounts.iter().map(|i| i.rec.id.as_str()).collect();
        let mut want_accounts: HashSet<String> = HashSet::new();
        let referring = (self.contacts.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.interactions.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.usage.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.subscriptions.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.surveys.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.operational.iter().map(|i| i.rec.account_id.as_str()))
            .chain(self.outreach.iter().map(|i| i.rec.account_id.as_str()));
        // Files are usually grouped by account: a repeat is not hashed again.
        let mut last = "";
        for id in referring {
            if id != last && !batch_accounts.contains(id) && !want_accounts.contains(id) {
                want_accounts.insert(id.to_string());
            }
            last = id;
        }
        let batch_contacts: HashSet<&str> =
            self.contacts.iter().map(|i| i.rec.id.as_str()).collect();
        let mut want_contacts: HashSet<String> = HashSet::new();
        let mut last: &str = "";
        for c in self
            .interactions
            .iter()
            .filter_map(|i| i.rec.contact_id.as_deref())
            .chain(
                self.surveys
                    .iter()
                    .filter_map(|i| i.rec.contact_id.as_deref()),
            )
        {
            if c != last && !batch_contacts.contains(c) && !want_contacts.contains(c) {
                want_contacts.insert(c.to_string());
            }
            last = c;
        }
        (want_accounts, want_contacts)
    }

    /// Rejects the records that refer to an account or contact that is
    /// neither in the batch nor among the stored ones (`accounts_ok`,
    /// `contacts_ok`), then sorts the rejections by position.
    pub(crate) fn check_refs(
        &mut self,
        accounts_ok: &HashSet<String>,
        contacts_ok: &HashSet<String>,
    ) {
        let batch_accounts: HashSet<String> =
            self.accounts.iter().map(|i| i.rec.id.clone()).collect();
        let account_known = |id: &str| batch_accounts.contains(id) || accounts_ok.contains(id);
        let unknown_account = |id: &str| {
            FieldError::new(
                "account_id",
                format!("account '{id}' does not exist (send the account first)"),
            )
        };
        let mut batch_contacts: HashSet<String> =
            self.contacts.iter().map(|i| i.rec.id.clone()).collect();
        let rejected = &mut self.out.rejected;

        // The last account and contact found, so that a run of records of
        // one account (the usual order of a file) is checked with one look-up.
        let (mut last_account, mut last_contact) = (String::new(), String::new());
        macro_rules! check_refs {
            ($rows:expr, $kind:expr, |$r:ident| $contact:expr) => {{
                // In place: nothing moves until a record is rejected.
                $rows.retain(|item| {
                    let $r = &item.rec;
                    if $r.account_id != last_account {
                        if !account_known(&$r.account_id) {
                            let e = unknown_account(&$r.account_id);
                            reject(rejected, item.pos, $kind, pulse_core::Entity::key($r), e);
                            return false;
                        }
                        last_account.clear();
                        last_account.push_str(&$r.account_id);
                    }
                    let contact: Option<&str> = $contact;
                    if let Some(c) = contact
                        && c != last_contact
                    {
                        if !batch_contacts.contains(c) && !contacts_ok.contains(c) {
                            let e = FieldError::new(
                                "contact_id",
                                format!("contact '{c}' does not exist"),
                            );
                            reject(rejected, item.pos, $kind, pulse_core::Entity::key($r), e);
                            return false;
                        }
                        last_contact.clear();
                        last_contact.push_str(c);
                    }
                    true
                });
            }};
        }
        check_refs!(self.contacts, EntityKind::Contact, |r| None);
        // Only contacts that will be stored can be referred to.
        batch_contacts = self.contacts.iter().map(|i| i.rec.id.clone()).collect();
        last_contact.clear();
        check_refs!(self.interactions, EntityKind::Interaction, |r| r
            .contact_id
            .as_deref());
        check_refs!(self.usage, EntityKind::Usage, |r| None);
        check_refs!(self.subscriptions, EntityKind::Subscription, |r| None);
        check_refs!(self.surveys, EntityKind::Survey, |r| r
            .contact_id
            .as_deref());
        check_refs!(self.operational, EntityKind::Operational, |r| None);
        check_refs!(self.outreach, EntityKind::Outreach, |r| None);
        self.out.rejected.sort_by_key(|r| r.position);
    }

    /// The ids of the accounts and contacts the batch stores, for the cache
    /// of known ids once it is committed.
    pub(crate) fn new_ids(&self) -> (Vec<String>, Vec<String>) {
        (
            self.accounts.iter().map(|i| i.rec.id.clone()).collect(),
            self.contacts.iter().map(|i| i.rec.id.clone()).collect(),
        )
    }
}

/// Interactions or survey responses as the rows to write: with their
/// sentiment columns when the batch was scored (`model`), else without.
/// Exactly one of the two is non-empty.
fn with_sentiment<T>(items: Vec<Item<T>>, model: Option<&str>) -> (Vec<T>, Vec<Scored<T>>) {
    match model {
        None => (recs(items), Vec::new()),
        Some(m) => (
            Vec::new(),
            items
                .into_iter()
                .map(|i| Scored(i.rec, SentimentCols::new(i.score, m)))
                .collect(),
        ),
    }
}

fn recs<T>(items: Vec<Item<T>>) -> Vec<T> {
    items.into_iter().map(|i| i.rec).collect()
}

/// The rows of every kind, in the order they are written (accounts first,
/// so records later in the batch may refer to them).
struct Rows {
    accounts: Vec<Account>,
    contacts: Vec<Contact>,
    interactions: Vec<Interaction>,
    scored_interactions: Vec<Scored<Interaction>>,
    usage: Vec<Usage>,
    subscriptions: Vec<SubscriptionEvent>,
    surveys: Vec<SurveyResponse>,
    scored_surveys: Vec<Scored<SurveyResponse>>,
    operational: Vec<OperationalEvent>,
    outreach: Vec<Outreach>,
}

impl Rows {
    /// The last record of each key only (a multi-row statement cannot
    /// change one row twice); earlier copies count as updates.
    fn deduplicated(s: Split, unique: bool) -> (Rows, BatchOutcome) {
        let mut out = s.out;
        let model = s.model.as_deref();
        let u = &mut out.updated;
        let (interactions, scored_interactions) =
            with_sentiment(dedupe(s.interactions, u, unique), model);
        let (surveys, scored_surveys) = with_sentiment(dedupe(s.surveys, u, unique), model);
        let rows = Rows {
            accounts: recs(dedupe(s.accounts, u, unique)),
            contacts: recs(dedupe(s.contacts, u, unique)),
            interactions,
            scored_interactions,
            usage: recs(dedupe(s.usage, u, unique)),
            subscriptions: recs(dedupe(s.subscriptions, u, unique)),
            surveys,
            scored_surveys,
            operational: recs(dedupe(s.operational, u, unique)),
            outreach: recs(dedupe(s.outreach, u, unique)),
        };
        (rows, out)
    }
}

/// Keeps the last record of each key; earlier copies count as updates.
/// `unique`: the keys are known to be distinct already.
fn dedupe<T: Row>(rows: Vec<Item<T>>, updated: &mut u64, unique: bool) -> Vec<Item<T>> {
    if unique {
        return rows;
    }
    // Which positions are superseded by a later record with the same key?
    let mut last: HashMap<RowKey<'_>, usize> = HashMap::with_capacity(rows.len());
    for (i, it) in rows.iter().enumerate() {
        last.insert(it.rec.row_key(), i);
    }
    if last.len() == rows.len() {
        drop(last);
        return rows;
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
        .map(|(r, _)| r)
        .collect()
}

impl Store {
    /// Validates references and writes one batch in a single transaction.
    /// `records` carry their position in the caller's stream. Records are
    /// expected to be valid on their own (`Entity::validate`); this checks what
    /// needs the database: that referenced accounts and contacts exist.
    pub async fn ingest(&self, records: Vec<(usize, Record)>) -> Result<BatchOutcome, StoreError> {
        self.ingest_with_sentiment(records, None).await
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
        let sentiment = scorer.map(|scorer| score_batch(scorer, &records));
        self.ingest_with_sentiment(records, sentiment).await
    }

    /// [`ingest_scored`](Self::ingest_scored) with the scores computed by the
    /// caller ([`score_batch`]); `None` leaves the stored sentiment as it is.
    ///
    /// An SQLite file is written through rusqlite on a thread of its own
    /// (`sqlite_ingest.rs`), PostgreSQL through `COPY` (`pg_copy.rs`) and
    /// in-memory SQLite through sqlx's multi-row upserts;
    /// both give the same rows, counts and rejections (the store tests run
    /// every case on each).
    pub async fn ingest_with_sentiment(
        &self,
        records: Vec<(usize, Record)>,
        sentiment: Option<BatchSentiment>,
    ) -> Result<BatchOutcome, StoreError> {
        self.touch();
        if let Some(w) = self.sqlite_batch_writer() {
            return crate::on_thread("pulse-ingest", move || w.ingest(records, sentiment)).await;
        }
        self.ingest_sqlx(Split::new(records, sentiment), None).await
    }

    /// [`ingest_with_sentiment`](Self::ingest_with_sentiment) of a batch
    /// validated beforehand ([`PreparedBatch::new`]), with the same rows,
    /// counts and rejections.
    pub async fn ingest_prepared(&self, batch: PreparedBatch) -> Result<BatchOutcome, StoreError> {
        self.touch();
        if let Some(w) = self.sqlite_batch_writer() {
            return crate::on_thread("pulse-ingest", move || {
                crate::sqlite_ingest::ingest(&w.conn, &w.known, batch.split)
            })
            .await;
        }
        self.ingest_sqlx(batch.split, None).await
    }

    /// Whether two prepared batches may be written at the same time, each
    /// on a connection of its own ([`Store::ingest_prepared`]), when the
    /// later does not wait for the earlier ([`PreparedBatch::waits_for`]):
    /// PostgreSQL. A bulk load then keeps the database busy with one batch
    /// while it checks and encodes the next.
    pub fn concurrent_ingest(&self) -> bool {
        matches!(self.backend, crate::Backend::Postgres(_))
    }

    /// For an SQLite file store, a handle that ingests on the calling
    /// thread (`None` for other stores). `pulse import` runs it on a thread
    /// of its own fed straight by its parser, so that no batch waits for a
    /// hand-off through the async executor.
    pub fn sqlite_batch_writer(&self) -> Option<SqliteBatchWriter> {
        self.sqlite_writer.as_ref().map(|conn| SqliteBatchWriter {
            conn: conn.clone(),
            known: self.known.clone(),
        })
    }

    /// Checks a batch exactly as [`ingest`](Self::ingest) would store it
    /// (references, inserted and updated counts, rejections) and writes
    /// nothing: its transaction is rolled back. `seen` holds the accounts
    /// and contacts of the dry run's earlier batches, which later batches
    /// may refer to.
    pub async fn ingest_dry_run(
        &self,
        records: Vec<(usize, Record)>,
        seen: &mut DryRunIds,
    ) -> Result<BatchOutcome, StoreError> {
        self.ingest_sqlx(Split::new(records, None), Some(seen))
            .await
    }

    async fn ingest_sqlx(
        &self,
        mut s: Split,
        dry: Option<&mut DryRunIds>,
    ) -> Result<BatchOutcome, StoreError> {
        let ahead = s.ahead.take();
        let unique = ahead.as_ref().is_some_and(|a| a.unique);
        let (want_accounts, want_contacts) = match ahead {
            Some(a) => a.wanted,
            None => s.wanted(),
        };
        let (seen_accounts, seen_contacts): (Vec<String>, Vec<String>) = match dry.as_deref() {
            Some(d) => (
                want_accounts
                    .iter()
                    .filter(|a| d.accounts.contains(*a))
                    .cloned()
                    .collect(),
                want_contacts
                    .iter()
                    .filter(|c| d.contacts.contains(*c))
                    .cloned()
                    .collect(),
            ),
            None => Default::default(),
        };
        let mut accounts_ok = self.existing(want_accounts, "accounts", true).await?;
        let mut contacts_ok = self.existing(want_contacts, "contacts", false).await?;
        accounts_ok.extend(seen_accounts);
        contacts_ok.extend(seen_contacts);
        s.check_refs(&accounts_ok, &contacts_ok);
        let (new_accounts, new_contacts) = s.new_ids();
        let (rows, mut out) = Rows::deduplicated(s, unique);

        // PostgreSQL loads each kind through COPY (`pg_copy.rs`); in-memory
        // SQLite takes multi-row upserts.
        macro_rules! each_kind {
            ($write:ident) => {
                $write!(rows.accounts, Account);
                $write!(rows.contacts, Contact);
                $write!(rows.interactions, Interaction);
                $write!(rows.scored_interactions, Scored<Interaction>);
                $write!(rows.usage, Usage);
                $write!(rows.subscriptions, SubscriptionEvent);
                $write!(rows.surveys, SurveyResponse);
                $write!(rows.scored_surveys, Scored<SurveyResponse>);
                $write!(rows.operational, OperationalEvent);
                $write!(rows.outreach, Outreach);
            };
        }
        match &self.backend {
            crate::Backend::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                if self.deferred_commits {
                    // This transaction only (`Store::deferring_commits`).
                    sqlx::query("SET LOCAL synchronous_commit = off")
                        .execute(&mut *tx)
                        .await?;
                }
                macro_rules! copy {
                    ($rows:expr, $ty:ty) => {{
                        let rows: Vec<$ty> = $rows;
                        if !rows.is_empty() {
                            let n = rows.len() as u64;
                            let updated = crate::pg_copy::upsert(&mut *tx, rows).await?;
                            out.updated += updated;
                            out.inserted += n - updated;
                        }
                    }};
                }
                each_kind!(copy);
                if dry.is_some() {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
            }
            crate::Backend::Sqlite(pool) => {
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
                            let probe = format!(
                                "SELECT COUNT(*) FROM (SELECT 1 FROM {} LIMIT 1) t",
                                <$ty as Row>::TABLE
                            );
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
                                let mut values =
                                    Vec::with_capacity(take * <$ty as Row>::COLS.len());
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
                                bind_all(sqlx::query(&sql), &values)
                                    .execute(&mut *tx)
                                    .await?;
                            }
                        }
                    }};
                }
                each_kind!(write);
                if dry.is_some() {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                }
            }
        }

        match dry {
            Some(d) => {
                d.accounts.extend(new_accounts);
                d.contacts.extend(new_contacts);
            }
            None => self.known_ids().extend(new_accounts, new_contacts),
        }
        Ok(out)
    }

    /// The cache of known account and contact ids.
    pub(crate) fn known_ids(&self) -> std::sync::MutexGuard<'_, KnownIds> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The ids among `want` that exist in `table` (accounts or contacts),
    /// answered from the cache where possible and from the database otherwise.
    async fn existing(
        &self,
        want: HashSet<String>,
        table: &'static str,
        accounts: bool,
    ) -> Result<HashSet<String>, StoreError> {
        let (mut found, misses) = self.known_ids().split_known(want, accounts);
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
        self.known_ids().add(accounts, &fetched);
        found.extend(fetched);
        Ok(found)
    }
}

impl KnownIds {
    /// `want` split into the ids known to exist and the others.
    pub(crate) fn split_known(
        &self,
        want: HashSet<String>,
        accounts: bool,
    ) -> (HashSet<String>, Vec<String>) {
        let cache = if accounts {
            &self.accounts
        } else {
            &self.contacts
        };
        let mut found = HashSet::new();
        let mut misses = Vec::new();
        for id in want {
            if cache.contains(&id) {
                found.insert(id);
            } else {
                misses.push(id);
            }
        }
        (found, misses)
    }

    /// Records ids found in the database.
    pub(crate) fn add(&mut self, accounts: bool, ids: &[String]) {
        let cache = if accounts {
            &mut self.accounts
        } else {
            &mut self.contacts
        };
        cache.extend(ids.iter().cloned());
    }

    /// Records the ids of a committed batch.
    pub(crate) fn extend(&mut self, accounts: Vec<String>, contacts: Vec<String>) {
        self.accounts.extend(accounts);
        self.contacts.extend(contacts);
    }
}

/// [`Store::ingest_with_sentiment`] for an SQLite file, blocking the calling
/// thread (see [`Store::sqlite_batch_writer`]). Batches sent through clones
/// of one store are written one at a time.
#[derive(Debug, Clone)]
pub struct SqliteBatchWriter {
    conn: std::sync::Arc<std::sync::Mutex<rusqlite::Connection>>,
    known: std::sync::Arc<std::sync::Mutex<KnownIds>>,
}

impl SqliteBatchWriter {
    /// Validates, checks references and writes one batch in one transaction,
    /// exactly as [`Store::ingest_with_sentiment`] does.
    pub fn ingest(
        &self,
        records: Vec<(usize, Record)>,
        sentiment: Option<BatchSentiment>,
    ) -> Result<BatchOutcome, StoreError> {
        let s = Split::new(records, sentiment);
        crate::sqlite_ingest::ingest(&self.conn, &self.known, s)
    }
}

/// Scores the [`scored_text`] of every record of a batch.
pub fn score_batch(scorer: &dyn TextScorer, records: &[(usize, Record)]) -> BatchSentiment {
    let _p = tracing::info_span!("ingest::score", n = records.len()).entered();
    BatchSentiment {
        model: scorer.version().to_string(),
        scores: records
            .iter()
            .map(|(_, r)| scored_text(r).and_then(|t| scorer.score(&t)))
            .collect(),
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
    use pulse_core::{Channel, Column, ColumnType, Persona, Segment, Sentiment};

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
            deleted_at: None,
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
    pub(crate) struct WordScorer;

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

    /// One column of a table as the migrations leave it.
    #[derive(Debug, Clone, PartialEq)]
    struct TableColumn {
        name: String,
        /// Upper case, as written (`TEXT`, `BIGINT`, `DOUBLE PRECISION`).
        sql_type: String,
        nullable: bool,
    }

    #[derive(Debug, Default)]
    struct Table {
        columns: Vec<TableColumn>,
        primary_key: Vec<String>,
    }

    /// `s` split at the commas outside parentheses.
    fn split_top_level(s: &str) -> Vec<&str> {
        let (mut out, mut depth, mut start) = (Vec::new(), 0, 0);
        for (i, c) in s.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(s[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(s[start..].trim());
        out
    }

    fn column_def(def: &str) -> (TableColumn, bool) {
        let upper = def.to_ascii_uppercase();
        let mut words = upper.split_whitespace();
        let name = words.next().expect("a column name").to_ascii_lowercase();
        let keywords = [
            "NOT",
            "NULL",
            "PRIMARY",
            "DEFAULT",
            "REFERENCES",
            "UNIQUE",
            "CHECK",
        ];
        let sql_type: Vec<&str> = words.take_while(|w| !keywords.contains(w)).collect();
        let primary = upper.contains("PRIMARY KEY");
        let column = TableColumn {
            name,
            sql_type: sql_type.join(" "),
            nullable: !(upper.contains("NOT NULL") || primary),
        };
        (column, primary)
    }

    /// Every table the migrations of one backend create, as they leave it
    /// (`CREATE TABLE`, then `ALTER TABLE .. ADD / DROP / RENAME COLUMN`
    /// and `ALTER COLUMN .. TYPE`; `ALTER COLUMN .. SET COMPRESSION` and a
    /// collation change no column's type).
    fn migrated_tables(backend: &str) -> HashMap<String, Table> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "sql"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{}", dir.display());
        let mut tables: HashMap<String, Table> = HashMap::new();
        for file in files {
            let text: String = std::fs::read_to_string(&file)
                .unwrap()
                .lines()
                .map(|l| l.split("--").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            for stmt in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
                let words: Vec<&str> = stmt.split_whitespace().collect();
                let head: Vec<String> = words
                    .iter()
                    .take(2)
                    .map(|w| w.to_ascii_uppercase())
                    .collect();
                if head == ["CREATE", "TABLE"] {
                    let name = words[2].trim_end_matches('(').to_ascii_lowercase();
                    let open = stmt.find('(').expect("a column list");
                    let close = stmt.rfind(')').expect("a column list");
                    let mut t = Table::default();
                    for def in split_top_level(&stmt[open + 1..close]) {
                        let upper = def.to_ascii_uppercase();
                        if let Some(cols) = upper.strip_prefix("PRIMARY KEY") {
                            let cols = cols.trim().trim_start_matches('(').trim_end_matches(')');
                            t.primary_key = cols
                                .split(',')
                                .map(|c| c.trim().to_ascii_lowercase())
                                .collect();
                        } else if !["UNIQUE", "CONSTRAINT", "FOREIGN", "CHECK"]
                            .iter()
                            .any(|k| upper.starts_with(k))
                        {
                            let (column, primary) = column_def(def);
                            if primary {
                                t.primary_key = vec![column.name.clone()];
                            }
                            t.columns.push(column);
                        }
                    }
                    tables.insert(name, t);
                } else if head == ["DROP", "TABLE"] {
                    tables.remove(&words[2].to_ascii_lowercase());
                } else if head == ["ALTER", "TABLE"]
                    && words.len() == 6
                    && words[3].eq_ignore_ascii_case("RENAME")
                    && words[4].eq_ignore_ascii_case("TO")
                {
                    // A table renamed (a table rebuilt under a new name).
                    let t = tables
                        .remove(&words[2].to_ascii_lowercase())
                        .expect("ALTER TABLE of a created table");
                    tables.insert(words[5].to_ascii_lowercase(), t);
                } else if head == ["ALTER", "TABLE"] {
                    let name = words[2].to_ascii_lowercase();
                    let t = tables
                        .get_mut(&name)
                        .expect("ALTER TABLE of a created table");
                    let action = words[3].to_ascii_uppercase();
                    let rest: Vec<&str> = words[4..]
                        .iter()
                        .copied()
                        .skip_while(|w| w.eq_ignore_ascii_case("COLUMN"))
                        .collect();
                    match action.as_str() {
                        "ADD" => t.columns.push(column_def(&rest.join(" ")).0),
                        "DROP" => {
                            let gone = rest[0].to_ascii_lowercase();
                            t.columns.retain(|c| c.name != gone);
                        }
                        "RENAME" if rest.len() == 3 && rest[1].eq_ignore_ascii_case("TO") => {
                            let (from, to) =
                                (rest[0].to_ascii_lowercase(), rest[2].to_ascii_lowercase());
                            for c in &mut t.columns {
                                if c.name == from {
                                    c.name = to.clone();
                                }
                            }
                        }
                        // How a column's values are stored (PostgreSQL's
                        // compression), not what it holds.
                        "ALTER"
                            if rest.len() >= 3
                                && rest[1].eq_ignore_ascii_case("SET")
                                && ["COMPRESSION", "STORAGE"]
                                    .iter()
                                    .any(|k| rest[2].eq_ignore_ascii_case(k)) => {}
                        // A column's collation (how its values compare),
                        // not what it holds: the type is read up to it.
                        "ALTER" if rest.len() >= 3 && rest[1].eq_ignore_ascii_case("TYPE") => {
                            let name = rest[0].to_ascii_lowercase();
                            let ty: Vec<String> = rest[2..]
                                .iter()
                                .take_while(|w| !w.eq_ignore_ascii_case("COLLATE"))
                                .map(|w| w.to_ascii_uppercase())
                                .collect();
                            let c = t
                                .columns
                                .iter_mut()
                                .find(|c| c.name == name)
                                .unwrap_or_else(|| panic!("{}: no column {name}", file.display()));
                            c.sql_type = ty.join(" ");
                        }
                        _ => panic!("{}: this test does not read '{stmt}'", file.display()),
                    }
                }
            }
        }
        tables
    }

    /// An entity table with the widest row written to it: its key and every
    /// column that row writes.
    struct Written {
        table: &'static str,
        key: &'static [&'static str],
        columns: Vec<Column>,
    }

    fn plain<T: Row + Columns>() -> Written {
        assert_eq!(T::COLS, T::STORED_COLUMNS);
        Written {
            table: T::TABLE,
            key: T::KEY,
            columns: T::COLUMN_DEFS.to_vec(),
        }
    }

    /// An entity's columns, then the sentiment columns of a scored row.
    fn scored<T: Row + Columns>() -> Written
    where
        Scored<T>: Row,
    {
        let mut w = plain::<T>();
        let sentiment = |name, ty| Column {
            name,
            stored: name,
            ty,
            optional: true,
            value: pulse_core::ValueKind::Text,
            required: false,
        };
        w.columns.extend([
            sentiment("sentiment_score", ColumnType::Real),
            sentiment("sentiment_label", ColumnType::Text),
            sentiment("sentiment_model", ColumnType::Text),
        ]);
        let names: Vec<&str> = w.columns.iter().map(|c| c.stored).collect();
        assert_eq!(<Scored<T> as Row>::COLS, names);
        assert_eq!(<Scored<T> as Row>::TABLE, T::TABLE);
        w
    }

    /// Every entity's column list (names, types, optionality, key) against
    /// the tables both backends' migrations create: a column added to an
    /// entity and not to a migration, or the other way round, fails here.
    #[test]
    fn a_batch_waits_for_an_earlier_one_it_shares_a_key_with_or_refers_to() {
        let contact = |id: &str, account: &str| Contact {
            id: id.into(),
            account_id: account.into(),
            name: "Ana".into(),
            persona: Persona::Admin,
            relationship_strength: 3,
            sentiment: Sentiment::Neutral,
            active: true,
            observed_at: 1_700_000_000,
            deleted_at: None,
        };
        let batch = |records: Vec<Record>| {
            PreparedBatch::new(records.into_iter().enumerate().collect(), None)
        };
        let i1 = batch(vec![
            Record::Interaction(interaction("i-1", "a-1")),
            Record::Interaction(interaction("i-2", "a-1")),
        ]);
        let i1_again = batch(vec![Record::Interaction(interaction("i-1", "a-1"))]);
        let others = batch(vec![Record::Interaction(interaction("i-3", "a-2"))]);
        assert!(i1_again.waits_for(&i1.keys()));
        assert!(!others.waits_for(&i1.keys()));
        // The same id in another table is another record.
        let account_i1 = batch(vec![Record::Account(account("i-1"))]);
        assert!(!account_i1.waits_for(&i1.keys()));
        // Records referring to what an earlier batch adds wait for it.
        let adds = batch(vec![
            Record::Account(account("a-7")),
            Record::Contact(contact("c-7", "a-7")),
        ]);
        let mut by_c7 = interaction("i-9", "a-1");
        by_c7.contact_id = Some("c-7".into());
        assert!(batch(vec![Record::Interaction(by_c7)]).waits_for(&adds.keys()));
        assert!(
            batch(vec![Record::Interaction(interaction("i-9", "a-7"))]).waits_for(&adds.keys())
        );
        assert!(
            !batch(vec![Record::Interaction(interaction("i-9", "a-1"))]).waits_for(&adds.keys())
        );
        // A batch that only adds records others refer to, after one that
        // refers to them, does not wait.
        assert!(!adds.waits_for(&others.keys()));
    }

    #[test]
    fn entity_columns_match_both_migrations() {
        let sql_type = |backend: &str, ty: ColumnType| match (backend, ty) {
            (_, ColumnType::Text) => "TEXT",
            (_, ColumnType::Bool) => "BOOLEAN",
            ("sqlite", ColumnType::Int) => "INTEGER",
            ("sqlite", ColumnType::Real) => "REAL",
            (_, ColumnType::Int) => "BIGINT",
            (_, ColumnType::Real) => "DOUBLE PRECISION",
        };
        let entities = [
            plain::<Account>(),
            plain::<Contact>(),
            scored::<Interaction>(),
            plain::<Usage>(),
            plain::<SubscriptionEvent>(),
            scored::<SurveyResponse>(),
            plain::<OperationalEvent>(),
            plain::<Outreach>(),
        ];
        assert_eq!(entities.len(), EntityKind::ALL.len());
        for backend in ["sqlite", "postgres"] {
            let tables = migrated_tables(backend);
            for Written {
                table,
                key,
                columns,
            } in &entities
            {
                let t = tables
                    .get(*table)
                    .unwrap_or_else(|| panic!("{backend}: no table {table}"));
                let mut expected: Vec<TableColumn> = columns
                    .iter()
                    .map(|c| TableColumn {
                        name: c.stored.to_string(),
                        sql_type: sql_type(backend, c.ty).to_string(),
                        nullable: c.optional,
                    })
                    .collect();
                let mut found = t.columns.clone();
                let missing = |a: &[TableColumn], b: &[TableColumn]| -> Vec<String> {
                    a.iter()
                        .filter(|c| !b.iter().any(|d| d.name == c.name))
                        .map(|c| c.name.clone())
                        .collect()
                };
                let (only_table, only_entity) =
                    (missing(&found, &expected), missing(&expected, &found));
                assert!(
                    only_table.is_empty() && only_entity.is_empty(),
                    "{backend}: table {table} has columns {only_table:?} that its entity \
                     does not write, and lacks {only_entity:?}"
                );
                expected.sort_by(|a, b| a.name.cmp(&b.name));
                found.sort_by(|a, b| a.name.cmp(&b.name));
                for (f, e) in found.iter().zip(&expected) {
                    assert_eq!(f, e, "{backend}: {table}.{}", e.name);
                }
                let mut key: Vec<&str> = key.to_vec();
                let mut pk: Vec<&str> = t.primary_key.iter().map(String::as_str).collect();
                key.sort_unstable();
                pk.sort_unstable();
                assert_eq!(pk, key, "{backend}: primary key of {table}");
            }
        }
    }

    #[test]
    fn the_migration_reader_sees_what_it_should() {
        let t = &migrated_tables("postgres")["contacts"];
        assert_eq!(t.primary_key, ["id", "observed_at"]);
        assert_eq!(
            t.columns[7],
            TableColumn {
                name: "active".into(),
                sql_type: "BOOLEAN".into(),
                nullable: false,
            }
        );
        let (c, primary) = column_def("renewal_day BIGINT");
        assert!(c.nullable && !primary && c.sql_type == "BIGINT");
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
    async fn statistics_are_fresh_after_a_load() {
        for store in crate::test_stores("analyze_after_load").await {
            let records: Vec<(usize, Record)> = std::iter::once(Record::Account(account("a-1")))
                .chain((0..40).map(|i| Record::Interaction(interaction(&format!("i-{i}"), "a-1"))))
                .enumerate()
                .collect();
            let out = store.ingest(records).await.unwrap();
            assert!(out.rejected.is_empty(), "{:?}", out.rejected);
            store.analyze_after_load().await.unwrap();
            if let crate::Backend::Postgres(p) = &store.backend {
                // The planner's row count is the table's, not the "never
                // analysed" -1 a fresh table has.
                let (tuples,): (f32,) = sqlx::query_as(
                    "SELECT reltuples FROM pg_class WHERE oid = 'interactions'::regclass",
                )
                .fetch_one(p)
                .await
                .unwrap();
                assert_eq!(tuples, 40.0);
            }
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
            deleted_at: None,
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
            deleted_at: None,
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
    async fn text_and_numbers_are_stored_exactly() {
        for store in crate::test_stores("stored_exactly").await {
            stores_exactly(store).await;
        }
    }

    /// Every byte a bulk format could take for a delimiter or a NULL, and
    /// reals that only read back exactly when written in full.
    async fn stores_exactly(store: Store) {
        let mut a = account("a-\\N");
        a.name = "Tab\there, \\N, back\\slash".into();
        a.mrr = 1.0 / 3.0;
        let mut i = interaction("i-1", &a.id);
        i.subject = "\\N".into();
        i.body = "line one\r\nline two\n\ttabbed \\ and \\\\ Ünïcode ✓ \u{1f}".into();
        i.first_response_at = Some(1_700_000_060);
        i.escalated = true;
        let mut blank = interaction("i-2", &a.id);
        blank.subject = String::new();
        blank.csat = None;
        let out = store
            .ingest(vec![
                (0, Record::Account(a.clone())),
                (1, Record::Interaction(i.clone())),
                (2, Record::Interaction(blank.clone())),
            ])
            .await
            .unwrap();
        assert_eq!(
            (out.inserted, out.updated),
            (3, 0),
            "{}",
            store.backend_name()
        );
        let stored = store.account(&a.id).await.unwrap().unwrap();
        assert_eq!(stored.name, a.name, "{}", store.backend_name());
        assert_eq!(
            stored.mrr.to_bits(),
            a.mrr.to_bits(),
            "{}",
            store.backend_name()
        );
        type Stored = (String, String, String, Option<i64>, Option<i64>, bool);
        let rows: Vec<Stored> = on_backend!(store, p => {
            sqlx::query_as(
                "SELECT id, subject, body, first_response_at, csat, escalated \
                 FROM interactions ORDER BY id",
            )
            .fetch_all(p)
            .await
            .unwrap()
        });
        let want = |r: &Interaction| {
            (
                r.id.clone(),
                r.subject.clone(),
                r.body.clone(),
                r.first_response_at,
                r.csat,
                r.escalated,
            )
        };
        assert_eq!(
            rows,
            vec![want(&i), want(&blank)],
            "{}",
            store.backend_name()
        );
    }

    #[tokio::test]
    async fn new_records_before_stored_ones_in_one_batch() {
        for store in crate::test_stores("new_before_stored").await {
            new_before_stored(store).await;
        }
    }

    /// A batch whose stored record comes after new ones (PostgreSQL's copy
    /// straight into the table stops at it and the batch is upserted).
    async fn new_before_stored(store: Store) {
        let name = store.backend_name();
        store
            .ingest(vec![
                (0, Record::Account(account("a-1"))),
                (1, Record::Interaction(interaction("i-9", "a-1"))),
            ])
            .await
            .unwrap();
        let mut changed = interaction("i-9", "a-1");
        changed.csat = Some(1);
        let mut batch: Vec<(usize, Record)> = (0..50)
            .map(|n| {
                (
                    n,
                    Record::Interaction(interaction(&format!("i-{n:02}"), "a-1")),
                )
            })
            .collect();
        batch.push((50, Record::Interaction(changed)));
        let out = store.ingest(batch).await.unwrap();
        assert_eq!((out.inserted, out.updated), (50, 1), "{name}");
        assert_eq!(
            store.record_counts("a-1").await.unwrap().interactions,
            51,
            "{name}"
        );
        let h = store.load_histories(None).await.unwrap();
        let csat: Vec<Option<i64>> = h[0].interactions.iter().map(|i| i.csat).collect();
        assert_eq!(csat.len(), 51, "{name}");
        // i-9 changed; the others as first sent.
        assert_eq!(csat.iter().filter(|c| **c == Some(1)).count(), 1, "{name}");
        assert_eq!(csat.iter().filter(|c| **c == Some(4)).count(), 50, "{name}");
    }

    #[tokio::test]
    async fn a_batch_of_several_megabytes_with_a_stored_record_last_is_upserted_whole() {
        for store in crate::test_stores("megabyte_batches").await {
            several_megabytes(store).await;
        }
    }

    /// PostgreSQL sends a batch's `COPY` text a megabyte at a time as it is
    /// encoded: a key violation found after several chunks still upserts
    /// every row, delimiters in the text included.
    async fn several_megabytes(store: Store) {
        let name = store.backend_name();
        store
            .ingest(vec![
                (0, Record::Account(account("a-1"))),
                (1, Record::Interaction(interaction("i-99", "a-1"))),
            ])
            .await
            .unwrap();
        // 90 bodies of ~30 KB: about 2.7 MB of text, with a tab, a newline,
        // a carriage return and a backslash in each.
        let body = |n: usize| format!("{n}\tpayroll\nfailed\r\\{}", "x".repeat(30_000));
        let mut batch: Vec<(usize, Record)> = (0..90)
            .map(|n| {
                let mut i = interaction(&format!("i-{n:02}"), "a-1");
                i.body = body(n);
                (n, Record::Interaction(i))
            })
            .collect();
        let mut changed = interaction("i-99", "a-1");
        changed.csat = Some(1);
        changed.body = body(99);
        batch.push((90, Record::Interaction(changed)));
        let out = store.ingest(batch).await.unwrap();
        assert_eq!((out.inserted, out.updated), (90, 1), "{name}");
        let texts = store
            .texts_after(crate::TextSource::Interactions, None, 1_000)
            .await
            .unwrap();
        assert_eq!(texts.len(), 91, "{name}");
        for t in &texts {
            let n: usize = t.id[2..].parse().unwrap();
            assert_eq!(
                t.text,
                subject_and_body("Payroll", &body(n)),
                "{name} {}",
                t.id
            );
        }
        let h = store.load_histories(None).await.unwrap();
        let csat: Vec<Option<i64>> = h[0].interactions.iter().map(|i| i.csat).collect();
        assert_eq!(csat.iter().filter(|c| **c == Some(1)).count(), 1, "{name}");
        assert_eq!(csat.iter().filter(|c| **c == Some(4)).count(), 90, "{name}");
    }

    #[tokio::test]
    async fn postgres_leaves_a_row_sent_again_unchanged_as_it_is() {
        for store in crate::test_stores("unchanged_rows").await {
            let crate::Backend::Postgres(pool) = &store.backend else {
                continue;
            };
            let version = |id: &'static str| async move {
                let (v,): (String,) =
                    sqlx::query_as("SELECT xmin::text FROM interactions WHERE id = $1")
                        .bind(id)
                        .fetch_one(pool)
                        .await
                        .unwrap();
                v
            };
            let batch = || {
                vec![
                    (0, Record::Account(account("a-1"))),
                    (1, Record::Interaction(interaction("i-1", "a-1"))),
                    (2, Record::Interaction(interaction("i-2", "a-1"))),
                ]
            };
            store.ingest(batch()).await.unwrap();
            let (v1, v2) = (version("i-1").await, version("i-2").await);
            let mut next = batch();
            if let Record::Interaction(i) = &mut next[2].1 {
                i.csat = Some(2);
            }
            let out = store.ingest(next).await.unwrap();
            // Both re-sent rows count as updated; only the changed one is
            // written again.
            assert_eq!((out.inserted, out.updated), (0, 3));
            assert_eq!(version("i-1").await, v1);
            assert_ne!(version("i-2").await, v2);
            let h = store.load_histories(None).await.unwrap();
            let csat: Vec<Option<i64>> = h[0].interactions.iter().map(|i| i.csat).collect();
            assert!(
                csat.contains(&Some(2)) && csat.contains(&Some(4)),
                "{csat:?}"
            );
        }
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
        // A new key twice in one batch: inserted, then updated to the last copy.
        let mut second = interaction("i-2", "a-1");
        second.csat = Some(1);
        let twice = store
            .ingest(vec![
                (0, Record::Interaction(interaction("i-2", "a-1"))),
                (1, Record::Interaction(second)),
            ])
            .await
            .unwrap();
        assert_eq!(
            (twice.inserted, twice.updated),
            (1, 1),
            "{}",
            store.backend_name()
        );
        let h = store.load_histories(None).await.unwrap();
        let csats: Vec<Option<i64>> = h[0].interactions.iter().map(|i| i.csat).collect();
        assert_eq!(csats.len(), 2);
        assert!(csats.contains(&Some(1)), "{csats:?}");
        let counts = store.record_counts("a-1").await.unwrap();
        assert_eq!(counts.interactions, 2);
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
