//! Pulse's store: every table, on embedded SQLite (the default) or PostgreSQL.
//!
//! Both backends run the same SQL text (`$N` placeholders, which SQLite also
//! accepts; only the bulk statements write SQLite's positional `?`, see
//! `value::Params`) and the same migration numbering (`migrations/{sqlite,postgres}`);
//! a backend enum dispatches each call to the matching sqlx pool, so there is
//! no `Any` driver overhead on the bulk-import path. Dates are stored as day
//! numbers and instants as Unix seconds (`BIGINT`), see `pulse_core::time`.
//!
//! Architecture Invariant: this is the only crate that knows SQL. It returns
//! `pulse_core` types and knows nothing of protobuf, HTTP or files.

mod history;
mod ingest;
mod join_keys;
mod leases;
mod lists;
mod model_ops;
mod pg_copy;
mod privacy;
mod profile;
mod read;
mod scores;
mod sentiment;
mod sqlite_ingest;
mod tombstones;
mod train_jobs;
mod value;

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use ingest::{
    BatchKeys, BatchOutcome, BatchSentiment, DryRunIds, PreparedBatch, Rejected, SqliteBatchWriter,
    TextScore, score_batch, scored_text,
};
pub use join_keys::JoinKey;
pub use lists::{ListRow, ListRowFilter, ListRunInfo, ListWrite, NewListRun};
pub use model_ops::{DriftCheck, ModelDecision};
pub use privacy::{AuditEntry, ERASED_NAME, Erased};
pub use profile::InteractionView;
pub use read::{AccountFilter, ContactRelationship, RecordCounts, ScoredInteraction};
pub use scores::{NewScoreRun, ScoreRunInfo, StoredScore};
pub use sentiment::{RatedStoredText, StoredText, TextSource};
pub use tombstones::{Tombstone, TombstoneOutcome, deletable_table};
pub use train_jobs::TrainJobRecord;

/// Errors from the store. Database errors are internal: callers show them as
/// "internal error" and log them in full.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("loading histories failed: {0}")]
    Load(String),
    #[error("{0}")]
    Thread(String),
    /// Commits whose durability was deferred are not known to be on disk.
    #[error("{0}")]
    NotDurable(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database url '{url}': use sqlite://PATH or postgres://...")]
    UnsupportedUrl { url: String },
    #[error("stored {table} row '{id}' is corrupt: {reason}")]
    Corrupt {
        table: &'static str,
        id: String,
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn corrupt(table: &'static str, id: &str, reason: impl Into<String>) -> Self {
        StoreError::Corrupt {
            table,
            id: id.to_string(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same block against whichever pool the store has. The block is
/// compiled once per backend, so the SQL and the code are shared text.
macro_rules! on_backend {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite($pool) => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_backend;

/// How an SQLite commit reaches the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=FULL`: the write-ahead log is synced at every commit, so
    /// an acknowledged write survives a power failure. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: synced at checkpoints only; a power failure can
    /// lose the last commits (never corrupt the file). For bulk loads that
    /// can be re-run (`pulse import --synchronous normal`).
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            other => Err(format!("'{other}' is not full or normal")),
        }
    }
}

/// How long [`Store::make_durable`] waits for PostgreSQL's write-ahead log
/// to be flushed before it reports an error.
const DURABLE_WAIT: Duration = Duration::from_secs(30);

/// A handle to the database; cheap to clone (pools are shared).
#[derive(Debug, Clone)]
pub struct Store {
    pub(crate) backend: Backend,
    /// Account and contact ids known to exist, so that reference checks during
    /// ingest rarely need a query. A miss is always re-checked in the database.
    pub(crate) known: Arc<Mutex<ingest::KnownIds>>,
    /// The database file of an SQLite store, for the bulk reads of
    /// `load_histories`, which bypass sqlx (see `history.rs`). `None` for
    /// PostgreSQL and in-memory SQLite.
    pub(crate) sqlite_file: Option<Arc<std::path::PathBuf>>,
    /// The connection that ingest writes an SQLite file with, through
    /// rusqlite (see `sqlite_ingest.rs`). `None` for PostgreSQL and
    /// in-memory SQLite, which ingest through sqlx.
    pub(crate) sqlite_writer: Option<Arc<Mutex<rusqlite::Connection>>>,
    /// Bumped by every write through this handle (and its clones): the
    /// version caches of derived results are keyed by.
    pub(crate) generation: Arc<std::sync::atomic::AtomicU64>,
    /// Whether this handle's PostgreSQL ingest commits return before the
    /// write-ahead log reaches the disk, until [`Store::make_durable`]
    /// ([`Store::deferring_commits`]). Per handle: clones made before
    /// keep durable commits.
    pub(crate) deferred_commits: bool,
}

/// Runs blocking work (rusqlite) on a thread of its own; the caller's
/// executor only waits for the result.
pub(crate) async fn on_thread<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _ = tx.send(f());
        })
        .map_err(|e| StoreError::Thread(format!("{name}: cannot start a thread: {e}")))?;
    rx.await
        .map_err(|_| StoreError::Thread(format!("{name}: the thread stopped")))?
}

