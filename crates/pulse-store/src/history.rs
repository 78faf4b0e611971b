//! Loading every account's history in bulk, for point-in-time features and
//! training.
//!
//! One query per table, ordered by account then time, streamed row by row and
//! grouped by account. Free text is never selected: not an interaction's
//! subject or body, a survey comment, a subscription event's plan or reason,
//! nor an operational event's detail. Outreach is not read at all (see
//! `pulse_features`: the retention loop must not score its own actions).
//!
//! Events at the same instant: subscription events and survey answers are
//! ordered by id as well, because features read "the latest" of them (MRR,
//! NPS). For the other tables every feature is a count, a mean or a per-id
//! latest, which do not depend on that order, and leaving `id` out of their
//! `ORDER BY` lets SQLite read them straight off the `(account_id, time)`
//! index instead of sorting millions of rows.
//!
//! Two drivers run the same SQL text and the same row decoding ([`Cols`]):
//! - an SQLite file is read with `rusqlite`, one read-only connection and
//!   thread per table. sqlx copies every value out of SQLite (a `malloc` per
//!   column) and hands rows across threads, which costs ~1.6 us per usage row:
//!   36 s for the 8.9 million events of a 50,000-account base, against about
//!   3 s here;
//! - PostgreSQL (and in-memory SQLite, which another connection cannot see)
//!   go through sqlx, the six tables concurrently on pool connections.
//!
//! The tables are read on separate connections, so a load that overlaps an
//! ingest may see some tables before and others after that ingest's commit.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures::TryStreamExt;
use pulse_core::time::{Day, Ts, day_of_ts};
use pulse_features::{
    AccountHistory, ContactFact, Deleted, InteractionFact, OpKind, OperationalFact,
    SubscriptionFact, SurveyFact, UsageFact,
};

use crate::read::AccountFilter;
use crate::{Store, StoreError};

/// Typed access to the columns of a result row, whichever driver read it
/// (also how `read.rs` reads whole entities).
pub(crate) trait Cols {
    fn text(&self, i: usize) -> Result<&str, StoreError>;
    fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError>;
    fn int(&self, i: usize) -> Result<i64, StoreError>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError>;
    fn real(&self, i: usize) -> Result<f64, StoreError>;
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError>;
    fn boolean(&self, i: usize) -> Result<bool, StoreError>;
}

macro_rules! sqlx_cols {
    ($row:ty) => {
        impl Cols for $row {
            fn text(&self, i: usize) -> Result<&str, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn int(&self, i: usize) -> Result<i64, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn real(&self, i: usize) -> Result<f64, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
            fn boolean(&self, i: usize) -> Result<bool, StoreError> {
                Ok(sqlx::Row::try_get(self, i)?)
            }
        }
    };
}
sqlx_cols!(sqlx::sqlite::SqliteRow);
sqlx_cols!(sqlx::postgres::PgRow);

impl Cols for rusqlite::Row<'_> {
    fn text(&self, i: usize) -> Result<&str, StoreError> {
        Ok(self.get_ref(i)?.as_str().map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<&str>, StoreError> {
        match self.get_ref(i)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            _ => self.text(i).map(Some),
        }
    }
    fn int(&self, i: usize) -> Result<i64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn real(&self, i: usize) -> Result<f64, StoreError> {
        Ok(self.get(i)?)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.get(i)?)
    }
    fn boolean(&self, i: usize) -> Result<bool, StoreError> {
        Ok(self.get(i)?)
    }
}

fn corrupt(table: &'static str, account_id: &str, reason: String) -> StoreError {
    StoreError::corrupt(table, account_id, reason)
}

/// One table's query and row decoding. Column 0 is always `account_id`;
/// `$1` is the cut-off (an instant, or a day when `BY_DAY`).
trait Fact: Sized + Send {
    const TABLE: &'static str;
    const SQL: &'static str;
    const BY_DAY: bool = false;
    /// The column of `deleted_at`, for records a source can delete.
    const DELETED_AT: Option<usize> = None;
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError>;
    /// Files a fact deleted at `at` with its account's deleted facts.
    fn file_deleted(self, _at: Ts, _d: &mut Deleted) {}
}

