//! `pulse import`: bulk load of CSV and JSON Lines files.
//!
//! Each file holds one entity, recognised by its name (`accounts.csv`,
//! `interactions.jsonl`, ...) or else by its CSV header. Files are loaded in
//! dependency order (accounts, then contacts, then everything that refers to
//! them) whatever order they are given in. A reader thread parses and
//! validates rows, and scores their text when a sentiment model is given (on
//! every core, each batch split between threads), while the store writes the
//! previous batch, so parsing, scoring and SQLite's writer overlap. An SQLite
//! file is written by a thread of its own that the reader feeds through a
//! bounded channel; other stores are written from the async task. Bad rows
//! are counted, listed in a rejects file with their line, field and reason,
//! and never stop the load.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_core::{EntityKind, FieldError, Fields, Record};
use pulse_sentiment::SentimentModel;
use pulse_store::{BatchSentiment, Rejected, Store};

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
    /// CPU seconds the whole process used meanwhile (Linux only).
    pub(crate) cpu: Option<f64>,
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
    /// The scores of the records' text, when a model is given.
    sentiment: Option<BatchSentiment>,
}

/// One batch as stored: its rows, what the store did, and every rejection
/// (parse and store) in line order.
struct Written {
    rows: u64,
    inserted: u64,
    updated: u64,
    rejected: Vec<Rejected>,
}

impl Written {
    fn new(rows: u64, mut rejected: Vec<Rejected>, out: pulse_store::BatchOutcome) -> Written {
        rejected.extend(out.rejected);
        rejected.sort_by_key(|r| r.position);
        Written {
            rows,
            inserted: out.inserted,
            updated: out.updated,
            rejected,
        }
    }
}

impl Parsed {
    /// Rows read, good and bad.
    fn rows(&self) -> u64 {
        (self.records.len() + self.rejected.len()) as u64
    }

    fn new(batch_size: usize) -> Parsed {
        Parsed {
            records: Vec::with_capacity(batch_size),
            rejected: Vec::new(),
            sentiment: None,
        }
    }
}

/// One CSV row, read through the entity's columns: `columns[i]` is where the
/// entity's i-th column sits in the file. Entities read their fields in
/// column order, so the search starts after the last column found and
/// usually succeeds at once (no hashing, no scan of every name).
struct CsvRow<'a> {
    rec: &'a csv::StringRecord,
    columns: &'a [(&'static str, Option<usize>)],
    next: Cell<usize>,
}

impl Fields for CsvRow<'_> {
    fn get(&self, name: &str) -> &str {
        let n = self.columns.len();
        let start = self.next.get();
        for k in 0..n {
            let j = (start + k) % n;
            let (c, i) = self.columns[j];
            if c == name {
                self.next.set(j + 1);
                return i.and_then(|i| self.rec.get(i)).unwrap_or("");
            }
        }
        ""
    }
}

