//! `pulse import`: bulk load of CSV and JSON Lines files.
//!
//! Each file holds one entity, recognised by its name (`accounts.csv`,
//! `interactions.jsonl`, ...) or else by its CSV header. Files are loaded in
//! dependency order (accounts, then contacts, then everything that refers to
//! them) whatever order they are given in. A reader thread parses and
//! validates rows while the store writes the previous batch, so parsing and
//! SQLite's writer overlap on the two cores. Bad rows are counted, listed in a
//! rejects file with their line, field and reason, and never stop the load.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_core::{EntityKind, FieldError, Fields, Record, TextScorer};
use pulse_sentiment::SentimentModel;
use pulse_store::{Rejected, Store};

/// Records per store transaction.
pub(crate) const DEFAULT_BATCH: usize = 20_000;

#[derive(Debug, Clone)]
pub(crate) struct ImportOptions {
    pub(crate) batch_size: usize,
    /// Where to write rejected rows (only written when there are some).
    pub(crate) rejects_path: PathBuf,
    pub(crate) progress: bool,
    /// Scores interaction and survey text as it is stored; `None` stores
    /// NULL sentiment.
    pub(crate) sentiment: Option<Arc<SentimentModel>>,
}

/// What one file contributed.
#[derive(Debug, Clone, Default)]
pub(crate) struct FileReport {
    pub(crate) path: PathBuf,
    pub(crate) kind: Option<EntityKind>,
    pub(crate) rows: u64,
    pub(crate) inserted: u64,
    pub(crate) updated: u64,
    pub(crate) rejected: u64,
    pub(crate) elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct ImportReport {
    pub(crate) files: Vec<FileReport>,
    pub(crate) rejects_written: Option<PathBuf>,
}

impl ImportReport {
    pub(crate) fn totals(&self) -> (u64, u64, u64, u64) {
        self.files.iter().fold((0, 0, 0, 0), |t, f| {
            (
                t.0 + f.rows,
                t.1 + f.inserted,
                t.2 + f.updated,
                t.3 + f.rejected,
            )
        })
    }
}

enum Format {
    Csv,
    JsonLines,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.ends_with(".csv") {
        Ok(Format::Csv)
    } else if name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json") {
        Ok(Format::JsonLines)
    } else {
        bail!("{}: unknown file type (use .csv or .jsonl)", path.display())
    }
}

/// Which entity a file holds: by name, else by its CSV header.
fn kind_of(path: &Path) -> anyhow::Result<EntityKind> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(k) = EntityKind::from_file_name(&name) {
        return Ok(k);
    }
    if let Format::Csv = format_of(path)? {
        let mut r =
            csv::Reader::from_path(path).with_context(|| format!("opening {}", path.display()))?;
        let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
        let refs: Vec<&str> = header.iter().map(String::as_str).collect();
        if let Some(k) = EntityKind::from_header(&refs) {
            return Ok(k);
        }
    }
    bail!(
        "{}: cannot tell which entity it holds; name it after one (accounts, contacts, interactions, usage, \
         subscription_events, survey_responses, operational_events, outreach)",
        path.display()
    )
}

/// One parsed batch, or the parse rejections found while reading it.
struct Parsed {
    records: Vec<(usize, Record)>,
    rejected: Vec<Rejected>,
}

/// One CSV row, read through the entity's columns: `columns[i]` is where the
/// entity's i-th column sits in the file (a short linear scan by name beats
/// hashing every field of every row).
struct CsvRow<'a> {
    rec: &'a csv::StringRecord,
    columns: &'a [(&'static str, Option<usize>)],
}

impl Fields for CsvRow<'_> {
    fn get(&self, name: &str) -> &str {
        self.columns
            .iter()
            .find(|(c, _)| *c == name)
            .and_then(|(_, i)| i.and_then(|i| self.rec.get(i)))
            .unwrap_or("")
    }
}

fn reject(kind: EntityKind, line: usize, id: &str, e: FieldError) -> Rejected {
    Rejected {
        position: line,
        kind,
        id: id.to_string(),
        error: e,
    }
}

