//! Score history: scoring runs and each account's stored score in them.
//!
//! A run is saved once, with all its scores, in one transaction, and is never
//! updated or deleted afterwards (there is no API to), so `score_as_of`
//! answers "what was the score on that date, and why" exactly as it was shown
//! then, whatever data or models arrive later. A re-run for the same `as_of`
//! day adds a new run; reads of a day take the first one created.
//!
//! The explanation is JSON text written by the scoring code; the store keeps
//! it verbatim and does not know its structure.

use pulse_core::time::{Day, Ts};

use crate::value::Params;
use crate::{Store, StoreError, on_backend};

/// SQLite accepts 32,766 bound values per statement, PostgreSQL 65,535.
const MAX_BINDS: usize = 32_000;

/// The columns of `account_scores`, in insert and select order.
const SCORE_COLS: [&str; 10] = [
    "run_id",
    "account_id",
    "churn_probability",
    "health",
    "band",
    "quadrant",
    "expansion_probability",
    "arr",
    "arr_at_risk",
    "explanation",
];
/// Rows per multi-row `INSERT` into `account_scores`.
const ROWS_PER_INSERT: usize = MAX_BINDS / SCORE_COLS.len();

/// The columns of `score_runs`, in select order.
const RUN_COLS: [&str; 7] = [
    "run_id",
    "as_of_day",
    "created_at",
    "churn_version",
    "expansion_version",
    "trigger",
    "n_accounts",
];

/// A scoring run to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewScoreRun {
    /// The day the scores describe (features as of this day).
    pub as_of: Day,
    /// When the run was made.
    pub created_at: Ts,
    pub churn_version: String,
    pub expansion_version: Option<String>,
    /// What started the run: `scheduled`, `manual` or `backfill`.
    pub trigger: String,
}

/// A saved scoring run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreRunInfo {
    pub run_id: i64,
    pub as_of: Day,
    pub created_at: Ts,
    pub churn_version: String,
    pub expansion_version: Option<String>,
    pub trigger: String,
    /// How many account scores the run holds.
    pub n_accounts: u64,
}

/// One account's score in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredScore {
    pub account_id: String,
    pub churn_probability: f64,
    pub health: f64,
    pub band: String,
    pub quadrant: String,
    pub expansion_probability: Option<f64>,
    pub arr: f64,
    pub arr_at_risk: f64,
    /// JSON, stored and returned verbatim.
    pub explanation: String,
}

type RunRow = (i64, i64, i64, String, Option<String>, String, i64);
type ScoreRow = (
    String,
    f64,
    f64,
    String,
    String,
    Option<f64>,
    f64,
    f64,
    String,
);
/// A run's columns followed by a score's (without its `run_id`).
type RunScoreRow = (
    i64,
    i64,
    i64,
    String,
    Option<String>,
    String,
    i64,
    String,
    f64,
    f64,
    String,
    String,
    Option<f64>,
    f64,
    f64,
    String,
);

fn run_of(r: RunRow) -> Result<ScoreRunInfo, StoreError> {
    let corrupt = |what: &str| StoreError::corrupt("score_runs", &r.0.to_string(), what);
    Ok(ScoreRunInfo {
        run_id: r.0,
        as_of: Day::try_from(r.1).map_err(|_| corrupt("as_of_day is out of range"))?,
        created_at: r.2,
        n_accounts: u64::try_from(r.6).map_err(|_| corrupt("n_accounts is negative"))?,
        churn_version: r.3,
        expansion_version: r.4,
        trigger: r.5,
    })
}

fn score_of(r: ScoreRow) -> StoredScore {
    StoredScore {
        account_id: r.0,
        churn_probability: r.1,
        health: r.2,
        band: r.3,
        quadrant: r.4,
        expansion_probability: r.5,
        arr: r.6,
        arr_at_risk: r.7,
        explanation: r.8,
    }
}

