-- Pulse entities. Dates are BIGINT days since 1970-01-01 (*_day), instants are
-- BIGINT seconds since the Unix epoch (*_at). Same columns on SQLite and PostgreSQL.

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    segment TEXT NOT NULL,
    industry TEXT NOT NULL,
    region TEXT NOT NULL,
    plan TEXT NOT NULL,
    mrr DOUBLE PRECISION NOT NULL,
    seats BIGINT NOT NULL,
    owner TEXT NOT NULL,
    start_day BIGINT NOT NULL,
    renewal_day BIGINT,
    status TEXT NOT NULL
);
CREATE INDEX accounts_owner ON accounts (owner);
CREATE INDEX accounts_segment ON accounts (segment);

CREATE TABLE contacts (
    id TEXT NOT NULL,
    observed_at BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    name TEXT NOT NULL,
    persona TEXT NOT NULL,
    relationship_strength BIGINT NOT NULL,
    sentiment TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (id, observed_at)
);
CREATE INDEX contacts_account ON contacts (account_id, observed_at);

CREATE TABLE interactions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    contact_id TEXT,
    channel TEXT NOT NULL,
    topic TEXT NOT NULL,
    opened_at BIGINT NOT NULL,
    first_response_at BIGINT,
    resolved_at BIGINT,
    escalated BOOLEAN NOT NULL,
    reopened BOOLEAN NOT NULL,
    contacts_to_resolve BIGINT NOT NULL,
    csat BIGINT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    sentiment_score DOUBLE PRECISION,
    sentiment_label TEXT,
    sentiment_model TEXT
);
CREATE INDEX interactions_account ON interactions (account_id, opened_at);

CREATE TABLE usage (
    account_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    period_days BIGINT NOT NULL,
    active_users BIGINT NOT NULL,
    logins BIGINT NOT NULL,
    features_used BIGINT NOT NULL,
    PRIMARY KEY (account_id, day)
);

CREATE TABLE subscription_events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    mrr_before DOUBLE PRECISION NOT NULL,
    mrr_after DOUBLE PRECISION NOT NULL,
    seats_before BIGINT,
    seats_after BIGINT,
    plan TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX subscription_events_account ON subscription_events (account_id, occurred_at);

CREATE TABLE survey_responses (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    contact_id TEXT,
    kind TEXT NOT NULL,
    score BIGINT NOT NULL,
    comment TEXT NOT NULL,
    responded_at BIGINT NOT NULL,
    sentiment_score DOUBLE PRECISION,
    sentiment_label TEXT,
    sentiment_model TEXT
);
CREATE INDEX survey_responses_account ON survey_responses (account_id, responded_at);

CREATE TABLE operational_events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX operational_events_account ON operational_events (account_id, occurred_at);

CREATE TABLE outreach (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    play TEXT NOT NULL,
    owner TEXT NOT NULL,
    channel TEXT NOT NULL,
    contacted_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX outreach_account ON outreach (account_id, contacted_at);
