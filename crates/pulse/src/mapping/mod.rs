//! Mappings: how another system's export files become Pulse records
//! (`pulse import --mapping FILE.toml` or `--preset NAME`).
//!
//! A mapping is a TOML file with one `[[entity]]` block per kind of record it
//! produces. Each block names the files it reads (globs on the file name),
//! the rows it keeps (`when`), and for each of the entity's fields where its
//! value comes from: a column, a constant, a template, an arithmetic
//! derivation, or a join to an account or contact through another key (an
//! email domain, a CRM id). Values are then translated (value maps,
//! defaults, date formats in a time zone, number formats) into the native
//! import text, which the entity's own parser validates exactly as it does a
//! native file. So a mapped row and a native row go through the same rules.
//!
//! Everything here is pure: [`Mapping::parse`] checks a mapping before any
//! row is read (every error names the mapping's line), [`EntityMap::bind`]
//! checks it against a file's header, and [`Bound::apply`] maps one row.
//! The reference of the format is `docs/bring-your-own-data.md`.

pub(crate) mod aggregate;
mod expr;
mod value;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::encoding::Encoding;
use pulse_core::{EntityKind, FieldError, Fields, ValueKind};
use serde::Deserialize;
use toml::Spanned;

use expr::{EvalError, Expr};
pub(crate) use value::{NumberFormat, TimeSpec};

/// A mapping error: the mapping's line (0 when it has none) and what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MappingError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for MappingError {}

fn err(line: usize, message: impl Into<String>) -> MappingError {
    MappingError {
        line,
        message: message.into(),
    }
}

/// One source row: the text of column `i`.
pub(crate) type Row<'a> = dyn Fn(usize) -> &'a str + 'a;

/// A checked mapping.
#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) name: String,
    pub(crate) entities: Vec<EntityMap>,
}

/// One `[[entity]]` block: the records of one kind read from some files.
#[derive(Debug, Clone)]
pub(crate) struct EntityMap {
    pub(crate) kind: EntityKind,
    /// The mapping's line of the block's `kind`.
    pub(crate) line: usize,
    /// The mapping it comes from (`preset zendesk-tickets`, a file name).
    pub(crate) source: String,
    /// How its files' bytes are read as text (`encoding`, UTF-8 unless
    /// the mapping or the block says otherwise).
    pub(crate) encoding: Encoding,
    pub(crate) files: Vec<glob::Pattern>,
    when: Vec<When>,
    pub(crate) fields: Vec<FieldMap>,
    /// Keys other blocks may join on (`join = "account.domain"`).
    pub(crate) keys: Vec<KeyMap>,
    /// A usage block whose rows are events (`aggregate = "week"`): the
    /// days of one usage row (7: weeks from Monday; 1: days).
    pub(crate) aggregate: Option<u32>,
}

/// How an aggregated usage field counts a period's events
/// (`count = "rows"` / `"distinct"` / `"sum"`): the rows where the field is
/// not blank, its distinct values, or the sum of its whole numbers (for
/// exports already counted per day, such as Pendo's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    Rows,
    Distinct,
    Sum,
}

/// The usage fields an aggregating block counts, in this order.
pub(crate) const COUNTED: [&str; 3] = ["active_users", "logins", "features_used"];

/// Where one field's value comes from, and how it is read.
#[derive(Debug, Clone)]
pub(crate) struct FieldMap {
    pub(crate) field: &'static str,
    pub(crate) value: ValueKind,
    pub(crate) line: usize,
    rule: Rule,
}

/// A join key an account or contact block offers.
#[derive(Debug, Clone)]
pub(crate) struct KeyMap {
    pub(crate) name: String,
    pub(crate) line: usize,
    rule: Rule,
}

#[derive(Debug, Clone)]
struct When {
    line: usize,
    column: String,
    cond: Cond<String>,
}

/// A block's condition on a column: its values, or how it compares with
/// another column (`C` names the other column: by name, then by position).
#[derive(Debug, Clone)]
enum Cond<C> {
    /// Values kept (compared in lower case after trimming); `None` keeps any
    /// non-blank value.
    Values(WhenValues),
    /// `{ same_as = "B" }` (`true`) or `{ differs_from = "B" }`: the two
    /// columns' values, trimmed and compared ignoring case; when either is
    /// blank, neither holds.
    Column(C, bool),
}

/// A block condition: values, or `{ same_as = "B" }` / `{ differs_from = "B" }`.
fn block_cond(spec: &toml::Value, line: usize) -> Result<Cond<String>, MappingError> {
    let toml::Value::Table(t) = spec else {
        return when_values(spec, line).map(Cond::Values);
    };
    let mut it = t.iter();
    match (it.next(), it.next()) {
        (Some((k, toml::Value::String(other))), None) if k == "same_as" || k == "differs_from" => {
            Ok(Cond::Column(other.clone(), k == "same_as"))
        }
        _ => Err(err(
            line,
            "when: a table here is { same_as = \"Column\" } or { differs_from = \"Column\" }",
        )),
    }
}

