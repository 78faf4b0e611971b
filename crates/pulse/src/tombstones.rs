//! Tombstone files: the records a source deleted, for exports that simply
//! drop them. A file whose name contains `tombstone` (`tombstones.csv`,
//! `zendesk-tombstones.jsonl`) holds one row per deleted record:
//!
//! | column | meaning |
//! |---|---|
//! | `entity` | `contact`, `interaction`, `subscription_event`, `survey_response` or `operational_event` (plurals too) |
//! | `id` | the record's id |
//! | `deleted_at` | when the source deleted it (any instant `pulse import` reads) |
//!
//! Each marks the stored record as a `deleted_at` column would
//! ([`pulse_store::Store::mark_deleted`]). Tombstone files are applied after
//! every record file of the same import. A row that cannot be read, or that
//! names no stored record, is rejected with its line and reason; the other
//! rows are applied.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use pulse_core::{EntityKind, FieldError, Record};
use pulse_store::{Store, Tombstone, deletable_table};

use crate::import::{FileReport, ImportOptions, ImportReport, RejectRow, RejectsFile, json_fields};

/// The ids of the deletable records a dry run's record files would store,
/// so that its tombstones find them as the import would.
#[derive(Debug, Default)]
pub(crate) struct DrySeen(HashMap<EntityKind, HashSet<String>>);

impl DrySeen {
    pub(crate) fn note(&mut self, records: &[(usize, Record)]) {
        for (_, r) in records {
            let (kind, id) = match r {
                Record::Contact(c) => (EntityKind::Contact, &c.id),
                Record::Interaction(i) => (EntityKind::Interaction, &i.id),
                Record::Subscription(e) => (EntityKind::Subscription, &e.id),
                Record::Survey(s) => (EntityKind::Survey, &s.id),
                Record::Operational(o) => (EntityKind::Operational, &o.id),
                Record::Account(_) | Record::Usage(_) | Record::Outreach(_) => continue,
            };
            self.0.entry(kind).or_default().insert(id.clone());
        }
    }

    fn contains(&self, t: &Tombstone) -> bool {
        self.0.get(&t.kind).is_some_and(|ids| ids.contains(&t.id))
    }
}

/// The columns of a tombstone file.
const COLUMNS: [&str; 3] = ["entity", "id", "deleted_at"];

/// Whether `path` is read as a tombstone file.
pub(crate) fn is_tombstone_file(path: &Path) -> bool {
    path.file_name().is_some_and(|n| {
        n.to_string_lossy()
            .to_ascii_lowercase()
            .contains("tombstone")
    })
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BadRow {
    pub(crate) line: usize,
    pub(crate) entity: String,
    pub(crate) id: String,
    pub(crate) error: FieldError,
}

impl<'a> From<&'a BadRow> for RejectRow<'a> {
    fn from(b: &'a BadRow) -> Self {
        RejectRow {
            line: b.line,
            entity: &b.entity,
            id: &b.id,
            error: &b.error,
        }
    }
}

/// One row's fields as a tombstone, or why not.
fn tombstone(line: usize, entity: &str, id: &str, at: &str) -> Result<Tombstone, BadRow> {
    let bad = |error| BadRow {
        line,
        entity: entity.to_string(),
        id: id.to_string(),
        error,
    };
    let kind = EntityKind::from_file_name(entity.trim())
        .filter(|k| deletable_table(*k).is_some())
        .ok_or_else(|| {
            bad(FieldError::new(
                "entity",
                format!(
                    "'{}' is not one of contact, interaction, subscription_event, \
                     survey_response, operational_event",
                    entity.trim()
                ),
            ))
        })?;
    let id = id.trim();
    if id.is_empty() {
        return Err(bad(FieldError::new("id", "is required")));
    }
    let deleted_at = pulse_core::time::parse_ts("deleted_at", at).map_err(bad)?;
    Ok(Tombstone {
        position: line,
        kind,
        id: id.to_string(),
        deleted_at,
    })
}

