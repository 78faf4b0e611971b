-- PostgreSQL's 0011 compresses the scoring runs' and lists' JSON with lz4.
-- SQLite does not compress values: nothing to change, the numbering stays
-- the same on both backends.
SELECT 1;