impl Cond<usize> {
    fn holds(&self, v: &str, row: &Row<'_>) -> bool {
        match self {
            Cond::Values(values) => holds(v, values),
            Cond::Column(other, same) => {
                let (a, b) = (v.trim(), row(*other).trim());
                !a.is_empty() && !b.is_empty() && (lower(a) == lower(b)) == *same
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Source {
    Column(String),
    /// The first non-blank of these columns.
    FirstOf(Vec<String>),
    Const(String),
    /// Text with `{Column}` references.
    Template(Vec<Piece>),
    Expr(Expr),
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Column(String),
}

#[derive(Debug, Clone)]
struct Rule {
    source: Source,
    /// Keep the text before this separator (`"a;b"` -> `a`).
    split: Option<String>,
    /// `email_domain`: the part after '@'; `url_domain`: a web address's
    /// host, lower case, without `www.`; `html_text`: the text of HTML.
    extract: Option<Extract>,
    /// Values (lower case) and what they become; `*` is the fallback.
    map: Option<HashMap<String, String>>,
    map_other: Option<String>,
    /// `"<0"` and `">0"` keys of a map: a number below (at most one) and a
    /// number above (at most one), tried when no value matches exactly.
    map_below: Option<(Bound1, String)>,
    map_above: Option<(Bound1, String)>,
    default: Option<String>,
    time: TimeSpec,
    number: NumberFormat,
    scale: Option<f64>,
    /// Minutes (a column) added to a time.
    add_minutes: Option<String>,
    /// `(entity, key)` of a join.
    join: Option<(EntityKind, String)>,
    /// `lower`, or `snake` (`Tax Withholding` -> `tax_withholding`).
    case: Option<Case>,
    /// The field has a value only in rows where these columns hold these
    /// values (`deleted_at` only when `Status` is `deleted`).
    when: Vec<(String, WhenValues)>,
    /// Under `aggregate`: how the field counts a period's events.
    count: Option<Count>,
}

/// A map's range key: the number and whether it is included (`<=`, `>=`).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound1 {
    at: f64,
    inclusive: bool,
}

/// `"<0"`, `"<= 2.5"`, `">0"`, `">=10"`: `(true if below, bound)`.
fn range_key(k: &str) -> Option<Result<(bool, Bound1), String>> {
    let k = k.trim();
    let (below, rest) = if let Some(r) = k.strip_prefix('<') {
        (true, r)
    } else {
        (false, k.strip_prefix('>')?)
    };
    let (inclusive, rest) = match rest.strip_prefix('=') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    Some(match rest.trim().parse::<f64>() {
        Ok(at) if at.is_finite() => Ok((below, Bound1 { at, inclusive })),
        _ => Err(format!(
            "map: '{k}' is not a range such as \"<0\" or \">= 10\""
        )),
    })
}

/// Values a `when` keeps (compared in lower case after trimming); `None`
/// keeps any non-blank value.
type WhenValues = Option<Vec<String>>;

/// Reads a `when` condition's values: a value, a list, or `"*"`.
fn when_values(spec: &toml::Value, line: usize) -> Result<WhenValues, MappingError> {
    Ok(match spec {
        toml::Value::String(s) if s == "*" => None,
        toml::Value::String(s) => Some(vec![s.trim().to_lowercase()]),
        toml::Value::Array(a) => Some(
            a.iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s.trim().to_lowercase()),
                    other => Err(err(line, format!("when: {other} is not a text value"))),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => {
            return Err(err(
                line,
                format!(
                    "when: {other} is not a value, a list of values, or \"*\" (any non-blank value)"
                ),
            ));
        }
    })
}

/// Whether a row's value (trimmed) is one of `values`.
fn holds(v: &str, values: &WhenValues) -> bool {
    let v = v.trim();
    match values {
        None => !v.is_empty(),
        Some(vs) => {
            let v = v.to_lowercase();
            vs.contains(&v)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Lower,
    Snake,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Extract {
    EmailDomain,
    UrlDomain,
    HtmlText,
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    #[serde(default)]
    name: Option<String>,
    /// Free text for readers of the file.
    #[serde(default, rename = "description")]
    _description: Option<String>,
    #[serde(default)]
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    decimal: Option<Spanned<String>>,
    #[serde(default)]
    encoding: Option<Spanned<String>>,
    #[serde(default)]
    entity: Vec<RawEntity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntity {
    kind: Spanned<String>,
    files: Spanned<toml::Value>,
    #[serde(default)]
    timezone: Option<Spanned<String>>,
    #[serde(default)]
    encoding: Option<Spanned<String>>,
    #[serde(default)]
    aggregate: Option<Spanned<String>>,
    #[serde(default)]
    when: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    keys: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    fields: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// The keys a field's table may hold.
const RULE_KEYS: &[&str] = &[
    "column",
    "columns",
    "value",
    "template",
    "expr",
    "split",
    "extract",
    "map",
    "default",
    "format",
    "timezone",
    "decimal",
    "scale",
    "add_minutes",
    "join",
    "case",
    "when",
    "count",
];

struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn of<T>(&self, s: &Spanned<T>) -> usize {
        let at = s.span().start.min(self.0.len());
        self.0[..at].bytes().filter(|&b| b == b'\n').count() + 1
    }
}

impl Mapping {
    /// Parses and checks a mapping; every error names its line.
    pub(crate) fn parse(text: &str) -> Result<Mapping, MappingError> {
        let raw: RawMapping = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0);
            err(line, e.message().to_string())
        })?;
        let lines = Lines(text);
        let time =
            |tz: &Option<Spanned<String>>, base: &TimeSpec| -> Result<TimeSpec, MappingError> {
                match tz {
                    Some(t) => base
                        .with_timezone(t.get_ref())
                        .map_err(|m| err(lines.of(t), m)),
                    None => Ok(base.clone()),
                }
            };
        let base_time = time(&raw.timezone, &TimeSpec::default())?;
        let encoding = |e: &Option<Spanned<String>>, base: Encoding| match e {
            Some(e) => Encoding::parse(e.get_ref()).map_err(|m| err(lines.of(e), m)),
            None => Ok(base),
        };
        let base_encoding = encoding(&raw.encoding, Encoding::Utf8)?;
        let number = match &raw.decimal {
            Some(d) => NumberFormat::new(d.get_ref()).map_err(|m| err(lines.of(d), m))?,
            None => NumberFormat::default(),
        };
        if raw.entity.is_empty() {
            return Err(err(0, "the mapping has no [[entity]] block"));
        }
        let mut entities = Vec::new();
        for e in &raw.entity {
            let line = lines.of(&e.kind);
            let kind: EntityKind = e.kind.get_ref().trim().parse().map_err(|_| {
                err(
                    line,
                    format!(
                        "kind '{}' is not an entity (account, contact, interaction, usage, \
                         subscription_event, survey_response, operational_event, outreach)",
                        e.kind.get_ref()
                    ),
                )
            })?;
            let files = patterns(&e.files, &lines)?;
            let time = time(&e.timezone, &base_time)?;
            let encoding = encoding(&e.encoding, base_encoding)?;
            let defs = kind.column_defs();
            let aggregate = match &e.aggregate {
                None => None,
                Some(a) => {
                    let aline = lines.of(a);
                    if kind != EntityKind::Usage {
                        return Err(err(
                            aline,
                            format!("aggregate: only usage blocks count events, not {kind}"),
                        ));
                    }
                    match a.get_ref().trim() {
                        "week" => Some(7),
                        "day" => Some(1),
                        other => {
                            return Err(err(
                                aline,
                                format!("aggregate: '{other}' is not known (use week or day)"),
                            ));
                        }
                    }
                }
            };
            let mut fields = Vec::new();
            for (name, spec) in &e.fields {
                let fline = lines.of(name);
                let Some(def) = defs.iter().find(|c| c.name == name.get_ref().trim()) else {
                    return Err(err(
                        fline,
                        format!(
                            "'{}' is not a field of {kind} (its fields: {})",
                            name.get_ref(),
                            kind.columns().join(", ")
                        ),
                    ));
                };
                let rule = rule(spec, fline, &time, &number)?;
                let counted = COUNTED.contains(&def.name);
                match (aggregate, rule.count) {
                    (None, Some(_)) => {
                        return Err(err(
                            fline,
                            format!(
                                "{}: count needs the block's aggregate = \"week\" or \"day\"",
                                def.name
                            ),
                        ));
                    }
                    (Some(_), Some(_)) if !counted => {
                        return Err(err(
                            fline,
                            format!("{}: only {} count events", def.name, COUNTED.join(", ")),
                        ));
                    }
                    (Some(_), None) if counted => {
                        return Err(err(
                            fline,
                            format!(
                                "{}: an aggregating block counts it: give count = \"rows\" \
                                 (rows where it is not blank) or \"distinct\" (its distinct values)",
                                def.name
                            ),
                        ));
                    }
                    (Some(_), None) if def.name == "period_days" => {
                        return Err(err(fline, "period_days: the block's aggregate sets it"));
                    }
                    _ => {}
                }
                fields.push(FieldMap {
                    field: def.name,
                    // A counted field reads text (a user id, an event's name).
                    value: if rule.count.is_some() {
                        ValueKind::Text
                    } else {
                        def.value
                    },
                    line: fline,
                    rule,
                });
            }
            // Entity column order, so that a row's fields are found in order.
            fields.sort_by_key(|f| defs.iter().position(|c| c.name == f.field));
            for c in defs.iter().filter(|c| c.required) {
                if !fields.iter().any(|f| f.field == c.name) {
                    return Err(err(
                        line,
                        format!(
                            "the {kind} block does not map '{}', which is required",
                            c.name
                        ),
                    ));
                }
            }
            let mut keys = Vec::new();
            for (name, spec) in &e.keys {
                let kline = lines.of(name);
                if !matches!(kind, EntityKind::Account | EntityKind::Contact) {
                    return Err(err(
                        kline,
                        format!("only account and contact blocks offer join keys, not {kind}"),
                    ));
                }
                let rule = rule(spec, kline, &time, &number)?;
                keys.push(KeyMap {
                    name: name.get_ref().trim().to_string(),
                    line: kline,
                    rule,
                });
            }
            let mut when = Vec::new();
            for (column, spec) in &e.when {
                let wline = lines.of(column);
                let cond = block_cond(spec.get_ref(), wline)?;
                when.push(When {
                    line: wline,
                    column: column.get_ref().clone(),
                    cond,
                });
            }
            entities.push(EntityMap {
                kind,
                line,
                source: String::new(),
                encoding,
                files,
                when,
                fields,
                keys,
                aggregate,
            });
        }
        Ok(Mapping {
            name: raw.name.unwrap_or_default(),
            entities,
        })
    }

    /// Several mappings as one (`--preset a --preset b --mapping c.toml`):
    /// their blocks together. A join to a key no block offers is checked by
    /// the import, against the keys earlier imports stored.
    pub(crate) fn combine(parts: Vec<(String, Mapping)>) -> Mapping {
        let mut names = Vec::new();
        let mut entities: Vec<EntityMap> = Vec::new();
        for (source, m) in parts {
            names.push(if m.name.is_empty() {
                source.clone()
            } else {
                m.name.clone()
            });
            entities.extend(m.entities.into_iter().map(|mut e| {
                e.source = source.clone();
                e
            }));
        }
        Mapping {
            name: names.join(" + "),
            entities,
        }
    }

    /// The blocks that read a file of this name.
    pub(crate) fn blocks_for(&self, file_name: &str) -> Vec<&EntityMap> {
        self.entities
            .iter()
            .filter(|e| e.files.iter().any(|p| p.matches(file_name)))
            .collect()
    }
}

fn patterns(v: &Spanned<toml::Value>, lines: &Lines) -> Result<Vec<glob::Pattern>, MappingError> {
    let line = lines.of(v);
    let texts: Vec<&str> = match v.get_ref() {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .ok_or_else(|| err(line, format!("files: {x} is not a file name pattern")))
            })
            .collect::<Result<_, _>>()?,
        other => {
            return Err(err(
                line,
                format!("files: {other} is not a pattern or a list of them"),
            ));
        }
    };
    if texts.is_empty() {
        return Err(err(line, "files: the list is empty"));
    }
    texts
        .iter()
        .map(|t| {
            glob::Pattern::new(&t.to_lowercase())
                .map_err(|e| err(line, format!("files: '{t}' is not a pattern: {e}")))
        })
        .collect()
}

fn rule(
    spec: &Spanned<toml::Value>,
    line: usize,
    time: &TimeSpec,
    number: &NumberFormat,
) -> Result<Rule, MappingError> {
    let mut r = Rule {
        source: Source::Const(String::new()),
        split: None,
        extract: None,
        map: None,
        map_other: None,
        map_below: None,
        map_above: None,
        default: None,
        time: time.clone(),
        number: number.clone(),
        scale: None,
        add_minutes: None,
        join: None,
        case: None,
        when: Vec::new(),
        count: None,
    };
    let t = match spec.get_ref() {
        toml::Value::String(col) => {
            r.source = Source::Column(col.clone());
            return Ok(r);
        }
        toml::Value::Table(t) => t,
        other => {
            return Err(err(
                line,
                format!("{other} is not a column name nor a table such as {{ column = \"...\" }}"),
            ));
        }
    };
    let text = |k: &str| -> Result<Option<String>, MappingError> {
        match t.get(k) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(toml::Value::Integer(i)) if k == "value" || k == "default" => {
                Ok(Some(i.to_string()))
            }
            Some(toml::Value::Float(f)) if k == "value" || k == "default" => {
                Ok(Some(f.to_string()))
            }
            Some(toml::Value::Boolean(b)) if k == "value" || k == "default" => {
                Ok(Some(b.to_string()))
            }
            Some(other) => Err(err(line, format!("{k}: {other} is not text"))),
        }
    };
    for k in t.keys() {
        if !RULE_KEYS.contains(&k.as_str()) {
            return Err(err(
                line,
                format!("'{k}' is not a rule key (use: {})", RULE_KEYS.join(", ")),
            ));
        }
    }
    let sources = ["column", "columns", "value", "template", "expr"]
        .iter()
        .filter(|k| t.contains_key(**k))
        .count();
    if sources != 1 {
        return Err(err(
            line,
            "give exactly one of column, columns, value, template or expr",
        ));
    }
    r.source = if let Some(c) = text("column")? {
        Source::Column(c)
    } else if let Some(v) = text("value")? {
        Source::Const(v)
    } else if let Some(tpl) = text("template")? {
        Source::Template(template(&tpl).map_err(|m| err(line, format!("template: {m}")))?)
    } else if let Some(e) = text("expr")? {
        Source::Expr(Expr::parse(&e).map_err(|m| err(line, format!("expr: {m}")))?)
    } else {
        let Some(toml::Value::Array(a)) = t.get("columns") else {
            return Err(err(line, "columns: give a list of column names"));
        };
        let cols = a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| err(line, format!("columns: {v} is not a column name")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if cols.is_empty() {
            return Err(err(line, "columns: the list is empty"));
        }
        Source::FirstOf(cols)
    };
    r.split = text("split")?;
    r.extract = match text("extract")?.as_deref() {
        None => None,
        Some("email_domain") => Some(Extract::EmailDomain),
        Some("url_domain") => Some(Extract::UrlDomain),
        Some("html_text") => Some(Extract::HtmlText),
        Some(other) => {
            return Err(err(
                line,
                format!(
                    "extract: '{other}' is not known (use email_domain, url_domain or html_text)"
                ),
            ));
        }
    };
    if let Some(m) = t.get("map") {
        let toml::Value::Table(m) = m else {
            return Err(err(
                line,
                "map: give a table such as { \"Closed Won\" = \"active\" }",
            ));
        };
        let mut map = HashMap::new();
        for (k, v) in m {
            let v = match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(err(
                        line,
                        format!("map: '{k}' maps to {other}, not a value"),
                    ));
                }
            };
            if k == "*" {
                r.map_other = Some(v);
            } else if let Some(range) = range_key(k) {
                let (below, b) = range.map_err(|m| err(line, m))?;
                let slot = if below {
                    &mut r.map_below
                } else {
                    &mut r.map_above
                };
                if slot.is_some() {
                    return Err(err(
                        line,
                        format!(
                            "map: two ranges {} a number; give at most one \"<\" and one \">\"",
                            if below { "below" } else { "above" }
                        ),
                    ));
                }
                *slot = Some((b, v));
            } else {
                map.insert(k.trim().to_lowercase(), v);
            }
        }
        if let (Some((lo, _)), Some((hi, _))) = (&r.map_below, &r.map_above)
            && (hi.at < lo.at || (hi.at == lo.at && hi.inclusive && lo.inclusive))
        {
            return Err(err(
                line,
                "map: the \"<\" and \">\" ranges overlap: a number would match both",
            ));
        }
        r.map = Some(map);
    }
    r.default = text("default")?;
    if let Some(tz) = text("timezone")? {
        r.time = r.time.with_timezone(&tz).map_err(|m| err(line, m))?;
    }
    match t.get("format") {
        None => {}
        Some(toml::Value::String(f)) => {
            r.time = r
                .time
                .with_formats(vec![f.clone()])
                .map_err(|m| err(line, m))?
        }
        Some(toml::Value::Array(a)) => {
            let fs = a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| err(line, format!("format: {v} is not a format")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            r.time = r.time.with_formats(fs).map_err(|m| err(line, m))?
        }
        Some(other) => return Err(err(line, format!("format: {other} is not a format"))),
    }
    if let Some(d) = text("decimal")? {
        r.number = NumberFormat::new(&d).map_err(|m| err(line, m))?;
    }
    r.scale = match t.get("scale") {
        None => None,
        Some(toml::Value::Float(f)) => Some(*f),
        Some(toml::Value::Integer(i)) => Some(*i as f64),
        Some(other) => return Err(err(line, format!("scale: {other} is not a number"))),
    };
    r.add_minutes = text("add_minutes")?;
    r.case = match text("case")?.as_deref() {
        None => None,
        Some("lower") => Some(Case::Lower),
        Some("snake") => Some(Case::Snake),
        Some(other) => {
            return Err(err(
                line,
                format!("case: '{other}' is not known (use lower or snake)"),
            ));
        }
    };
    match t.get("when") {
        None => {}
        Some(toml::Value::Table(w)) => {
            for (column, values) in w {
                r.when.push((column.clone(), when_values(values, line)?));
            }
        }
        Some(other) => {
            return Err(err(
                line,
                format!("when: {other} is not a table such as {{ Status = \"deleted\" }}"),
            ));
        }
    }
    r.count = match text("count")?.as_deref() {
        None => None,
        Some("rows") => Some(Count::Rows),
        Some("distinct") => Some(Count::Distinct),
        Some("sum") => Some(Count::Sum),
        Some(other) => {
            return Err(err(
                line,
                format!("count: '{other}' is not known (use rows, distinct or sum)"),
            ));
        }
    };
    if let Some(j) = text("join")? {
        let Some((k, key)) = j.split_once('.') else {
            return Err(err(
                line,
                format!("join: '{j}' is not entity.key (e.g. account.domain)"),
            ));
        };
        let kind = match k.trim() {
            "account" => EntityKind::Account,
            "contact" => EntityKind::Contact,
            other => {
                return Err(err(
                    line,
                    format!("join: '{other}' is not account or contact"),
                ));
            }
        };
        r.join = Some((kind, key.trim().to_string()));
    }
    Ok(r)
}

fn template(t: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(format!("a '{{' is never closed in '{t}'"));
        };
        let name = rest[open + 1..open + close].trim();
        if name.is_empty() {
            return Err(format!("an empty column name in '{t}'"));
        }
        out.push(Piece::Column(name.to_string()));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Binding to a file's header

/// The columns a rule reads.
fn rule_columns(r: &Rule) -> Vec<&str> {
    let mut v: Vec<&str> = match &r.source {
        Source::Column(c) => vec![c.as_str()],
        Source::FirstOf(cs) => cs.iter().map(String::as_str).collect(),
        Source::Const(_) => vec![],
        Source::Template(ps) => ps
            .iter()
            .filter_map(|p| match p {
                Piece::Column(c) => Some(c.as_str()),
                Piece::Text(_) => None,
            })
            .collect(),
        Source::Expr(e) => e.columns.iter().map(String::as_str).collect(),
    };
    if let Some(m) = &r.add_minutes {
        v.push(m);
    }
    v
}

/// A rule whose columns are positions in a file's rows.
#[derive(Debug, Clone)]
struct BoundRule {
    rule: Rule,
    /// Position of each of [`rule_columns`], in order.
    at: Vec<usize>,
    /// Position and values of each of the rule's `when` columns.
    when: Vec<(usize, WhenValues)>,
}

/// A block bound to one file's header.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    pub(crate) kind: EntityKind,
    fields: Vec<(&'static str, ValueKind, BoundRule)>,
    keys: Vec<(String, BoundRule)>,
    when: Vec<(usize, Cond<usize>)>,
    /// `(field, column)` of each field read from a column.
    pub(crate) read: Vec<(&'static str, String)>,
    /// Header columns no rule reads.
    pub(crate) unmapped: Vec<String>,
    /// The header it was bound to.
    header: Vec<String>,
    /// See [`EntityMap::aggregate`].
    pub(crate) aggregate: Option<u32>,
}

/// Finds a column: exactly, else ignoring case and surrounding blanks.
fn find(header: &[String], name: &str) -> Option<usize> {
    header.iter().position(|h| h == name).or_else(|| {
        let n = name.trim().to_lowercase();
        header.iter().position(|h| h.trim().to_lowercase() == n)
    })
}

/// The header column closest to `name`, for "did you mean".
fn closest<'a>(header: &'a [String], name: &str) -> Option<&'a str> {
    let n = name.to_lowercase();
    header
        .iter()
        .map(|h| (distance(&h.to_lowercase(), &n), h))
        .filter(|(d, _)| *d <= 3.max(n.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, h)| h.as_str())
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

impl EntityMap {
    /// Every column a block reads, for a JSON Lines "header".
    pub(crate) fn columns(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        let mut push = |c: &str| {
            if !v.iter().any(|x| x == c) {
                v.push(c.to_string());
            }
        };
        for f in &self.fields {
            rule_columns(&f.rule).into_iter().for_each(&mut push);
            f.rule.when.iter().for_each(|(c, _)| push(c));
        }
        for k in &self.keys {
            rule_columns(&k.rule).into_iter().for_each(&mut push);
        }
        for w in &self.when {
            push(&w.column);
            if let Cond::Column(other, _) = &w.cond {
                push(other);
            }
        }
        v
    }

