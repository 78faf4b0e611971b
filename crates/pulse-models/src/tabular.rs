//! The generic tabular path for teams with their own feature table: a string `Table` is encoded
//! into a numeric [`Dataset`] by a [`TableEncoder`] that is saved inside the model artifact, so a
//! new table is scored with exactly the training encoding.
//!
//! Rules, learned once by [`TableEncoder::fit`] on the training table:
//! - **Missing**: a cell that is blank after trimming or one of `NA`, `N/A`, `NaN`, `null`
//!   (any case) is missing (NaN). `None` and `Unknown` are kept as values: in real tables they
//!   are often genuine categories (a card type, an education level).
//! - **Numeric column**: at least [`NUMERIC_SHARE`] of the non-missing cells read as numbers
//!   ([`parse_number`]: plain numbers, yes/no and true/false as 1/0, currency such as
//!   `$1,234.50`, percentages such as `12%` = 0.12); the other cells are missing. Anything
//!   else is **categorical** (plus columns listed in `force_categorical`, e.g. zip or area
//!   codes). At transform time an unparsable cell in a numeric column is missing.
//! - **Categorical encoding** (`CategoricalEncoding`):
//!   - `Ordinal` (default, for the GBT): categories sorted by name get codes 0, 1, 2, ...;
//!     forust splits on them as numbers, which trees handle well for the low-cardinality
//!     columns typical of churn tables.
//!   - `OneHot` (for the logistic model, where ordinal codes would impose a false order): one
//!     0/1 column named `column=value` per category.
//!
//!   Only the `max_categories` most frequent categories (ties by name) are kept; rarer, unseen
//!   and missing categories are missing (NaN in the ordinal column, or in every one-hot column
//!   of that source, which the logistic model imputes with training medians).
//! - **Label**: with an explicit positive value (e.g. `Attrited Customer`), a cell equal to it
//!   (trimmed, case-insensitive) is positive and any other non-missing cell negative. Without
//!   one, `yes/no`, `y/n`, `true/false`, `t/f` and `1/0` (any case, also `1.0`/`0.0`) are
//!   recognised. A missing or unrecognised label is an error naming the row.

use ndarray::Array2;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

use crate::dataset::Dataset;
use crate::error::TableError;

/// A rectangular table of strings with a header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// Validates that every row has one cell per column and column names are unique.
    pub fn new(columns: Vec<String>, rows: Vec<Vec<String>>) -> Result<Self, TableError> {
        let t = Self { columns, rows };
        t.validate()?;
        Ok(t)
    }

    fn validate(&self) -> Result<(), TableError> {
        let mut seen = HashSet::new();
        for c in &self.columns {
            if !seen.insert(c.as_str()) {
                return Err(TableError::DuplicateColumn { name: c.clone() });
            }
        }
        for (row, r) in self.rows.iter().enumerate() {
            if r.len() != self.columns.len() {
                return Err(TableError::RaggedRow {
                    row,
                    expected: self.columns.len(),
                    got: r.len(),
                });
            }
        }
        Ok(())
    }

    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn require(&self, name: &str) -> Result<usize, TableError> {
        self.column_index(name)
            .ok_or_else(|| TableError::UnknownColumn {
                name: name.to_string(),
            })
    }
}

/// Whether a cell counts as missing.
pub fn is_missing(cell: &str) -> bool {
    let t = cell.trim();
    t.is_empty()
        || ["na", "n/a", "nan", "null"]
            .iter()
            .any(|m| t.eq_ignore_ascii_case(m))
}

