-- Score history (issue 5). A scoring run stores each account's score, band and
-- explanation with the model versions that produced them. Rows are only ever
-- inserted: `Score(account, as_of)` must answer exactly as it did on that day,
-- so a re-run for the same as_of day adds a new run and never rewrites one.
-- `explanation` is JSON text written by the scoring code; the store does not
-- read its structure. Same columns on SQLite and PostgreSQL.

CREATE TABLE score_runs (
    run_id BIGSERIAL PRIMARY KEY,
    as_of_day BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    churn_version TEXT NOT NULL,
    expansion_version TEXT,
    trigger TEXT NOT NULL,
    n_accounts BIGINT NOT NULL
);
CREATE INDEX score_runs_as_of ON score_runs (as_of_day, created_at);

CREATE TABLE account_scores (
    run_id BIGINT NOT NULL REFERENCES score_runs (run_id),
    account_id TEXT NOT NULL,
    churn_probability DOUBLE PRECISION NOT NULL,
    health DOUBLE PRECISION NOT NULL,
    band TEXT NOT NULL,
    quadrant TEXT NOT NULL,
    expansion_probability DOUBLE PRECISION,
    arr DOUBLE PRECISION NOT NULL,
    arr_at_risk DOUBLE PRECISION NOT NULL,
    explanation TEXT NOT NULL,
    PRIMARY KEY (run_id, account_id)
);
CREATE INDEX account_scores_account ON account_scores (account_id, run_id);
