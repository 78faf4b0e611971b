-- Every text column in a key or an index compares byte by byte (collation
-- "C"), as SQLite compares text, whatever the database's locale:
-- - the same order on both backends: the history load orders each account's
--   events by id where they share an instant, and features read the latest;
-- - cheaper to maintain: a B-tree insert compares a key about 24 times, and
--   a locale's comparison copies both strings and calls strcoll. A 1 M-row
--   insert into a table with two text indexes took 5.3-5.5 s instead of
--   6.1 s, and the import of a 50,000-account base about 1.3 s less
--   (docs/benchmarks.md).
-- For UTF-8 text, byte order is code point order, which a C.UTF-8 database
-- already gives: there, nothing but the speed changes. Changing a column's
-- collation rewrites its indexes, not the table.
ALTER TABLE accounts ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE accounts ALTER COLUMN owner TYPE TEXT COLLATE "C";
ALTER TABLE accounts ALTER COLUMN segment TYPE TEXT COLLATE "C";
ALTER TABLE contacts ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE contacts ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE interactions ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE interactions ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE usage ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE subscription_events ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE subscription_events ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE survey_responses ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE survey_responses ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE operational_events ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE operational_events ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE outreach ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE outreach ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE account_scores ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE list_rows ALTER COLUMN kind TYPE TEXT COLLATE "C";
ALTER TABLE list_rows ALTER COLUMN account_id TYPE TEXT COLLATE "C";
ALTER TABLE join_keys ALTER COLUMN kind TYPE TEXT COLLATE "C";
ALTER TABLE join_keys ALTER COLUMN key_name TYPE TEXT COLLATE "C";
ALTER TABLE join_keys ALTER COLUMN value TYPE TEXT COLLATE "C";
ALTER TABLE list_runs ALTER COLUMN week TYPE TEXT COLLATE "C";
ALTER TABLE model_profiles ALTER COLUMN version TYPE TEXT COLLATE "C";
ALTER TABLE leases ALTER COLUMN name TYPE TEXT COLLATE "C";
ALTER TABLE train_jobs ALTER COLUMN job_id TYPE TEXT COLLATE "C";
