-- Model operations (issue 9). Every champion/challenger decision, every drift
-- check and the training-data profile each model is checked against. Rows are
-- only inserted (a profile is written once per model version). `detail`,
-- `report` and `profile` are JSON written by the server; the store does not
-- read their structure. Same columns on SQLite and PostgreSQL.

CREATE TABLE model_decisions (
    decision_id BIGSERIAL PRIMARY KEY,
    decided_at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    trigger TEXT NOT NULL,
    challenger_version TEXT NOT NULL,
    champion_version TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    champion_pr_auc DOUBLE PRECISION,
    challenger_pr_auc DOUBLE PRECISION,
    champion_ece DOUBLE PRECISION,
    challenger_ece DOUBLE PRECISION,
    detail TEXT NOT NULL
);
CREATE INDEX model_decisions_decided ON model_decisions (decided_at);

CREATE TABLE drift_checks (
    check_id BIGSERIAL PRIMARY KEY,
    checked_at BIGINT NOT NULL,
    as_of_day BIGINT NOT NULL,
    kind TEXT NOT NULL,
    model_version TEXT NOT NULL,
    level TEXT NOT NULL,
    max_psi DOUBLE PRECISION NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX drift_checks_checked ON drift_checks (checked_at);

CREATE TABLE model_profiles (
    version TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    profile TEXT NOT NULL
);
