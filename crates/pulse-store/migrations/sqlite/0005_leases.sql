-- Leases (issue 16): when several servers share one database, each scheduled
-- job (the weekly scoring run, a retraining, a drift check) runs under a
-- named lease that one holder has until `expires_at` (Unix seconds). A holder
-- that dies leaves its lease to expire, and the job is claimable again. Same
-- columns on SQLite and PostgreSQL.

CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