/// The `Fact` items of a table whose records a source can delete.
macro_rules! deletable {
    ($col:expr, $list:ident) => {
        const DELETED_AT: Option<usize> = Some($col);
        fn file_deleted(self, at: Ts, d: &mut Deleted) {
            d.$list.push((self, at));
        }
    };
}

impl Fact for ContactFact {
    const TABLE: &'static str = "contacts";
    deletable!(7, contacts);
    const SQL: &'static str = "SELECT account_id, id, persona, relationship_strength, sentiment, \
        active, observed_at, deleted_at FROM contacts WHERE observed_at <= $1 \
        ORDER BY account_id, observed_at";
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError> {
        Ok(ContactFact {
            contact_id: r.text(1)?.into(),
            persona: r
                .text(2)?
                .parse()
                .map_err(|e| corrupt(Self::TABLE, account, e))?,
            relationship_strength: r.int(3)?,
            sentiment: r
                .text(4)?
                .parse()
                .map_err(|e| corrupt(Self::TABLE, account, e))?,
            active: r.boolean(5)?,
            observed_at: r.int(6)?,
        })
    }
}

impl Fact for InteractionFact {
    const TABLE: &'static str = "interactions";
    deletable!(12, interactions);
    const SQL: &'static str = "SELECT account_id, channel, topic, opened_at, first_response_at, \
        resolved_at, escalated, reopened, contacts_to_resolve, csat, sentiment_score, contact_id, \
        deleted_at FROM interactions WHERE opened_at <= $1 ORDER BY account_id, opened_at";
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError> {
        Ok(InteractionFact {
            channel: r
                .text(1)?
                .parse()
                .map_err(|e| corrupt(Self::TABLE, account, e))?,
            topic: r.text(2)?.into(),
            opened_at: r.int(3)?,
            first_response_at: r.opt_int(4)?,
            resolved_at: r.opt_int(5)?,
            escalated: r.boolean(6)?,
            reopened: r.boolean(7)?,
            contacts_to_resolve: r.int(8)?,
            csat: r.opt_int(9)?,
            sentiment: r.opt_real(10)?.map(|s| s as f32),
            contact_id: r.opt_text(11)?.map(Into::into),
        })
    }
}

impl Fact for UsageFact {
    const TABLE: &'static str = "usage";
    const SQL: &'static str = "SELECT account_id, day, period_days, active_users, logins, \
        features_used FROM usage WHERE day <= $1 ORDER BY account_id, day";
    const BY_DAY: bool = true;
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError> {
        let day = r.int(1)?;
        Ok(UsageFact {
            day: Day::try_from(day)
                .map_err(|_| corrupt(Self::TABLE, account, format!("day {day} out of range")))?,
            period_days: r.int(2)?,
            active_users: r.int(3)?,
            logins: r.int(4)?,
            features_used: r.int(5)?,
        })
    }
}

impl Fact for SubscriptionFact {
    const TABLE: &'static str = "subscription_events";
    deletable!(7, subscriptions);
    const SQL: &'static str = "SELECT account_id, kind, occurred_at, mrr_before, mrr_after, \
        seats_before, seats_after, deleted_at FROM subscription_events WHERE occurred_at <= $1 \
        ORDER BY account_id, occurred_at, id";
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError> {
        Ok(SubscriptionFact {
            kind: r
                .text(1)?
                .parse()
                .map_err(|e| corrupt(Self::TABLE, account, e))?,
            occurred_at: r.int(2)?,
            mrr_before: r.real(3)?,
            mrr_after: r.real(4)?,
            seats_before: r.opt_int(5)?,
            seats_after: r.opt_int(6)?,
        })
    }
}

impl Fact for SurveyFact {
    const TABLE: &'static str = "survey_responses";
    deletable!(5, surveys);
    const SQL: &'static str = "SELECT account_id, kind, score, responded_at, sentiment_score, \
        deleted_at FROM survey_responses WHERE responded_at <= $1 \
        ORDER BY account_id, responded_at, id";
    fn decode(r: &impl Cols, account: &str) -> Result<Self, StoreError> {
        Ok(SurveyFact {
            kind: r
                .text(1)?
                .parse()
                .map_err(|e| corrupt(Self::TABLE, account, e))?,
            score: r.int(2)?,
            responded_at: r.int(3)?,
            sentiment: r.opt_real(4)?.map(|s| s as f32),
        })
    }
}

