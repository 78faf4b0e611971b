-- Join keys (issue 19): the keys an import mapping's account and contact
-- blocks offer (`[entity.keys]`: an email domain, an email address, a CRM
-- id), kept so that a later import of another export (today's tickets
-- alone) can find its accounts and contacts by them. `value` is lower case.
-- An email is personal data: forgetting a contact or an account deletes its
-- keys.

CREATE TABLE join_keys (
    kind TEXT NOT NULL,
    key_name TEXT NOT NULL,
    value TEXT NOT NULL,
    record_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (kind, key_name, value)
);
CREATE INDEX join_keys_account ON join_keys (account_id);