/// Reads a tombstone file (CSV with a header, or JSON Lines): its
/// tombstones and the rows that could not be read. A missing column is an
/// error for the whole file.
pub(crate) fn read(path: &Path) -> anyhow::Result<(Vec<Tombstone>, Vec<BadRow>)> {
    let shown = path.display();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    let mut take = |r: Result<Tombstone, BadRow>| match r {
        Ok(t) => good.push(t),
        Err(b) => bad.push(b),
    };
    if name.ends_with(".csv") {
        let encoding = crate::encoding::Encoding::Utf8;
        let mut r = crate::encoding::csv_reader(path, encoding, true)
            .with_context(|| format!("opening {shown}"))?;
        let header: Vec<String> = r
            .headers()
            .with_context(|| format!("{shown}: reading the header"))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        let mut at = [0usize; 3];
        let missing: Vec<&str> = COLUMNS
            .iter()
            .enumerate()
            .filter_map(|(i, c)| match header.iter().position(|h| h == c) {
                Some(p) => {
                    at[i] = p;
                    None
                }
                None => Some(*c),
            })
            .collect();
        if !missing.is_empty() {
            bail!(
                "{shown}: a tombstone file has the columns entity, id and deleted_at; missing: {}",
                missing.join(", ")
            );
        }
        // After a CRLF line end the reader counts lines one behind (as in
        // `pulse import`).
        let crlf = usize::from(crate::import::ends_lines_with_crlf(path, encoding)?);
        for rec in r.records() {
            // A row the CSV reader cannot read (not UTF-8, say) is rejected
            // on its own.
            let rec = match rec {
                Ok(rec) => rec,
                Err(e) => {
                    take(Err(BadRow {
                        line: crlf + e.position().map_or(0, |p| p.line() as usize),
                        entity: String::new(),
                        id: String::new(),
                        error: crate::import::csv_row_error(&e),
                    }));
                    continue;
                }
            };
            let line = crlf + rec.position().map_or(0, |p| p.line() as usize);
            let get = |i: usize| rec.get(at[i]).unwrap_or("");
            take(tombstone(line, get(0), get(1), get(2)));
        }
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        let bytes = std::fs::read(path).with_context(|| format!("reading {shown}"))?;
        for (i, l) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let l = match std::str::from_utf8(l) {
                Ok(l) => l.trim_end_matches('\r'),
                Err(e) => {
                    take(Err(BadRow {
                        line,
                        entity: String::new(),
                        id: String::new(),
                        error: crate::import::not_utf8(e),
                    }));
                    continue;
                }
            };
            if l.trim().is_empty() {
                continue;
            }
            match json_fields(l) {
                Ok(f) => {
                    let get = |c: &str| f.get(c).map(String::as_str).unwrap_or("");
                    take(tombstone(line, get("entity"), get("id"), get("deleted_at")));
                }
                Err(error) => take(Err(BadRow {
                    line,
                    entity: String::new(),
                    id: String::new(),
                    error,
                })),
            }
        }
    } else {
        bail!("{shown}: unknown file type (use .csv or .jsonl)");
    }
    Ok((good, bad))
}