fn run_score_of(r: RunScoreRow) -> Result<(ScoreRunInfo, StoredScore), StoreError> {
    let run = run_of((r.0, r.1, r.2, r.3, r.4, r.5, r.6))?;
    let score = score_of((r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14, r.15));
    Ok((run, score))
}

/// `cols` prefixed with `alias.`, comma-separated.
fn qualified(alias: &str, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The run's and score's columns of `score_runs r JOIN account_scores s`,
/// in `RunScoreRow` order.
fn run_score_cols() -> String {
    format!(
        "{}, {}",
        qualified("r", &RUN_COLS),
        qualified("s", &SCORE_COLS[1..])
    )
}

/// `INSERT INTO account_scores (..) VALUES (..), .. ` for `rows` rows.
fn insert_scores_sql(rows: usize, params: Params) -> String {
    insert_sql("account_scores", &SCORE_COLS, rows, params)
}

/// `INSERT INTO table (cols) VALUES (..), ..` with `rows` rows of
/// placeholders (`?` for SQLite, `$n` for PostgreSQL).
pub(crate) fn insert_sql(table: &str, cols: &[&str], rows: usize, params: Params) -> String {
    let width = cols.len();
    let mut sql = String::with_capacity(64 + rows * width * 7);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&cols.join(", "));
    sql.push_str(") VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..width {
            if c > 0 {
                sql.push_str(", ");
            }
            match params {
                Params::Question => sql.push('?'),
                Params::Dollar => {
                    sql.push('$');
                    sql.push_str(&(r * width + c + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

/// Refuses NaN and infinities, which SQLite would store as NULL (or fail on)
/// and PostgreSQL as they are, so both backends keep the same history.
fn check_finite(s: &StoredScore) -> Result<(), StoreError> {
    let values = [
        ("churn_probability", Some(s.churn_probability)),
        ("health", Some(s.health)),
        ("expansion_probability", s.expansion_probability),
        ("arr", Some(s.arr)),
        ("arr_at_risk", Some(s.arr_at_risk)),
    ];
    for (field, v) in values {
        if let Some(v) = v
            && !v.is_finite()
        {
            let msg = format!(
                "account_scores '{}': {field} is {v}, not a finite number",
                s.account_id
            );
            return Err(StoreError::Database(sqlx::Error::Encode(msg.into())));
        }
    }
    Ok(())
}

impl Store {
    /// Saves a run and all its scores in one transaction: either all of them
    /// are stored or nothing is (a duplicate `account_id`, for one, fails the
    /// whole run). Returns the run with its id and `n_accounts`.
    ///
    /// Scores are written with multi-row `INSERT`s in account order (so the
    /// indexes are appended to). 50,000 scores with 1.2 KB explanations take
    /// about 0.7 s of CPU on an SQLite file, most of it SQLite writing and
    /// checkpointing the pages (`examples/save_score_run.rs`). Values that
    /// are not finite numbers are refused before anything is written.
    #[tracing::instrument(skip_all, fields(as_of = run.as_of, n = scores.len()))]
    pub async fn save_score_run(
        &self,
        run: &NewScoreRun,
        scores: &[StoredScore],
    ) -> Result<ScoreRunInfo, StoreError> {
        self.touch();
        scores.iter().try_for_each(check_finite)?;
        let mut ordered: Vec<&StoredScore> = scores.iter().collect();
        ordered.sort_unstable_by(|a, b| a.account_id.cmp(&b.account_id));
        let n_accounts = scores.len() as u64;
        let insert_run = "INSERT INTO score_runs \
            (as_of_day, created_at, churn_version, expansion_version, trigger, n_accounts) \
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING run_id";
        let params = self.params();
        let full_chunk_sql = insert_scores_sql(ROWS_PER_INSERT.min(ordered.len()), params);
        let run_id: i64 = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let (run_id,): (i64,) = sqlx::query_as(insert_run)
                .bind(i64::from(run.as_of))
                .bind(run.created_at)
                .bind(run.churn_version.as_str())
                .bind(run.expansion_version.as_deref())
                .bind(run.trigger.as_str())
                .bind(n_accounts as i64)
                .fetch_one(&mut *tx)
                .await?;
            for chunk in ordered.chunks(ROWS_PER_INSERT) {
                let last_chunk_sql;
                let sql = if chunk.len() == ROWS_PER_INSERT.min(ordered.len()) {
                    &full_chunk_sql
                } else {
                    last_chunk_sql = insert_scores_sql(chunk.len(), params);
                    &last_chunk_sql
                };
                let mut q = sqlx::query(sql);
                for s in chunk {
                    q = q
                        .bind(run_id)
                        .bind(s.account_id.as_str())
                        .bind(s.churn_probability)
                        .bind(s.health)
                        .bind(s.band.as_str())
                        .bind(s.quadrant.as_str())
                        .bind(s.expansion_probability)
                        .bind(s.arr)
                        .bind(s.arr_at_risk)
                        .bind(s.explanation.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
            run_id
        });
        Ok(ScoreRunInfo {
            run_id,
            as_of: run.as_of,
            created_at: run.created_at,
            churn_version: run.churn_version.clone(),
            expansion_version: run.expansion_version.clone(),
            trigger: run.trigger.clone(),
            n_accounts,
        })
    }

    /// The latest `limit` runs: newest `as_of` first, then newest created.
    pub async fn score_runs(&self, limit: u32) -> Result<Vec<ScoreRunInfo>, StoreError> {
        let sql = format!(
            "SELECT {} FROM score_runs \
             ORDER BY as_of_day DESC, created_at DESC, run_id DESC LIMIT $1",
            RUN_COLS.join(", ")
        );
        let rows: Vec<RunRow> = on_backend!(self, p => {
            sqlx::query_as::<_, RunRow>(&sql).bind(i64::from(limit)).fetch_all(p).await?
        });
        rows.into_iter().map(run_of).collect()
    }

    /// One run, or `None` if there is no run with that id.
    pub async fn score_run(&self, run_id: i64) -> Result<Option<ScoreRunInfo>, StoreError> {
        let sql = format!(
            "SELECT {} FROM score_runs WHERE run_id = $1",
            RUN_COLS.join(", ")
        );
        let row: Option<RunRow> = on_backend!(self, p => {
            sqlx::query_as::<_, RunRow>(&sql).bind(run_id).fetch_optional(p).await?
        });
        row.map(run_of).transpose()
    }

    /// Every score of a run, by account id (empty for an unknown run).
    pub async fn run_scores(&self, run_id: i64) -> Result<Vec<StoredScore>, StoreError> {
        let sql = format!(
            "SELECT {} FROM account_scores WHERE run_id = $1 ORDER BY account_id",
            SCORE_COLS[1..].join(", ")
        );
        let rows: Vec<ScoreRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ScoreRow>(&sql).bind(run_id).fetch_all(p).await?
        });
        Ok(rows.into_iter().map(score_of).collect())
    }

    /// The score an account had on `day`, and the run it came from: among the
    /// runs that scored the account, the one with the greatest `as_of <= day`;
    /// of several runs with that `as_of`, the first created (the score as it
    /// was shown then: a later re-run never rewrites history). `None` if no
    /// run on or before `day` scored the account.
    pub async fn score_as_of(
        &self,
        account_id: &str,
        day: Day,
    ) -> Result<Option<(ScoreRunInfo, StoredScore)>, StoreError> {
        let sql = format!(
            "SELECT {} FROM account_scores s JOIN score_runs r ON r.run_id = s.run_id \
             WHERE s.account_id = $1 AND r.as_of_day <= $2 \
             ORDER BY r.as_of_day DESC, r.created_at, r.run_id LIMIT 1",
            run_score_cols()
        );
        let row: Option<RunScoreRow> = on_backend!(self, p => {
            sqlx::query_as::<_, RunScoreRow>(&sql)
                .bind(account_id)
                .bind(i64::from(day))
                .fetch_optional(p)
                .await?
        });
        row.map(run_score_of).transpose()
    }

    /// An account's scores with `as_of` in `[from, to]`, oldest first: one per
    /// `as_of` day, chosen as [`score_as_of`](Self::score_as_of) would (the
    /// first run created for that day that scored the account).
    pub async fn score_trend(
        &self,
        account_id: &str,
        from: Day,
        to: Day,
    ) -> Result<Vec<(ScoreRunInfo, StoredScore)>, StoreError> {
        let sql = format!(
            "SELECT {} FROM (\
                SELECT {}, ROW_NUMBER() OVER (\
                    PARTITION BY r.as_of_day ORDER BY r.created_at, r.run_id) AS nth \
                FROM account_scores s JOIN score_runs r ON r.run_id = s.run_id \
                WHERE s.account_id = $1 AND r.as_of_day >= $2 AND r.as_of_day <= $3\
             ) t WHERE nth = 1 ORDER BY as_of_day",
            RUN_COLS
                .iter()
                .chain(&SCORE_COLS[1..])
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            run_score_cols()
        );
        let rows: Vec<RunScoreRow> = on_backend!(self, p => {
            sqlx::query_as::<_, RunScoreRow>(&sql)
                .bind(account_id)
                .bind(i64::from(from))
                .bind(i64::from(to))
                .fetch_all(p)
                .await?
        });
        rows.into_iter().map(run_score_of).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_run(as_of: Day, created_at: Ts, trigger: &str) -> NewScoreRun {
        NewScoreRun {
            as_of,
            created_at,
            churn_version: "churn-v3".into(),
            expansion_version: Some("expansion-v1".into()),
            trigger: trigger.into(),
        }
    }

    fn score(account: &str, churn: f64) -> StoredScore {
        StoredScore {
            account_id: account.into(),
            churn_probability: churn,
            health: 100.0 * (1.0 - churn),
            band: if churn > 0.5 { "high" } else { "low" }.into(),
            quadrant: "protect".into(),
            expansion_probability: Some(0.25),
            arr: 12_000.0,
            arr_at_risk: 12_000.0 * churn,
            explanation: format!(
                r#"{{"drivers":[{{"feature":"tickets_30d","contribution":{churn}}}],"note":"café ✓"}}"#
            ),
        }
    }

    async fn count_scores(store: &Store) -> i64 {
        let sql = "SELECT COUNT(*) FROM account_scores";
        let (n,): (i64,) =
            on_backend!(store, p => sqlx::query_as::<_, (i64,)>(sql).fetch_one(p).await.unwrap());
        n
    }

    #[test]
    fn insert_sql_numbers_placeholders_across_rows() {
        let sql = insert_scores_sql(2, Params::Dollar);
        assert!(
            sql.starts_with("INSERT INTO account_scores (run_id, account_id, "),
            "{sql}"
        );
        assert!(
            sql.ends_with(
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10), \
                           ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20)"
            ),
            "{sql}"
        );
        let sql = insert_scores_sql(2, Params::Question);
        assert!(
            sql.ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
            "{sql}"
        );
    }

    #[tokio::test]
    async fn a_saved_run_reads_back_unchanged() {
        for store in crate::test_stores("scores_round_trip").await {
            reads_back(store).await;
        }
    }

    async fn reads_back(store: Store) {
        let b = store.backend_name();
        let mut scores = vec![
            score("a-2", 0.1 + 0.2),
            score("a-1", 0.9),
            score("a-3", 1e-300),
        ];
        scores[1].expansion_probability = None;
        let mut run = new_run(20_000, 1_728_000_000, "scheduled");
        run.expansion_version = None;
        let saved = store.save_score_run(&run, &scores).await.unwrap();
        assert_eq!(saved.n_accounts, 3);
        assert_eq!(
            (saved.as_of, saved.created_at, saved.trigger.as_str()),
            (20_000, 1_728_000_000, "scheduled")
        );
        assert_eq!(
            store.score_run(saved.run_id).await.unwrap(),
            Some(saved.clone()),
            "{b}"
        );
        assert_eq!(
            store.score_run(saved.run_id + 1).await.unwrap(),
            None,
            "{b}"
        );
        assert_eq!(
            store.score_runs(10).await.unwrap(),
            vec![saved.clone()],
            "{b}"
        );
        // Every value bit for bit, in account order.
        scores.sort_by(|x, y| x.account_id.cmp(&y.account_id));
        assert_eq!(store.run_scores(saved.run_id).await.unwrap(), scores, "{b}");
        assert!(store.run_scores(saved.run_id + 1).await.unwrap().is_empty());

        // More scores than one statement holds: several statements, the last
        // one partial.
        let n = 2 * ROWS_PER_INSERT + 7;
        let many: Vec<StoredScore> = (0..n)
            .rev()
            .map(|i| score(&format!("b-{i:05}"), i as f64 / n as f64))
            .collect();
        let big = store
            .save_score_run(&new_run(20_007, 1_728_600_000, "manual"), &many)
            .await
            .unwrap();
        assert_eq!(big.n_accounts, n as u64);
        let back = store.run_scores(big.run_id).await.unwrap();
        assert_eq!(back.len(), n, "{b}");
        assert_eq!(back[0], many[n - 1]);
        assert_eq!(back[n - 1], many[0]);
        // An empty run is a run.
        let empty = store
            .save_score_run(&new_run(20_014, 1_729_200_000, "manual"), &[])
            .await
            .unwrap();
        assert_eq!(empty.n_accounts, 0);
        assert_eq!(
            store.score_runs(10).await.unwrap(),
            vec![empty, big, saved],
            "{b}"
        );
    }

    #[tokio::test]
    async fn score_as_of_and_trend_pick_the_first_run_of_each_day() {
        for store in crate::test_stores("scores_as_of").await {
            picks_runs(store).await;
        }
    }

    async fn picks_runs(store: Store) {
        let b = store.backend_name();
        let day = 86_400;
        let t0 = 1_728_000_000;
        let save = |run: NewScoreRun, scores: Vec<StoredScore>| {
            let store = store.clone();
            async move { store.save_score_run(&run, &scores).await.unwrap() }
        };
        let r1 = save(
            new_run(100, t0, "scheduled"),
            vec![score("a", 0.10), score("b", 0.20)],
        )
        .await;
        let r2 = save(
            new_run(107, t0 + 7 * day, "scheduled"),
            vec![score("a", 0.11)],
        )
        .await;
        // A re-run of day 107 with new data: it must not change what day 107 showed.
        let r3 = save(
            new_run(107, t0 + 9 * day, "manual"),
            vec![score("a", 0.99), score("b", 0.21)],
        )
        .await;
        let r4 = save(
            new_run(114, t0 + 14 * day, "scheduled"),
            vec![score("b", 0.22)],
        )
        .await;
        // Same as_of and created_at as r1, saved later: r1 stays first.
        let r5 = save(new_run(100, t0, "backfill"), vec![score("a", 0.5)]).await;

        let at = |account: &'static str, d: Day| {
            let store = store.clone();
            async move {
                store
                    .score_as_of(account, d)
                    .await
                    .unwrap()
                    .map(|(run, s)| (run.run_id, s.churn_probability))
            }
        };
        assert_eq!(at("a", 99).await, None, "{b}: before the first run");
        assert_eq!(at("a", 100).await, Some((r1.run_id, 0.10)), "{b}");
        assert_eq!(at("a", 106).await, Some((r1.run_id, 0.10)), "{b}");
        assert_eq!(
            at("a", 107).await,
            Some((r2.run_id, 0.11)),
            "{b}: the original"
        );
        assert_eq!(
            at("a", 500).await,
            Some((r2.run_id, 0.11)),
            "{b}: r4 lacks a"
        );
        assert_eq!(
            at("b", 107).await,
            Some((r3.run_id, 0.21)),
            "{b}: r2 lacks b"
        );
        assert_eq!(at("b", 113).await, Some((r3.run_id, 0.21)), "{b}");
        assert_eq!(at("b", 114).await, Some((r4.run_id, 0.22)), "{b}");
        assert_eq!(at("nobody", 500).await, None, "{b}");
        let (run, s) = store.score_as_of("b", 114).await.unwrap().unwrap();
        assert_eq!((run, s), (r4.clone(), score("b", 0.22)), "{b}");

        let trend = |account: &'static str, from: Day, to: Day| {
            let store = store.clone();
            async move {
                let t = store.score_trend(account, from, to).await.unwrap();
                t.into_iter()
                    .map(|(run, s)| (run.as_of, run.run_id, s.churn_probability))
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            trend("a", 0, 1_000).await,
            vec![(100, r1.run_id, 0.10), (107, r2.run_id, 0.11)],
            "{b}"
        );
        assert_eq!(
            trend("b", 100, 114).await,
            vec![
                (100, r1.run_id, 0.20),
                (107, r3.run_id, 0.21),
                (114, r4.run_id, 0.22)
            ],
            "{b}"
        );
        assert_eq!(
            trend("b", 101, 113).await,
            vec![(107, r3.run_id, 0.21)],
            "{b}"
        );
        assert_eq!(trend("b", 114, 100).await, vec![], "{b}");
        // Every trend point is what score_as_of says for its day.
        for (as_of, run_id, p) in trend("b", 0, 1_000).await {
            assert_eq!(at("b", as_of).await, Some((run_id, p)), "{b}");
        }

        let ids: Vec<i64> = store
            .score_runs(10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.run_id)
            .collect();
        assert_eq!(
            ids,
            vec![r4.run_id, r3.run_id, r2.run_id, r5.run_id, r1.run_id],
            "{b}"
        );
        assert_eq!(store.score_runs(2).await.unwrap(), vec![r4, r3], "{b}");
    }

    #[tokio::test]
    async fn a_failed_save_leaves_nothing_behind() {
        for store in crate::test_stores("scores_atomic").await {
            all_or_nothing(store).await;
        }
    }

    async fn all_or_nothing(store: Store) {
        let b = store.backend_name();
        // The duplicate sorts into the second statement, after a full one
        // has been written.
        let mut scores: Vec<StoredScore> = (0..ROWS_PER_INSERT + 10)
            .map(|i| score(&format!("a-{i:05}"), 0.5))
            .collect();
        scores.push(score(&format!("a-{:05}", ROWS_PER_INSERT + 5), 0.6));
        let run = new_run(100, 1_728_000_000, "scheduled");
        assert!(store.save_score_run(&run, &scores).await.is_err(), "{b}");
        assert!(store.score_runs(10).await.unwrap().is_empty(), "{b}");
        assert_eq!(count_scores(&store).await, 0, "{b}");

        // Not a number: refused the same way on both backends.
        let mut nan = vec![score("a-1", 0.5), score("a-2", 0.5)];
        nan[1].expansion_probability = Some(f64::NAN);
        let err = store.save_score_run(&run, &nan).await.unwrap_err();
        assert!(err.to_string().contains("expansion_probability"), "{err}");
        nan[1].expansion_probability = None;
        nan[0].arr_at_risk = f64::INFINITY;
        assert!(store.save_score_run(&run, &nan).await.is_err(), "{b}");
        assert!(store.score_runs(10).await.unwrap().is_empty(), "{b}");

        // The store is still usable, and the failed runs left no trace.
        scores.pop();
        let saved = store.save_score_run(&run, &scores).await.unwrap();
        assert_eq!(store.score_runs(10).await.unwrap(), vec![saved], "{b}");
        assert_eq!(count_scores(&store).await, scores.len() as i64, "{b}");
    }
}
