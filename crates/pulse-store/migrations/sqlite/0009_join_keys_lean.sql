-- Join keys, cheaper to write: an import of 186,000 contacts stores as
-- many email keys, and each key cost three B-tree inserts (the rowid
-- table, its primary key and the account index). Without a rowid the
-- primary key is the table, and the account index goes: it served only
-- forgetting an account, which now reads the table once (a few
-- milliseconds per 100,000 keys) and is rare.

CREATE TABLE join_keys_lean (
    kind TEXT NOT NULL,
    key_name TEXT NOT NULL,
    value TEXT NOT NULL,
    record_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (kind, key_name, value)
) WITHOUT ROWID;
INSERT INTO join_keys_lean (kind, key_name, value, record_id, account_id)
    SELECT kind, key_name, value, record_id, account_id FROM join_keys;
DROP TABLE join_keys;
ALTER TABLE join_keys_lean RENAME TO join_keys;