/// Applies one tombstone file (or, in a dry run, counts what it would do:
/// a record the dry run's record files would store counts as marked) and
/// reports it like a record file: its rows, the records marked (as updated
/// and as deleted), and the rejections.
pub(crate) async fn import(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    dry_seen: &DrySeen,
    report: &mut ImportReport,
    rejects: &mut RejectsFile<'_>,
) -> anyhow::Result<FileReport> {
    let started = Instant::now();
    let cpu0 = crate::bench::cpu_seconds();
    let (mut marks, bad) = read(path)?;
    let before = marks.len();
    let range = marks.iter().map(|t| t.deleted_at).fold(None, |r, t| {
        Some(r.map_or((t, t), |(a, b): (i64, i64)| (a.min(t), b.max(t))))
    });
    if opts.dry_run {
        marks.retain(|t| !dry_seen.contains(t));
    }
    let seen = (before - marks.len()) as u64;
    let mut fr = FileReport {
        path: path.to_path_buf(),
        rows: before as u64 + bad.len() as u64,
        range,
        ..Default::default()
    };
    let out = store
        .mark_deleted(marks, opts.dry_run)
        .await
        .with_context(|| format!("marking the records of {}", path.display()))?;
    fr.updated = out.marked + seen;
    fr.deleted = out.marked + seen;
    fr.rejected = (bad.len() + out.rejected.len()) as u64;
    let mut rows: Vec<RejectRow<'_>> = bad
        .iter()
        .map(RejectRow::from)
        .chain(out.rejected.iter().map(RejectRow::from))
        .collect();
    rows.sort_by_key(|r| r.line);
    fr.note_rejects(rows.iter().copied());
    rejects.write(report, path, rows)?;
    fr.elapsed = started.elapsed();
    fr.cpu = cpu0.zip(crate::bench::cpu_seconds()).map(|(a, b)| b - a);
    Ok(fr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_tombstones_or_say_why_not() {
        let t = tombstone(2, "Interactions", " t-1 ", "2026-05-01T10:00:00Z").unwrap();
        assert_eq!(
            (t.position, t.kind, t.id.as_str()),
            (2, EntityKind::Interaction, "t-1")
        );
        let reason = |e: &str, id: &str, at: &str| {
            let b = tombstone(7, e, id, at).unwrap_err();
            assert_eq!(b.line, 7);
            (b.error.field, b.error.reason)
        };
        let (f, r) = reason("accounts", "a-1", "2026-05-01");
        assert_eq!(f, "entity");
        assert!(r.contains("'accounts' is not one of"), "{r}");
        assert_eq!(reason("ticket", "x", "2026-05-01").0, "entity");
        assert_eq!(reason("contact", "  ", "2026-05-01").0, "id");
        assert_eq!(reason("contact", "c-1", "yesterday").0, "deleted_at");
    }

    #[test]
    fn a_file_without_a_column_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("tombstones.csv");
        std::fs::write(
            &p,
            "entity,record_id,deleted_at\ninteraction,t-1,2026-05-01\n",
        )
        .unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("missing: id"), "{e}");
    }

    #[test]
    fn csv_and_json_lines_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("tombstones.csv");
        std::fs::write(
            &csv,
            "Deleted_At,Entity,ID\n2026-05-01,interaction,t-1\n2026-05-02,usage,u-1\n",
        )
        .unwrap();
        let jsonl = dir.path().join("tombstones.jsonl");
        std::fs::write(
            &jsonl,
            "{\"entity\":\"interaction\",\"id\":\"t-1\",\"deleted_at\":\"2026-05-01\"}\n\n\
             {\"entity\":\"usage\",\"id\":\"u-1\",\"deleted_at\":\"2026-05-02\"}\n",
        )
        .unwrap();
        let (g1, b1) = read(&csv).unwrap();
        let (g2, b2) = read(&jsonl).unwrap();
        assert_eq!(g1.len(), 1);
        assert_eq!((g1[0].id.as_str(), g1[0].position), ("t-1", 2));
        assert_eq!(g2.len(), 1);
        assert_eq!(g1[0].deleted_at, g2[0].deleted_at);
        assert_eq!((b1[0].line, b2[0].line), (3, 3));
        assert!(
            is_tombstone_file(&csv) && !is_tombstone_file(&dir.path().join("interactions.csv"))
        );
    }

    #[test]
    fn a_row_that_is_not_utf8_is_rejected_alone() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("tombstones.csv");
        std::fs::write(
            &csv,
            b"entity,id,deleted_at\r\ninteraction,t-\xe9,2026-05-01\r\ninteraction,t-2,2026-05-02\r\n",
        )
        .unwrap();
        let jsonl = dir.path().join("tombstones.jsonl");
        std::fs::write(
            &jsonl,
            b"{\"entity\":\"interaction\",\"id\":\"t-\xe9\",\"deleted_at\":\"2026-05-01\"}\r\n\
              {\"entity\":\"interaction\",\"id\":\"t-2\",\"deleted_at\":\"2026-05-02\"}\r\n",
        )
        .unwrap();
        for (path, line) in [(&csv, 2), (&jsonl, 1)] {
            let (good, bad) = read(path).unwrap();
            assert_eq!(good.len(), 1, "{path:?}");
            assert_eq!((good[0].id.as_str(), good[0].position), ("t-2", line + 1));
            assert_eq!(bad.len(), 1, "{path:?}");
            assert_eq!(bad[0].line, line, "{path:?}");
            assert!(
                bad[0].error.to_string().contains("is not UTF-8 text ("),
                "{}",
                bad[0].error
            );
        }
    }
}
