-- Model operations (issue 9). Every champion/challenger decision, every drift
-- check and the training-data profile each model is checked against. Rows are
-- only inserted (a profile is written once per model version). `detail`,
-- `report` and `profile` are JSON written by the server; the store does not
-- read their structure. Same columns on SQLite and PostgreSQL.

CREATE TABLE model_decisions (
    decision_id INTEGER PRIMARY KEY AUTOINCREMENT,
    decided_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    trigger TEXT NOT NULL,
    challenger_version TEXT NOT NULL,
    champion_version TEXT,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    champion_pr_auc REAL,
    challenger_pr_auc REAL,
    champion_ece REAL,
    challenger_ece REAL,
    detail TEXT NOT NULL
);
CREATE INDEX model_decisions_decided ON model_decisions (decided_at);

CREATE TABLE drift_checks (
    check_id INTEGER PRIMARY KEY AUTOINCREMENT,
    checked_at INTEGER NOT NULL,
    as_of_day INTEGER NOT NULL,
    kind TEXT NOT NULL,
    model_version TEXT NOT NULL,
    level TEXT NOT NULL,
    max_psi REAL NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX drift_checks_checked ON drift_checks (checked_at);

CREATE TABLE model_profiles (
    version TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    profile TEXT NOT NULL
);
