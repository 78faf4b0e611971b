-- Weekly ranked lists (issue 6). One list run per ISO week, made from one
-- stored scoring run; regenerating a week replaces its rows inside one
-- transaction (the run row is updated in place and `generation` counts the
-- generations). The unique week is the claim that keeps two servers sharing
-- one database from writing a week twice: a scheduled generation inserts the
-- run with ON CONFLICT DO NOTHING and writes nothing when the week is taken.
-- `params` (capacity, ranking, save rate, holdout share and seed, ...) and
-- each row's `row_json` are JSON written by the lists code; the store does
-- not read their structure. Same columns on SQLite and PostgreSQL.

CREATE TABLE list_runs (
    list_run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    week TEXT NOT NULL UNIQUE,
    week_start_day INTEGER NOT NULL,
    score_run_id INTEGER NOT NULL REFERENCES score_runs (run_id),
    as_of_day INTEGER NOT NULL,
    churn_version TEXT NOT NULL,
    expansion_version TEXT,
    params TEXT NOT NULL,
    trigger TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    generation INTEGER NOT NULL
);
CREATE INDEX list_runs_start ON list_runs (week_start_day);

-- kind: risk (ranked at-risk list), expansion, mover, newly_red, holdout
-- (at-risk accounts kept off the list as a control group).
CREATE TABLE list_rows (
    list_run_id INTEGER NOT NULL REFERENCES list_runs (list_run_id),
    kind TEXT NOT NULL,
    rank INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    owner TEXT NOT NULL,
    segment TEXT NOT NULL,
    band TEXT NOT NULL,
    value REAL NOT NULL,
    row_json TEXT NOT NULL,
    PRIMARY KEY (list_run_id, kind, account_id)
);
CREATE INDEX list_rows_rank ON list_rows (list_run_id, kind, rank);
CREATE INDEX list_rows_account ON list_rows (account_id, list_run_id);
