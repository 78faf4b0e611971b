//! Column values of a multi-row statement, bound the same way on both backends.
//!
//! Records are flattened into one `Vec<Value>` per statement (moving their
//! strings, not copying them; [`Binds`] receives an entity's values in its
//! column order) and bound in order against `$1..$N`.

use rusqlite::types::{ToSqlOutput, ValueRef};
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    /// An enumeration's name.
    Static(&'static str),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Real(f64),
    OptReal(Option<f64>),
    Bool(bool),
}

/// Receives an entity's values in column order
/// ([`pulse_core::Columns::write_columns`]).
pub(crate) struct Binds<'a>(pub(crate) &'a mut Vec<Value>);

impl pulse_core::ColumnSink for Binds<'_> {
    fn text(&mut self, v: String) {
        self.0.push(Value::Text(v));
    }
    fn opt_text(&mut self, v: Option<String>) {
        self.0.push(Value::OptText(v));
    }
    fn name(&mut self, v: &'static str) {
        self.0.push(Value::Static(v));
    }
    fn int(&mut self, v: i64) {
        self.0.push(Value::Int(v));
    }
    fn opt_int(&mut self, v: Option<i64>) {
        self.0.push(Value::OptInt(v));
    }
    fn real(&mut self, v: f64) {
        self.0.push(Value::Real(v));
    }
    fn bool(&mut self, v: bool) {
        self.0.push(Value::Bool(v));
    }
}

/// Binds `values` in order.
pub(crate) fn bind_all<'q, DB>(
    mut q: Query<'q, DB, <DB as Database>::Arguments<'q>>,
    values: &'q [Value],
) -> Query<'q, DB, <DB as Database>::Arguments<'q>>
where
    DB: Database,
    &'q str: Encode<'q, DB> + Type<DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
    f64: Encode<'q, DB> + Type<DB>,
    Option<f64>: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    for v in values {
        q = match v {
            Value::Text(s) => q.bind(s.as_str()),
            Value::Static(s) => q.bind(*s),
            Value::OptText(s) => q.bind(s.as_deref()),
            Value::Int(i) => q.bind(*i),
            Value::OptInt(i) => q.bind(*i),
            Value::Real(f) => q.bind(*f),
            Value::OptReal(f) => q.bind(*f),
            Value::Bool(b) => q.bind(*b),
        };
    }
    q
}

/// Binds without copying on the rusqlite path (`sqlite_ingest.rs`); booleans
/// are stored as 0 and 1, as sqlx stores them.
impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Text(s) | Value::OptText(Some(s)) => ValueRef::Text(s.as_bytes()),
            Value::Static(s) => ValueRef::Text(s.as_bytes()),
            Value::OptText(None) | Value::OptInt(None) | Value::OptReal(None) => ValueRef::Null,
            Value::Int(i) | Value::OptInt(Some(i)) => ValueRef::Integer(*i),
            Value::Real(f) | Value::OptReal(Some(f)) => ValueRef::Real(*f),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
        }))
    }
}

/// How bound parameters are written. PostgreSQL needs `$N`. SQLite accepts
/// `$N` too, but treats each as a *named* parameter and resolves names with a
/// linear scan, which makes a 20,000-value multi-row insert quadratic (seconds
/// per statement, measured); plain `?` is positional and costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Params {
    Dollar,
    Question,
}

impl Params {
    fn push(self, sql: &mut String, n: usize) {
        match self {
            Params::Dollar => {
                sql.push('$');
                sql.push_str(&n.to_string());
            }
            Params::Question => sql.push('?'),
        }
    }

    /// `n` comma-separated parameters numbered from 1.
    pub(crate) fn list(self, n: usize) -> String {
        let mut s = String::with_capacity(n * 5);
        for i in 1..=n {
            if i > 1 {
                s.push_str(", ");
            }
            self.push(&mut s, i);
        }
        s
    }
}

/// `INSERT INTO table (cols) VALUES ($1, ..), (..) ON CONFLICT (key) DO UPDATE
/// SET every non-key column = excluded.column`, for `rows` rows.
pub(crate) fn upsert_sql(
    table: &str,
    cols: &[&str],
    key: &[&str],
    rows: usize,
    params: Params,
) -> String {
    let mut sql = String::with_capacity(64 + rows * cols.len() * 6);
    sql.push_str("INSERT INTO ");
    sql.push_str(table);
    sql.push_str(" (");
    sql.push_str(&cols.join(", "));
    sql.push_str(") VALUES ");
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..cols.len() {
            if c > 0 {
                sql.push_str(", ");
            }
            params.push(&mut sql, n);
            n += 1;
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (");
    sql.push_str(&key.join(", "));
    sql.push_str(") DO UPDATE SET ");
    let updates: Vec<String> = cols
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    sql.push_str(&updates.join(", "));
    sql
}

/// `INSERT INTO table (cols) VALUES (?1, .., ?N) ON CONFLICT (key) DO
/// NOTHING`: one row, SQLite's numbered parameters. It changes no row when the
/// key is already stored; [`update_sql`] then updates it with the same
/// bindings.
pub(crate) fn insert_one_sql(table: &str, cols: &[&str], key: &[&str]) -> String {
    let params: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO NOTHING",
        cols.join(", "),
        params.join(", "),
        key.join(", ")
    )
}

/// `UPDATE table SET col = ?i, .. WHERE key = ?k ..`: every non-key column,
/// numbered as in [`insert_one_sql`], so one row's bindings serve both.
pub(crate) fn update_one_sql(table: &str, cols: &[&str], key: &[&str]) -> String {
    let param = |c: &str| cols.iter().position(|x| x == &c).map_or(0, |i| i + 1);
    let set: Vec<String> = cols
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = ?{}", param(c)))
        .collect();
    let filter: Vec<String> = key.iter().map(|c| format!("{c} = ?{}", param(c))).collect();
    format!(
        "UPDATE {table} SET {} WHERE {}",
        set.join(", "),
        filter.join(" AND ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_sql_numbers_placeholders_across_rows() {
        let sql = upsert_sql("t", &["id", "a", "b"], &["id"], 2, Params::Dollar);
        assert_eq!(
            sql,
            "INSERT INTO t (id, a, b) VALUES ($1, $2, $3), ($4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        let sql = upsert_sql("t", &["id", "a"], &["id"], 2, Params::Question);
        assert!(
            sql.starts_with("INSERT INTO t (id, a) VALUES (?, ?), (?, ?) ON"),
            "{sql}"
        );
    }

    #[test]
    fn single_row_statements_share_their_numbering() {
        assert_eq!(
            insert_one_sql("t", &["id", "at", "a"], &["id", "at"]),
            "INSERT INTO t (id, at, a) VALUES (?1, ?2, ?3) ON CONFLICT (id, at) DO NOTHING"
        );
        assert_eq!(
            update_one_sql("t", &["id", "at", "a", "b"], &["id", "at"]),
            "UPDATE t SET a = ?3, b = ?4 WHERE id = ?1 AND at = ?2"
        );
    }
}