impl Fact for OperationalFact {
    const TABLE: &'static str = "operational_events";
    deletable!(3, operational);
    const SQL: &'static str = "SELECT account_id, kind, occurred_at, deleted_at FROM operational_events \
        WHERE occurred_at <= $1 ORDER BY account_id, occurred_at";
    fn decode(r: &impl Cols, _account: &str) -> Result<Self, StoreError> {
        Ok(OperationalFact {
            kind: OpKind::parse(r.text(1)?),
            occurred_at: r.int(2)?,
        })
    }
}

/// Rows of one table, grouped by the index of their account.
struct Grouped<'a, T> {
    index: &'a HashMap<String, usize>,
    by_account: Vec<Vec<T>>,
    /// The account of the previous row: rows come grouped by account, so the
    /// hash lookup runs once per account and table.
    last: Option<(String, Option<usize>)>,
    /// The rows of the account being read. They move into that account's
    /// list, sized exactly, when its rows end: growing every list by
    /// doubling left up to half of each unused and, at 50,000 accounts,
    /// most of a weekly step's peak memory in freed, fragmented blocks.
    pending: Vec<T>,
    /// Rows deleted at their source: `(account index, fact, deleted at)`.
    /// Few or none, so kept apart from the per-account lists.
    deleted: Vec<(usize, T, Ts)>,
    orphans: u64,
    started: std::time::Instant,
}

/// One table's rows per account, and its rows deleted at their source.
type Table<T> = (Vec<Vec<T>>, Vec<(usize, T, Ts)>);

impl<'a, T: Fact> Grouped<'a, T> {
    fn new(index: &'a HashMap<String, usize>) -> Self {
        Grouped {
            index,
            by_account: (0..index.len()).map(|_| Vec::new()).collect(),
            last: None,
            pending: Vec::new(),
            deleted: Vec::new(),
            orphans: 0,
            started: std::time::Instant::now(),
        }
    }

    fn push_row(&mut self, r: &impl Cols) -> Result<(), StoreError> {
        let account = r.text(0)?;
        let i = match &self.last {
            Some((id, i)) if id == account => *i,
            _ => {
                self.flush();
                let i = self.index.get(account).copied();
                self.last = Some((account.to_string(), i));
                i
            }
        };
        let deleted = match T::DELETED_AT {
            Some(col) => r.opt_int(col)?,
            None => None,
        };
        match (i, deleted) {
            (Some(_), None) => self.pending.push(T::decode(r, account)?),
            (Some(i), Some(at)) => self.deleted.push((i, T::decode(r, account)?, at)),
            // Ingest checks references, so this is a row whose account was
            // removed behind Pulse's back; it cannot belong to any history.
            (None, _) => self.orphans += 1,
        }
        Ok(())
    }

    /// Moves the pending rows into their account's list.
    fn flush(&mut self) {
        if let Some((_, Some(i))) = &self.last {
            let list = &mut self.by_account[*i];
            list.reserve_exact(self.pending.len());
            list.append(&mut self.pending);
        }
    }

    fn finish(mut self) -> Table<T> {
        self.flush();
        tracing::debug!(
            table = T::TABLE,
            rows = self.by_account.iter().map(Vec::len).sum::<usize>(),
            deleted = self.deleted.len(),
            seconds = self.started.elapsed().as_secs_f64(),
            "table loaded"
        );
        if self.orphans > 0 {
            tracing::warn!(
                table = T::TABLE,
                rows = self.orphans,
                "rows whose account does not exist were skipped"
            );
        }
        (self.by_account, self.deleted)
    }
}

/// The cut-off bound to `$1`.
#[derive(Debug, Clone, Copy)]
struct Until {
    ts: Ts,
    day: i64,
}

impl Until {
    fn bound<T: Fact>(self) -> i64 {
        if T::BY_DAY { self.day } else { self.ts }
    }
}

/// The six event tables, each grouped by account.
type Parts = (
    Table<ContactFact>,
    Table<InteractionFact>,
    Table<UsageFact>,
    Table<SubscriptionFact>,
    Table<SurveyFact>,
    Table<OperationalFact>,
);