    /// Checks the block against a file's header: every column it reads must
    /// be there (an error names the mapping's line and the closest column).
    pub(crate) fn bind(&self, header: &[String], file: &str) -> Result<Bound, MappingError> {
        let mut used = vec![false; header.len()];
        let mut bind_rule = |r: &Rule, line: usize| -> Result<BoundRule, MappingError> {
            let mut at = Vec::new();
            for c in rule_columns(r) {
                let Some(i) = find(header, c) else {
                    let hint = closest(header, c)
                        .map(|h| format!(" (did you mean \"{h}\"?)"))
                        .unwrap_or_default();
                    return Err(err(line, format!("column \"{c}\" is not in {file}{hint}")));
                };
                used[i] = true;
                at.push(i);
            }
            let mut when = Vec::new();
            for (c, values) in &r.when {
                let Some(i) = find(header, c) else {
                    let hint = closest(header, c)
                        .map(|h| format!(" (did you mean \"{h}\"?)"))
                        .unwrap_or_default();
                    return Err(err(
                        line,
                        format!("when: column \"{c}\" is not in {file}{hint}"),
                    ));
                };
                used[i] = true;
                when.push((i, values.clone()));
            }
            Ok(BoundRule {
                rule: r.clone(),
                at,
                when,
            })
        };
        let mut fields = Vec::new();
        let mut read = Vec::new();
        for f in &self.fields {
            let b = bind_rule(&f.rule, f.line)?;
            for c in rule_columns(&f.rule) {
                read.push((f.field, c.to_string()));
            }
            fields.push((f.field, f.value, b));
        }
        let mut keys = Vec::new();
        for k in &self.keys {
            keys.push((k.name.clone(), bind_rule(&k.rule, k.line)?));
        }
        let mut when = Vec::new();
        for w in &self.when {
            let mut at = |column: &str| {
                let Some(i) = find(header, column) else {
                    return Err(err(
                        w.line,
                        format!("when: column \"{column}\" is not in {file}"),
                    ));
                };
                used[i] = true;
                Ok(i)
            };
            let i = at(&w.column)?;
            let cond = match &w.cond {
                Cond::Values(v) => Cond::Values(v.clone()),
                Cond::Column(other, same) => Cond::Column(at(other)?, *same),
            };
            when.push((i, cond));
        }
        let unmapped = header
            .iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(h, _)| h.clone())
            .collect();
        Ok(Bound {
            kind: self.kind,
            fields,
            keys,
            when,
            read,
            unmapped,
            header: header.to_vec(),
            aggregate: self.aggregate,
        })
    }

