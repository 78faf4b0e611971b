-- PostgreSQL's 0012 makes its keys compare byte by byte (collation "C").
-- SQLite's default collation, BINARY, already does: nothing to change, the
-- numbering stays the same on both backends.
SELECT 1;
