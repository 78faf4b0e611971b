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
use std::sync::Mutex;

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
    // Nearly every value has nothing to escape: one branch-free pass finds
    // that, and the value is copied whole.
    let special = bytes.iter().fold(false, |any, &b| {
        any | (b == b'\\') | (b == b'\t') | (b == b'\n') | (b == b'\r')
    });
    if !special {
        buf.extend_from_slice(bytes);
        return;
    }
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

/// Buffers of encoded rows, kept for the next batch: a bulk load writes
/// hundreds of batches of about the same size, and a new buffer of several
/// megabytes is a new mapping whose every page faults when first written.
static BUFFERS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// At most this many buffers are kept, each at most [`KEEP_BYTES`].
const KEEP_BUFFERS: usize = 2;
const KEEP_BYTES: usize = 64 << 20;

fn take_buffer() -> Vec<u8> {
    BUFFERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .pop()
        .unwrap_or_default()
}

fn give_back(mut buf: Vec<u8>) {
    if buf.capacity() > KEEP_BYTES {
        return;
    }
    buf.clear();
    let mut kept = BUFFERS.lock().unwrap_or_else(|p| p.into_inner());
    if kept.len() < KEEP_BUFFERS {
        kept.push(buf);
    }
}

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
    let cols = T::COLS.join(", ");

    sqlx::query("SAVEPOINT pulse_copy")
        .execute(&mut *conn)
        .await?;
    let mut data = take_buffer();
    let copied = copy_in_encoding(conn, T::TABLE, &cols, rows, &mut data).await;
    let data = match copied {
        Ok(()) => {
            give_back(data);
            sqlx::query("RELEASE SAVEPOINT pulse_copy")
                .execute(&mut *conn)
                .await?;
            return Ok(0);
        }
        Err(e) if is_unique_violation(&e) => {
            sqlx::query("ROLLBACK TO SAVEPOINT pulse_copy")
                .execute(&mut *conn)
                .await?;
            data
        }
        Err(e) => {
            give_back(data);
            return Err(e);
        }
    };

    // One temporary table per table and column list: interactions with and
    // without sentiment carry different columns and may share a batch.
    let tmp = format!("pulse_load_{}_{}", T::TABLE, T::COLS.len());
    sqlx::query(&format!(
        "CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {cols} FROM {} WITH NO DATA",
        T::TABLE
    ))
    .execute(&mut *conn)
    .await?;
    let copied = copy_in(conn, &tmp, &cols, &data).await;
    give_back(data);
    copied?;

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

