//! Weekly lists: one list run per ISO week with its rows (at-risk,
//! expansion-ready, movers, newly red, holdout), and the reads the lists and
//! the outreach report need (the scoring run of a week, outreach records,
//! churn events).
//!
//! A week's list is written in one transaction. [`ListWrite::Replace`]
//! (a manual generation) upserts the run row, which locks it, then replaces
//! its rows: readers see the old list or the new one, never a mix, and two
//! concurrent replacements of a week serialise on the row. [`ListWrite::Claim`]
//! (the scheduled generation) inserts the run with `ON CONFLICT (week) DO
//! NOTHING` and writes nothing when the week is already taken, so two
//! servers sharing one database never write a week twice: the unique `week`
//! is the claim.
//!
//! `params` and each row's `row_json` are JSON written by the lists code; the
//! store keeps them verbatim and does not know their structure.

use pulse_core::time::{Day, Ts};
use pulse_core::{Outreach, SubscriptionKind};

use crate::value::Params;
use crate::{ScoreRunInfo, Store, StoreError, on_backend};

/// The columns of `list_rows`, in insert order.
const ROW_COLS: [&str; 9] = [
    "list_run_id",
    "kind",
    "rank",
    "account_id",
    "owner",
    "segment",
    "band",
    "value",
    "row_json",
];
/// Rows per multi-row `INSERT` into `list_rows`.
const ROWS_PER_INSERT: usize = 32_000 / ROW_COLS.len();

/// The columns of `list_runs`, in select order (`ListRunRow`).
const RUN_COLS: &str = "list_run_id, week, week_start_day, score_run_id, as_of_day, \
    churn_version, expansion_version, params, trigger, created_at, generation";

/// A list run to save.
#[derive(Debug, Clone, PartialEq)]
pub struct NewListRun {
    /// ISO week label, `2026-W48`.
    pub week: String,
    /// The Monday of the week.
    pub week_start: Day,
    /// The stored scoring run the lists were made from.
    pub score_run_id: i64,
    /// That run's as-of day.
    pub as_of: Day,
    pub churn_version: String,
    pub expansion_version: Option<String>,
    /// The generation parameters as JSON (opaque to the store).
    pub params: String,
    /// `scheduled` or `manual`.
    pub trigger: String,
    pub created_at: Ts,
}

/// A saved list run.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRunInfo {
    pub list_run_id: i64,
    pub week: String,
    pub week_start: Day,
    pub score_run_id: i64,
    pub as_of: Day,
    pub churn_version: String,
    pub expansion_version: Option<String>,
    pub params: String,
    pub trigger: String,
    /// When this generation was written.
    pub created_at: Ts,
    /// 1 for the first generation of the week, +1 for each replacement.
    pub generation: i64,
}

/// One row of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct ListRow {
    /// `risk`, `expansion`, `mover`, `newly_red` or `holdout`.
    pub kind: String,
    /// 1-based position within its kind.
    pub rank: i64,
    pub account_id: String,
    pub owner: String,
    pub segment: String,
    pub band: String,
    /// What the kind is ranked by (expected ARR at risk, expected expansion
    /// ARR, probability rise, ...).
    pub value: f64,
    /// The full row as JSON (opaque to the store).
    pub row_json: String,
}

/// How a list run is written when its week already has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListWrite {
    /// Replace the week's lists (the run keeps its id; `generation` + 1).
    Replace,
    /// Write only if the week has no list yet; otherwise write nothing.
    Claim,
}

/// Which rows of a run to read; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct ListRowFilter {
    pub kind: Option<String>,
    pub owner: Option<String>,
    pub segment: Option<String>,
    pub band: Option<String>,
    /// At most this many rows (0: all), lowest rank first.
    pub limit: usize,
}

type ListRunRow = (
    i64,
    String,
    i64,
    i64,
    i64,
    String,
    Option<String>,
    String,
    String,
    i64,
    i64,
);
type ListRowRow = (String, i64, String, String, String, String, f64, String);
type OutreachRow = (String, String, String, String, String, i64, String, String);

fn run_of(r: ListRunRow) -> ListRunInfo {
    ListRunInfo {
        list_run_id: r.0,
        week: r.1,
        week_start: r.2 as Day,
        score_run_id: r.3,
        as_of: r.4 as Day,
        churn_version: r.5,
        expansion_version: r.6,
        params: r.7,
        trigger: r.8,
        created_at: r.9,
        generation: r.10,
    }
}