    /// The `(entity, key, line)` of each join this block makes.
    pub(crate) fn joins(&self) -> Vec<(EntityKind, &str, usize)> {
        self.fields
            .iter()
            .filter_map(|f| {
                f.rule
                    .join
                    .as_ref()
                    .map(|(k, key)| (*k, key.as_str(), f.line))
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Rows

/// Account and contact keys seen so far in an import, for joins: per
/// `(entity, key)`, the key's value (lower case) and the record's id and
/// account.
#[derive(Debug, Clone, Default)]
pub(crate) struct Joins {
    /// Per `(entity, key)`: the key's values and their records.
    tables: Vec<((EntityKind, String), JoinTable)>,
}

/// A key's value (lower case) -> the record's id and account.
type JoinTable = HashMap<String, (String, String)>;

impl Joins {
    pub(crate) fn merge(&mut self, other: Joins) {
        for ((k, key), t) in other.tables {
            self.table_mut(k, &key).extend(t);
        }
    }

    /// Adds one key value (stored by an earlier import).
    pub(crate) fn insert(
        &mut self,
        kind: EntityKind,
        key: &str,
        value: String,
        id: String,
        account: String,
    ) {
        self.table_mut(kind, key).insert(value, (id, account));
    }

    /// Every key: its entity, name and values.
    pub(crate) fn tables(&self) -> impl Iterator<Item = (EntityKind, &str, &JoinTable)> {
        self.tables.iter().map(|((k, n), t)| (*k, n.as_str(), t))
    }

    /// Whether any value of this key is known.
    pub(crate) fn has(&self, kind: EntityKind, key: &str) -> bool {
        self.table(kind, key).is_some_and(|t| !t.is_empty())
    }

    fn table(&self, kind: EntityKind, key: &str) -> Option<&JoinTable> {
        self.tables
            .iter()
            .find(|((k, n), _)| *k == kind && n == key)
            .map(|(_, t)| t)
    }

    fn table_mut(&mut self, kind: EntityKind, key: &str) -> &mut JoinTable {
        let at = match self
            .tables
            .iter()
            .position(|((k, n), _)| *k == kind && n == key)
        {
            Some(i) => i,
            None => {
                self.tables.push(((kind, key.to_string()), HashMap::new()));
                self.tables.len() - 1
            }
        };
        &mut self.tables[at].1
    }
}

/// `s` in lower case, borrowed when it already is.
/// The host of a web address as a CRM's website field holds it
/// (`https://www.Acme.com/about`, `acme.com`, `www.acme.com:8080`): lower
/// case, without the scheme, user, port, path and a leading `www.`.
fn url_domain(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split(':').next().unwrap_or("").trim_end_matches('.');
    let host = host.to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host);
    (!host.is_empty()).then(|| host.to_string())
}

/// The text of an HTML fragment as a help desk stores a message
/// (`<p>Payroll &amp; tax</p><p>failed</p>` -> `Payroll & tax failed`): tags
/// removed, a block's or a line break's end read as a space, the common
/// entities and numeric references decoded, runs of blanks made one space.
/// Text without `<` or `&` comes back as it is.
fn html_text(s: &str) -> String {
    // `<` and `&` are ASCII, never part of another character: found as
    // bytes.
    let markup = |t: &str| memchr::memchr2(b'<', b'&', t.as_bytes());
    if markup(s).is_none() {
        return s.to_string();
    }
    let mut text = Collapsed::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = markup(rest) {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        if rest.starts_with('<') {
            match memchr::memchr(b'>', rest.as_bytes()) {
                Some(end) => {
                    let tag = rest[1..end].trim_start_matches('/').to_ascii_lowercase();
                    let name = tag.split([' ', '/', '\t', '\n']).next().unwrap_or("");
                    if matches!(
                        name,
                        "p" | "br" | "div" | "li" | "tr" | "td" | "h1" | "h2" | "h3" | "blockquote"
                    ) {
                        text.push(' ');
                    }
                    rest = &rest[end + 1..];
                }
                None => {
                    text.push_str(rest);
                    rest = "";
                }
            }
        } else {
            // An entity is short: look for its `;` among the next bytes (an
            // ASCII byte, so the slices below stay on character boundaries).
            let end = rest.as_bytes()[..rest.len().min(12)]
                .iter()
                .position(|&b| b == b';');
            let decoded = end.and_then(|e| match &rest[1..e] {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                n if n.starts_with("#x") || n.starts_with("#X") => u32::from_str_radix(&n[2..], 16)
                    .ok()
                    .and_then(char::from_u32),
                n if n.starts_with('#') => n[1..].parse().ok().and_then(char::from_u32),
                _ => None,
            });
            match (decoded, end) {
                (Some(c), Some(e)) => {
                    text.push(c);
                    rest = &rest[e + 1..];
                }
                _ => {
                    text.push('&');
                    rest = &rest[1..];
                }
            }
        }
    }
    text.push_str(rest);
    text.out
}

/// Text with every run of white space (`char::is_whitespace`) written as
/// one blank, and none at either end: what `split_whitespace` joined by
/// blanks gives, in one pass.
struct Collapsed {
    out: String,
    /// White space was seen after the last character written.
    blank: bool,
}

impl Collapsed {
    fn with_capacity(n: usize) -> Self {
        Collapsed {
            out: String::with_capacity(n),
            blank: false,
        }
    }

    fn push(&mut self, c: char) {
        if c.is_whitespace() {
            self.blank = true;
        } else {
            if std::mem::take(&mut self.blank) && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.out.push(c);
        }
    }

    fn push_str(&mut self, s: &str) {
        let bytes = s.as_bytes();
        // Most text is printable ASCII with single spaces between words:
        // it reads as itself, less a space at either end.
        if bytes.iter().all(|b| (0x20..0x7f).contains(b))
            && memchr::memmem::find(bytes, b"  ").is_none()
        {
            let words = s.trim_matches(' ');
            if words.len() < s.len() && s.starts_with(' ') {
                self.blank = true;
            }
            if !words.is_empty() {
                if std::mem::take(&mut self.blank) && !self.out.is_empty() {
                    self.out.push(' ');
                }
                self.out.push_str(words);
                self.blank = s.ends_with(' ');
            }
            return;
        }
        // Runs without white space are copied whole. ASCII bytes are tested
        // as bytes; only other characters are decoded.
        let blank_at = |i: usize| -> (bool, usize) {
            match bytes[i] {
                b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => (true, 1),
                b if b.is_ascii() => (false, 1),
                _ => {
                    let c = s[i..].chars().next().expect("a character starts here");
                    (c.is_whitespace(), c.len_utf8())
                }
            }
        };
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            while i < n {
                let (blank, len) = blank_at(i);
                if !blank {
                    break;
                }
                self.blank = true;
                i += len;
            }
            if i == n {
                break;
            }
            // Words apart by one space read as themselves: copied in one
            // piece.
            let words = i;
            loop {
                while i < n {
                    let (blank, len) = blank_at(i);
                    if blank {
                        break;
                    }
                    i += len;
                }
                if i + 1 < n && bytes[i] == b' ' && !blank_at(i + 1).0 {
                    i += 1;
                } else {
                    break;
                }
            }
            if std::mem::take(&mut self.blank) && !self.out.is_empty() {
                self.out.push(' ');
            }
            self.out.push_str(&s[words..i]);
        }
    }
}

fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        std::borrow::Cow::Owned(s.to_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// One row mapped to an entity's fields, as the entity's parser reads them.
/// Its buffers are reused from row to row.
#[derive(Debug, Default)]
pub(crate) struct MappedRow {
    names: Vec<&'static str>,
    values: Vec<String>,
    next: std::cell::Cell<usize>,
}

impl Fields for MappedRow {
    fn get(&self, name: &str) -> &str {
        let n = self.names.len();
        let start = self.next.get();
        for k in 0..n {
            let j = (start + k) % n;
            if self.names[j] == name {
                self.next.set(j + 1);
                return &self.values[j];
            }
        }
        ""
    }
}

impl MappedRow {
    /// The value given to `field` ("" when unmapped).
    pub(crate) fn value(&self, field: &str) -> &str {
        self.names
            .iter()
            .position(|n| *n == field)
            .map(|i| self.values[i].as_str())
            .unwrap_or("")
    }
}

impl Bound {
    /// The columns of the header it was bound to, in order.
    pub(crate) fn read_columns(&self) -> &[String] {
        &self.header
    }

    /// Whether the row is one this block reads (its `when` conditions hold).
    pub(crate) fn keeps(&self, row: &Row<'_>) -> bool {
        self.when.iter().all(|(i, cond)| cond.holds(row(*i), row))
    }

    /// Maps one row into `out`. A value that cannot be read is an error
    /// naming the field and the column it came from.
    pub(crate) fn apply(
        &self,
        row: &Row<'_>,
        joins: &Joins,
        out: &mut MappedRow,
    ) -> Result<(), FieldError> {
        out.names.clear();
        out.next.set(0);
        if out.values.len() < self.fields.len() {
            out.values.resize(self.fields.len(), String::new());
        }
        for (i, (field, kind, r)) in self.fields.iter().enumerate() {
            let mut buf = std::mem::take(&mut out.values[i]);
            buf.clear();
            let res = value_of(field, *kind, r, row, joins, &mut buf);
            out.values[i] = buf;
            res?;
            out.names.push(field);
        }
        Ok(())
    }

    /// The join keys this row offers, once `record_id` and `account_id` are
    /// known (an account's account is itself).
    pub(crate) fn offer_keys(
        &self,
        row: &Row<'_>,
        record_id: &str,
        account_id: &str,
        joins: &mut Joins,
    ) {
        for (name, r) in &self.keys {
            let mut buf = String::new();
            if value_of("key", ValueKind::Text, r, row, &Joins::default(), &mut buf).is_ok() {
                let v = buf.trim().to_lowercase();
                if !v.is_empty() {
                    joins
                        .table_mut(self.kind, name)
                        .insert(v, (record_id.to_string(), account_id.to_string()));
                }
            }
        }
    }

    pub(crate) fn offers_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// For an aggregating block, after [`Bound::apply`]: takes each counted
    /// field's text (in [`COUNTED`]'s order, `None` when unmapped) and
    /// leaves `0` in its place, so the row reads as a usage record whose
    /// account and day are checked as any other's.
    /// A summed field's value must be blank or a whole number of at least
    /// 0; otherwise the row is rejected, naming the field.
    pub(crate) fn take_counted(
        &self,
        out: &mut MappedRow,
    ) -> Result<[Option<(Count, String)>; 3], FieldError> {
        let mut taken = [None, None, None];
        for (j, (field, _, r)) in self.fields.iter().enumerate() {
            let (Some(count), Some(slot)) = (r.rule.count, COUNTED.iter().position(|c| c == field))
            else {
                continue;
            };
            if let Some(v) = out.values.get_mut(j) {
                let text = v.trim();
                if count == Count::Sum && !text.is_empty() && text.parse::<u32>().is_err() {
                    return Err(FieldError::new(
                        COUNTED[slot],
                        format!("is not a whole number of at least 0 to sum: '{text}'"),
                    ));
                }
                let text = std::mem::replace(v, "0".to_string());
                taken[slot] = Some((count, text));
            }
        }
        Ok(taken)
    }
}

fn from_col(b: &BoundRule, k: usize) -> &str {
    // Column names of the rule, in the order of `b.at`.
    rule_columns(&b.rule)[k]
}

/// Computes one field's import text into `out`.
fn value_of(
    field: &str,
    kind: ValueKind,
    b: &BoundRule,
    row: &Row<'_>,
    joins: &Joins,
    out: &mut String,
) -> Result<(), FieldError> {
    let r = &b.rule;
    if !b.when.iter().all(|(i, values)| holds(row(*i), values)) {
        // Blank: the row is not one the field's `when` gives a value in.
        return Ok(());
    }
    let named = |k: usize| format!("{field} (column \"{}\")", from_col(b, k));
    let mut source_col = 0usize;
    match &r.source {
        Source::Column(_) => out.push_str(row(b.at[0]).trim()),
        Source::FirstOf(_) => {
            for (k, i) in
                b.at.iter()
                    .take(b.at.len() - usize::from(r.add_minutes.is_some()))
                    .enumerate()
            {
                let v = row(*i).trim();
                if !v.is_empty() {
                    out.push_str(v);
                    source_col = k;
                    break;
                }
            }
        }
        Source::Const(v) => out.push_str(v),
        Source::Template(ps) => {
            let mut k = 0;
            for p in ps {
                match p {
                    Piece::Text(t) => out.push_str(t),
                    Piece::Column(_) => {
                        out.push_str(row(b.at[k]).trim());
                        k += 1;
                    }
                }
            }
        }
        Source::Expr(e) => {
            let value = |i: usize| row(b.at[i]).to_string();
            let number = |s: &str| r.number.parse(s);
            match e.eval(&value, &number) {
                Ok(Some(v)) => out.push_str(&fmt_number(v)),
                Ok(None) => {}
                Err(EvalError::NotANumber { column, value }) => {
                    return Err(FieldError::new(
                        format!("{field} (column \"{column}\")"),
                        format!("'{}' is not a number", value::clip(&value)),
                    ));
                }
                Err(EvalError::DivisionByZero) => {
                    return Err(FieldError::new(field, "the expression divides by zero"));
                }
            }
        }
    }
    let is_column = matches!(r.source, Source::Column(_) | Source::FirstOf(_));
    let label = || {
        if is_column {
            named(source_col)
        } else {
            field.to_string()
        }
    };
    if let Some(sep) = &r.split
        && let Some(at) = out.find(sep.as_str())
    {
        out.truncate(at);
        let t = out.trim_end().len();
        out.truncate(t);
    }
    let domain = match r.extract {
        None => None,
        Some(Extract::EmailDomain) => Some(out.rsplit_once('@').map(|(_, d)| d.trim().to_string())),
        Some(Extract::UrlDomain) => Some(url_domain(out)),
        Some(Extract::HtmlText) => Some(Some(html_text(out))),
    };
    if let Some(domain) = domain {
        out.clear();
        if let Some(d) = domain {
            out.push_str(&d);
        }
    }
    if let Some(map) = &r.map {
        let key = lower(out.trim());
        let in_range = || {
            if r.map_below.is_none() && r.map_above.is_none() {
                return None;
            }
            let n = r.number.parse(key.as_ref())?;
            let holds = |b: &Bound1, below: bool| match (below, b.inclusive) {
                (true, false) => n < b.at,
                (true, true) => n <= b.at,
                (false, false) => n > b.at,
                (false, true) => n >= b.at,
            };
            r.map_below
                .as_ref()
                .filter(|(b, _)| holds(b, true))
                .or_else(|| r.map_above.as_ref().filter(|(b, _)| holds(b, false)))
                .map(|(_, v)| v)
        };
        if let Some(v) = map.get(key.as_ref()).or_else(in_range) {
            out.clear();
            out.push_str(v);
        } else if let Some(o) = &r.map_other
            && !key.is_empty()
        {
            out.clear();
            out.push_str(o);
        }
    }
    if out.trim().is_empty() {
        out.clear();
        if let Some(d) = &r.default {
            out.push_str(d);
        }
    }
    if let Some(c) = r.case {
        let mut t = String::with_capacity(out.len());
        let mut gap = false;
        for ch in out.trim().chars() {
            if c == Case::Snake && !ch.is_alphanumeric() {
                gap = !t.is_empty();
                continue;
            }
            if gap {
                t.push('_');
                gap = false;
            }
            if ch.is_ascii() {
                t.push(ch.to_ascii_lowercase());
            } else {
                t.extend(ch.to_lowercase());
            }
        }
        *out = t;
    }
    if let Some((k, key)) = &r.join {
        if out.is_empty() {
            return Ok(());
        }
        let wanted = lower(out.trim());
        let hit = joins.table(*k, key).and_then(|t| t.get(wanted.as_ref()));
        let Some((id, account)) = hit else {
            return Err(FieldError::new(
                label(),
                format!("no {k} has {key} '{}'", value::clip(&wanted)),
            ));
        };
        out.clear();
        out.push_str(if field == "account_id" { account } else { id });
        return Ok(());
    }
    if out.is_empty() {
        return Ok(());
    }
    match kind {
        ValueKind::Date | ValueKind::Instant => {
            let (mut ts, day) = r.time.parse(out).map_err(|m| FieldError::new(label(), m))?;
            if let Some(col) = &r.add_minutes {
                let i = *b.at.last().expect("add_minutes has a column");
                let m = row(i).trim();
                if m.is_empty() {
                    out.clear();
                    return Ok(());
                }
                let mins = r.number.parse(m).ok_or_else(|| {
                    FieldError::new(
                        format!("{field} (column \"{col}\")"),
                        format!("'{}' is not a number of minutes", value::clip(m)),
                    )
                })?;
                ts += (mins * 60.0).round() as i64;
            }
            out.clear();
            if kind == ValueKind::Date {
                value::push_day(out, day);
            } else {
                value::push_ts(out, ts);
            }
        }
        ValueKind::Int | ValueKind::Money => {
            // Plain digits are already import text.
            let plain = r.scale.is_none()
                && out.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && out.bytes().filter(|&b| b == b'.').count() <= 1
                && out.as_bytes().first().is_some_and(u8::is_ascii_digit);
            if !plain && (!matches!(r.source, Source::Expr(_)) || r.scale.is_some()) {
                let mut v = r.number.parse(out).ok_or_else(|| {
                    FieldError::new(label(), format!("'{}' is not a number", value::clip(out)))
                })?;
                if let Some(s) = r.scale {
                    v *= s;
                }
                out.clear();
                out.push_str(&fmt_number(v));
            }
            if kind == ValueKind::Int
                && let Ok(v) = out.parse::<f64>()
            {
                let rounded = v.round();
                if (v - rounded).abs() > 1e-6 {
                    return Err(FieldError::new(
                        label(),
                        format!("{v} is not a whole number"),
                    ));
                }
                out.clear();
                out.push_str(&(rounded as i64).to_string());
            }
        }
        ValueKind::Choice => {
            let plain = |c: char| !(c == ' ' || c == '-' || c.is_ascii_uppercase());
            if !out.chars().all(plain) || out.trim().len() != out.len() {
                let norm: String = out
                    .trim()
                    .chars()
                    .map(|c| {
                        if c == ' ' || c == '-' {
                            '_'
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect();
                *out = norm;
            }
        }
        ValueKind::Flag | ValueKind::Text => {}
    }
    Ok(())
}

/// A number as import text: whole numbers without a fraction, others with
/// at most 6 decimals (money is rounded to cents by nobody here).
fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        // A difference that rounds to nothing is 0, not "-0".
        if s == "-0" { "0" } else { s }.to_string()
    }
}

#[cfg(test)]
mod tests;
