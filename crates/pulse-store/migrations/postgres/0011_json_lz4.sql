-- The largest values Pulse writes every week are JSON: each account's
-- explanation in a scoring run (about 2.8 KB, 110 MB a run at 40,000
-- customers) and each list row. Above 2 KB PostgreSQL compresses a value,
-- with pglz by default; lz4 stores a 50,000-account scoring run in 1.6 s
-- instead of 2.7 s (docs/benchmarks.md). Only new values are written with
-- it; stored ones stay as they are and read the same.
--
-- lz4 needs PostgreSQL 14 or later built with it (Debian's and the cloud
-- providers' are). Elsewhere the columns keep the server's default.
DO $$
BEGIN
    ALTER TABLE account_scores ALTER COLUMN explanation SET COMPRESSION lz4;
    ALTER TABLE list_rows ALTER COLUMN row_json SET COMPRESSION lz4;
EXCEPTION
    WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
        RAISE NOTICE 'lz4 compression not available: JSON columns keep the default';
END
$$;
