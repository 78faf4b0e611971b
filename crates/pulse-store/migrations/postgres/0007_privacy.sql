-- Erasure and retention of personal data (issue 19): every erasure of an
-- account's or a contact's personal data, and every run of the text
-- retention, is recorded here: when, what, on which record, and how many
-- rows it changed. The entry never holds the erased values themselves.

CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