/// A read-only connection. Memory mapping is off: mapped pages count in the
/// process's resident memory, and at 50,000 accounts they were half of a
/// weekly step's peak (1.73 GB with the file mapped, 0.89 GB without, for
/// `pulse forecast`), against about 5% more wall time without it.
fn open_read_only(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.pragma_update(None, "mmap_size", 0i64)?;
    Ok(conn)
}

/// Every account, in id order, through rusqlite.
fn read_file_accounts(path: &Path) -> Result<Vec<pulse_core::Account>, StoreError> {
    let conn = open_read_only(path)?;
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM accounts ORDER BY id",
        crate::read::select_list::<pulse_core::Account>("")
    ))?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(crate::read::entity_of(r)?);
    }
    Ok(out)
}

/// One table through rusqlite, on a read-only connection of its own.
fn read_file_table<T: Fact>(
    path: &Path,
    index: &HashMap<String, usize>,
    until: Until,
) -> Result<Table<T>, StoreError> {
    let conn = open_read_only(path)?;
    let mut stmt = conn.prepare(T::SQL)?;
    let mut rows = stmt.query([until.bound::<T>()])?;
    let mut g = Grouped::<T>::new(index);
    while let Some(r) = rows.next()? {
        g.push_row(r)?;
    }
    Ok(g.finish())
}

/// Every table of an SQLite file, one thread each.
fn read_file(
    path: &Path,
    index: &HashMap<String, usize>,
    until: Until,
) -> Result<Parts, StoreError> {
    std::thread::scope(|s| {
        let c = s.spawn(|| read_file_table::<ContactFact>(path, index, until));
        let i = s.spawn(|| read_file_table::<InteractionFact>(path, index, until));
        let u = s.spawn(|| read_file_table::<UsageFact>(path, index, until));
        let e = s.spawn(|| read_file_table::<SubscriptionFact>(path, index, until));
        let v = s.spawn(|| read_file_table::<SurveyFact>(path, index, until));
        let o = s.spawn(|| read_file_table::<OperationalFact>(path, index, until));
        fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
            match h.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok((join(c)?, join(i)?, join(u)?, join(e)?, join(v)?, join(o)?))
    })
}

impl Store {
    /// One table through sqlx.
    async fn read_table<T: Fact>(
        &self,
        index: &HashMap<String, usize>,
        until: Until,
    ) -> Result<Table<T>, StoreError> {
        let mut g = Grouped::<T>::new(index);
        match &self.backend {
            // PostgreSQL sends the rows as binary `COPY` output, decoded in
            // place (`pg_copy::BinaryRows`); `COPY` takes no parameters,
            // so the cut-off (an integer) is written into the query.
            crate::Backend::Postgres(p) => {
                let sql = format!(
                    "COPY ({}) TO STDOUT (FORMAT binary)",
                    T::SQL.replace("$1", &until.bound::<T>().to_string())
                );
                let mut conn = p.acquire().await?;
                let mut out = conn.copy_out_raw(&sql).await?;
                let mut rows = crate::pg_copy::BinaryRows::default();
                while let Some(chunk) = out.try_next().await? {
                    rows.push::<StoreError>(&chunk, |r| g.push_row(r))?;
                }
                if !rows.finished() {
                    return Err(StoreError::Load(format!(
                        "the rows of {} ended before COPY's trailer",
                        T::TABLE
                    )));
                }
            }
            crate::Backend::Sqlite(p) => {
                let mut rows = sqlx::query(T::SQL).bind(until.bound::<T>()).fetch(p);
                while let Some(r) = rows.try_next().await? {
                    g.push_row(&r)?;
                }
            }
        }
        Ok(g.finish())
    }