/// A cell as a number, reading what real exports write: plain numbers,
/// `yes`/`no` and `true`/`false` (1/0), currency (`$1,234.50`, `€12`,
/// `(300.00)` for -300) and percentages (`12.5%` is 0.125).
pub fn parse_number(cell: &str) -> Option<f64> {
    let t = cell.trim();
    if let Ok(v) = t.parse::<f64>() {
        return v.is_finite().then_some(v);
    }
    match t.to_ascii_lowercase().as_str() {
        "yes" | "true" => return Some(1.0),
        "no" | "false" => return Some(0.0),
        _ => {}
    }
    // Accounting negatives: (300.00).
    let (negative, t) = match t.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner.trim()),
        None => (false, t),
    };
    let (percent, t) = match t.strip_suffix('%') {
        Some(r) => (true, r.trim_end()),
        None => (false, t),
    };
    let (sign, t) = match t.strip_prefix('-') {
        Some(r) => (-1.0, r.trim_start()),
        None => (1.0, t),
    };
    let t = t
        .trim_start_matches(['$', '€', '£', '¥'])
        .trim_end_matches(['$', '€', '£', '¥'])
        .trim();
    // Thousands separators: commas between groups of three digits.
    let digits: String = if t.contains(',') {
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let groups: Vec<&str> = int.split(',').collect();
        let grouped = !groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            return None;
        }
        let mut d = groups.concat();
        if !frac.is_empty() || t.contains('.') {
            d.push('.');
            d.push_str(frac);
        }
        d
    } else {
        t.to_string()
    };
    if digits.is_empty()
        || !digits
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit() || b == b'.')
    {
        return None;
    }
    let v = digits.parse::<f64>().ok().filter(|v| v.is_finite())?;
    let v = sign * if percent { v / 100.0 } else { v };
    Some(if negative { -v } else { v })
}

/// Share of a column's non-missing cells that must read as numbers for it to
/// be numeric; the others are read as missing (a `?` or `unknown` among
/// numbers).
pub const NUMERIC_SHARE: f64 = 0.95;

/// How categorical columns become numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoricalEncoding {
    #[default]
    Ordinal,
    OneHot,
}

/// The label column and, optionally, the value that means positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelSpec {
    pub column: String,
    #[serde(default)]
    pub positive: Option<String>,
}

impl LabelSpec {
    /// A label column with recognised binary values (yes/no, true/false, 1/0).
    pub fn binary(column: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            positive: None,
        }
    }
    /// A label column where `positive` (e.g. "Attrited Customer") marks the positive class.
    pub fn with_positive(column: impl Into<String>, positive: impl Into<String>) -> Self {
        Self {
            column: column.into(),
            positive: Some(positive.into()),
        }
    }

    fn parse(&self, row: usize, cell: &str) -> Result<bool, TableError> {
        if is_missing(cell) {
            return Err(TableError::MissingLabel { row });
        }
        let t = cell.trim();
        if let Some(p) = &self.positive {
            return Ok(t.eq_ignore_ascii_case(p.trim()));
        }
        let l = t.to_ascii_lowercase();
        match l.as_str() {
            "yes" | "y" | "true" | "t" | "1" => Ok(true),
            "no" | "n" | "false" | "f" | "0" => Ok(false),
            _ => match parse_number(t) {
                Some(1.0) => Ok(true),
                Some(0.0) => Ok(false),
                _ => Err(TableError::UnrecognisedLabel {
                    row,
                    value: t.to_string(),
                }),
            },
        }
    }
}

fn default_max_categories() -> usize {
    64
}