/// Scores the text of a batch of interactions or survey responses, split
/// between `threads` threads; `None` for other entities (no text).
fn score(
    model: &SentimentModel,
    records: &[(usize, Record)],
    threads: usize,
) -> Option<BatchSentiment> {
    let has_text = matches!(
        records.first(),
        Some((_, Record::Interaction(_) | Record::Survey(_)))
    );
    if !has_text {
        return None;
    }
    if threads <= 1 || records.len() < 2 * MIN_SCORE_CHUNK {
        return Some(pulse_store::score_batch(model, records));
    }
    let chunk = records.len().div_ceil(threads).max(MIN_SCORE_CHUNK);
    let parts: Vec<BatchSentiment> = std::thread::scope(|s| {
        let handles: Vec<_> = records
            .chunks(chunk)
            .map(|c| s.spawn(move || pulse_store::score_batch(model, c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut scores = Vec::with_capacity(records.len());
    for p in parts {
        scores.extend(p.scores);
    }
    Some(BatchSentiment {
        model: model.version().to_string(),
        scores,
    })
}

/// Fewest records worth a scoring thread of their own.
const MIN_SCORE_CHUNK: usize = 512;

fn reject(kind: EntityKind, line: usize, id: &str, e: FieldError) -> Rejected {
    Rejected {
        position: line,
        kind,
        id: id.to_string(),
        error: e,
    }
}

/// Reads `path` on the calling thread, scores each batch with `model`, and
/// sends batches down `tx`.
fn read_file(
    path: &Path,
    kind: EntityKind,
    batch_size: usize,
    model: Option<&SentimentModel>,
    bar: &ProgressBar,
    tx: &tokio::sync::mpsc::Sender<anyhow::Result<Parsed>>,
) -> anyhow::Result<()> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cur = Parsed::new(batch_size);
    let flush = |cur: &mut Parsed, force: bool| -> bool {
        if force || cur.records.len() >= batch_size {
            let mut full = std::mem::replace(cur, Parsed::new(batch_size));
            if let Some(m) = model {
                full.sentiment = score(m, &full.records, threads);
            }
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
                            next: Cell::new(0),
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
        let cpu0 = crate::bench::cpu_seconds();
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
        let (tx, rx) = tokio::sync::mpsc::channel::<anyhow::Result<Parsed>>(2);
        let reader = {
            let (path, bar, batch) = (path.clone(), bar.clone(), opts.batch_size.max(1));
            let model = opts.sentiment.clone();
            std::thread::Builder::new()
                .name("pulse-import-read".into())
                .spawn(move || {
                    if let Err(e) = read_file(&path, kind, batch, model.as_deref(), &bar, &tx) {
                        let _ = tx.blocking_send(Err(e));
                    }
                })
                .context("starting the reader thread")?
        };
        let mut fr = FileReport {
            path: path.clone(),
            kind: Some(kind),
            ..Default::default()
        };
        // An SQLite file is written on a thread of its own fed straight by
        // the reader, so no batch waits on this task; other stores are
        // written from here.
        let (wtx, mut wrx) = tokio::sync::mpsc::channel::<anyhow::Result<Written>>(4);
        let mut rx = Some(rx);
        let writer = match store.sqlite_batch_writer() {
            Some(w) => {
                let path = path.clone();
                let mut rx = rx.take().expect("not taken yet");
                let h = std::thread::Builder::new()
                    .name("pulse-import-write".into())
                    .spawn(move || {
                        while let Some(parsed) = rx.blocking_recv() {
                            let done = parsed.and_then(|p| {
                                let rows = p.rows();
                                let out = w
                                    .ingest(p.records, p.sentiment)
                                    .with_context(|| format!("writing {}", path.display()))?;
                                Ok(Written::new(rows, p.rejected, out))
                            });
                            let failed = done.is_err();
                            if wtx.blocking_send(done).is_err() || failed {
                                break;
                            }
                        }
                    })
                    .context("starting the writer thread")?;
                Some(h)
            }
            None => {
                drop(wtx);
                None
            }
        };
        loop {
            let done = if writer.is_some() {
                match wrx.recv().await {
                    Some(done) => done?,
                    None => break,
                }
            } else {
                let rx = rx
                    .as_mut()
                    .expect("read here when there is no writer thread");
                let Some(parsed) = rx.recv().await else {
                    break;
                };
                let parsed = parsed?;
                let rows = parsed.rows();
                let out = store
                    .ingest_with_sentiment(parsed.records, parsed.sentiment)
                    .await
                    .with_context(|| format!("writing {}", path.display()))?;
                Written::new(rows, parsed.rejected, out)
            };
            fr.rows += done.rows;
            fr.inserted += done.inserted;
            fr.updated += done.updated;
            fr.rejected += done.rejected.len() as u64;
            if !done.rejected.is_empty() {
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
                for r in done.rejected {
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
        if let Some(h) = writer {
            h.join()
                .map_err(|_| anyhow::anyhow!("the writer of {} panicked", path.display()))?;
        }
        reader
            .join()
            .map_err(|_| anyhow::anyhow!("the reader of {} panicked", path.display()))?;
        bar.finish_and_clear();
        fr.elapsed = started.elapsed();
        fr.cpu = cpu0.zip(crate::bench::cpu_seconds()).map(|(a, b)| b - a);
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

    /// The stores an import test runs against: in-memory SQLite (written
    /// through sqlx), an SQLite file (through rusqlite), and PostgreSQL (a
    /// schema of its own) when `PULSE_TEST_DATABASE_URL` is set.
    async fn stores(dir: &Path, name: &str) -> Vec<Store> {
        let file = format!("sqlite://{}", dir.join(format!("{name}.db")).display());
        let mut v = vec![
            Store::in_memory().await.unwrap(),
            Store::connect(&file).await.unwrap(),
        ];
        if let Ok(url) = std::env::var("PULSE_TEST_DATABASE_URL")
            && !url.is_empty()
        {
            let schema = format!("pulse_import_{name}");
            v.push(
                Store::connect_postgres_schema(&url, &schema, true)
                    .await
                    .unwrap(),
            );
        }
        v
    }

    fn options(rejects: PathBuf, batch_size: usize) -> ImportOptions {
        ImportOptions {
            batch_size,
            rejects_path: rejects,
            progress: false,
            sentiment: None,
        }
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
             i-4,a-1,fax,invoices,2026-03-02T10:00:00Z,,Hi,bad channel\n\
             i-5,a-1,chat,invoices,2026-03-03T10:00:00Z,,Hi,first copy\n\
             i-5,a-1,chat,invoices,2026-03-03T10:00:00Z,,Hi,second copy\n",
        );
        let accounts = write(
            dir.path(),
            "accounts.jsonl",
            "{\"id\":\"a-1\",\"name\":\"Acme\",\"segment\":\"smb\",\"plan\":\"essentials\",\"mrr\":450.5,\"seats\":12,\"start_date\":\"2025-01-01\"}\n\
             {\"id\":\"a-2\",\"name\":\"Bad\",\"segment\":\"smb\",\"plan\":\"essentials\",\"mrr\":-1,\"seats\":3,\"start_date\":\"2025-01-01\"}\n\
             not json\n",
        );
        for (n, store) in stores(dir.path(), "dependency_order")
            .await
            .into_iter()
            .enumerate()
        {
            let rejects_path = dir.path().join(format!("rejects-{n}.csv"));
            let opts = options(rejects_path.clone(), 2);
            let report = import(&store, &[interactions.clone(), accounts.clone()], &opts)
                .await
                .unwrap();
            let b = store.backend_name();
            // i-5 twice in one batch: inserted, then updated.
            assert_eq!(report.totals(), (9, 3, 1, 5), "{b} {n}");
            let rejects = std::fs::read_to_string(&rejects_path).unwrap();
            let lines: Vec<&str> = rejects.lines().collect();
            assert_eq!(lines[0], "file,line,entity,id,field,reason");
            assert_eq!(lines.len(), 6, "{rejects}");
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
                    .any(|l| l
                        .contains(",4,interaction,i-3,account_id,account 'a-9' does not exist")),
                "{rejects}"
            );
            assert!(
                lines.iter().any(|l| l.contains("i-4,channel,")),
                "{rejects}"
            );

            // Importing again updates, never duplicates.
            let again = import(&store, std::slice::from_ref(&interactions), &opts)
                .await
                .unwrap();
            assert_eq!(again.totals(), (6, 0, 3, 3), "{b} {n}");
            assert_eq!(
                store.record_counts("a-1").await.unwrap().interactions,
                2,
                "{b} {n}"
            );
        }
    }

    #[tokio::test]
    async fn scores_text_in_record_order_when_batches_are_split_between_threads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../models/sentiment/sentiment-default.json");
        let model = Arc::new(
            SentimentModel::from_json(BufReader::new(File::open(&path).unwrap())).unwrap(),
        );
        let phrases = [
            "Payroll did not run and nobody answers, this is unacceptable",
            "Thanks so much, the new report works great",
            "Can you tell me where to find the W-2 forms?",
            "",
            "Still broken after three tickets!!!",
            "Quick question about the holiday schedule",
            "Wonderful support, resolved in minutes",
        ];
        let mut csv = String::from("id,account_id,channel,topic,opened_at,subject,body\n");
        let mut texts = Vec::new();
        for i in 0..2_500 {
            let subject = if i % 3 == 0 { "" } else { "Payroll" };
            let body = phrases[(i * 5 + i / 7) % phrases.len()];
            // One account, one interaction a minute: histories come back in this order.
            let opened = 1_767_225_600 + i as i64 * 60;
            csv.push_str(&format!(
                "i-{i:05},a-1,ticket,payroll_run,{},{subject},\"{body}\"\n",
                pulse_core::time::format_ts(opened)
            ));
            texts.push(
                pulse_store::scored_text(&Record::Interaction(pulse_core::Interaction {
                    id: String::new(),
                    account_id: String::new(),
                    contact_id: None,
                    channel: pulse_core::Channel::Ticket,
                    topic: String::new(),
                    opened_at: opened,
                    first_response_at: None,
                    resolved_at: None,
                    escalated: false,
                    reopened: false,
                    contacts_to_resolve: 1,
                    csat: None,
                    subject: subject.into(),
                    body: body.into(),
                }))
                .unwrap()
                .into_owned(),
            );
        }
        let expected: Vec<Option<f32>> = texts
            .iter()
            .map(|t| pulse_core::TextScorer::score(model.as_ref(), t).map(|(s, _)| s as f32))
            .collect();
        assert!(expected.iter().any(Option::is_none) && expected.iter().any(Option::is_some));
        let dir = tempfile::tempdir().unwrap();
        let accounts = write(
            dir.path(),
            "accounts.csv",
            "id,name,segment,plan,mrr,seats,start_date\na-1,Acme,smb,essentials,100,5,2025-01-01\n",
        );
        let interactions = write(dir.path(), "interactions.csv", &csv);
        for store in stores(dir.path(), "scores_in_order").await {
            let mut opts = options(dir.path().join("r.csv"), 1_100);
            opts.sentiment = Some(model.clone());
            let report = import(&store, &[accounts.clone(), interactions.clone()], &opts)
                .await
                .unwrap();
            assert_eq!(report.totals(), (2_501, 2_501, 0, 0));
            let h = store.load_histories(None).await.unwrap();
            let got: Vec<Option<f32>> = h[0].interactions.iter().map(|i| i.sentiment).collect();
            assert_eq!(got.len(), expected.len());
            for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                match (g, e) {
                    (Some(g), Some(e)) => assert!(
                        (g - e).abs() < 1e-6,
                        "{} row {i}: {g} vs {e}",
                        store.backend_name()
                    ),
                    (None, None) => {}
                    _ => panic!("{} row {i}: {g:?} vs {e:?}", store.backend_name()),
                }
            }
        }
    }

    #[tokio::test]
    async fn unknown_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "notes.csv", "a,b\n1,2\n");
        let store = Store::in_memory().await.unwrap();
        let opts = options(dir.path().join("r.csv"), 10);
        let e = import(&store, &[p], &opts).await.unwrap_err().to_string();
        assert!(e.contains("cannot tell which entity"), "{e}");
        let e = import(&store, &[dir.path().join("missing.csv")], &opts)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
    }
}