fn row_of(r: ListRowRow) -> ListRow {
    ListRow {
        kind: r.0,
        rank: r.1,
        account_id: r.2,
        owner: r.3,
        segment: r.4,
        band: r.5,
        value: r.6,
        row_json: r.7,
    }
}

fn outreach_of(r: OutreachRow) -> Result<Outreach, StoreError> {
    let outcome =
        r.6.parse()
            .map_err(|e: String| StoreError::corrupt("outreach", &r.0, e))?;
    Ok(Outreach {
        id: r.0,
        account_id: r.1,
        play: r.2,
        owner: r.3,
        channel: r.4,
        contacted_at: r.5,
        outcome,
        note: r.7,
    })
}

/// `INSERT INTO list_rows (..) VALUES (..), ..` for `rows` rows.
fn insert_rows_sql(rows: usize, params: Params) -> String {
    crate::scores::insert_sql("list_rows", &ROW_COLS, rows, params)
}

impl Store {
    /// Saves a week's lists in one transaction (see the module docs for
    /// [`ListWrite`]). Returns the saved run, or `None` when `mode` is
    /// [`ListWrite::Claim`] and the week already had a list (nothing written).
    /// Values that are not finite numbers are refused before anything is
    /// written.
    #[tracing::instrument(skip_all, fields(week = %run.week, n = rows.len()))]
    pub async fn save_list_run(
        &self,
        run: &NewListRun,
        rows: &[ListRow],
        mode: ListWrite,
    ) -> Result<Option<ListRunInfo>, StoreError> {
        self.touch();
        if let Some(r) = rows.iter().find(|r| !r.value.is_finite()) {
            let msg = format!(
                "list_rows '{}' ({}): value is {}, not a finite number",
                r.account_id, r.kind, r.value
            );
            return Err(StoreError::Database(sqlx::Error::Encode(msg.into())));
        }
        let insert = "INSERT INTO list_runs (week, week_start_day, score_run_id, as_of_day, \
            churn_version, expansion_version, params, trigger, created_at, generation) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1) ";
        let sql = match mode {
            ListWrite::Claim => {
                format!("{insert} ON CONFLICT (week) DO NOTHING RETURNING list_run_id, generation")
            }
            ListWrite::Replace => format!(
                "{insert} ON CONFLICT (week) DO UPDATE SET \
                 week_start_day = excluded.week_start_day, score_run_id = excluded.score_run_id, \
                 as_of_day = excluded.as_of_day, churn_version = excluded.churn_version, \
                 expansion_version = excluded.expansion_version, params = excluded.params, \
                 trigger = excluded.trigger, created_at = excluded.created_at, \
                 generation = list_runs.generation + 1 \
                 RETURNING list_run_id, generation"
            ),
        };
        let params = self.params();
        let full_sql = insert_rows_sql(ROWS_PER_INSERT.min(rows.len()), params);
        let saved: Option<(i64, i64)> = on_backend!(self, pool => {
            let mut tx = pool.begin().await?;
            let claimed: Option<(i64, i64)> = sqlx::query_as(&sql)
                .bind(run.week.as_str())
                .bind(i64::from(run.week_start))
                .bind(run.score_run_id)
                .bind(i64::from(run.as_of))
                .bind(run.churn_version.as_str())
                .bind(run.expansion_version.as_deref())
                .bind(run.params.as_str())
                .bind(run.trigger.as_str())
                .bind(run.created_at)
                .fetch_optional(&mut *tx)
                .await?;
            match claimed {
                None => {
                    tx.rollback().await?;
                    None
                }
                Some((id, generation)) => {
                    sqlx::query("DELETE FROM list_rows WHERE list_run_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    for chunk in rows.chunks(ROWS_PER_INSERT) {
                        let last_sql;
                        let sql = if chunk.len() == ROWS_PER_INSERT.min(rows.len()) {
                            &full_sql
                        } else {
                            last_sql = insert_rows_sql(chunk.len(), params);
                            &last_sql
                        };
                        let mut q = sqlx::query(sql);
                        for r in chunk {
                            q = q
                                .bind(id)
                                .bind(r.kind.as_str())
                                .bind(r.rank)
                                .bind(r.account_id.as_str())
                                .bind(r.owner.as_str())
                                .bind(r.segment.as_str())
                                .bind(r.band.as_str())
                                .bind(r.value)
                                .bind(r.row_json.as_str());
                        }
                        q.execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    Some((id, generation))
                }
            }
        });
        Ok(saved.map(|(list_run_id, generation)| ListRunInfo {
            list_run_id,
            week: run.week.clone(),
            week_start: run.week_start,
            score_run_id: run.score_run_id,
            as_of: run.as_of,
            churn_version: run.churn_version.clone(),
            expansion_version: run.expansion_version.clone(),
            params: run.params.clone(),
            trigger: run.trigger.clone(),
            created_at: run.created_at,
            generation,
        }))
    }

    /// The list run of an ISO week (`2026-W48`), if generated.
    pub async fn list_run(&self, week: &str) -> Result<Option<ListRunInfo>, StoreError> {
        let sql = format!("SELECT {RUN_COLS} FROM list_runs WHERE week = $1");
        let row: Option<ListRunRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ListRunRow>(&sql).bind(week).fetch_optional(p).await?
        });
        Ok(row.map(run_of))
    }

    /// The latest `limit` list runs, newest week first.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<ListRunInfo>, StoreError> {
        let sql = format!("SELECT {RUN_COLS} FROM list_runs ORDER BY week_start_day DESC LIMIT $1");
        let rows: Vec<ListRunRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ListRunRow>(&sql).bind(i64::from(limit)).fetch_all(p).await?
        });
        Ok(rows.into_iter().map(run_of).collect())
    }

    /// The list run of the latest week starting on or before `day`.
    pub async fn list_run_on_or_before(&self, day: Day) -> Result<Option<ListRunInfo>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLS} FROM list_runs WHERE week_start_day <= $1 \
             ORDER BY week_start_day DESC LIMIT 1"
        );
        let row: Option<ListRunRow> = on_backend!(self, p => {
            sqlx::query_as::<_, ListRunRow>(&sql).bind(i64::from(day)).fetch_optional(p).await?
        });
        Ok(row.map(run_of))
    }

    /// Rows of a list run matching `filter`, by kind then rank.
    pub async fn list_rows(
        &self,
        list_run_id: i64,
        filter: &ListRowFilter,
    ) -> Result<Vec<ListRow>, StoreError> {
        let mut sql = String::from(
            "SELECT kind, rank, account_id, owner, segment, band, value, row_json \
             FROM list_rows WHERE list_run_id = $1",
        );
        let mut binds: Vec<&str> = Vec::new();
        for (col, v) in [
            ("kind", filter.kind.as_deref()),
            ("owner", filter.owner.as_deref()),
            ("segment", filter.segment.as_deref()),
            ("band", filter.band.as_deref()),
        ] {
            if let Some(v) = v {
                binds.push(v);
                sql.push_str(&format!(" AND {col} = ${}", binds.len() + 1));
            }
        }
        sql.push_str(" ORDER BY kind, rank");
        if filter.limit > 0 {
            sql.push_str(&format!(" LIMIT {}", filter.limit));
        }
        let rows: Vec<ListRowRow> = on_backend!(self, p => {
            let mut q = sqlx::query_as::<_, ListRowRow>(&sql).bind(list_run_id);
            for b in &binds {
                q = q.bind(*b);
            }
            q.fetch_all(p).await?
        });
        Ok(rows.into_iter().map(row_of).collect())
    }

    /// The scoring run a week's lists are made from: of the runs with an
    /// as-of day in `[from, to]`, the latest day, and of that day's runs the
    /// newest (a re-run with new models supersedes an older one).
    pub async fn score_run_between(
        &self,
        from: Day,
        to: Day,
    ) -> Result<Option<ScoreRunInfo>, StoreError> {
        let sql = "SELECT run_id FROM score_runs WHERE as_of_day >= $1 AND as_of_day <= $2 \
                   ORDER BY as_of_day DESC, created_at DESC, run_id DESC LIMIT 1";
        let id: Option<(i64,)> = on_backend!(self, p => {
            sqlx::query_as::<_, (i64,)>(sql)
                .bind(i64::from(from))
                .bind(i64::from(to))
                .fetch_optional(p)
                .await?
        });
        match id {
            Some((id,)) => self.score_run(id).await,
            None => Ok(None),
        }
    }

    /// Outreach recorded with `contacted_at` in `[from, to)`, oldest first;
    /// only `owner`'s when given.
    pub async fn outreach_between(
        &self,
        from: Ts,
        to: Ts,
        owner: Option<&str>,
    ) -> Result<Vec<Outreach>, StoreError> {
        let mut sql = String::from(
            "SELECT id, account_id, play, owner, channel, contacted_at, outcome, note \
             FROM outreach WHERE contacted_at >= $1 AND contacted_at < $2",
        );
        if owner.is_some() {
            sql.push_str(" AND owner = $3");
        }
        sql.push_str(" ORDER BY contacted_at, id");
        let rows: Vec<OutreachRow> = on_backend!(self, p => {
            let mut q = sqlx::query_as::<_, OutreachRow>(&sql).bind(from).bind(to);
            if let Some(o) = owner {
                q = q.bind(o);
            }
            q.fetch_all(p).await?
        });
        rows.into_iter().map(outreach_of).collect()
    }

    /// An account's recorded outreach, newest first, at most `limit`.
    pub async fn account_outreach(
        &self,
        account_id: &str,
        limit: u32,
    ) -> Result<Vec<Outreach>, StoreError> {
        let sql = format!(
            "SELECT id, account_id, play, owner, channel, contacted_at, outcome, note \
             FROM outreach WHERE account_id = $1 ORDER BY contacted_at DESC, id LIMIT {limit}"
        );
        let rows: Vec<OutreachRow> = on_backend!(self, p => {
            sqlx::query_as::<_, OutreachRow>(&sql).bind(account_id).fetch_all(p).await?
        });
        rows.into_iter().map(outreach_of).collect()
    }

    /// The outreach record with id `id`, if any.
    pub async fn outreach(&self, id: &str) -> Result<Option<Outreach>, StoreError> {
        let sql = "SELECT id, account_id, play, owner, channel, contacted_at, outcome, note \
                   FROM outreach WHERE id = $1";
        let row: Option<OutreachRow> = on_backend!(self, p => {
            sqlx::query_as::<_, OutreachRow>(sql).bind(id).fetch_optional(p).await?
        });
        row.map(outreach_of).transpose()
    }

    /// Every recorded churn: `(account_id, occurred_at)`, oldest first.
    pub async fn churn_events(&self) -> Result<Vec<(String, Ts)>, StoreError> {
        let sql = "SELECT account_id, occurred_at FROM subscription_events \
                   WHERE kind = $1 ORDER BY occurred_at, account_id";
        let rows: Vec<(String, i64)> = on_backend!(self, p => {
            sqlx::query_as::<_, (String, i64)>(sql)
                .bind(SubscriptionKind::Churn.to_string())
                .fetch_all(p)
                .await?
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::{OutreachOutcome, Record};

    use super::*;
    use crate::NewScoreRun;
    use crate::ingest::tests::account;

    fn new_run(week: &str, score_run_id: i64, trigger: &str, created_at: Ts) -> NewListRun {
        NewListRun {
            week: week.into(),
            week_start: 20_000,
            score_run_id,
            as_of: 20_000,
            churn_version: "churn-v1".into(),
            expansion_version: None,
            params: r#"{"capacity":10}"#.into(),
            trigger: trigger.into(),
            created_at,
        }
    }

    fn row(kind: &str, rank: i64, account: &str, owner: &str, value: f64) -> ListRow {
        ListRow {
            kind: kind.into(),
            rank,
            account_id: account.into(),
            owner: owner.into(),
            segment: "smb".into(),
            band: if value > 100.0 { "red" } else { "yellow" }.into(),
            value,
            row_json: format!(r#"{{"account":"{account}","note":"café ✓"}}"#),
        }
    }

    async fn score_run(store: &Store, as_of: Day, created_at: Ts) -> ScoreRunInfo {
        let run = NewScoreRun {
            as_of,
            created_at,
            churn_version: "churn-v1".into(),
            expansion_version: None,
            trigger: "manual".into(),
        };
        store.save_score_run(&run, &[]).await.unwrap()
    }

    #[tokio::test]
    async fn lists_save_replace_claim_and_filter() {
        for store in crate::test_stores("lists_save").await {
            save_replace_claim(store).await;
        }
    }

    async fn save_replace_claim(store: Store) {
        let b = store.backend_name();
        let s1 = score_run(&store, 20_000, 1_000).await;
        let s2 = score_run(&store, 20_002, 2_000).await;
        let s3 = score_run(&store, 20_002, 3_000).await;
        let _later = score_run(&store, 20_008, 4_000).await;
        // The week's run: latest day in the week, newest of that day.
        let found = store.score_run_between(20_000, 20_006).await.unwrap();
        assert_eq!(found.map(|r| r.run_id), Some(s3.run_id), "{b}");
        assert_eq!(store.score_run_between(19_000, 19_999).await.unwrap(), None);
        assert!(s2.run_id > s1.run_id);

        let mut rows: Vec<ListRow> = (0..ROWS_PER_INSERT + 3)
            .map(|i| {
                row(
                    "risk",
                    i as i64 + 1,
                    &format!("a-{i:05}"),
                    "ann",
                    1e6 - i as f64,
                )
            })
            .collect();
        rows.push(row("holdout", 1, "h-1", "bob", 500.0));
        let first = store
            .save_list_run(
                &new_run("2024-W40", s3.run_id, "manual", 10),
                &rows,
                ListWrite::Replace,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.generation, 1, "{b}");
        assert_eq!(
            store.list_run("2024-W40").await.unwrap(),
            Some(first.clone())
        );
        let all = store
            .list_rows(first.list_run_id, &ListRowFilter::default())
            .await
            .unwrap();
        assert_eq!(all.len(), rows.len(), "{b}");
        // Kind then rank; every value back bit for bit.
        assert_eq!(all[0], rows[ROWS_PER_INSERT + 3], "{b}");
        assert_eq!(&all[1..], &rows[..ROWS_PER_INSERT + 3], "{b}");
        let top = store
            .list_rows(
                first.list_run_id,
                &ListRowFilter {
                    kind: Some("risk".into()),
                    owner: Some("ann".into()),
                    band: Some("red".into()),
                    limit: 2,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(top, rows[..2].to_vec(), "{b}");
        let none = ListRowFilter {
            owner: Some("nobody".into()),
            ..Default::default()
        };
        assert!(
            store
                .list_rows(first.list_run_id, &none)
                .await
                .unwrap()
                .is_empty()
        );

        // A claim of a taken week writes nothing.
        let claim = store
            .save_list_run(
                &new_run("2024-W40", s1.run_id, "scheduled", 20),
                &[row("risk", 1, "x", "zed", 1.0)],
                ListWrite::Claim,
            )
            .await
            .unwrap();
        assert_eq!(claim, None, "{b}");
        assert_eq!(
            store.list_run("2024-W40").await.unwrap(),
            Some(first.clone())
        );

        // Replacing keeps the id, counts the generation and swaps every row.
        let second = store
            .save_list_run(
                &new_run("2024-W40", s3.run_id, "manual", 30),
                &[row("risk", 1, "z-1", "cy", 7.0)],
                ListWrite::Replace,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (second.list_run_id, second.generation, second.created_at),
            (first.list_run_id, 2, 30),
            "{b}"
        );
        let all = store
            .list_rows(second.list_run_id, &ListRowFilter::default())
            .await
            .unwrap();
        assert_eq!(all, vec![row("risk", 1, "z-1", "cy", 7.0)], "{b}");

        // A claim of a free week writes; runs list newest week first.
        let mut w41 = new_run("2024-W41", s3.run_id, "scheduled", 40);
        w41.week_start = 20_007;
        let other = store
            .save_list_run(&w41, &[], ListWrite::Claim)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            store.list_runs(10).await.unwrap(),
            vec![other.clone(), second.clone()],
            "{b}"
        );
        assert_eq!(
            store.list_run_on_or_before(20_006).await.unwrap(),
            Some(second),
            "{b}"
        );
        assert_eq!(store.list_run_on_or_before(19_999).await.unwrap(), None);

        // A value that is not a number is refused and leaves the week as it was.
        let bad = [row("risk", 1, "n", "cy", f64::NAN)];
        assert!(
            store
                .save_list_run(&w41, &bad, ListWrite::Replace)
                .await
                .is_err()
        );
        assert_eq!(store.list_run("2024-W41").await.unwrap(), Some(other));
    }

    /// Two servers sharing one database race to write the same week: exactly
    /// one writes it, once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_stores_never_write_a_week_twice() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("race.db").display());
        let pair = vec![(
            Store::connect(&url).await.unwrap(),
            Store::connect(&url).await.unwrap(),
        )];
        let mut pairs = pair;
        if let Ok(url) = std::env::var("PULSE_TEST_DATABASE_URL")
            && !url.is_empty()
        {
            let schema = "pulse_test_lists_race";
            let a = Store::connect_postgres_schema(&url, schema, true)
                .await
                .unwrap();
            let b = Store::connect_postgres_schema(&url, schema, false)
                .await
                .unwrap();
            pairs.push((a, b));
        }
        for (a, b) in pairs {
            let backend = a.backend_name();
            let run = score_run(&a, 20_000, 1).await;
            for round in 0..5 {
                let week = format!("2024-W{:02}", 10 + round);
                let rows_a: Vec<ListRow> = (0..300)
                    .map(|i| row("risk", i + 1, &format!("a-{i}"), "ann", 1.0))
                    .collect();
                let rows_b: Vec<ListRow> = (0..300)
                    .map(|i| row("risk", i + 1, &format!("b-{i}"), "bob", 2.0))
                    .collect();
                let (ra, rb) = tokio::join!(
                    {
                        let a = a.clone();
                        let r = new_run(&week, run.run_id, "scheduled", 1);
                        async move { a.save_list_run(&r, &rows_a, ListWrite::Claim).await }
                    },
                    {
                        let b = b.clone();
                        let r = new_run(&week, run.run_id, "scheduled", 2);
                        async move { b.save_list_run(&r, &rows_b, ListWrite::Claim).await }
                    }
                );
                let (ra, rb) = (ra.unwrap(), rb.unwrap());
                assert!(
                    ra.is_some() != rb.is_some(),
                    "{backend}: exactly one server writes {week}"
                );
                let saved = ra.or(rb).unwrap();
                let rows = a
                    .list_rows(saved.list_run_id, &ListRowFilter::default())
                    .await
                    .unwrap();
                assert_eq!(rows.len(), 300, "{backend}");
                let owner = &rows[0].owner;
                assert!(
                    rows.iter().all(|r| &r.owner == owner),
                    "{backend}: one writer's rows"
                );
                assert_eq!(saved.generation, 1, "{backend}");
            }
        }
    }

    #[tokio::test]
    async fn outreach_and_churn_events_read_back() {
        for store in crate::test_stores("lists_outreach").await {
            let b = store.backend_name();
            let mut recs = vec![(0, Record::Account(account("a-1")))];
            let mk = |id: &str, at: Ts, owner: &str, outcome: OutreachOutcome| Outreach {
                id: id.into(),
                account_id: "a-1".into(),
                play: "Champion call".into(),
                owner: owner.into(),
                channel: "call".into(),
                contacted_at: at,
                outcome,
                note: "spoke to the CFO".into(),
            };
            let o1 = mk("o-1", 1_000, "ann", OutreachOutcome::Reached);
            let o2 = mk("o-2", 2_000, "bob", OutreachOutcome::Saved);
            let o3 = mk("o-3", 3_000, "ann", OutreachOutcome::NoAnswer);
            recs.push((1, Record::Outreach(o2.clone())));
            recs.push((2, Record::Outreach(o1.clone())));
            recs.push((3, Record::Outreach(o3.clone())));
            recs.push((
                4,
                Record::Subscription(pulse_core::SubscriptionEvent {
                    deleted_at: None,
                    id: "s-1".into(),
                    account_id: "a-1".into(),
                    kind: SubscriptionKind::Churn,
                    occurred_at: 5_000,
                    mrr_before: 500.0,
                    mrr_after: 0.0,
                    seats_before: None,
                    seats_after: None,
                    plan: "essentials".into(),
                    reason: "acquired".into(),
                }),
            ));
            let out = store.ingest(recs).await.unwrap();
            assert!(out.rejected.is_empty(), "{b}");
            assert_eq!(
                store.outreach("o-3").await.unwrap(),
                Some(o3.clone()),
                "{b}"
            );
            assert_eq!(store.outreach("o-9").await.unwrap(), None, "{b}");
            let start = store.account("a-1").await.unwrap().unwrap().start_date;
            assert_eq!(store.first_data_day().await.unwrap(), Some(start), "{b}");
            assert_eq!(
                store.outreach_between(1_000, 3_000, None).await.unwrap(),
                vec![o1.clone(), o2],
                "{b}"
            );
            assert_eq!(
                store
                    .outreach_between(0, 10_000, Some("ann"))
                    .await
                    .unwrap(),
                vec![o1, o3],
                "{b}"
            );
            assert_eq!(
                store.churn_events().await.unwrap(),
                vec![("a-1".to_string(), 5_000)],
                "{b}"
            );
        }
    }
}