/// Options of [`TableEncoder::fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EncoderOptions {
    /// Columns that are not features (ids, leaky columns).
    pub drop_columns: Vec<String>,
    /// Numeric-looking columns to treat as categories.
    pub force_categorical: Vec<String>,
    pub categorical: CategoricalEncoding,
    #[serde(default = "default_max_categories")]
    pub max_categories: usize,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        Self {
            drop_columns: Vec::new(),
            force_categorical: Vec::new(),
            categorical: CategoricalEncoding::Ordinal,
            max_categories: default_max_categories(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ColumnKind {
    Numeric,
    /// Kept categories, sorted by name (ordinal code = position).
    Categorical {
        categories: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ColumnEncoder {
    source: String,
    #[serde(flatten)]
    kind: ColumnKind,
}

/// A fitted table → matrix encoding (saved in artifacts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableEncoder {
    label: LabelSpec,
    encoding: CategoricalEncoding,
    columns: Vec<ColumnEncoder>,
    feature_names: Vec<String>,
    /// Source column of each feature (equal to the name except for one-hot columns).
    feature_sources: Vec<String>,
}

impl TableEncoder {
    /// Learns column kinds and category vocabularies from a training table.
    pub fn fit(
        table: &Table,
        label: &LabelSpec,
        options: &EncoderOptions,
    ) -> Result<Self, TableError> {
        table.validate()?;
        table.require(&label.column)?;
        for c in options
            .drop_columns
            .iter()
            .chain(&options.force_categorical)
        {
            table.require(c)?;
        }
        let mut columns = Vec::new();
        for (j, name) in table.columns.iter().enumerate() {
            if name == &label.column || options.drop_columns.contains(name) {
                continue;
            }
            let cells = table
                .rows
                .iter()
                .map(|r| r[j].as_str())
                .filter(|c| !is_missing(c));
            let (present, parsed) = cells.clone().fold((0usize, 0usize), |(n, p), c| {
                (n + 1, p + usize::from(parse_number(c).is_some()))
            });
            let numeric = !options.force_categorical.contains(name)
                && present > 0
                && parsed as f64 >= NUMERIC_SHARE * present as f64;
            let kind = if numeric {
                ColumnKind::Numeric
            } else {
                let mut counts: HashMap<&str, usize> = HashMap::new();
                for c in cells {
                    *counts.entry(c.trim()).or_default() += 1;
                }
                let mut by_freq: Vec<(&str, usize)> = counts.into_iter().collect();
                by_freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                by_freq.truncate(options.max_categories);
                let mut categories: Vec<String> =
                    by_freq.into_iter().map(|(c, _)| c.to_string()).collect();
                categories.sort();
                ColumnKind::Categorical { categories }
            };
            columns.push(ColumnEncoder {
                source: name.clone(),
                kind,
            });
        }
        if columns.is_empty() {
            return Err(TableError::NoFeatures);
        }
        let mut feature_names = Vec::new();
        let mut feature_sources = Vec::new();
        for c in &columns {
            match (&c.kind, options.categorical) {
                (ColumnKind::Categorical { categories }, CategoricalEncoding::OneHot) => {
                    for cat in categories {
                        feature_names.push(format!("{}={}", c.source, cat));
                        feature_sources.push(c.source.clone());
                    }
                }
                _ => {
                    feature_names.push(c.source.clone());
                    feature_sources.push(c.source.clone());
                }
            }
        }
        Ok(Self {
            label: label.clone(),
            encoding: options.categorical,
            columns,
            feature_names,
            feature_sources,
        })
    }

    /// Encoded feature names, in matrix column order.
    pub fn feature_names(&self) -> &[String] {
        &self.feature_names
    }
    /// Source table column of each encoded feature (to sum one-hot contributions per column).
    pub fn feature_sources(&self) -> &[String] {
        &self.feature_sources
    }
    pub fn label(&self) -> &LabelSpec {
        &self.label
    }
    pub fn encoding(&self) -> CategoricalEncoding {
        self.encoding
    }
    /// How each feature column was read, in table order: `(column, how)`,
    /// e.g. `numeric`, `numeric (yes/no as 1/0)`, `numeric (3 unreadable
    /// cells read as missing)`, `categorical, 4 levels`.
    pub fn column_report(&self, table: &Table) -> Vec<(String, String)> {
        self.columns
            .iter()
            .map(|c| {
                let cells: Vec<&str> = table
                    .column_index(&c.source)
                    .map(|j| {
                        table
                            .rows
                            .iter()
                            .map(|r| r[j].trim())
                            .filter(|v| !is_missing(v))
                            .collect()
                    })
                    .unwrap_or_default();
                let how = match &c.kind {
                    ColumnKind::Numeric => {
                        let unreadable = cells.iter().filter(|v| parse_number(v).is_none()).count();
                        let mut how = "numeric".to_string();
                        let plain = |v: &&str| v.parse::<f64>().is_ok();
                        let mut forms = Vec::new();
                        if cells.iter().any(|v| {
                            !plain(v)
                                && matches!(
                                    v.to_ascii_lowercase().as_str(),
                                    "yes" | "no" | "true" | "false"
                                )
                        }) {
                            forms.push("yes/no as 1/0");
                        }
                        if cells.iter().any(|v| v.ends_with('%')) {
                            forms.push("percentages as fractions");
                        }
                        if cells.iter().any(|v| {
                            v.contains(['$', '€', '£', '¥']) || (!plain(v) && v.contains(','))
                        }) {
                            forms.push("currency and thousands separators");
                        }
                        if !forms.is_empty() {
                            how.push_str(&format!(" ({})", forms.join(", ")));
                        }
                        if unreadable > 0 {
                            how.push_str(&format!(
                                "; {unreadable} unreadable cell(s) read as missing"
                            ));
                        }
                        how
                    }
                    ColumnKind::Categorical { categories } => {
                        let levels: HashSet<&str> = cells.iter().copied().collect();
                        if levels.len() > categories.len() {
                            format!(
                                "categorical, {} levels ({} most frequent kept, the rest missing)",
                                levels.len(),
                                categories.len()
                            )
                        } else {
                            format!("categorical, {} levels", categories.len())
                        }
                    }
                };
                (c.source.clone(), how)
            })
            .collect()
    }

    /// Names of the source columns treated as categorical.
    pub fn categorical_columns(&self) -> Vec<&str> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Categorical { .. }))
            .map(|c| c.source.as_str())
            .collect()
    }

    /// Encodes the feature columns of `table` (the label column, if present, is ignored).
    /// Every source column seen at fit time must be present; extra columns are ignored.
    pub fn transform(&self, table: &Table) -> Result<Array2<f64>, TableError> {
        table.validate()?;
        let positions: Vec<usize> = self
            .columns
            .iter()
            .map(|c| table.require(&c.source))
            .collect::<Result<_, _>>()?;
        let mut x = Array2::from_elem((table.rows.len(), self.feature_names.len()), f64::NAN);
        let lookups: Vec<Option<BTreeMap<&str, usize>>> = self
            .columns
            .iter()
            .map(|c| match &c.kind {
                ColumnKind::Numeric => None,
                ColumnKind::Categorical { categories } => Some(
                    categories
                        .iter()
                        .enumerate()
                        .map(|(k, v)| (v.as_str(), k))
                        .collect(),
                ),
            })
            .collect();
        for (i, row) in table.rows.iter().enumerate() {
            let mut out = 0;
            for (&pos, lookup) in positions.iter().zip(&lookups) {
                let cell = row[pos].as_str();
                let Some(lookup) = lookup else {
                    if !is_missing(cell) {
                        x[[i, out]] = parse_number(cell).unwrap_or(f64::NAN);
                    }
                    out += 1;
                    continue;
                };
                let code = if is_missing(cell) {
                    None
                } else {
                    lookup.get(cell.trim()).copied()
                };
                match self.encoding {
                    CategoricalEncoding::Ordinal => {
                        if let Some(k) = code {
                            x[[i, out]] = k as f64;
                        }
                        out += 1;
                    }
                    CategoricalEncoding::OneHot => {
                        if let Some(k) = code {
                            for m in 0..lookup.len() {
                                x[[i, out + m]] = if m == k { 1.0 } else { 0.0 };
                            }
                        }
                        out += lookup.len();
                    }
                }
            }
        }
        Ok(x)
    }

    /// Parses the label column.
    pub fn labels(&self, table: &Table) -> Result<Vec<bool>, TableError> {
        let j = table.require(&self.label.column)?;
        table
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| self.label.parse(i, &r[j]))
            .collect()
    }

    /// Encodes features and labels into a validated dataset.
    pub fn dataset(&self, table: &Table) -> Result<Dataset, TableError> {
        let x = self.transform(table)?;
        let y = self.labels(table)?;
        Ok(Dataset::new(x, y, self.feature_names.clone())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_read_as_real_exports_write_them() {
        let cases: &[(&str, Option<f64>)] = &[
            ("42", Some(42.0)),
            (" 7.5 ", Some(7.5)),
            ("Yes", Some(1.0)),
            ("no", Some(0.0)),
            ("TRUE", Some(1.0)),
            ("$1,234.50", Some(1234.5)),
            ("€12", Some(12.0)),
            ("12 €", Some(12.0)),
            ("1,000,000", Some(1_000_000.0)),
            ("(300.00)", Some(-300.0)),
            ("-$5", Some(-5.0)),
            ("12.5%", Some(0.125)),
            ("-4%", Some(-0.04)),
            ("1,23", None),
            ("2026-01-01", None),
            ("555-1234", None),
            ("abc", None),
            ("$", None),
            ("inf", None),
            ("Maybe", None),
        ];
        for (cell, want) in cases {
            assert_eq!(parse_number(cell), *want, "{cell:?}");
        }
    }

    #[test]
    fn a_mostly_numeric_column_stays_numeric_and_says_how_it_was_read() {
        let mut rows = Vec::new();
        for i in 0..40 {
            rows.push(vec![
                i.to_string(),
                if i % 3 == 0 { "Yes" } else { "No" }.to_string(),
                // 39 amounts and one '?': numeric, the '?' missing.
                if i == 7 {
                    "?".to_string()
                } else {
                    format!("${},{:03}.00", 1 + i, i)
                },
                if i % 2 == 0 { "Yes" } else { "No" }.to_string(),
                format!("{}%", i),
                ["a", "b", "c"][i % 3].to_string(),
            ]);
        }
        let cols = [
            "id",
            "churned",
            "monthly charges",
            "Partner",
            "discount",
            "plan",
        ];
        let t = Table::new(cols.iter().map(|c| c.to_string()).collect(), rows).unwrap();
        let enc = TableEncoder::fit(
            &t,
            &LabelSpec::binary("churned"),
            &EncoderOptions {
                drop_columns: vec!["id".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(enc.categorical_columns(), ["plan"]);
        let report: HashMap<String, String> = enc.column_report(&t).into_iter().collect();
        assert!(
            report["monthly charges"].contains("currency")
                && report["monthly charges"].contains("1 unreadable"),
            "{report:?}"
        );
        assert!(report["Partner"].contains("yes/no as 1/0"), "{report:?}");
        assert!(report["discount"].contains("percentages"), "{report:?}");
        assert_eq!(report["plan"], "categorical, 3 levels");
        let x = enc.transform(&t).unwrap();
        let charges = enc
            .feature_names()
            .iter()
            .position(|f| f == "monthly charges")
            .unwrap();
        assert_eq!(x[[2, charges]], 3002.0);
        assert!(x[[7, charges]].is_nan());
    }

    fn table() -> Table {
        let cols = ["id", "Attrition", "age", "plan", "balance", "zip"];
        let rows = [
            ["1", "Attrited Customer", "45", "Gold", "100.5", "02139"],
            ["2", "Existing Customer", "NA", "Blue", "", "02139"],
            ["3", "Existing Customer", "33", "Blue", " 7 ", "10001"],
            ["4", "attrited customer ", "51", "null", "12", "94105"],
            ["5", "Existing Customer", "29", "Silver", "NaN", "10001"],
        ];
        Table::new(
            cols.iter().map(|s| s.to_string()).collect(),
            rows.iter()
                .map(|r| r.iter().map(|s| s.to_string()).collect())
                .collect(),
        )
        .unwrap()
    }

    fn options(encoding: CategoricalEncoding) -> EncoderOptions {
        EncoderOptions {
            drop_columns: vec!["id".into()],
            force_categorical: vec!["zip".into()],
            categorical: encoding,
            ..Default::default()
        }
    }

    #[test]
    fn ordinal_encoding_missing_and_explicit_positive_label() {
        let t = table();
        let label = LabelSpec::with_positive("Attrition", "Attrited Customer");
        let enc = TableEncoder::fit(&t, &label, &options(CategoricalEncoding::Ordinal)).unwrap();
        assert_eq!(enc.feature_names(), &["age", "plan", "balance", "zip"]);
        assert_eq!(enc.categorical_columns(), vec!["plan", "zip"]);
        let ds = enc.dataset(&t).unwrap();
        assert_eq!(ds.y(), &[true, false, false, true, false]);
        let x = ds.x();
        assert!(x[[1, 0]].is_nan()); // "NA"
        assert_eq!(x[[0, 1]], 1.0); // Blue=0, Gold=1, Silver=2
        assert!(x[[3, 1]].is_nan()); // "null"
        assert_eq!(x[[2, 2]], 7.0); // " 7 " trimmed
        assert!(x[[4, 2]].is_nan()); // "NaN"
        assert_eq!(x[[0, 3]], 0.0); // zip kept as text "02139"
        // Unseen category and unparsable number at score time map to missing.
        let mut new = t.clone();
        new.rows[0][3] = "Platinum".into();
        new.rows[0][4] = "n/a".into();
        new.rows[1][4] = "12,5".into();
        let x = enc.transform(&new).unwrap();
        assert!(x[[0, 1]].is_nan() && x[[0, 2]].is_nan() && x[[1, 2]].is_nan());
        // Round trip.
        let back: TableEncoder =
            serde_json::from_str(&serde_json::to_string(&enc).unwrap()).unwrap();
        assert_eq!(back, enc);
    }

    #[test]
    fn one_hot_encoding() {
        let t = table();
        let label = LabelSpec::with_positive("Attrition", "Attrited Customer");
        let enc = TableEncoder::fit(&t, &label, &options(CategoricalEncoding::OneHot)).unwrap();
        assert_eq!(
            enc.feature_names(),
            &[
                "age",
                "plan=Blue",
                "plan=Gold",
                "plan=Silver",
                "balance",
                "zip=02139",
                "zip=10001",
                "zip=94105"
            ]
        );
        assert_eq!(enc.feature_sources()[2], "plan");
        let x = enc.transform(&t).unwrap();
        assert_eq!(x.row(0).to_vec()[1..4], [0.0, 1.0, 0.0]);
        assert!(x.row(3).to_vec()[1..4].iter().all(|v| v.is_nan()));
    }

    #[test]
    fn binary_labels_and_errors() {
        for cell in ["", " ", "NA", "n/a", "NaN", "null", "NULL"] {
            assert!(is_missing(cell), "{cell:?}");
        }
        assert!(!is_missing("None") && !is_missing("Unknown") && !is_missing("0"));
        let spec = LabelSpec::binary("y");
        for (cell, want) in [
            ("Yes", true),
            ("no", false),
            ("TRUE", true),
            ("0", false),
            ("1.0", true),
        ] {
            assert_eq!(spec.parse(0, cell).unwrap(), want, "{cell}");
        }
        assert_eq!(spec.parse(3, " "), Err(TableError::MissingLabel { row: 3 }));
        assert!(matches!(
            spec.parse(2, "maybe"),
            Err(TableError::UnrecognisedLabel { row: 2, .. })
        ));
        let t = table();
        assert!(matches!(
            TableEncoder::fit(&t, &LabelSpec::binary("nope"), &EncoderOptions::default()),
            Err(TableError::UnknownColumn { .. })
        ));
        let enc = TableEncoder::fit(
            &t,
            &LabelSpec::binary("Attrition"),
            &EncoderOptions::default(),
        )
        .unwrap();
        assert!(matches!(
            enc.dataset(&t),
            Err(TableError::UnrecognisedLabel { row: 0, .. })
        ));
        assert!(matches!(
            Table::new(vec!["a".into(), "a".into()], vec![]),
            Err(TableError::DuplicateColumn { .. })
        ));
        assert!(matches!(
            Table::new(vec!["a".into()], vec![vec![]]),
            Err(TableError::RaggedRow {
                row: 0,
                expected: 1,
                got: 0
            })
        ));
        let mut missing_col = t.clone();
        missing_col.columns[2] = "renamed".into();
        assert!(matches!(
            enc.transform(&missing_col),
            Err(TableError::UnknownColumn { .. })
        ));
        let only_label = Table::new(vec!["y".into()], vec![vec!["1".into()]]).unwrap();
        assert_eq!(
            TableEncoder::fit(
                &only_label,
                &LabelSpec::binary("y"),
                &EncoderOptions::default()
            ),
            Err(TableError::NoFeatures)
        );
    }
}
