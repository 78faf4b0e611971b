//! Bulk writes to PostgreSQL through `COPY`.
//!
//! A batch's rows of one kind are streamed with `COPY ... FROM STDIN` (text
//! format) into a temporary table that has the target's column types and is
//! dropped at the end of the transaction, then moved into the target with
//! one `INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE`. So a batch keeps
//! the multi-row upsert's meaning (re-sending a record updates it in place,
//! columns the batch does not carry are left as they are, a dry run rolls
//! everything back) without parsing and binding tens of thousands of
//! parameters per statement. Updated rows are counted with one join of the
//! loaded rows against the target's key before the upsert.

use std::io::Write;

use sqlx::PgConnection;

use crate::ingest::Row;
use crate::value::Value;

/// Appends `v` in `COPY`'s text format: `\N` for NULL, backslash escapes for
/// the characters that delimit fields and rows.
pub(crate) fn push_value(buf: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Text(s) | Value::OptText(Some(s)) => push_text(buf, s),
        Value::Static(s) => push_text(buf, s),
        Value::OptText(None) | Value::OptInt(None) | Value::OptReal(None) => {
            buf.extend_from_slice(b"\\N")
        }
        Value::Int(i) | Value::OptInt(Some(i)) => {
            let _ = write!(buf, "{i}");
        }
        Value::Real(f) | Value::OptReal(Some(f)) => push_real(buf, *f),
        Value::Bool(b) => buf.push(if *b { b't' } else { b'f' }),
    }
}

fn push_text(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.extend_from_slice(esc);
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Rust prints the shortest decimal that reads back to the same `f64`, and
/// PostgreSQL's `float8` input reads it back exactly.
fn push_real(buf: &mut Vec<u8>, f: f64) {
    if f.is_nan() {
        buf.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        buf.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        let _ = write!(buf, "{f}");
    }
}

/// One row of `COPY` text: tab-separated values ending in a newline.
pub(crate) fn push_row(buf: &mut Vec<u8>, values: &[Value]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            buf.push(b'\t');
        }
        push_value(buf, v);
    }
    buf.push(b'\n');
}

/// Bytes per `COPY` data message sent to the server.
const SEND_CHUNK: usize = 1 << 20;

/// Upserts `rows` into `T::TABLE` on `conn` (inside the caller's
/// transaction) and returns how many of them replaced a stored row.
///
/// The rows are first copied straight into the table under a savepoint: a
/// first load, or a batch of new records, is done then. When one of them
/// has a key already stored, the copy stops there with a key violation (for
/// a re-sent file, at its first row), is rolled back to the savepoint, and
/// the rows are copied into a temporary table and upserted from it.
///
/// Probing the table for the batch's keys first was tried and dropped:
/// PostgreSQL plans `id = ANY($1)` over a 20,000-id array as a sequential
/// scan, 5-14 s a batch on 186,000 contacts.
pub(crate) async fn upsert<T: Row>(
    conn: &mut PgConnection,
    rows: Vec<T>,
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let data = encode(rows);
    let cols = T::COLS.join(", ");

    sqlx::query("SAVEPOINT pulse_copy")
        .execute(&mut *conn)
        .await?;
    match copy_in(conn, T::TABLE, &cols, &data).await {
        Ok(()) => {
            sqlx::query("RELEASE SAVEPOINT pulse_copy")
                .execute(&mut *conn)
                .await?;
            return Ok(0);
        }
        Err(e) if is_unique_violation(&e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT pulse_copy")
                .execute(&mut *conn)
                .await?;
        }
        Err(e) => return Err(e),
    }

    // One temporary table per table and column list: interactions with and
    // without sentiment carry different columns and may share a batch.
    let tmp = format!("pulse_load_{}_{}", T::TABLE, T::COLS.len());
    sqlx::query(&format!(
        "CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {cols} FROM {} WITH NO DATA",
        T::TABLE
    ))
    .execute(&mut *conn)
    .await?;
    copy_in(conn, &tmp, &cols, &data).await?;
    drop(data);

    let on: Vec<String> = T::KEY.iter().map(|k| format!("l.{k} = t.{k}")).collect();
    let (updated,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM {tmp} l JOIN {} t ON {}",
        T::TABLE,
        on.join(" AND ")
    ))
    .fetch_one(&mut *conn)
    .await?;

    // A row re-sent unchanged is left as it is: no new row version, no
    // index or WAL write (a re-import of yesterday's export rewrites only
    // what changed). It still counts as updated, as on SQLite.
    let values: Vec<&str> = T::COLS
        .iter()
        .copied()
        .filter(|c| !T::KEY.contains(c))
        .collect();
    let updates: Vec<String> = values
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let stored: Vec<String> = values.iter().map(|c| format!("t.{c}")).collect();
    let sent: Vec<String> = values.iter().map(|c| format!("excluded.{c}")).collect();
    sqlx::query(&format!(
        "INSERT INTO {table} AS t ({cols}) SELECT {cols} FROM {tmp} \
         ON CONFLICT ({key}) DO UPDATE SET {updates} \
         WHERE ({stored}) IS DISTINCT FROM ({sent})",
        table = T::TABLE,
        key = T::KEY.join(", "),
        updates = updates.join(", "),
        stored = stored.join(", "),
        sent = sent.join(", "),
    ))
    .execute(&mut *conn)
    .await?;
    sqlx::query(&format!("DROP TABLE {tmp}"))
        .execute(&mut *conn)
        .await?;
    Ok(updated as u64)
}

