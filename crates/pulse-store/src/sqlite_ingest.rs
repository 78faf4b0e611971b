//! Batch ingest into an SQLite file through rusqlite.
//!
//! sqlx hands every statement and its arguments to a worker thread, copying
//! each bound value, and a multi-row `INSERT` of ~2,000 rows is parsed anew
//! whenever its row count changes; with the "already stored?" look-up that
//! the upsert counts need, that was half of `pulse import`'s time. Here one
//! connection of the store's writes each batch in one `BEGIN IMMEDIATE`
//! transaction with two cached prepared statements per table:
//! `INSERT .. ON CONFLICT (key) DO NOTHING`, and when it changed no row (the
//! key is stored), `UPDATE .. WHERE key = ..` with the same bindings. So the
//! inserted and updated counts need no look-up, and a key repeated in the
//! batch is an insert then updates, as the deduplicating sqlx path counts
//! it. Reference checks, validation and rejections are the shared code of
//! `ingest.rs`, so both paths reject the same records for the same reasons.

use std::collections::HashSet;
use std::sync::Mutex;

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;
use crate::ingest::{BatchOutcome, Item, KnownIds, Row, Scored, SentimentCols, Split};
use crate::value::{Value, insert_one_sql, update_one_sql};

/// The connection [`ingest`] writes with: the same settings as the sqlx
/// pool's (the file is already in WAL mode, which is persistent).
pub(crate) fn open_writer(
    path: &std::path::Path,
    durability: crate::Durability,
) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let synchronous = match durability {
        crate::Durability::Full => "FULL",
        crate::Durability::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "cache_size", -65536i64)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Two statements for each of the ten row types, and the look-ups.
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Checks references and writes `s` in one transaction.
pub(crate) fn ingest(
    conn: &Mutex<Connection>,
    known: &Mutex<KnownIds>,
    mut s: Split,
) -> Result<BatchOutcome, StoreError> {
    let _p = tracing::info_span!("ingest::sqlite").entered();
    let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (want_accounts, want_contacts) = s.wanted();
    let accounts_ok = existing(&tx, known, want_accounts, true)?;
    let contacts_ok = existing(&tx, known, want_contacts, false)?;
    s.check_refs(&accounts_ok, &contacts_ok);
    let (new_accounts, new_contacts) = s.new_ids();
    let mut out = std::mem::take(&mut s.out);
    let model = s.model.take();
    let mut w = Writer {
        conn: &tx,
        values: Vec::new(),
        out: &mut out,
    };
    // Straight from the batch, in position order: no copy of the records.
    w.write(s.accounts.into_iter().map(|i| i.rec))?;
    w.write(s.contacts.into_iter().map(|i| i.rec))?;
    match model.as_deref() {
        None => w.write(s.interactions.into_iter().map(|i| i.rec))?,
        Some(m) => w.write(s.interactions.into_iter().map(|i| scored(i, m)))?,
    }
    w.write(s.usage.into_iter().map(|i| i.rec))?;
    w.write(s.subscriptions.into_iter().map(|i| i.rec))?;
    match model.as_deref() {
        None => w.write(s.surveys.into_iter().map(|i| i.rec))?,
        Some(m) => w.write(s.surveys.into_iter().map(|i| scored(i, m)))?,
    }
    w.write(s.operational.into_iter().map(|i| i.rec))?;
    w.write(s.outreach.into_iter().map(|i| i.rec))?;
    tx.commit()?;
    known
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend(new_accounts, new_contacts);
    Ok(out)
}

/// A record of a scored batch with its sentiment columns.
fn scored<T>(i: Item<T>, model: &str) -> Scored<T> {
    Scored(i.rec, SentimentCols::new(i.score, model))
}

/// The ids among `want` that exist (accounts, or contacts), from the cache
/// of known ids or else one indexed look-up each.
fn existing(
    conn: &Connection,
    known: &Mutex<KnownIds>,
    want: HashSet<String>,
    accounts: bool,
) -> Result<HashSet<String>, StoreError> {
    let (mut found, misses) = known
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .split_known(want, accounts);
    if misses.is_empty() {
        return Ok(found);
    }
    let table = if accounts { "accounts" } else { "contacts" };
    let mut stmt = conn.prepare_cached(&format!("SELECT 1 FROM {table} WHERE id = ?1 LIMIT 1"))?;
    let mut fetched = Vec::new();
    for id in misses {
        if stmt.exists([id.as_str()])? {
            fetched.push(id);
        }
    }
    known
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .add(accounts, &fetched);
    found.extend(fetched);
    Ok(found)
}

/// Writes rows with cached statements, counting inserts and updates.
struct Writer<'a> {
    conn: &'a Connection,
    /// One row's values, reused.
    values: Vec<Value>,
    out: &'a mut BatchOutcome,
}

impl Writer<'_> {
    /// Upserts `rows` one by one: a repeated key is an update of the copy
    /// written before it.
    fn write<T: Row>(&mut self, rows: impl ExactSizeIterator<Item = T>) -> Result<(), StoreError> {
        if rows.len() == 0 {
            return Ok(());
        }
        let mut insert = self
            .conn
            .prepare_cached(&insert_one_sql(T::TABLE, T::COLS, T::KEY))?;
        let mut update = self
            .conn
            .prepare_cached(&update_one_sql(T::TABLE, T::COLS, T::KEY))?;
        let values = &mut self.values;
        for r in rows {
            values.clear();
            r.push_values(values);
            for (i, v) in values.iter().enumerate() {
                insert.raw_bind_parameter(i + 1, v)?;
            }
            if insert.raw_execute()? == 1 {
                self.out.inserted += 1;
            } else {
                for (i, v) in values.iter().enumerate() {
                    update.raw_bind_parameter(i + 1, v)?;
                }
                update.raw_execute()?;
                self.out.updated += 1;
            }
        }
        values.clear();
        Ok(())
    }
}