/// Reads `path` on the calling thread and sends batches down `tx`.
fn read_file(
    path: &Path,
    kind: EntityKind,
    batch_size: usize,
    bar: &ProgressBar,
    tx: &tokio::sync::mpsc::Sender<anyhow::Result<Parsed>>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut cur = Parsed {
        records: Vec::with_capacity(batch_size),
        rejected: Vec::new(),
    };
    let flush = |cur: &mut Parsed, force: bool| -> bool {
        if force || cur.records.len() >= batch_size {
            let full = std::mem::replace(
                cur,
                Parsed {
                    records: Vec::with_capacity(batch_size),
                    rejected: Vec::new(),
                },
            );
            tx.blocking_send(Ok(full)).is_ok()
        } else {
            true
        }
    };
    match format_of(path)? {
        Format::Csv => {
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::with_capacity(1 << 20, file));
            let header = r
                .headers()
                .with_context(|| format!("{}: reading the header", path.display()))?
                .clone();
            let index: HashMap<String, usize> = header
                .iter()
                .enumerate()
                .map(|(i, h)| (h.trim().to_ascii_lowercase(), i))
                .collect();
            let unknown: Vec<&str> = header
                .iter()
                .filter(|h| {
                    !kind
                        .columns()
                        .contains(&h.trim().to_ascii_lowercase().as_str())
                })
                .collect();
            if !unknown.is_empty() {
                tracing::warn!(file = %path.display(), columns = ?unknown, "ignoring unknown columns");
            }
            let key = if kind == EntityKind::Usage {
                "account_id"
            } else {
                "id"
            };
            if !index.contains_key(key) {
                bail!(
                    "{}: the header has no '{key}' column (expected columns: {})",
                    path.display(),
                    kind.columns().join(",")
                );
            }
            let columns: Vec<(&'static str, Option<usize>)> = kind
                .columns()
                .iter()
                .map(|c| (*c, index.get(*c).copied()))
                .collect();
            let mut rec = csv::StringRecord::new();
            let mut n = 0u64;
            loop {
                let line = r.position().line() as usize;
                match r.read_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        let row = CsvRow {
                            rec: &rec,
                            columns: &columns,
                        };
                        match Record::from_fields(kind, &row) {
                            Ok(x) => cur.records.push((line, x)),
                            Err(e) => cur.rejected.push(reject(kind, line, row.get(key), e)),
                        }
                    }
                    Err(e) => cur.rejected.push(reject(
                        kind,
                        line,
                        "",
                        FieldError::new("row", e.to_string()),
                    )),
                }
                n += 1;
                if n.is_multiple_of(4096) {
                    bar.set_position(r.position().byte());
                }
                if !flush(&mut cur, false) {
                    return Ok(());
                }
            }
            bar.set_position(r.position().byte());
        }
        Format::JsonLines => {
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut buf = String::new();
            let mut line = 0usize;
            let mut bytes = 0u64;
            loop {
                buf.clear();
                let read = reader.by_ref().read_line(&mut buf)?;
                if read == 0 {
                    break;
                }
                line += 1;
                bytes += read as u64;
                if buf.trim().is_empty() {
                    continue;
                }
                match json_fields(&buf) {
                    Ok(map) => {
                        let id = if kind == EntityKind::Usage {
                            map.get("account_id")
                        } else {
                            map.get("id")
                        };
                        let id = id.cloned().unwrap_or_default();
                        match Record::from_fields(kind, &map) {
                            Ok(x) => cur.records.push((line, x)),
                            Err(e) => cur.rejected.push(reject(kind, line, &id, e)),
                        }
                    }
                    Err(e) => cur.rejected.push(reject(kind, line, "", e)),
                }
                if line.is_multiple_of(4096) {
                    bar.set_position(bytes);
                }
                if !flush(&mut cur, false) {
                    return Ok(());
                }
            }
            bar.set_position(bytes);
        }
    }
    flush(&mut cur, true);
    Ok(())
}

/// One JSON object as text fields: strings as they are, numbers and booleans
/// printed, null as empty.
fn json_fields(line: &str) -> Result<HashMap<String, String>, FieldError> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| FieldError::new("line", format!("is not JSON: {e}")))?;
    let serde_json::Value::Object(obj) = v else {
        return Err(FieldError::new("line", "is not a JSON object"));
    };
    let mut out = HashMap::with_capacity(obj.len());
    for (k, v) in obj {
        let s = match v {
            serde_json::Value::Null => String::new(),
            serde_json::Value::String(s) => s,
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            other => return Err(FieldError::new(k, format!("is {other}, not a value"))),
        };
        out.insert(k.to_ascii_lowercase(), s);
    }
    Ok(out)
}