    /// Every account with all its events known at `until` (everything when
    /// `None`): contacts observed, interactions opened, subscription events,
    /// survey answers and operational events that occurred at or before
    /// `until`, and usage rows starting on or before its day. Accounts are in
    /// id order, each list sorted by time ([`AccountHistory::sort`]).
    ///
    /// Interactions and survey answers carry their stored sentiment score
    /// (`sentiment_score`, NULL until scored). Features read only what was
    /// known at their own as-of instant, so `until` only trims what is loaded;
    /// an interaction resolved after `until` keeps its resolution time, and
    /// the account row is its current one.
    #[tracing::instrument(skip_all, fields(until = ?until))]
    pub async fn load_histories(
        &self,
        until: Option<Ts>,
    ) -> Result<Vec<AccountHistory>, StoreError> {
        let until = Until {
            ts: until.unwrap_or(i64::MAX),
            day: until.map_or(i64::MAX, |t| i64::from(day_of_ts(t))),
        };
        let accounts = match &self.sqlite_file {
            Some(path) => {
                let path = path.clone();
                crate::on_thread("pulse-load-histories", move || read_file_accounts(&path)).await?
            }
            None => self.accounts(&AccountFilter::default()).await?,
        };
        let index: HashMap<String, usize> = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();

        let (contacts, interactions, usage, subscriptions, surveys, operational) =
            match &self.sqlite_file {
                Some(path) => {
                    let path = path.clone();
                    crate::on_thread("pulse-load-histories", move || {
                        read_file(&path, &index, until)
                    })
                    .await?
                }
                None => {
                    // Each table on a task of its own, so that decoding the
                    // rows runs on every core, not only the one polling.
                    let index = Arc::new(index);
                    fn spawn<T: Fact + Send + 'static>(
                        store: &Store,
                        index: &Arc<HashMap<String, usize>>,
                        until: Until,
                    ) -> tokio::task::JoinHandle<Result<Table<T>, StoreError>> {
                        let (store, index) = (store.clone(), index.clone());
                        tokio::spawn(async move { store.read_table::<T>(&index, until).await })
                    }
                    async fn join<T>(
                        h: tokio::task::JoinHandle<Result<T, StoreError>>,
                    ) -> Result<T, StoreError> {
                        h.await
                            .map_err(|e| StoreError::Load(format!("a table reader failed: {e}")))?
                    }
                    let c = spawn::<ContactFact>(self, &index, until);
                    let i = spawn::<InteractionFact>(self, &index, until);
                    let u = spawn::<UsageFact>(self, &index, until);
                    let s = spawn::<SubscriptionFact>(self, &index, until);
                    let v = spawn::<SurveyFact>(self, &index, until);
                    let o = spawn::<OperationalFact>(self, &index, until);
                    futures::try_join!(join(c), join(i), join(u), join(s), join(v), join(o))?
                }
            };

        let mut out = Vec::with_capacity(accounts.len());
        let (contacts, c_gone) = contacts;
        let (interactions, i_gone) = interactions;
        let (usage, _) = usage;
        let (subscriptions, s_gone) = subscriptions;
        let (surveys, v_gone) = surveys;
        let (operational, o_gone) = operational;
        let parts = contacts
            .into_iter()
            .zip(interactions)
            .zip(usage)
            .zip(subscriptions)
            .zip(surveys)
            .zip(operational);
        for (account, (((((c, i), u), s), v), o)) in accounts.into_iter().zip(parts) {
            let mut h = AccountHistory::new(account);
            h.contacts = c;
            h.interactions = i;
            h.usage = u;
            h.subscriptions = s;
            h.surveys = v;
            h.operational = o;
            // Nearly free: the rows came sorted; this makes it a guarantee.
            h.sort();
            out.push(h);
        }
        file_deleted(&mut out, c_gone);
        file_deleted(&mut out, i_gone);
        file_deleted(&mut out, s_gone);
        file_deleted(&mut out, v_gone);
        file_deleted(&mut out, o_gone);
        Ok(out)
    }
}