/// `COPY target (cols) FROM STDIN` of `rows`, encoded into `data` as they
/// are sent: each [`SEND_CHUNK`] goes out as soon as it is encoded, so the
/// server stores one chunk while the next is encoded. On return `data`
/// holds every row in `COPY` text, in order, whatever the outcome (a key
/// violation is copied again into a temporary table).
async fn copy_in_encoding<T: Row>(
    conn: &mut PgConnection,
    target: &str,
    cols: &str,
    rows: Vec<T>,
    data: &mut Vec<u8>,
) -> Result<(), sqlx::Error> {
    data.clear();
    data.reserve(rows.len() * 64 * T::COLS.len().min(8));
    let mut copy = conn
        .copy_in_raw(&format!("COPY {target} ({cols}) FROM STDIN"))
        .await?;
    let mut values = Vec::with_capacity(T::COLS.len());
    let mut sent = 0;
    let mut failed = None;
    for r in rows {
        r.push_values(&mut values);
        push_row(data, &values);
        values.clear();
        if failed.is_none() && data.len() - sent >= SEND_CHUNK {
            match copy.send(&data[sent..]).await {
                Ok(_) => sent = data.len(),
                // The rest is still encoded, for the caller.
                Err(e) => failed = Some(e),
            }
        }
    }
    if failed.is_none()
        && sent < data.len()
        && let Err(e) = copy.send(&data[sent..]).await
    {
        failed = Some(e);
    }
    if let Some(e) = failed {
        // Ends the COPY so that the connection can be used again.
        let _ = copy.abort(e.to_string()).await;
        return Err(e);
    }
    copy.finish().await.map(|_| ())
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

/// The signature that opens `COPY ... (FORMAT binary)` output.
const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Reads `COPY ... TO STDOUT (FORMAT binary)` output as it arrives in
/// chunks, handing each complete row to a callback. Rows are decoded in
/// place from the received bytes: no per-row or per-value allocation, which
/// is most of what reading rows through sqlx costs.
#[derive(Debug, Default)]
pub(crate) struct BinaryRows {
    buf: Vec<u8>,
    header_read: bool,
    done: bool,
    spans: Vec<(usize, i32)>,
}

impl BinaryRows {
    /// Takes one chunk of output and calls `row` for every row it completes.
    pub(crate) fn push<E: From<crate::StoreError>>(
        &mut self,
        chunk: &[u8],
        mut row: impl FnMut(&BinaryRow<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.buf.extend_from_slice(chunk);
        let mut pos = 0;
        if !self.header_read {
            // Signature, flags, header extension length, extension.
            if self.buf.len() < 19 {
                return Ok(());
            }
            if &self.buf[..11] != BINARY_SIGNATURE {
                return Err(bad("not COPY binary output").into());
            }
            let ext = u32::from_be_bytes(self.buf[15..19].try_into().expect("4 bytes")) as usize;
            if self.buf.len() < 19 + ext {
                return Ok(());
            }
            pos = 19 + ext;
            self.header_read = true;
        }
        while !self.done {
            let Some(n) = read_i16(&self.buf, pos) else {
                break;
            };
            if n == -1 {
                self.done = true;
                pos += 2;
                break;
            }
            let mut at = pos + 2;
            self.spans.clear();
            let mut complete = true;
            for _ in 0..n.max(0) {
                let Some(len) = read_i32(&self.buf, at) else {
                    complete = false;
                    break;
                };
                at += 4;
                self.spans.push((at, len));
                if len > 0 {
                    at += len as usize;
                }
            }
            if !complete || at > self.buf.len() {
                break;
            }
            row(&BinaryRow {
                buf: &self.buf,
                spans: &self.spans,
            })?;
            pos = at;
        }
        self.buf.drain(..pos);
        Ok(())
    }

    /// Whether the output ended with its trailer (anything else is a
    /// truncated stream).
    pub(crate) fn finished(&self) -> bool {
        self.done
    }
}

fn read_i16(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn read_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn bad(what: impl std::fmt::Display) -> crate::StoreError {
    crate::StoreError::Load(format!("reading COPY output: {what}"))
}

/// One row of binary `COPY` output: each field's bytes (`None` for NULL).
pub(crate) struct BinaryRow<'a> {
    buf: &'a [u8],
    spans: &'a [(usize, i32)],
}

impl BinaryRow<'_> {
    fn field(&self, i: usize) -> Result<Option<&[u8]>, crate::StoreError> {
        let &(at, len) = self
            .spans
            .get(i)
            .ok_or_else(|| bad(format!("no column {i}")))?;
        Ok((len >= 0).then(|| &self.buf[at..at + len as usize]))
    }

    fn required(&self, i: usize) -> Result<&[u8], crate::StoreError> {
        self.field(i)?
            .ok_or_else(|| bad(format!("column {i} is NULL")))
    }
}

fn int_of(b: &[u8]) -> Result<i64, crate::StoreError> {
    Ok(match b.len() {
        8 => i64::from_be_bytes(b.try_into().expect("8 bytes")),
        4 => i64::from(i32::from_be_bytes(b.try_into().expect("4 bytes"))),
        2 => i64::from(i16::from_be_bytes(b.try_into().expect("2 bytes"))),
        n => return Err(bad(format!("an integer of {n} bytes"))),
    })
}

fn real_of(b: &[u8]) -> Result<f64, crate::StoreError> {
    Ok(match b.len() {
        8 => f64::from_be_bytes(b.try_into().expect("8 bytes")),
        4 => f64::from(f32::from_be_bytes(b.try_into().expect("4 bytes"))),
        n => return Err(bad(format!("a real of {n} bytes"))),
    })
}

fn text_of(b: &[u8]) -> Result<&str, crate::StoreError> {
    std::str::from_utf8(b).map_err(|e| bad(format!("text that is not UTF-8: {e}")))
}

impl crate::history::Cols for BinaryRow<'_> {
    fn text(&self, i: usize) -> Result<&str, crate::StoreError> {
        text_of(self.required(i)?)
    }
    fn opt_text(&self, i: usize) -> Result<Option<&str>, crate::StoreError> {
        self.field(i)?.map(text_of).transpose()
    }
    fn int(&self, i: usize) -> Result<i64, crate::StoreError> {
        int_of(self.required(i)?)
    }
    fn opt_int(&self, i: usize) -> Result<Option<i64>, crate::StoreError> {
        self.field(i)?.map(int_of).transpose()
    }
    fn real(&self, i: usize) -> Result<f64, crate::StoreError> {
        real_of(self.required(i)?)
    }
    fn opt_real(&self, i: usize) -> Result<Option<f64>, crate::StoreError> {
        self.field(i)?.map(real_of).transpose()
    }
    fn boolean(&self, i: usize) -> Result<bool, crate::StoreError> {
        match self.required(i)? {
            [b] => Ok(*b != 0),
            other => Err(bad(format!("a boolean of {} bytes", other.len()))),
        }
    }
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
    fn each_delimiter_is_escaped_wherever_it_stands() {
        for (c, esc) in [("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")] {
            for (text, want) in [
                (c.to_string(), esc.to_string()),
                (format!("{c}ab"), format!("{esc}ab")),
                (format!("ab{c}"), format!("ab{esc}")),
                (format!("a{c}{c}b"), format!("a{esc}{esc}b")),
            ] {
                assert_eq!(
                    row(&[Value::Text(text.clone())]),
                    format!("{want}\n"),
                    "{text:?}"
                );
            }
        }
        // Nothing to escape: copied as it is (other control bytes included).
        let plain = "Payroll run failed \u{1} twice, ticket #42 ✓";
        assert_eq!(row(&[Value::Text(plain.into())]), format!("{plain}\n"));
        assert_eq!(row(&[Value::Text(String::new())]), "\n");
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

    /// Binary `COPY` output of two rows: (text, int8, NULL, bool, float8, int4).
    fn binary_output() -> Vec<u8> {
        let mut b = BINARY_SIGNATURE.to_vec();
        b.extend_from_slice(&0i32.to_be_bytes()); // flags
        b.extend_from_slice(&0i32.to_be_bytes()); // no header extension
        let field = |b: &mut Vec<u8>, v: Option<&[u8]>| match v {
            Some(v) => {
                b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                b.extend_from_slice(v);
            }
            None => b.extend_from_slice(&(-1i32).to_be_bytes()),
        };
        for (id, n, flag, r, small) in [
            ("a-1", 42i64, true, 0.25f64, -7i32),
            ("Ünï", -1, false, 1.0 / 3.0, 9),
        ] {
            b.extend_from_slice(&6i16.to_be_bytes());
            field(&mut b, Some(id.as_bytes()));
            field(&mut b, Some(&n.to_be_bytes()));
            field(&mut b, None);
            field(&mut b, Some(&[u8::from(flag)]));
            field(&mut b, Some(&r.to_be_bytes()));
            field(&mut b, Some(&small.to_be_bytes()));
        }
        b.extend_from_slice(&(-1i16).to_be_bytes());
        b
    }

    type Decoded = (String, i64, Option<i64>, Option<String>, bool, f64, i64);

    fn decode_in_chunks(data: &[u8], size: usize) -> (Vec<Decoded>, bool) {
        use crate::history::Cols;
        let mut rows = BinaryRows::default();
        let mut got = Vec::new();
        for chunk in data.chunks(size) {
            rows.push::<crate::StoreError>(chunk, |r| {
                got.push((
                    r.text(0)?.to_string(),
                    r.int(1)?,
                    r.opt_int(2)?,
                    r.opt_text(2)?.map(str::to_string),
                    r.boolean(3)?,
                    r.real(4)?,
                    r.int(5)?,
                ));
                Ok(())
            })
            .unwrap();
        }
        (got, rows.finished())
    }

    #[test]
    fn binary_rows_decode_the_same_whatever_the_chunks() {
        let data = binary_output();
        let (whole, done) = decode_in_chunks(&data, data.len());
        assert!(done);
        assert_eq!(
            whole,
            vec![
                ("a-1".into(), 42, None, None, true, 0.25, -7),
                ("Ünï".into(), -1, None, None, false, 1.0 / 3.0, 9),
            ]
        );
        for size in 1..data.len() {
            assert_eq!(
                decode_in_chunks(&data, size),
                (whole.clone(), true),
                "chunks of {size}"
            );
        }
        // Cut before the trailer: not finished.
        let (_, done) = decode_in_chunks(&data[..data.len() - 2], 7);
        assert!(!done);
    }

    #[test]
    fn binary_rows_refuse_what_is_not_copy_output_and_bad_values() {
        use crate::history::Cols;
        let mut rows = BinaryRows::default();
        assert!(
            rows.push::<crate::StoreError>(&[0u8; 32], |_| Ok(()))
                .is_err()
        );
        let mut rows = BinaryRows::default();
        let err = rows
            .push::<crate::StoreError>(&binary_output(), |r| r.boolean(1).map(|_| ()))
            .unwrap_err();
        assert!(err.to_string().contains("a boolean of 8 bytes"), "{err}");
        let mut rows = BinaryRows::default();
        let err = rows
            .push::<crate::StoreError>(&binary_output(), |r| r.int(2).map(|_| ()))
            .unwrap_err();
        assert!(err.to_string().contains("column 2 is NULL"), "{err}");
    }
}