impl Store {
    /// Opens (creating if needed) the database at `url` and brings its schema
    /// up to date. `sqlite://PATH` (or a bare path ending in `.db`) opens an
    /// embedded SQLite file in WAL mode; `postgres://...` a PostgreSQL database.
    /// Every acknowledged write is durable ([`Durability::Full`]).
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        Store::connect_with(url, Durability::Full).await
    }

    /// [`connect`](Self::connect) with the given durability of SQLite
    /// commits (PostgreSQL commits are always durable: its own
    /// `synchronous_commit`).
    pub async fn connect_with(url: &str, durability: Durability) -> Result<Store, StoreError> {
        let mut sqlite_file = None;
        let mut sqlite_writer = None;
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else if url.starts_with("sqlite:") || url.ends_with(".db") {
            let url = if url.starts_with("sqlite:") {
                url.to_string()
            } else {
                format!("sqlite://{url}")
            };
            let opts = SqliteConnectOptions::from_str(&url)?
                .disable_statement_logging()
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(match durability {
                    Durability::Full => SqliteSynchronous::Full,
                    Durability::Normal => SqliteSynchronous::Normal,
                })
                .busy_timeout(Duration::from_secs(30))
                .pragma("cache_size", "-65536")
                .pragma("temp_store", "memory");
            let file = opts.get_filename().to_path_buf();
            if !(file.as_os_str().is_empty()
                || file.as_os_str() == ":memory:"
                || url.contains("memory"))
            {
                sqlite_file = Some(Arc::new(file));
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .min_connections(1)
                .connect_with(opts)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
            if let Some(file) = &sqlite_file {
                sqlite_writer = Some(Arc::new(Mutex::new(sqlite_ingest::open_writer(
                    file, durability,
                )?)));
            }
            Backend::Sqlite(pool)
        } else {
            return Err(StoreError::UnsupportedUrl {
                url: url.to_string(),
            });
        };
        Ok(Store {
            backend,
            known: Arc::default(),
            sqlite_file,
            sqlite_writer,
            generation: Arc::default(),
            deferred_commits: false,
        })
    }

    /// Drops the database `name` on the PostgreSQL server of `server_url` (any
    /// database there the user can connect to) if it exists, creates it
    /// empty, and returns its URL. For benchmarks that need a fresh store;
    /// `name` must be a plain identifier.
    pub async fn recreate_postgres_database(
        server_url: &str,
        name: &str,
    ) -> Result<String, StoreError> {
        let url = Self::postgres_database_url(server_url, name)?;
        Self::drop_postgres_database(server_url, name).await?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(server_url)
            .await?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(url)
    }

    /// Drops the database `name` on the server of `server_url` if it exists
    /// (after the connections to it are closed).
    pub async fn drop_postgres_database(server_url: &str, name: &str) -> Result<(), StoreError> {
        Self::postgres_database_url(server_url, name)?;
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(server_url)
            .await?;
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&admin)
            .await?;
        admin.close().await;
        Ok(())
    }

    /// `server_url` with its database replaced by `name`.
    fn postgres_database_url(server_url: &str, name: &str) -> Result<String, StoreError> {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let (base, query) = match server_url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (server_url, None),
        };
        let Some((prefix, _)) = base
            .rsplit_once('/')
            .filter(|(p, _)| p.contains("://") && !p.ends_with('/'))
        else {
            return Err(StoreError::UnsupportedUrl {
                url: server_url.to_string(),
            });
        };
        if !plain || !server_url.starts_with("postgres") {
            return Err(StoreError::UnsupportedUrl {
                url: format!("{server_url} (database '{name}')"),
            });
        }
        Ok(match query {
            Some(q) => format!("{prefix}/{name}?{q}"),
            None => format!("{prefix}/{name}"),
        })
    }

    /// Connects to PostgreSQL with every table in `schema`, which is dropped
    /// and created anew when `fresh` is set. Tests use this to isolate runs
    /// that share one database.
    pub async fn connect_postgres_schema(
        url: &str,
        schema: &str,
        fresh: bool,
    ) -> Result<Store, StoreError> {
        if !schema
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(StoreError::UnsupportedUrl {
                url: format!("{url} (schema '{schema}')"),
            });
        }
        let admin = PgPoolOptions::new().max_connections(1).connect(url).await?;
        if fresh {
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&admin)
                .await?;
        }
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&admin)
            .await?;
        admin.close().await;
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)?
            .options([("search_path", schema)])
            .disable_statement_logging();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Store {
            backend: Backend::Postgres(pool),
            known: Arc::default(),
            sqlite_file: None,
            sqlite_writer: None,
            generation: Arc::default(),
            deferred_commits: false,
        })
    }

    /// An in-memory SQLite store, for tests.
    pub async fn in_memory() -> Result<Store, StoreError> {
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")?;
        // One connection: every connection to :memory: is its own database.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Store {
            backend: Backend::Sqlite(pool),
            known: Arc::default(),
            sqlite_file: None,
            sqlite_writer: None,
            generation: Arc::default(),
            deferred_commits: false,
        })
    }

    /// The parameter style for generated multi-value statements.
    pub(crate) fn params(&self) -> value::Params {
        match self.backend {
            Backend::Sqlite(_) => value::Params::Question,
            Backend::Postgres(_) => value::Params::Dollar,
        }
    }

    /// `sqlite` or `postgres`.
    /// How many writes this process made through the store (ingest, scoring
    /// runs, lists, decisions, sentiment): results derived from the data can
    /// be cached under it. Writes by other processes are not counted.
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Marks a write.
    pub(crate) fn touch(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// A handle to the same database whose PostgreSQL ingest commits do not
    /// wait for the write-ahead log to reach the disk (`SET LOCAL
    /// synchronous_commit = off` in each batch's transaction), for a bulk
    /// load that calls [`make_durable`](Self::make_durable) before it
    /// reports what it stored. A crash of the database server can lose the
    /// last such commits, never corrupt anything, and a load that did not
    /// finish is re-run (upserts: the same rows again). The write-ahead log
    /// is written in order, so one wait at the end covers every commit
    /// before it; at 50,000 accounts that saves about 1 s of the 30 s
    /// import's waits on 434 commits (docs/benchmarks.md). SQLite stores
    /// keep their [`Durability`]. Other handles are not affected.
    pub fn deferring_commits(&self) -> Store {
        Store {
            deferred_commits: true,
            ..self.clone()
        }
    }

    /// Waits until every commit made so far, deferred ones included
    /// ([`deferring_commits`](Self::deferring_commits)), is on the
    /// database server's disk: until its write-ahead log is flushed up to
    /// where it was written when this was called. PostgreSQL's WAL writer
    /// flushes deferred commits within three `wal_writer_delay` (0.6 s by
    /// default). Nothing to wait for on SQLite, whose commits are synced as
    /// its [`Durability`] says.
    pub async fn make_durable(&self) -> Result<(), StoreError> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(());
        };
        let (written,): (String,) = sqlx::query_as("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(pool)
            .await?;
        let started = std::time::Instant::now();
        loop {
            let (flushed,): (bool,) =
                sqlx::query_as("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn")
                    .bind(&written)
                    .fetch_one(pool)
                    .await?;
            if flushed {
                return Ok(());
            }
            if started.elapsed() > DURABLE_WAIT {
                return Err(StoreError::NotDurable(format!(
                    "the database server had not flushed its write-ahead log to {written} \
                     after {} s: the last commits may not be on its disk yet",
                    DURABLE_WAIT.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Closes every connection, waiting for in-flight queries.
    pub async fn close(&self) {
        on_backend!(self, p => p.close().await)
    }

    /// Refreshes the query planner's statistics of the tables an import
    /// writes, as PostgreSQL's guide to populating a database asks after a
    /// bulk load. Without them PostgreSQL plans the history reads for the
    /// tables' row counts before the load: it sorts on disk instead of
    /// reading the `(account, time)` indexes (at 10,000 accounts the weekly
    /// steps took 1.3-1.5x as long), until autovacuum, when it is on,
    /// catches up. SQLite reads the indexes without statistics: nothing to do.
    pub async fn analyze_after_load(&self) -> Result<(), StoreError> {
        if let Backend::Postgres(p) = &self.backend {
            sqlx::query(
                "ANALYZE accounts, contacts, interactions, usage, subscription_events, \
                 survey_responses, operational_events, outreach, join_keys",
            )
            .execute(p)
            .await?;
        }
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_backend!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()))?;
        Ok(())
    }
}

/// The stores a store test runs against: in-memory SQLite (written through
/// sqlx) and an SQLite file (written through rusqlite) always, and
/// PostgreSQL (in a schema of its own named after the test) when
/// `PULSE_TEST_DATABASE_URL` is set.
#[cfg(test)]
pub(crate) async fn test_stores(name: &str) -> Vec<Store> {
    // Kept after the test: the directory is in the system's temporary one.
    let dir = tempfile::Builder::new()
        .prefix(&format!("pulse-store-{name}-"))
        .tempdir()
        .expect("a temporary directory")
        .keep();
    let file = Store::connect(&format!("sqlite://{}", dir.join("test.db").display()))
        .await
        .expect("sqlite file");
    assert!(file.sqlite_writer.is_some());
    let mut v = vec![Store::in_memory().await.expect("in-memory sqlite"), file];
    if let Ok(url) = std::env::var("PULSE_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        let schema = format!("pulse_test_{name}");
        v.push(
            Store::connect_postgres_schema(&url, &schema, true)
                .await
                .expect("PULSE_TEST_DATABASE_URL connects"),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn names(dir: &str) -> BTreeSet<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(dir);
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_benchmark_database_url_replaces_only_the_database_name() {
        let url = |s, n| super::Store::postgres_database_url(s, n);
        assert_eq!(
            url("postgres://postgres@127.0.0.1:5432/test", "pulse_bench").unwrap(),
            "postgres://postgres@127.0.0.1:5432/pulse_bench"
        );
        assert_eq!(
            url("postgres://u:p@h/db?sslmode=disable", "b1").unwrap(),
            "postgres://u:p@h/b1?sslmode=disable"
        );
        // Not a plain identifier, not PostgreSQL, no database part.
        assert!(url("postgres://h/test", "x; DROP").is_err());
        assert!(url("postgres://h/test", "Bench").is_err());
        assert!(url("sqlite://data/pulse.db", "b").is_err());
        assert!(url("postgres://h", "b").is_err());
    }

    #[test]
    fn both_backends_have_the_same_migrations() {
        let (sqlite, postgres) = (names("sqlite"), names("postgres"));
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, postgres);
    }

    /// `PRAGMA synchronous` of the pool and of the ingest writer: 2 is FULL,
    /// 1 NORMAL.
    async fn synchronous(store: &super::Store) -> (i64, i64) {
        let super::Backend::Sqlite(pool) = &store.backend else {
            unreachable!()
        };
        let (pool_level,): (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .unwrap();
        let writer = store.sqlite_writer.as_ref().unwrap().lock().unwrap();
        let writer_level: i64 = writer
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        (pool_level, writer_level)
    }

    /// Every text column in a key or an index compares byte by byte, on
    /// every backend and whatever the database's locale: PostgreSQL's
    /// migration 0012, SQLite's default collation.
    #[tokio::test]
    async fn text_keys_compare_byte_by_byte() {
        use crate::ingest::tests::account;
        let ids = [
            "acct-a",
            "acct-Z",
            "acct-\u{e9}",
            "acct-B",
            "acct-10",
            "acct-9",
        ];
        for store in super::test_stores("byte_order_keys").await {
            let records = ids
                .iter()
                .enumerate()
                .map(|(i, id)| (i, pulse_core::Record::Account(account(id))))
                .collect();
            store.ingest(records).await.unwrap();
            let sql = "SELECT id FROM accounts ORDER BY id";
            let got: Vec<(String,)> = super::on_backend!(&store, p => {
                sqlx::query_as(sql).fetch_all(p).await.unwrap()
            });
            let got: Vec<String> = got.into_iter().map(|r| r.0).collect();
            let mut bytes: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
            bytes.sort();
            assert_eq!(got, bytes, "{}", store.backend_name());
            if let super::Backend::Postgres(pool) = &store.backend {
                // The catalogue, since this database's own locale may order
                // these ids by bytes too.
                let columns: Vec<(String, String)> = sqlx::query_as(
                    "SELECT DISTINCT c.relname || '.' || a.attname, coalesce(co.collname, '') \
                     FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) \
                     LEFT JOIN pg_collation co ON co.oid = a.attcollation \
                     WHERE n.nspname = current_schema() AND a.atttypid = 'text'::regtype",
                )
                .fetch_all(pool)
                .await
                .unwrap();
                let names: Vec<&str> = columns.iter().map(|c| c.0.as_str()).collect();
                for key in ["interactions.id", "usage.account_id", "join_keys.value"] {
                    assert!(names.contains(&key), "{key} in {names:?}");
                }
                let other: Vec<_> = columns.iter().filter(|c| c.1 != "C").collect();
                assert!(other.is_empty(), "not byte order: {other:?}");
            }
        }
    }

    /// A handle that defers its commits stores the same rows, and
    /// `make_durable` returns once they are on disk; handles made before
    /// it keep durable commits.
    #[tokio::test]
    async fn deferred_commits_store_the_same_rows_and_are_made_durable() {
        use crate::ingest::tests::{account, interaction};
        for store in super::test_stores("deferred_commits").await {
            let deferring = store.deferring_commits();
            assert!(deferring.deferred_commits && !store.deferred_commits);
            let records = vec![
                (1, pulse_core::Record::Account(account("a-1"))),
                (
                    2,
                    pulse_core::Record::Interaction(interaction("i-1", "a-1")),
                ),
                (
                    3,
                    pulse_core::Record::Interaction(interaction("i-2", "a-1")),
                ),
            ];
            let out = deferring.ingest(records.clone()).await.unwrap();
            assert_eq!((out.inserted, out.updated), (3, 0));
            // Where PostgreSQL's write-ahead log ended after those commits.
            let written: Option<String> = match &store.backend {
                super::Backend::Postgres(pool) => Some(
                    sqlx::query_as::<_, (String,)>("SELECT pg_current_wal_insert_lsn()::text")
                        .fetch_one(pool)
                        .await
                        .unwrap()
                        .0,
                ),
                super::Backend::Sqlite(_) => None,
            };
            deferring.make_durable().await.unwrap();
            if let (Some(written), super::Backend::Postgres(pool)) = (written, &store.backend) {
                let (flushed,): (bool,) =
                    sqlx::query_as("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn")
                        .bind(&written)
                        .fetch_one(pool)
                        .await
                        .unwrap();
                assert!(flushed, "the log is on disk up to {written}");
            }
            // Seen through the other handle; sent again, updated.
            let out = store.ingest(records).await.unwrap();
            assert_eq!(
                (out.inserted, out.updated),
                (0, 3),
                "{}",
                store.backend_name()
            );
        }
    }

    #[tokio::test]
    async fn sqlite_commits_are_durable_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("d.db").display());
        let store = super::Store::connect(&url).await.unwrap();
        assert_eq!(synchronous(&store).await, (2, 2), "FULL");
        store.close().await;
        let store = super::Store::connect_with(&url, super::Durability::Normal)
            .await
            .unwrap();
        assert_eq!(synchronous(&store).await, (1, 1), "NORMAL");
        assert_eq!("normal".parse(), Ok(super::Durability::Normal));
        assert!("fast".parse::<super::Durability>().is_err());
    }
}