/// Files each deleted row with its account's deleted facts.
fn file_deleted<T: Fact>(hs: &mut [AccountHistory], rows: Vec<(usize, T, Ts)>) {
    for (i, fact, at) in rows {
        fact.file_deleted(at, hs[i].deleted_mut());
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::Record;
    use pulse_core::time::{Ts, day_of_ts, parse_day, ts_of_day};
    use pulse_features::{
        AccountHistory, ContactFact, InteractionFact, OperationalFact, SubscriptionFact,
        SurveyFact, UsageFact,
    };
    use pulse_synth::{SynthBase, SynthConfig, generate};

    use crate::Store;

    fn base() -> SynthBase {
        let end = parse_day("end", "2026-06-30").unwrap();
        generate(&SynthConfig::new(25, 8, 7, end))
    }

    /// A made-up model sentiment for every third scored record.
    fn sentiment(k: usize) -> Option<f64> {
        k.is_multiple_of(3).then(|| (k % 11) as f64 / 10.0 - 0.5)
    }

    async fn load_into(store: &Store, b: &SynthBase) {
        let mut records: Vec<Record> = Vec::new();
        records.extend(b.accounts.iter().cloned().map(Record::Account));
        records.extend(b.contacts.iter().cloned().map(Record::Contact));
        records.extend(b.interactions.iter().cloned().map(Record::Interaction));
        records.extend(b.usage.iter().cloned().map(Record::Usage));
        records.extend(b.subscriptions.iter().cloned().map(Record::Subscription));
        records.extend(b.surveys.iter().cloned().map(Record::Survey));
        records.extend(b.operational.iter().cloned().map(Record::Operational));
        let mut pos = 0;
        for chunk in records.chunks(3_000) {
            let batch: Vec<(usize, Record)> = chunk
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, r)| (pos + i, r))
                .collect();
            pos += chunk.len();
            let out = store.ingest(batch).await.unwrap();
            assert!(out.rejected.is_empty(), "{:?}", &out.rejected[..1]);
        }
        for (k, i) in b.interactions.iter().enumerate() {
            if let Some(s) = sentiment(k) {
                crate::on_backend!(store, p => sqlx::query("UPDATE interactions SET sentiment_score = $1 WHERE id = $2")
                    .bind(s).bind(&i.id).execute(p).await.map(|_| ()).unwrap());
            }
        }
        for (k, v) in b.surveys.iter().enumerate() {
            if let Some(s) = sentiment(k) {
                crate::on_backend!(store, p => sqlx::query("UPDATE survey_responses SET sentiment_score = $1 WHERE id = $2")
                    .bind(s).bind(&v.id).execute(p).await.map(|_| ()).unwrap());
            }
        }
    }

    /// Sorts `(time, id, fact)` triples and keeps the facts: the store's
    /// order for events at the same instant.
    fn ordered<T>(mut v: Vec<(i64, String, T)>) -> Vec<T> {
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v.into_iter().map(|(_, _, f)| f).collect()
    }

    /// The histories built straight from the generated rows, without a store.
    fn direct(b: &SynthBase, until: Ts) -> Vec<AccountHistory> {
        let until_day = day_of_ts(until);
        let mut accounts = b.accounts.clone();
        accounts.sort_by(|x, y| x.id.cmp(&y.id));
        let mut out = Vec::new();
        for a in accounts {
            let id = a.id.clone();
            let mut h = AccountHistory::new(a);
            h.contacts = ordered(
                b.contacts
                    .iter()
                    .filter(|c| c.account_id == id && c.observed_at <= until)
                    .map(|c| (c.observed_at, c.id.clone(), ContactFact::from(c)))
                    .collect(),
            );
            h.interactions = ordered(
                b.interactions
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| i.account_id == id && i.opened_at <= until)
                    .map(|(k, i)| {
                        let mut f = InteractionFact::from(i);
                        f.sentiment = sentiment(k).map(|s| s as f32);
                        (i.opened_at, i.id.clone(), f)
                    })
                    .collect(),
            );
            h.usage = ordered(
                b.usage
                    .iter()
                    .filter(|u| u.account_id == id && u.day <= until_day)
                    .map(|u| (i64::from(u.day), String::new(), UsageFact::from(u)))
                    .collect(),
            );
            h.subscriptions = ordered(
                b.subscriptions
                    .iter()
                    .filter(|e| e.account_id == id && e.occurred_at <= until)
                    .map(|e| (e.occurred_at, e.id.clone(), SubscriptionFact::from(e)))
                    .collect(),
            );
            h.surveys = ordered(
                b.surveys
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.account_id == id && s.responded_at <= until)
                    .map(|(k, s)| {
                        let mut f = SurveyFact::from(s);
                        f.sentiment = sentiment(k).map(|s| s as f32);
                        (s.responded_at, s.id.clone(), f)
                    })
                    .collect(),
            );
            h.operational = ordered(
                b.operational
                    .iter()
                    .filter(|e| e.account_id == id && e.occurred_at <= until)
                    .map(|e| (e.occurred_at, e.id.clone(), OperationalFact::from(e)))
                    .collect(),
            );
            assert!(h.is_sorted());
            out.push(h);
        }
        out
    }

    /// Events at the same instant come back in index order for the tables
    /// where no feature depends on it (see the module docs): order those by
    /// content on both sides.
    fn ties_by_content(h: &AccountHistory) -> AccountHistory {
        let mut h = h.clone();
        h.contacts
            .sort_by(|a, b| (a.observed_at, &a.contact_id).cmp(&(b.observed_at, &b.contact_id)));
        h.interactions
            .sort_by_cached_key(|i| (i.opened_at, format!("{i:?}")));
        h.operational
            .sort_by_cached_key(|e| (e.occurred_at, format!("{e:?}")));
        h
    }

    fn check_same(loaded: &[AccountHistory], want: &[AccountHistory]) {
        assert_eq!(loaded.len(), want.len());
        for (l, w) in loaded.iter().zip(want) {
            assert!(l.is_sorted());
            let (l, w) = (&ties_by_content(l), &ties_by_content(w));
            // Field by field, so a failure names the list that differs.
            assert_eq!(l.account, w.account);
            assert_eq!(l.contacts, w.contacts, "{}", w.account.id);
            assert_eq!(l.interactions, w.interactions, "{}", w.account.id);
            assert_eq!(l.usage, w.usage, "{}", w.account.id);
            assert_eq!(l.subscriptions, w.subscriptions, "{}", w.account.id);
            assert_eq!(l.surveys, w.surveys, "{}", w.account.id);
            assert_eq!(l.operational, w.operational, "{}", w.account.id);
        }
    }

    #[tokio::test]
    async fn histories_load_as_built_from_the_generated_rows() {
        let b = base();
        assert!(b.interactions.len() > 100 && b.surveys.len() > 10);
        let stores = crate::test_stores("load_histories").await;
        // An SQLite file is read through rusqlite, the others through sqlx.
        assert!(stores[1].sqlite_file.is_some());
        assert!(stores[0].sqlite_file.is_none());
        for store in stores {
            load_into(&store, &b).await;
            let all = store.load_histories(None).await.unwrap();
            check_same(&all, &direct(&b, i64::MAX));
            assert!(
                all.iter()
                    .flat_map(|h| &h.interactions)
                    .any(|i| i.sentiment.is_some())
            );
            assert!(
                all.iter()
                    .any(|h| !h.usage.is_empty() && !h.contacts.is_empty())
            );
            // Every list is allocated to its exact length (no doubling slack).
            for h in &all {
                assert_eq!(h.interactions.capacity(), h.interactions.len());
                assert_eq!(h.usage.capacity(), h.usage.len());
                assert_eq!(h.contacts.capacity(), h.contacts.len());
            }

            // Only what happened by `until`; every account is still there.
            let until = ts_of_day(parse_day("until", "2026-03-15").unwrap()) + 12 * 3600;
            let early = store.load_histories(Some(until)).await.unwrap();
            check_same(&early, &direct(&b, until));
            let n = |hs: &[AccountHistory]| -> usize {
                hs.iter()
                    .map(|h| h.interactions.len() + h.usage.len())
                    .sum()
            };
            assert!(n(&early) < n(&all) && n(&early) > 0);
        }
    }

    #[tokio::test]
    async fn records_deleted_at_their_source_load_apart_and_a_reimport_restores_them() {
        let b = base();
        let stores = crate::test_stores("deleted_at").await;
        for store in stores {
            let name = store.backend_name();
            load_into(&store, &b).await;
            let before = store.load_histories(None).await.unwrap();
            assert!(before.iter().all(|h| h.deleted.is_none()), "{name}");
            // One interaction, survey answer, contact, subscription and
            // operational event of one account, deleted at the source.
            let a = &b.accounts[0].id;
            let at = ts_of_day(parse_day("gone", "2026-05-01").unwrap());
            let mut marked: Vec<Record> = Vec::new();
            let first = |v: Vec<Record>| v.into_iter().next().expect("a record of the account");
            marked.push(first(
                b.interactions
                    .iter()
                    .filter(|r| &r.account_id == a)
                    .map(|r| {
                        Record::Interaction(pulse_core::Interaction {
                            deleted_at: Some(at),
                            ..r.clone()
                        })
                    })
                    .collect(),
            ));
            marked.push(first(
                b.contacts
                    .iter()
                    .filter(|r| &r.account_id == a)
                    .map(|r| {
                        Record::Contact(pulse_core::Contact {
                            deleted_at: Some(at),
                            ..r.clone()
                        })
                    })
                    .collect(),
            ));
            marked.push(first(
                b.subscriptions
                    .iter()
                    .filter(|r| &r.account_id == a)
                    .map(|r| {
                        Record::Subscription(pulse_core::SubscriptionEvent {
                            deleted_at: Some(at),
                            ..r.clone()
                        })
                    })
                    .collect(),
            ));
            let counts0 = store.record_counts(a).await.unwrap();
            let batch: Vec<(usize, Record)> = marked.iter().cloned().enumerate().collect();
            let out = store.ingest(batch).await.unwrap();
            assert_eq!((out.inserted, out.updated), (0, 3), "{name}");
            // The account page's counts leave the deleted records out.
            let counts1 = store.record_counts(a).await.unwrap();
            assert_eq!(counts1.interactions + 1, counts0.interactions, "{name}");
            assert_eq!(
                counts1.subscription_events + 1,
                counts0.subscription_events,
                "{name}"
            );
            assert!(counts1.contacts <= counts0.contacts, "{name}");
            assert_eq!(counts1.usage, counts0.usage, "{name}");
            let after = store.load_histories(None).await.unwrap();
            let (h0, h1) = (&before[0], &after[0]);
            assert_eq!(&h1.account.id, a);
            let d = h1.deleted.as_deref().expect("deleted facts");
            assert_eq!(
                (
                    d.interactions.len(),
                    d.contacts.len(),
                    d.subscriptions.len()
                ),
                (1, 1, 1),
                "{name}"
            );
            assert!(d.interactions.iter().all(|(_, t)| *t == at));
            assert_eq!(h1.interactions.len() + 1, h0.interactions.len(), "{name}");
            assert_eq!(h1.contacts.len() + 1, h0.contacts.len(), "{name}");
            assert_eq!(h1.subscriptions.len() + 1, h0.subscriptions.len(), "{name}");
            // The other accounts are untouched.
            assert_eq!(&after[1..], &before[1..], "{name}");
            // Before the deletion, features see the history as it was.
            let mut row0 = vec![0.0; pulse_features::n_features()];
            let mut row1 = row0.clone();
            pulse_features::compute(h0, at - 1, &mut row0);
            pulse_features::compute(h1, at - 1, &mut row1);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&row0), bits(&row1), "{name}");

            // The records exported again without the mark are restored.
            let restore: Vec<(usize, Record)> = marked
                .into_iter()
                .map(|r| match r {
                    Record::Interaction(i) => Record::Interaction(pulse_core::Interaction {
                        deleted_at: None,
                        ..i
                    }),
                    Record::Contact(c) => Record::Contact(pulse_core::Contact {
                        deleted_at: None,
                        ..c
                    }),
                    Record::Subscription(e) => {
                        Record::Subscription(pulse_core::SubscriptionEvent {
                            deleted_at: None,
                            ..e
                        })
                    }
                    other => other,
                })
                .enumerate()
                .collect();
            store.ingest(restore).await.unwrap();
            assert_eq!(store.record_counts(a).await.unwrap(), counts0, "{name}");
            let again = store.load_histories(None).await.unwrap();
            check_same(&again, &before);
            assert!(again[0].deleted.is_none(), "{name}");
        }
    }

    #[tokio::test]
    async fn an_empty_store_has_no_histories() {
        let store = Store::in_memory().await.unwrap();
        assert!(store.load_histories(None).await.unwrap().is_empty());
        let dir = tempfile::tempdir().unwrap();
        let file = format!("sqlite://{}", dir.path().join("empty.db").display());
        let store = Store::connect(&file).await.unwrap();
        assert!(store.load_histories(None).await.unwrap().is_empty());
    }
}