/// Loads every file into the store.
pub(crate) async fn import(
    store: &Store,
    paths: &[PathBuf],
    opts: &ImportOptions,
) -> anyhow::Result<ImportReport> {
    if paths.is_empty() {
        bail!("no files given");
    }
    let mut files = Vec::new();
    for p in paths {
        if !p.is_file() {
            bail!("{}: no such file", p.display());
        }
        files.push((kind_of(p)?, p.clone()));
    }
    files.sort_by_key(|(k, _)| *k);

    let mut report = ImportReport::default();
    let mut rejects: Option<csv::Writer<File>> = None;
    for (kind, path) in files {
        let started = Instant::now();
        let size = std::fs::metadata(&path)?.len();
        let bar = if opts.progress {
            ProgressBar::new(size)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::channel::<anyhow::Result<Parsed>>(2);
        let reader = {
            let (path, bar, batch) = (path.clone(), bar.clone(), opts.batch_size.max(1));
            std::thread::spawn(move || {
                if let Err(e) = read_file(&path, kind, batch, &bar, &tx) {
                    let _ = tx.blocking_send(Err(e));
                }
            })
        };
        let mut fr = FileReport {
            path: path.clone(),
            kind: Some(kind),
            ..Default::default()
        };
        while let Some(parsed) = rx.recv().await {
            let parsed = parsed?;
            let mut rejected = parsed.rejected;
            fr.rows += (parsed.records.len() + rejected.len()) as u64;
            let scorer = opts.sentiment.as_deref().map(|m| m as &dyn TextScorer);
            let out = store
                .ingest_scored(parsed.records, scorer)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
            fr.inserted += out.inserted;
            fr.updated += out.updated;
            rejected.extend(out.rejected);
            rejected.sort_by_key(|r| r.position);
            fr.rejected += rejected.len() as u64;
            if !rejected.is_empty() {
                if rejects.is_none() {
                    if let Some(dir) = opts.rejects_path.parent() {
                        std::fs::create_dir_all(dir)?;
                    }
                    let mut w = csv::Writer::from_path(&opts.rejects_path)
                        .with_context(|| format!("creating {}", opts.rejects_path.display()))?;
                    w.write_record(["file", "line", "entity", "id", "field", "reason"])?;
                    rejects = Some(w);
                    report.rejects_written = Some(opts.rejects_path.clone());
                }
                let w = rejects.as_mut().expect("opened above");
                let file = path.display().to_string();
                for r in rejected {
                    w.write_record([
                        file.as_str(),
                        &r.position.to_string(),
                        r.kind.as_str(),
                        &r.id,
                        &r.error.field,
                        &r.error.reason,
                    ])?;
                }
            }
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader of {} panicked", path.display()))?;
        bar.finish_and_clear();
        fr.elapsed = started.elapsed();
        report.files.push(fr);
    }
    if let Some(mut w) = rejects {
        w.flush()?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[tokio::test]
    async fn imports_in_dependency_order_and_reports_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let interactions = write(
            dir.path(),
            "interactions.csv",
            "id,account_id,channel,topic,opened_at,csat,subject,body\n\
             i-1,a-1,ticket,payroll_run,2026-03-01T10:00:00Z,5,Hi,\"Thanks, all good\"\n\
             i-2,a-1,ticket,payroll_run,2026-03-01T10:00:00Z,9,Hi,bad csat\n\
             i-3,a-9,chat,invoices,2026-03-02T10:00:00Z,,Hi,unknown account\n\
             i-4,a-1,fax,invoices,2026-03-02T10:00:00Z,,Hi,bad channel\n",
        );
        let accounts = write(
            dir.path(),
            "accounts.jsonl",
            "{\"id\":\"a-1\",\"name\":\"Acme\",\"segment\":\"smb\",\"plan\":\"essentials\",\"mrr\":450.5,\"seats\":12,\"start_date\":\"2025-01-01\"}\n\
             {\"id\":\"a-2\",\"name\":\"Bad\",\"segment\":\"smb\",\"plan\":\"essentials\",\"mrr\":-1,\"seats\":3,\"start_date\":\"2025-01-01\"}\n\
             not json\n",
        );
        let store = Store::in_memory().await.unwrap();
        let opts = ImportOptions {
            batch_size: 2,
            rejects_path: dir.path().join("rejects.csv"),
            progress: false,
            sentiment: None,
        };
        let report = import(&store, &[interactions.clone(), accounts], &opts)
            .await
            .unwrap();
        assert_eq!(report.totals(), (7, 2, 0, 5));
        let rejects = std::fs::read_to_string(dir.path().join("rejects.csv")).unwrap();
        let lines: Vec<&str> = rejects.lines().collect();
        assert_eq!(lines[0], "file,line,entity,id,field,reason");
        assert!(
            lines
                .iter()
                .any(|l| l.contains(",2,account,a-2,mrr,-1 is negative")),
            "{rejects}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(",3,account,,line,is not JSON")),
            "{rejects}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains(",3,interaction,i-2,csat,9 is outside 1..=5")),
            "{rejects}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("i-3,account_id,account 'a-9' does not exist")),
            "{rejects}"
        );
        assert!(
            lines.iter().any(|l| l.contains("i-4,channel,")),
            "{rejects}"
        );

        // Importing again updates, never duplicates.
        let again = import(&store, &[interactions], &opts).await.unwrap();
        assert_eq!(again.totals(), (4, 0, 1, 3));
        assert_eq!(store.record_counts("a-1").await.unwrap().interactions, 1);
    }

    #[tokio::test]
    async fn unknown_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "notes.csv", "a,b\n1,2\n");
        let store = Store::in_memory().await.unwrap();
        let opts = ImportOptions {
            batch_size: 10,
            rejects_path: dir.path().join("r.csv"),
            progress: false,
            sentiment: None,
        };
        let e = import(&store, &[p], &opts).await.unwrap_err().to_string();
        assert!(e.contains("cannot tell which entity"), "{e}");
        let e = import(&store, &[dir.path().join("missing.csv")], &opts)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