/// The rows in `COPY` text, in order.
fn encode<T: Row>(rows: Vec<T>) -> Vec<u8> {
    let mut buf = Vec::with_capacity(rows.len() * 64 * T::COLS.len().min(8));
    let mut values = Vec::with_capacity(T::COLS.len());
    for r in rows {
        r.push_values(&mut values);
        push_row(&mut buf, &values);
        values.clear();
    }
    buf
}

/// `COPY target (cols) FROM STDIN` with `data`.
async fn copy_in(
    conn: &mut PgConnection,
    target: &str,
    cols: &str,
    data: &[u8],
) -> Result<(), sqlx::Error> {
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN"))
        .await?;
    for chunk in data.chunks(SEND_CHUNK) {
        if let Err(e) = copy.send(chunk).await {
            // Ends the COPY so that the connection can be used again.
            let _ = copy.abort(e.to_string()).await;
            return Err(e);
        }
    }
    copy.finish().await.map(|_| ())
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(values: &[Value]) -> String {
        let mut buf = Vec::new();
        push_row(&mut buf, values);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn text_escapes_what_delimits_fields_and_rows() {
        assert_eq!(
            row(&[
                Value::Text("a\tb\nc\\d\re".into()),
                Value::Static("active"),
                Value::OptText(Some("Ünïcode ✓".into())),
            ]),
            "a\\tb\\nc\\\\d\\re\tactive\tÜnïcode ✓\n"
        );
    }

    #[test]
    fn nulls_numbers_and_booleans_use_copy_spellings() {
        assert_eq!(
            row(&[
                Value::OptText(None),
                Value::OptInt(None),
                Value::OptReal(None),
                Value::Int(-42),
                Value::OptInt(Some(1_700_000_000)),
                Value::Real(0.1),
                Value::OptReal(Some(-1e-7)),
                Value::Bool(true),
                Value::Bool(false),
            ]),
            "\\N\t\\N\t\\N\t-42\t1700000000\t0.1\t-0.0000001\tt\tf\n"
        );
    }

    #[test]
    fn reals_read_back_exactly() {
        for f in [0.1, 1.0 / 3.0, 123456.789e10, f64::MIN_POSITIVE, -2.5e-300] {
            let mut buf = Vec::new();
            push_value(&mut buf, &Value::Real(f));
            let back: f64 = std::str::from_utf8(&buf).unwrap().parse().unwrap();
            assert_eq!(back.to_bits(), f.to_bits(), "{f}");
        }
        let mut buf = Vec::new();
        push_value(&mut buf, &Value::Real(f64::NEG_INFINITY));
        assert_eq!(buf, b"-Infinity");
    }
}
