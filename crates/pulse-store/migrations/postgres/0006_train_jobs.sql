-- Training jobs (issue 16): each job a server starts is recorded, so a job
-- stopped by a shutdown is marked `interrupted` (with what to run again)
-- instead of vanishing, and `GetTrainJob` answers for it after a restart.
-- `request` is JSON written by the server (never an uploaded corpus). Same
-- columns on SQLite and PostgreSQL.

CREATE TABLE train_jobs (
    job_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    work TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT
);
