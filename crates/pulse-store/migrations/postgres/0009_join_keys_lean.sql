-- Join keys, cheaper to write (see the SQLite migration of the same
-- number): the account index served only forgetting an account, which is
-- rare and now reads the table once.

DROP INDEX IF EXISTS join_keys_account;
