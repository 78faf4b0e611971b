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
//! bounded channel; other stores are written from the async task, and on
//! PostgreSQL two batches at a time, each on a connection of its own, when
//! the later shares no key with the earlier and refers to nothing it adds
//! (`pulse_store::PreparedBatch::waits_for`). Bad rows
//! are counted, listed in a rejects file with their line, field and reason,
//! and never stop the load.

use std::cell::Cell;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_core::time::Ts;
use pulse_core::{Entity, EntityKind, FieldError, Fields, Record};
use pulse_sentiment::SentimentModel;
use pulse_store::{BatchSentiment, DryRunIds, Rejected, Store};

use crate::encoding::Encoding;
use crate::mapping::aggregate::{Event, UsageEvents};
use crate::mapping::{Bound, EntityMap, Joins, MappedRow, Mapping, Row};

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
    /// How export files become records (`--mapping`, `--preset`); files no
    /// block reads are read as native files.
    pub(crate) mapping: Option<Arc<Mapping>>,
    /// Read, check and count everything; write nothing.
    pub(crate) dry_run: bool,
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
    /// Rows a mapping's `when` left out.
    pub(crate) skipped: u64,
    /// Records read that are marked deleted at their source.
    pub(crate) deleted: u64,
    /// Rows counted as events into usage rows (an aggregating block).
    pub(crate) events: u64,
    pub(crate) elapsed: Duration,
    /// CPU seconds the whole process used meanwhile (Linux only).
    pub(crate) cpu: Option<f64>,
    /// The mapping block that read it (its mapping and line), if any.
    pub(crate) block: Option<String>,
    /// `(field, column)` of each field read from a column.
    pub(crate) columns_read: Vec<(String, String)>,
    /// Columns of the file nothing reads.
    pub(crate) unmapped: Vec<String>,
    /// Names a mapping reads from JSON Lines that no line of the file holds
    /// (a misspelt name reads as blank everywhere).
    pub(crate) absent: Vec<String>,
    /// Earliest and latest time of the records read (their main date).
    pub(crate) range: Option<(Ts, Ts)>,
    /// Rejections by field and reason, with the first few examples.
    pub(crate) reasons: Vec<RejectGroup>,
    /// How its text was read, when not as UTF-8 with commas between fields.
    pub(crate) reading: Option<String>,
}

/// Rejections of one field for one kind of reason.
#[derive(Debug, Clone, Default)]
pub(crate) struct RejectGroup {
    pub(crate) field: String,
    /// The reason with quoted values replaced by `…`.
    pub(crate) pattern: String,
    pub(crate) count: u64,
    /// `(line, id, reason)` of the first few.
    pub(crate) examples: Vec<(usize, String, String)>,
}

/// Examples kept per rejection group.
const EXAMPLES: usize = 3;

/// One rejected row as the report and the rejects file show it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RejectRow<'a> {
    pub(crate) line: usize,
    /// The entity it was read as (as the file says it, for a tombstone).
    pub(crate) entity: &'a str,
    pub(crate) id: &'a str,
    pub(crate) error: &'a FieldError,
}

impl<'a> From<&'a Rejected> for RejectRow<'a> {
    fn from(r: &'a Rejected) -> Self {
        RejectRow {
            line: r.position,
            entity: r.kind.as_str(),
            id: &r.id,
            error: &r.error,
        }
    }
}

/// The rejects file, opened at the first rejection of an import.
pub(crate) struct RejectsFile<'o> {
    opts: &'o ImportOptions,
    writer: Option<csv::Writer<File>>,
}

impl<'o> RejectsFile<'o> {
    pub(crate) fn new(opts: &'o ImportOptions) -> Self {
        RejectsFile { opts, writer: None }
    }

    /// Writes `rows` of `path` (nothing in a dry run), opening the file
    /// and noting it in `report` the first time.
    pub(crate) fn write<'a>(
        &mut self,
        report: &mut ImportReport,
        path: &Path,
        rows: impl IntoIterator<Item = RejectRow<'a>>,
    ) -> anyhow::Result<()> {
        if self.opts.dry_run {
            return Ok(());
        }
        let file = path.display().to_string();
        for r in rows {
            if self.writer.is_none() {
                let to = &self.opts.rejects_path;
                if let Some(dir) = to.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                let mut w = csv::Writer::from_path(to)
                    .with_context(|| format!("creating {}", to.display()))?;
                w.write_record(["file", "line", "entity", "id", "field", "reason"])?;
                self.writer = Some(w);
                report.rejects_written = Some(to.clone());
            }
            let w = self.writer.as_mut().expect("opened above");
            w.write_record([
                file.as_str(),
                &r.line.to_string(),
                r.entity,
                r.id,
                &r.error.field,
                &r.error.reason,
            ])?;
        }
        Ok(())
    }

    pub(crate) fn flush(self) -> anyhow::Result<()> {
        if let Some(mut w) = self.writer {
            w.flush()?;
        }
        Ok(())
    }
}

impl FileReport {
    pub(crate) fn note_rejects<'a>(&mut self, rejected: impl IntoIterator<Item = RejectRow<'a>>) {
        for r in rejected {
            let pattern = quoted_out(&r.error.reason);
            let g = match self
                .reasons
                .iter_mut()
                .position(|g| g.field == r.error.field && g.pattern == pattern)
            {
                Some(i) => &mut self.reasons[i],
                None => {
                    self.reasons.push(RejectGroup {
                        field: r.error.field.clone(),
                        pattern,
                        ..Default::default()
                    });
                    self.reasons.last_mut().expect("just pushed")
                }
            };
            g.count += 1;
            if g.examples.len() < EXAMPLES {
                g.examples
                    .push((r.line, r.id.to_string(), r.error.reason.clone()));
            }
        }
    }

    fn note_range(&mut self, r: Option<(Ts, Ts)>) {
        if let Some((a, b)) = r {
            self.range = Some(match self.range {
                None => (a, b),
                Some((x, y)) => (x.min(a), y.max(b)),
            });
        }
    }
}

/// The earliest and latest main time of some records.
fn time_range(records: &[(usize, Record)]) -> (Option<Ts>, Option<Ts>) {
    let times = records.iter().map(|(_, r)| main_time(r));
    (times.clone().min(), times.max())
}

/// `'x' is not a date` -> `'…' is not a date`, so that reasons group.
/// How many records are marked deleted at their source.
fn deleted_count(records: &[(usize, Record)]) -> u64 {
    records
        .iter()
        .filter(|(_, r)| r.deleted_at().is_some())
        .count() as u64
}

fn quoted_out(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut inside = false;
    for c in reason.chars() {
        if c == '\'' {
            if !inside {
                out.push_str("'…'");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// The time a record is about, for the date range of a file.
fn main_time(r: &Record) -> Ts {
    use pulse_core::time::ts_of_day;
    match r {
        Record::Account(a) => ts_of_day(a.start_date),
        Record::Contact(c) => c.observed_at,
        Record::Interaction(i) => i.opened_at,
        Record::Usage(u) => ts_of_day(u.day),
        Record::Subscription(s) => s.occurred_at,
        Record::Survey(s) => s.responded_at,
        Record::Operational(o) => o.occurred_at,
        Record::Outreach(o) => o.contacted_at,
    }
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

#[derive(PartialEq)]
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
    /// Rows a mapping's `when` left out.
    skipped: u64,
    /// Rows counted as events by an aggregating usage block.
    events: u64,
    /// Records and rejections made from counted events (not rows read).
    made: u64,
    /// The scores of the records' text, when a model is given.
    sentiment: Option<BatchSentiment>,
}

/// One batch as stored: its rows, what the store did, and every rejection
/// (parse and store) in line order.
struct Written {
    rows: u64,
    skipped: u64,
    events: u64,
    /// Earliest and latest main time of the batch's records.
    range: Option<(Ts, Ts)>,
    /// Records marked deleted at their source.
    deleted: u64,
    inserted: u64,
    updated: u64,
    rejected: Vec<Rejected>,
}

impl Written {
    fn new(
        (rows, skipped, events): (u64, u64, u64),
        mut rejected: Vec<Rejected>,
        out: pulse_store::BatchOutcome,
    ) -> Written {
        rejected.extend(out.rejected);
        rejected.sort_by_key(|r| r.position);
        Written {
            rows,
            skipped,
            events,
            range: None,
            deleted: 0,
            inserted: out.inserted,
            updated: out.updated,
            rejected,
        }
    }
}

/// What the import reports of a batch besides the store's outcome, taken
/// from it before its records go to the store.
struct BatchReport {
    rows: (u64, u64, u64),
    range: Option<(Ts, Ts)>,
    deleted: u64,
    rejected: Vec<Rejected>,
}

impl BatchReport {
    fn take(parsed: &mut Parsed) -> BatchReport {
        let (first, last) = time_range(&parsed.records);
        BatchReport {
            rows: parsed.rows(),
            range: first.zip(last),
            deleted: deleted_count(&parsed.records),
            rejected: std::mem::take(&mut parsed.rejected),
        }
    }

    fn written(self, out: pulse_store::BatchOutcome) -> Written {
        let mut w = Written::new(self.rows, self.rejected, out);
        w.range = self.range;
        w.deleted = self.deleted;
        w
    }
}

/// A batch read and being validated ([`pulse_store::PreparedBatch`]) on a
/// blocking thread, with what the import reports of it: the writer's task
/// only writes.
struct Pending {
    batch: tokio::task::JoinHandle<(BatchReport, pulse_store::PreparedBatch)>,
}

impl Pending {
    fn start(mut parsed: Parsed) -> Pending {
        Pending {
            batch: tokio::task::spawn_blocking(move || {
                let report = BatchReport::take(&mut parsed);
                let batch = pulse_store::PreparedBatch::new(parsed.records, parsed.sentiment);
                (report, batch)
            }),
        }
    }

    /// The batch once it is validated.
    async fn prepared(self) -> anyhow::Result<(BatchReport, pulse_store::PreparedBatch)> {
        self.batch
            .await
            .map_err(|e| anyhow::anyhow!("validating a batch: {e}"))
    }
}

/// A batch being written on a task of its own ([`Store::concurrent_ingest`]).
struct InFlight {
    report: BatchReport,
    keys: std::sync::Arc<pulse_store::BatchKeys>,
    task: tokio::task::JoinHandle<Result<pulse_store::BatchOutcome, pulse_store::StoreError>>,
}

impl InFlight {
    fn start(store: &Store, report: BatchReport, batch: pulse_store::PreparedBatch) -> InFlight {
        let store = store.clone();
        InFlight {
            report,
            keys: batch.keys(),
            task: tokio::spawn(async move { store.ingest_prepared(batch).await }),
        }
    }

    async fn wait(self) -> anyhow::Result<Written> {
        let out = self
            .task
            .await
            .map_err(|e| anyhow::anyhow!("writing a batch: {e}"))??;
        Ok(self.report.written(out))
    }
}

impl Parsed {
    /// Rows read (good, bad and skipped), rows skipped, and rows counted
    /// as events.
    fn rows(&self) -> (u64, u64, u64) {
        (
            (self.records.len() + self.rejected.len()) as u64 + self.skipped + self.events
                - self.made,
            self.skipped,
            self.events,
        )
    }

    fn new(batch_size: usize) -> Parsed {
        Parsed {
            records: Vec::with_capacity(batch_size),
            rejected: Vec::new(),
            skipped: 0,
            events: 0,
            made: 0,
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

/// `work` on `items` split into one run per thread (`threads` of them, each
/// of at least `min_run` items; one run when there are fewer than twice
/// that), the runs' results in the items' order. A panic in a thread is
/// raised again here.
pub(crate) fn on_threads<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    min_run: usize,
    work: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 2 * min_run.max(1) {
        return vec![work(items)];
    }
    let run = items.len().div_ceil(threads).max(min_run).max(1);
    let work = &work;
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(run)
            .map(|c| s.spawn(move || work(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
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
    let parts = on_threads(records, threads, MIN_SCORE_CHUNK, |c| {
        pulse_store::score_batch(model, c)
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

/// How a file's rows become records.
#[derive(Clone)]
enum Reading {
    /// Pulse's own columns.
    Native(EntityKind),
    /// The mapping blocks of one entity that read the file (at least one),
    /// bound to its header (for JSON Lines, to the names they all read),
    /// with the join keys seen so far. Each row goes to every block whose
    /// `when` keeps it.
    Mapped {
        bounds: Vec<Arc<Bound>>,
        joins: Arc<Joins>,
        /// How the file's bytes are read as text.
        encoding: Encoding,
    },
}

impl Reading {
    fn kind(&self) -> EntityKind {
        match self {
            Reading::Native(k) => *k,
            Reading::Mapped { bounds, .. } => bounds[0].kind,
        }
    }
}

/// The id a rejected row is reported under.
fn id_field(kind: EntityKind) -> &'static str {
    if kind == EntityKind::Usage {
        "account_id"
    } else {
        "id"
    }
}

/// Maps one row with a mapping block: the record (an event, for an
/// aggregating block), or why not; `None` when the block's `when` leaves
/// the row out. Keys the row offers for joins go to `keys`.
fn mapped_record(
    bound: &Bound,
    joins: &Joins,
    row: &Row<'_>,
    line: usize,
    buf: &mut MappedRow,
    keys: &mut Joins,
) -> Option<Mapped> {
    if !bound.keeps(row) {
        return None;
    }
    let kind = bound.kind;
    let mut counted = None;
    let out = bound.apply(row, joins, buf).and_then(|()| {
        if bound.aggregate.is_some() {
            counted = Some(bound.take_counted(buf)?);
        }
        Record::from_fields(kind, &*buf)
    });
    Some(match (out, counted, bound.aggregate) {
        (Ok(Record::Usage(u)), Some(counted), Some(period)) => Mapped::Event(
            line,
            Event {
                account_id: u.account_id,
                day: u.day,
                period,
                counted,
            },
        ),
        (Ok(r), ..) => {
            if bound.offers_keys() {
                bound.offer_keys(row, &r.key(), r.account_id(), keys);
            }
            Mapped::Record(line, r)
        }
        (Err(e), ..) => Mapped::Rejected(reject(kind, line, buf.value(id_field(kind)), e)),
    })
}

/// One row mapped.
enum Mapped {
    /// The blocks' `when` left it out.
    Skipped,
    Record(usize, Record),
    Rejected(Rejected),
    /// An event an aggregating usage block counts.
    Event(usize, Event),
}

/// Maps one row with every block: what each block that keeps it made of it,
/// or one `None` when none does.
fn map_row_with(
    bounds: &[Arc<Bound>],
    joins: &Joins,
    row: &Row<'_>,
    line: usize,
    buf: &mut MappedRow,
    keys: &mut Joins,
    out: &mut Vec<Mapped>,
) {
    let before = out.len();
    for b in bounds {
        if let Some(m) = mapped_record(b, joins, row, line, buf, keys) {
            out.push(m);
        }
    }
    if out.len() == before {
        out.push(Mapped::Skipped);
    }
}

/// Maps `rows` (line number, row) with `map_part`, which maps a slice of
/// them and returns what each became, the keys they offer and the names
/// they hold; the slice is split over up to `threads` threads. The records,
/// rejections and offered keys are kept in the rows' order, events are
/// counted in `events`, and `present` notes the names any row holds.
fn map_rows<T: Sync>(
    rows: &[(usize, T)],
    threads: usize,
    map_part: impl Fn(&[(usize, T)]) -> (Vec<Mapped>, Joins, Vec<bool>) + Sync,
    (cur, keys, events): (&mut Parsed, &mut Joins, &mut UsageEvents),
    present: &mut Vec<bool>,
) {
    let parts = on_threads(rows, threads, 32, map_part);
    for (out, offered, seen) in parts {
        present.resize(present.len().max(seen.len()), false);
        for (p, s) in present.iter_mut().zip(seen) {
            *p |= s;
        }
        for m in out {
            match m {
                Mapped::Skipped => cur.skipped += 1,
                Mapped::Record(line, r) => cur.records.push((line, r)),
                Mapped::Rejected(e) => cur.rejected.push(e),
                Mapped::Event(line, e) => {
                    cur.events += 1;
                    events.add(line, e);
                }
            }
        }
        keys.merge(offered);
    }
}

/// Maps JSON lines (line number, text) with the blocks, picking the names
/// they read with `picker` (see [`map_rows`]).
fn map_json_lines(
    picker: &JsonPicker,
    (bounds, joins): (&[Arc<Bound>], &Joins),
    lines: &JsonLines,
    threads: usize,
    (cur, keys, events, present): (&mut Parsed, &mut Joins, &mut UsageEvents, &mut Vec<bool>),
) {
    let kind = bounds[0].kind;
    let map_part = |part: &[(usize, Range<usize>)]| -> (Vec<Mapped>, Joins, Vec<bool>) {
        let mut picked = Vec::new();
        let mut seen = Vec::new();
        let mut row = MappedRow::default();
        let mut offered = Joins::default();
        let mut out = Vec::with_capacity(part.len());
        for (line, at) in part {
            match picker.pick(&lines.text[at.clone()], &mut picked, &mut seen) {
                Ok(()) => {
                    let get = |i: usize| picked[i].as_str();
                    map_row_with(bounds, joins, &get, *line, &mut row, &mut offered, &mut out);
                }
                Err(e) => out.push(Mapped::Rejected(reject(kind, *line, "", e))),
            }
        }
        (out, offered, seen)
    };
    map_rows(
        &lines.lines,
        threads,
        map_part,
        (cur, keys, events),
        present,
    );
}

/// A chunk of JSON lines in one buffer: each line's number and where its
/// text sits in `text` (no allocation per line).
#[derive(Default)]
struct JsonLines {
    text: String,
    lines: Vec<(usize, Range<usize>)>,
}

impl JsonLines {
    fn push(&mut self, line: usize, text: &str) {
        let at = self.text.len();
        self.text.push_str(text);
        self.lines.push((line, at..self.text.len()));
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
    }
}

/// Maps CSV records (line number, record) with the blocks (see [`map_rows`]).
fn map_csv_records(
    (bounds, joins): (&[Arc<Bound>], &Joins),
    records: &[(usize, csv::StringRecord)],
    threads: usize,
    (cur, keys, events): (&mut Parsed, &mut Joins, &mut UsageEvents),
) {
    let map_part = |part: &[(usize, csv::StringRecord)]| -> (Vec<Mapped>, Joins, Vec<bool>) {
        let mut row = MappedRow::default();
        let mut offered = Joins::default();
        let mut out = Vec::with_capacity(part.len());
        for (line, rec) in part {
            let get = |i: usize| rec.get(i).unwrap_or("");
            map_row_with(bounds, joins, &get, *line, &mut row, &mut offered, &mut out);
        }
        (out, offered, Vec::new())
    };
    map_rows(
        records,
        threads,
        map_part,
        (cur, keys, events),
        &mut Vec::new(),
    );
}

/// Reads `path` on the calling thread, scores each batch with `model`, and
/// sends batches down `tx`. Returns the join keys the file's records offer;
/// for mapped JSON Lines read to the end, `absent` gets the names the
/// block reads that no line holds. Events of aggregating usage blocks are
/// counted in `events`; with `emit` (the import's last file of events),
/// their usage rows are sent after the file's rows.
fn read_file(
    path: &Path,
    reading: &Reading,
    batch_size: usize,
    model: Option<&SentimentModel>,
    bar: &ProgressBar,
    tx: &tokio::sync::mpsc::Sender<anyhow::Result<Parsed>>,
    (absent, events, emit): (&mut Vec<String>, &mut UsageEvents, bool),
) -> anyhow::Result<Joins> {
    let kind = reading.kind();
    let encoding = match reading {
        Reading::Mapped { encoding, .. } => *encoding,
        Reading::Native(_) => Encoding::Utf8,
    };
    let file = crate::encoding::open(path, encoding)
        .with_context(|| format!("opening {}", path.display()))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cur = Parsed::new(batch_size);
    let mut keys = Joins::default();
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
    let key = id_field(kind);
    match format_of(path)? {
        Format::Csv => {
            // The separator and the line ends, from the start of the text.
            let head = crate::encoding::head(path, encoding)
                .with_context(|| format!("opening {}", path.display()))?;
            let mut r = csv::ReaderBuilder::new()
                .flexible(true)
                .delimiter(crate::encoding::delimiter_of(&head))
                .from_reader(BufReader::with_capacity(1 << 20, file));
            let header = r
                .headers()
                .with_context(|| format!("{}: reading the header", path.display()))?
                .clone();
            let columns: Vec<(&'static str, Option<usize>)> = match reading {
                Reading::Native(kind) => native_columns(path, *kind, &header)?,
                Reading::Mapped { .. } => Vec::new(),
            };
            let crlf = usize::from(first_line_ends_with_crlf(&head));
            let mut rec = csv::StringRecord::new();
            let mut n = 0u64;
            // Mapped records are mapped a chunk at a time, on every core.
            let chunk = batch_size.clamp(1, 4096);
            let mut pending: Vec<(usize, csv::StringRecord)> = Vec::new();
            let map_pending = |pending: &mut Vec<(usize, csv::StringRecord)>,
                               cur: &mut Parsed,
                               keys: &mut Joins,
                               events: &mut UsageEvents| {
                if let Reading::Mapped { bounds, joins, .. } = reading
                    && !pending.is_empty()
                {
                    map_csv_records((bounds, joins), pending, threads, (cur, keys, events));
                    pending.clear();
                }
            };
            loop {
                let before = r.position().line() as usize;
                let read = r.read_record(&mut rec);
                // Where the record starts. After a CRLF line end the reader
                // counts the line when it reads the next record, one behind.
                let line = crlf
                    + match &read {
                        Ok(true) => rec.position().map_or(before, |p| p.line() as usize),
                        _ => before,
                    };
                match read {
                    Ok(false) => {
                        map_pending(&mut pending, &mut cur, &mut keys, events);
                        break;
                    }
                    Ok(true) => match reading {
                        Reading::Native(kind) => {
                            let row = CsvRow {
                                rec: &rec,
                                columns: &columns,
                                next: Cell::new(0),
                            };
                            match Record::from_fields(*kind, &row) {
                                Ok(x) => cur.records.push((line, x)),
                                Err(e) => cur.rejected.push(reject(*kind, line, row.get(key), e)),
                            }
                        }
                        Reading::Mapped { .. } => {
                            pending.push((line, std::mem::take(&mut rec)));
                            if pending.len() >= chunk {
                                map_pending(&mut pending, &mut cur, &mut keys, events);
                            }
                        }
                    },
                    Err(e) => {
                        // After the rows before it, in line order.
                        map_pending(&mut pending, &mut cur, &mut keys, events);
                        cur.rejected.push(reject(
                            kind,
                            e.position().map_or(line, |p| crlf + p.line() as usize),
                            "",
                            csv_row_error(&e),
                        ))
                    }
                }
                n += 1;
                if n.is_multiple_of(4096) {
                    bar.set_position(r.position().byte());
                }
                if !flush(&mut cur, false) {
                    return Ok(keys);
                }
            }
            bar.set_position(r.position().byte());
        }
        Format::JsonLines => {
            let mut reader = BufReader::with_capacity(1 << 20, file);
            let mut line = 0usize;
            let mut bytes = 0u64;
            let wanted: Vec<String> = match reading {
                // The blocks are bound to the same names.
                Reading::Mapped { bounds, .. } => bounds[0]
                    .read_columns()
                    .iter()
                    .map(|c| c.to_lowercase())
                    .collect(),
                Reading::Native(_) => Vec::new(),
            };
            let picker = JsonPicker::new(&wanted);
            let mut present = Vec::new();
            // Mapped lines are mapped a chunk at a time, on every core.
            let chunk = batch_size.clamp(1, 4096);
            let mut pending = JsonLines::default();
            let mut raw: Vec<u8> = Vec::new();
            loop {
                raw.clear();
                let read = reader.by_ref().read_until(b'\n', &mut raw)?;
                let end = read == 0;
                // A line that is not UTF-8 is rejected on its own; the
                // lines after it are read. The line is read where it lies.
                let mut not_text = None;
                let mut buf = "";
                if !end {
                    line += 1;
                    bytes += read as u64;
                    // The line end is not the JSON's: a line cut short is
                    // "EOF while parsing", not a control character.
                    let text = raw.len()
                        - raw
                            .iter()
                            .rev()
                            .take_while(|b| matches!(b, b'\n' | b'\r'))
                            .count();
                    match std::str::from_utf8(&raw[..text]) {
                        Ok(t) => buf = t,
                        Err(e) => not_text = Some(not_utf8(e)),
                    }
                }
                if let Reading::Mapped { bounds, joins, .. } = reading {
                    if let Some(e) = not_text {
                        // After the lines before it, in line order.
                        if !pending.is_empty() {
                            map_json_lines(
                                &picker,
                                (bounds, joins),
                                &pending,
                                threads,
                                (&mut cur, &mut keys, events, &mut present),
                            );
                            pending.clear();
                        }
                        cur.rejected.push(reject(kind, line, "", e));
                    } else if !end && !buf.trim().is_empty() {
                        pending.push(line, buf);
                    }
                    if pending.len() >= chunk || (end && !pending.is_empty()) {
                        map_json_lines(
                            &picker,
                            (bounds, joins),
                            &pending,
                            threads,
                            (&mut cur, &mut keys, events, &mut present),
                        );
                        pending.clear();
                        bar.set_position(bytes);
                        if !flush(&mut cur, false) {
                            return Ok(keys);
                        }
                    }
                    if end {
                        present.resize(wanted.len(), false);
                        absent.extend(
                            bounds[0]
                                .read_columns()
                                .iter()
                                .zip(&present)
                                .filter(|(_, p)| !**p)
                                .map(|(c, _)| c.clone()),
                        );
                        break;
                    }
                    continue;
                }
                if end {
                    break;
                }
                if let Some(e) = not_text {
                    cur.rejected.push(reject(kind, line, "", e));
                    continue;
                }
                if buf.trim().is_empty() {
                    continue;
                }
                match json_fields(buf) {
                    Ok(map) => {
                        let id = map.get(key).cloned().unwrap_or_default();
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
                    return Ok(keys);
                }
            }
            bar.set_position(bytes);
        }
    }
    if emit {
        for (line, u) in events.take_rows() {
            cur.made += 1;
            match u.validate() {
                Ok(()) => cur.records.push((line, Record::Usage(u))),
                Err(e) => cur
                    .rejected
                    .push(reject(EntityKind::Usage, line, &u.account_id, e)),
            }
            if !flush(&mut cur, false) {
                return Ok(keys);
            }
        }
    }
    flush(&mut cur, true);
    Ok(keys)
}

/// Why a CSV row the reader could not read is rejected: for bytes that
/// are not UTF-8, the column and byte in plain words.
pub(crate) fn csv_row_error(e: &csv::Error) -> FieldError {
    match e.kind() {
        csv::ErrorKind::Utf8 { err, .. } => FieldError::new(
            "row",
            format!(
                "is not UTF-8 text (column {} at byte {}; export it as UTF-8)",
                err.field() + 1,
                err.valid_up_to() + 1
            ),
        ),
        _ => FieldError::new("row", e.to_string()),
    }
}

/// Why a line whose bytes are not UTF-8 is rejected.
pub(crate) fn not_utf8(e: std::str::Utf8Error) -> FieldError {
    FieldError::new(
        "line",
        format!(
            "is not UTF-8 text (byte {} is not; export it as UTF-8)",
            e.valid_up_to() + 1
        ),
    )
}

/// Whether the file's first line ends with CRLF (as exports from Windows
/// tools and many vendors do).
pub(crate) fn ends_lines_with_crlf(path: &Path, encoding: Encoding) -> anyhow::Result<bool> {
    let head = crate::encoding::head(path, encoding)
        .with_context(|| format!("opening {}", path.display()))?;
    Ok(first_line_ends_with_crlf(&head))
}

/// Whether the first line of `text` ends with CRLF.
fn first_line_ends_with_crlf(text: &[u8]) -> bool {
    memchr::memchr(b'\n', text).is_some_and(|i| i > 0 && text[i - 1] == b'\r')
}

/// Where each of the entity's columns sits in a native file's header.
fn native_columns(
    path: &Path,
    kind: EntityKind,
    header: &csv::StringRecord,
) -> anyhow::Result<Vec<(&'static str, Option<usize>)>> {
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
    let key = id_field(kind);
    if !index.contains_key(key) {
        bail!(
            "{}: the header has no '{key}' column (expected columns: {})",
            path.display(),
            kind.columns().join(",")
        );
    }
    Ok(kind
        .columns()
        .iter()
        .map(|c| (*c, index.get(*c).copied()))
        .collect())
}

/// Deepest nesting [`json_fields`] follows; deeper values are refused.
const MAX_JSON_DEPTH: usize = 16;

/// One JSON object as text fields: strings as they are, numbers and booleans
/// printed, null as empty. Nested objects and arrays (an API's objects
/// written one per line) give dotted names: `{"statistics": {"count_reopens":
/// 1}}` is `statistics.count_reopens`, the first of an array `tags.0`.
/// Names are in lower case.
pub(crate) fn json_fields(line: &str) -> Result<HashMap<String, String>, FieldError> {
    let v: serde_json::Value = serde_json::from_str(line)
        .map_err(|e| FieldError::new("line", format!("is not JSON: {e}")))?;
    let serde_json::Value::Object(obj) = v else {
        return Err(FieldError::new("line", "is not a JSON object"));
    };
    let mut out = HashMap::with_capacity(obj.len());
    for (k, v) in obj {
        flatten(k.to_ascii_lowercase(), v, 1, &mut out)?;
    }
    Ok(out)
}

fn flatten(
    name: String,
    v: serde_json::Value,
    depth: usize,
    out: &mut HashMap<String, String>,
) -> Result<(), FieldError> {
    let nested = |name: &str, k: &str, v, out: &mut HashMap<String, String>| {
        if depth >= MAX_JSON_DEPTH {
            return Err(FieldError::new(
                name.to_string(),
                format!("nests deeper than {MAX_JSON_DEPTH} levels"),
            ));
        }
        flatten(
            format!("{name}.{}", k.to_ascii_lowercase()),
            v,
            depth + 1,
            out,
        )
    };
    match v {
        serde_json::Value::Null => {
            out.insert(name, String::new());
        }
        serde_json::Value::String(s) => {
            out.insert(name, s);
        }
        serde_json::Value::Bool(b) => {
            out.insert(name, b.to_string());
        }
        serde_json::Value::Number(n) => {
            out.insert(name, n.to_string());
        }
        serde_json::Value::Object(obj) => {
            for (k, v) in obj {
                nested(&name, &k, v, out)?;
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.into_iter().enumerate() {
                nested(&name, &i.to_string(), v, out)?;
            }
        }
    }
    Ok(())
}

/// Reads the values of some dotted names (as [`json_fields`] names them)
/// out of JSON objects: the names form a tree, and a subtree that holds no
/// wanted name is skipped without being built, so an API object of a
/// kilobyte costs what its few wanted fields cost.
pub(crate) struct JsonPicker {
    nodes: Vec<PickTree>,
    wanted: usize,
}

#[derive(Default)]
struct PickTree {
    /// The dotted name of this node, in lower case (for errors).
    name: String,
    /// The wanted names that end here.
    ends: Vec<usize>,
    /// Children by key (lower case) and by array index.
    keys: Vec<(String, usize)>,
    indices: Vec<(usize, usize)>,
}

impl JsonPicker {
    pub(crate) fn new(wanted: &[String]) -> Self {
        let mut nodes = vec![PickTree::default()];
        for (i, w) in wanted.iter().enumerate() {
            let mut at = 0;
            for seg in w.split('.') {
                let seg = seg.to_ascii_lowercase();
                at = match nodes[at].keys.iter().find(|(k, _)| *k == seg) {
                    Some(&(_, child)) => child,
                    None => {
                        let name = if at == 0 {
                            seg.clone()
                        } else {
                            format!("{}.{seg}", nodes[at].name)
                        };
                        nodes.push(PickTree {
                            name,
                            ..PickTree::default()
                        });
                        let child = nodes.len() - 1;
                        if let Ok(n) = seg.parse::<usize>() {
                            nodes[at].indices.push((n, child));
                        }
                        nodes[at].keys.push((seg, child));
                        child
                    }
                };
            }
            nodes[at].ends.push(i);
        }
        JsonPicker {
            nodes,
            wanted: wanted.len(),
        }
    }

    /// The wanted values of one JSON object into `out`, one per name,
    /// blank when absent; `present[i]` is set when the line holds name `i`
    /// (null included), and never cleared.
    pub(crate) fn pick(
        &self,
        line: &str,
        out: &mut Vec<String>,
        present: &mut Vec<bool>,
    ) -> Result<(), FieldError> {
        out.resize(self.wanted, String::new());
        present.resize(self.wanted, false);
        out.iter_mut().for_each(String::clear);
        if !line.trim_start().starts_with('{') {
            // As `json_fields` says it: bad JSON, or JSON that is not an object.
            return match serde_json::from_str::<serde::de::IgnoredAny>(line) {
                Err(e) => Err(FieldError::new("line", format!("is not JSON: {e}"))),
                Ok(_) => Err(FieldError::new("line", "is not a JSON object")),
            };
        }
        let mut st = Pick {
            tree: &self.nodes,
            out,
            present,
            node: 0,
            next: None,
            depth: 0,
            too_deep: None,
            scratch: String::new(),
        };
        let mut de = serde_json::Deserializer::from_str(line);
        let parsed = serde::de::DeserializeSeed::deserialize(PickNode { st: &mut st }, &mut de)
            .and_then(|()| de.end());
        if let Some(at) = st.too_deep {
            return Err(FieldError::new(
                at,
                format!("nests deeper than {MAX_JSON_DEPTH} levels"),
            ));
        }
        parsed.map_err(|e| FieldError::new("line", format!("is not JSON: {e}")))
    }
}

struct Pick<'t, 'o> {
    tree: &'t [PickTree],
    out: &'o mut Vec<String>,
    present: &'o mut Vec<bool>,
    /// The tree node of the value being read.
    node: usize,
    /// The child the key just read leads to, if it is wanted.
    next: Option<usize>,
    depth: usize,
    /// The name where nesting went past [`MAX_JSON_DEPTH`].
    too_deep: Option<String>,
    /// A buffer numbers are written into.
    scratch: String,
}

impl Pick<'_, '_> {
    fn leaf(&mut self, v: &str) {
        for &i in &self.tree[self.node].ends {
            self.out[i].clear();
            self.out[i].push_str(v);
            self.present[i] = true;
        }
    }

    /// A number's value, as `Display` writes it, without an allocation per
    /// value.
    fn leaf_number(&mut self, v: impl std::fmt::Display) {
        use std::fmt::Write;
        if self.tree[self.node].ends.is_empty() {
            return;
        }
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let _ = write!(text, "{v}");
        self.leaf(&text);
        self.scratch = text;
    }

    /// Moves into `child` to read its value; past [`MAX_JSON_DEPTH`] it
    /// records where and stops the line. Returns the node to come back to.
    fn enter<E: serde::de::Error>(&mut self, child: usize) -> Result<usize, E> {
        if self.depth + 1 >= MAX_JSON_DEPTH {
            // Only wanted values are entered: the child's name is the path.
            self.too_deep = Some(self.tree[child].name.clone());
            return Err(E::custom("nests too deep"));
        }
        self.depth += 1;
        Ok(std::mem::replace(&mut self.node, child))
    }

    fn leave(&mut self, back: usize) {
        self.depth -= 1;
        self.node = back;
    }
}

/// A value of the object [`JsonPicker::pick`] reads.
struct PickNode<'a, 't, 'o> {
    st: &'a mut Pick<'t, 'o>,
}

/// An object's key: finds the wanted child it leads to, if any.
struct PickKey<'a, 't, 'o> {
    st: &'a mut Pick<'t, 'o>,
}

impl<'de> serde::de::DeserializeSeed<'de> for PickKey<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PickKey<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        let st = self.st;
        st.next = st.tree[st.node]
            .keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(v))
            .map(|&(_, c)| c);
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for PickNode<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PickNode<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.st.leaf(v);
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.st.leaf(if v { "true" } else { "false" });
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.st.leaf_number(v);
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.st.leaf_number(v);
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        // As serde_json prints a number (`json_fields`).
        let text = serde_json::Number::from_f64(v).map_or_else(String::new, |n| n.to_string());
        self.st.leaf(&text);
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.st.leaf("");
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.st.leaf("");
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<(), A::Error> {
        let st = self.st;
        while m.next_key_seed(PickKey { st: &mut *st })?.is_some() {
            match st.next.take() {
                Some(child) => {
                    let back = st.enter::<A::Error>(child)?;
                    let r = m.next_value_seed(PickNode { st: &mut *st });
                    st.leave(back);
                    r?;
                }
                None => {
                    m.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<(), A::Error> {
        let st = self.st;
        let mut i = 0usize;
        loop {
            let child = st.tree[st.node]
                .indices
                .iter()
                .find(|(n, _)| *n == i)
                .map(|&(_, c)| c);
            let more = match child {
                Some(child) => {
                    let back = st.enter::<A::Error>(child)?;
                    let r = s.next_element_seed(PickNode { st: &mut *st });
                    st.leave(back);
                    r?.is_some()
                }
                None => s.next_element::<serde::de::IgnoredAny>()?.is_some(),
            };
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// One file to read, and how.
struct Job {
    kind: EntityKind,
    path: PathBuf,
    /// The blocks of this kind that read the file, bound to it; none for a
    /// native file.
    blocks: Vec<(EntityMap, Arc<Bound>)>,
}

/// The files to read, in load order (an entity only refers to kinds loaded
/// before it), each bound to the mapping blocks that read it. Every
/// mapped file's header is checked against its block before any row of any
/// file is read.
fn plan(paths: &[PathBuf], mapping: Option<&Mapping>) -> anyhow::Result<Vec<Job>> {
    if paths.is_empty() {
        bail!("no files given");
    }
    let mut jobs = Vec::new();
    for p in paths {
        if !p.is_file() {
            bail!("{}: no such file", p.display());
        }
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let blocks = mapping.map(|m| m.blocks_for(&name)).unwrap_or_default();
        if blocks.is_empty() {
            jobs.push(Job {
                kind: kind_of(p)?,
                path: p.clone(),
                blocks: Vec::new(),
            });
            continue;
        }
        let shown = p.display().to_string();
        // The blocks that read one file read its bytes alike.
        let encoding = blocks[0].encoding;
        if let Some(other) = blocks.iter().find(|b| b.encoding != encoding) {
            bail!(
                "{}: the blocks at lines {} ({}) and {} ({}) read {shown} with different encodings",
                mapping_label(mapping),
                blocks[0].line,
                encoding.name(),
                other.line,
                other.encoding.name()
            );
        }
        let csv_header = match format_of(p)? {
            Format::Csv => {
                let mut r = crate::encoding::csv_reader(p, encoding, false)
                    .with_context(|| format!("opening {shown}"))?;
                Some(
                    r.headers()
                        .with_context(|| format!("{shown}: reading the header"))?
                        .iter()
                        .map(str::to_string)
                        .collect::<Vec<_>>(),
                )
            }
            Format::JsonLines => None,
        };
        // A JSON Lines file's "header": every name its blocks read, so the
        // file is read once for all of them.
        let header = csv_header.unwrap_or_else(|| {
            let mut names: Vec<String> = Vec::new();
            for b in &blocks {
                for c in b.columns() {
                    if !names.contains(&c) {
                        names.push(c);
                    }
                }
            }
            names
        });
        let tried: Vec<_> = blocks
            .iter()
            .map(|b| (b, b.bind(&header, &shown)))
            .collect();
        for (b, bound) in &tried {
            let bound = match bound {
                Ok(bound) => bound.clone(),
                // Two blocks of one entity whose globs both match (HubSpot's
                // `*contacts*.csv` and Salesforce's `*salesforce*contact*.csv`):
                // the file is the one's whose columns it has.
                Err(_) if tried.iter().any(|(o, r)| o.kind == b.kind && r.is_ok()) => {
                    continue;
                }
                Err(e) => bail!("{}: {e}", mapping_label(mapping)),
            };
            let block = (EntityMap::clone(b), Arc::new(bound));
            // Blocks of one entity share the file's reading.
            match jobs
                .iter_mut()
                .find(|j: &&mut Job| j.path == *p && j.kind == b.kind && !j.blocks.is_empty())
            {
                Some(j) => j.blocks.push(block),
                None => jobs.push(Job {
                    kind: b.kind,
                    path: p.clone(),
                    blocks: vec![block],
                }),
            }
        }
    }
    jobs.sort_by_key(|j| j.kind);
    Ok(jobs)
}

/// The join keys the jobs need, as earlier imports stored them. A join on
/// a key that no file of this import offers and no earlier import stored is
/// refused before anything is read.
async fn stored_joins(
    store: &Store,
    jobs: &[Job],
    mapping: Option<&Mapping>,
) -> anyhow::Result<Joins> {
    let mut joins = Joins::default();
    let mut loaded: Vec<(EntityKind, String)> = Vec::new();
    for j in jobs {
        for (k, key, line) in j.blocks.iter().flat_map(|(b, _)| b.joins()) {
            if !loaded.iter().any(|(lk, lkey)| *lk == k && lkey == key) {
                loaded.push((k, key.to_string()));
                for (value, id, account) in store.join_keys(k.as_str(), key).await? {
                    joins.insert(k, key, value, id, account);
                }
            }
            let offered = jobs.iter().any(|o| {
                o.kind == k
                    && o.blocks
                        .iter()
                        .any(|(ob, _)| ob.keys.iter().any(|x| x.name == key))
            });
            if !offered && !joins.has(k, key) {
                bail!(
                    "{}: line {line}: {} joins on {k}.{key}: give the {k} export in the same \
                     import (no file given is read by a {k} block offering '{key}', and no \
                     earlier import stored that key)",
                    mapping_label(mapping),
                    j.path.display()
                );
            }
        }
    }
    Ok(joins)
}

fn mapping_label(m: Option<&Mapping>) -> String {
    match m {
        Some(m) if !m.name.is_empty() => format!("mapping '{}'", m.name),
        _ => "mapping".to_string(),
    }
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
    // Batches commit without waiting for the disk; the import waits once,
    // at the end, before it reports what it stored.
    let deferring = store.deferring_commits();
    let store = &deferring;
    // Tombstones mark what is stored, so they go after every record file.
    let (tombstone_files, paths): (Vec<&PathBuf>, Vec<PathBuf>) = {
        let (t, p): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
            .iter()
            .partition(|p| crate::tombstones::is_tombstone_file(p));
        (t, p.into_iter().cloned().collect())
    };
    let jobs = if paths.is_empty() {
        Vec::new()
    } else {
        plan(&paths, opts.mapping.as_deref())?
    };

    let mut report = ImportReport::default();
    let mut rejects = RejectsFile::new(opts);
    // Shared with each mapped file's reader; extended (without a copy,
    // the reader being done) by the keys each file offers. It starts with
    // the keys earlier imports stored.
    let mut joins = Arc::new(stored_joins(store, &jobs, opts.mapping.as_deref()).await?);
    let mut dry_ids = DryRunIds::default();
    let mut dry_seen = crate::tombstones::DrySeen::default();
    // Events of aggregating usage blocks, counted over every file that
    // holds them; their usage rows go with the last such file.
    let mut events = UsageEvents::default();
    let last_events = jobs
        .iter()
        .rposition(|j| j.blocks.iter().any(|(_, b)| b.aggregate.is_some()));
    // The join keys being stored, each file's while the next is read.
    let mut saving: Option<tokio::task::JoinHandle<anyhow::Result<()>>> = None;
    let loaded: anyhow::Result<()> = async {
        for (job_no, job) in jobs.into_iter().enumerate() {
            let path = job.path;
            let kind = job.kind;
            let reading = if job.blocks.is_empty() {
                Reading::Native(kind)
            } else {
                Reading::Mapped {
                    bounds: job.blocks.iter().map(|(_, b)| b.clone()).collect(),
                    joins: joins.clone(),
                    encoding: job.blocks[0].0.encoding,
                }
            };
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
            let how_read = crate::encoding::reading_note(
                &path,
                match &reading {
                    Reading::Mapped { encoding, .. } => *encoding,
                    Reading::Native(_) => Encoding::Utf8,
                },
                format_of(&path)? == Format::Csv,
            );
            let (tx, rx) = tokio::sync::mpsc::channel::<anyhow::Result<Parsed>>(2);
            let reader = {
                let (path, bar, batch) = (path.clone(), bar.clone(), opts.batch_size.max(1));
                // A dry run scores nothing: it writes no sentiment.
                let model = opts.sentiment.clone().filter(|_| !opts.dry_run);
                let mut events = std::mem::take(&mut events);
                let emit = last_events == Some(job_no);
                std::thread::Builder::new()
                    .name("pulse-import-read".into())
                    .spawn(move || {
                        let mut absent = Vec::new();
                        let keys = match read_file(
                            &path,
                            &reading,
                            batch,
                            model.as_deref(),
                            &bar,
                            &tx,
                            (&mut absent, &mut events, emit),
                        ) {
                            Ok(keys) => keys,
                            Err(e) => {
                                let _ = tx.blocking_send(Err(e));
                                Joins::default()
                            }
                        };
                        (keys, absent, events)
                    })
                    .context("starting the reader thread")?
            };
            let mut fr = FileReport {
                path: path.clone(),
                kind: Some(kind),
                reading: how_read,
                block: match job.blocks.as_slice() {
                    [] => None,
                    [(b, _)] => Some(format!("{}, block at line {}", b.source, b.line)),
                    more if more.iter().all(|(b, _)| b.source == more[0].0.source) => {
                        Some(format!(
                            "{}, blocks at lines {}",
                            more[0].0.source,
                            more.iter()
                                .map(|(b, _)| b.line.to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    }
                    more => Some(
                        more.iter()
                            .map(|(b, _)| format!("{}, block at line {}", b.source, b.line))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ),
                },
                ..Default::default()
            };
            for (_, b) in &job.blocks {
                for (f, c) in &b.read {
                    let read = (f.to_string(), c.clone());
                    if !fr.columns_read.contains(&read) {
                        fr.columns_read.push(read);
                    }
                }
            }
            // Columns no block reads.
            if let Some((_, first)) = job.blocks.first() {
                fr.unmapped = first
                    .unmapped
                    .iter()
                    .filter(|c| job.blocks.iter().all(|(_, b)| b.unmapped.contains(c)))
                    .cloned()
                    .collect();
            }
            // An SQLite file is written on a thread of its own fed straight by
            // the reader, so no batch waits on this task; other stores are
            // written from here.
            let (wtx, mut wrx) = tokio::sync::mpsc::channel::<anyhow::Result<Written>>(4);
            let mut rx = Some(rx);
            let mut next: Option<anyhow::Result<Pending>> = None;
            let mut in_flight: Option<InFlight> = None;
            let writer = match store.sqlite_batch_writer().filter(|_| !opts.dry_run) {
                Some(w) => {
                    let path = path.clone();
                    let mut rx = rx.take().expect("not taken yet");
                    let h = std::thread::Builder::new()
                        .name("pulse-import-write".into())
                        .spawn(move || {
                            while let Some(parsed) = rx.blocking_recv() {
                                let done = parsed.and_then(|mut p| {
                                    let report = BatchReport::take(&mut p);
                                    let out = w
                                        .ingest(p.records, p.sentiment)
                                        .with_context(|| format!("writing {}", path.display()))?;
                                    Ok(report.written(out))
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
                } else if opts.dry_run {
                    let rx = rx
                        .as_mut()
                        .expect("read here when there is no writer thread");
                    let Some(parsed) = rx.recv().await else {
                        break;
                    };
                    let mut parsed = parsed?;
                    let report = BatchReport::take(&mut parsed);
                    if !tombstone_files.is_empty() {
                        dry_seen.note(&parsed.records);
                    }
                    let out = store
                        .ingest_dry_run(parsed.records, &mut dry_ids)
                        .await
                        .with_context(|| format!("writing {}", path.display()))?;
                    report.written(out)
                } else {
                    // Written from here (PostgreSQL, in-memory SQLite): the
                    // next batch, when it has been read already, is validated
                    // on a thread of its own while this one is written. On
                    // PostgreSQL a batch that neither shares a key with the
                    // one being written nor adds accounts or contacts is
                    // written beside it, on a connection of its own, so the
                    // database has the next batch's rows while Pulse checks
                    // and encodes the one after. Batches are reported in
                    // order.
                    let rx = rx
                        .as_mut()
                        .expect("read here when there is no writer thread");
                    let current = match next.take() {
                        Some(p) => Some(p?),
                        None => match rx.recv().await {
                            Some(parsed) => Some(Pending::start(parsed?)),
                            None => None,
                        },
                    };
                    let file = &path;
                    let writing = move |f: InFlight| async move {
                        f.wait()
                            .await
                            .with_context(|| format!("writing {}", file.display()))
                    };
                    match current {
                        None => match in_flight.take() {
                            Some(f) => writing(f).await?,
                            None => break,
                        },
                        Some(current) => {
                            if let Ok(parsed) = rx.try_recv() {
                                next = Some(parsed.map(Pending::start));
                            }
                            let (report, batch) = current.prepared().await?;
                            let mut done = None;
                            if let Some(f) = in_flight.take() {
                                if store.concurrent_ingest() && !batch.waits_for(&f.keys) {
                                    in_flight = Some(f);
                                } else {
                                    done = Some(writing(f).await?);
                                }
                            }
                            let started = InFlight::start(store, report, batch);
                            match (done, in_flight.replace(started)) {
                                (Some(done), _) => done,
                                // The earlier batch ends while this one is written.
                                (None, Some(earlier)) => writing(earlier).await?,
                                (None, None) => continue,
                            }
                        }
                    }
                };
                fr.note_range(done.range);
                fr.note_rejects(done.rejected.iter().map(RejectRow::from));
                fr.skipped += done.skipped;
                fr.events += done.events;
                fr.deleted += done.deleted;
                fr.rows += done.rows;
                fr.inserted += done.inserted;
                fr.updated += done.updated;
                fr.rejected += done.rejected.len() as u64;
                rejects.write(
                    &mut report,
                    &path,
                    done.rejected.iter().map(RejectRow::from),
                )?;
            }
            if let Some(h) = writer {
                h.join()
                    .map_err(|_| anyhow::anyhow!("the writer of {} panicked", path.display()))?;
            }
            let (keys, absent, counted) = reader
                .join()
                .map_err(|_| anyhow::anyhow!("the reader of {} panicked", path.display()))?;
            events = counted;
            fr.absent = absent;
            if !opts.dry_run {
                // Stored while the next file is read (reading uses the keys
                // in memory), after the files before: a later file's key
                // replaces an earlier one's.
                let tables: Vec<(EntityKind, String, Vec<pulse_store::JoinKey>)> = keys
                    .tables()
                    .map(|(kind, key, values)| {
                        let rows = values
                            .iter()
                            .map(|(v, (id, account))| (v.clone(), id.clone(), account.clone()))
                            .collect();
                        (kind, key.to_string(), rows)
                    })
                    .collect();
                if !tables.is_empty() {
                    let (store, path, before) = (store.clone(), path.clone(), saving.take());
                    saving = Some(tokio::spawn(async move {
                        if let Some(before) = before {
                            before.await.context("storing join keys")??;
                        }
                        for (kind, key, rows) in tables {
                            store
                                .save_join_keys(kind.as_str(), &key, rows)
                                .await
                                .with_context(|| {
                                    format!("storing the join keys of {}", path.display())
                                })?;
                        }
                        Ok(())
                    }));
                }
            }
            Arc::make_mut(&mut joins).merge(keys);
            bar.finish_and_clear();
            fr.elapsed = started.elapsed();
            fr.cpu = cpu0.zip(crate::bench::cpu_seconds()).map(|(a, b)| b - a);
            report.files.push(fr);
        }
        Ok(())
    }
    .await;
    // Every save ends, even when a later file failed: the records of the
    // files before are stored, and so are their keys.
    if let Some(h) = saving {
        h.await.context("storing join keys")??;
    }
    if let Err(e) = loaded {
        // What the files before stored is on disk before the error is shown.
        if let Err(d) = store.make_durable().await {
            tracing::warn!(error = %d, "waiting for the stored batches to reach the disk");
        }
        return Err(e);
    }
    for path in tombstone_files {
        let fr = crate::tombstones::import(store, path, opts, &dry_seen, &mut report, &mut rejects)
            .await?;
        report.files.push(fr);
    }
    rejects.flush()?;
    if !opts.dry_run && report.files.iter().any(|f| f.inserted + f.updated > 0) {
        let t = std::time::Instant::now();
        store
            .analyze_after_load()
            .await
            .context("refreshing the database's statistics after the load")?;
        tracing::info!(seconds = t.elapsed().as_secs_f64(), "statistics refreshed");
    }
    store
        .make_durable()
        .await
        .context("waiting for the database server to write the import to its disk")?;
    Ok(report)
}

/// Writes `items` after `lead`, comma-separated, in lines of at most 100
/// characters indented under the first.
fn wrapped(out: &mut dyn std::io::Write, lead: &str, items: &[String]) -> std::io::Result<()> {
    let mut line = lead.to_string();
    for (i, it) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{it}, ")
        } else {
            it.clone()
        };
        if line.len() + piece.len() > 100 && line.len() > lead.len() {
            writeln!(out, "{}", line.trim_end())?;
            line = " ".repeat(lead.len());
        }
        line.push_str(&piece);
    }
    writeln!(out, "{line}")
}

/// Writes what a dry run found: per file, the rows and what would become
/// of them, the dates, how each column was read, and the rejections by
/// reason with examples.
pub(crate) fn write_dry_run(
    report: &ImportReport,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    use pulse_core::time::{day_of_ts, format_day};
    writeln!(out, "Dry run: nothing was written.")?;
    let (mut unknown_accounts, mut unknown_contacts) = (0u64, 0u64);
    for f in &report.files {
        // Only a tombstone file has no entity of its own.
        let kind = f.kind.map(|k| k.as_str()).unwrap_or("tombstones");
        let how = match (&f.block, f.kind) {
            (Some(b), _) => b.as_str(),
            (None, Some(_)) => "native columns",
            (None, None) => "entity, id, deleted_at",
        };
        writeln!(out)?;
        writeln!(out, "{} -> {kind} ({how})", f.path.display())?;
        writeln!(
            out,
            "  rows {}: {} would be inserted, {} updated, {} rejected, {} left out by `when`",
            f.rows, f.inserted, f.updated, f.rejected, f.skipped
        )?;
        if f.events > 0 {
            writeln!(
                out,
                "  events counted: {} (into usage rows per account and period, written with the \
                 import's last file of events)",
                f.events
            )?;
        }
        if f.deleted > 0 {
            writeln!(
                out,
                "  {} marked deleted at the source: features leave them out from their deletion",
                f.deleted
            )?;
        }
        if let Some(how) = &f.reading {
            writeln!(out, "  read as {how}")?;
        }
        if let Some((a, b)) = f.range {
            writeln!(
                out,
                "  dates {} .. {}",
                format_day(day_of_ts(a)),
                format_day(day_of_ts(b))
            )?;
        }
        if !f.columns_read.is_empty() {
            let read: Vec<String> = f
                .columns_read
                .iter()
                .map(|(field, col)| format!("{field} <- \"{col}\""))
                .collect();
            wrapped(out, "  columns read: ", &read)?;
        }
        if !f.unmapped.is_empty() {
            wrapped(out, "  columns left unmapped: ", &f.unmapped)?;
        }
        if !f.absent.is_empty() {
            let names: Vec<String> = f.absent.iter().map(|n| format!("\"{n}\"")).collect();
            wrapped(
                out,
                "  names no line holds (blank in every record; misspelt?): ",
                &names,
            )?;
        }
        if !f.reasons.is_empty() {
            writeln!(out, "  rejected, by reason:")?;
            let mut groups: Vec<&RejectGroup> = f.reasons.iter().collect();
            groups.sort_by_key(|g| std::cmp::Reverse(g.count));
            for g in groups {
                if g.pattern.contains("does not exist") || g.pattern.starts_with("no account") {
                    if g.field.starts_with("contact_id") {
                        unknown_contacts += g.count;
                    } else {
                        unknown_accounts += g.count;
                    }
                }
                writeln!(out, "  {:>8}  {}: {}", g.count, g.field, g.pattern)?;
                for (line, id, reason) in &g.examples {
                    let id = if id.is_empty() {
                        String::new()
                    } else {
                        format!(" (id {id})")
                    };
                    writeln!(out, "            line {line}{id}: {reason}")?;
                }
            }
        }
    }
    let (rows, ins, upd, rej) = report.totals();
    writeln!(out)?;
    writeln!(
        out,
        "total: {rows} rows; {ins} would be inserted, {upd} updated, {rej} rejected \
         ({unknown_accounts} refer to unknown accounts, {unknown_contacts} to unknown contacts)"
    )?;
    Ok(())
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
            mapping: None,
            dry_run: false,
        }
    }

    /// Imports `bytes` as file `name` (batches of 100, so a file of 300
    /// rows is mapped in chunks on both cores) through an account block
    /// whose pattern, id, name, MRR and start columns are `cols`. Returns
    /// the totals, the rejects file's rows and the stored accounts.
    async fn import_accounts_mapped(
        name: &str,
        bytes: &[u8],
        cols: [&str; 5],
    ) -> ((u64, u64, u64, u64), Vec<String>, Vec<pulse_core::Account>) {
        import_accounts_mapped_with("", name, bytes, cols).await
    }

    /// [`import_accounts_mapped`] with `head` (top-level settings) before
    /// the block.
    async fn import_accounts_mapped_with(
        head: &str,
        name: &str,
        bytes: &[u8],
        cols: [&str; 5],
    ) -> ((u64, u64, u64, u64), Vec<String>, Vec<pulse_core::Account>) {
        let [files, id, nm, mrr, since] = cols;
        let mapping = crate::mapping::Mapping::parse(&format!(
            r#"
{head}
[[entity]]
kind = "account"
files = ["{files}"]
[entity.fields]
id = "{id}"
name = "{nm}"
segment = {{ value = "smb" }}
plan = {{ value = "essentials" }}
mrr = "{mrr}"
seats = {{ value = "5" }}
start_date = "{since}"
"#
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let store = Store::in_memory().await.unwrap();
        let rejects_path = dir.path().join("rejects.csv");
        let mut opts = options(rejects_path.clone(), 100);
        opts.mapping = Some(Arc::new(mapping));
        let report = import(&store, &[path], &opts).await.unwrap();
        // Written only when a row is rejected.
        let rejects = std::fs::read_to_string(&rejects_path).unwrap_or_default();
        let stored = store
            .accounts(&pulse_store::AccountFilter {
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        (
            report.totals(),
            rejects.lines().skip(1).map(str::to_string).collect(),
            stored,
        )
    }

    #[tokio::test]
    async fn a_later_file_s_join_key_replaces_an_earlier_one_s_when_both_are_stored() {
        // Two CRM exports in one import give the same 2,000 domains to
        // other accounts: the keys are stored while the next file is read,
        // and the later file's win in the store as in memory.
        let mapping = crate::mapping::Mapping::parse(
            r#"
[[entity]]
kind = "account"
files = ["crm-*.csv"]
[entity.keys]
domain = "Domain"
[entity.fields]
id = "Id"
name = "Id"
segment = { value = "smb" }
plan = { value = "essentials" }
mrr = { value = "10" }
seats = { value = "5" }
start_date = { value = "2025-01-01" }
"#,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = |prefix: &str| {
            let mut text = "Id,Domain\n".to_string();
            for i in 0..2000 {
                text.push_str(&format!("{prefix}-{i},d{i}.example\n"));
            }
            text
        };
        let paths = vec![
            write(dir.path(), "crm-1.csv", &file("a")),
            write(dir.path(), "crm-2.csv", &file("b")),
        ];
        for store in stores(dir.path(), "later_keys").await {
            let mut opts = options(dir.path().join("rejects.csv"), 500);
            opts.mapping = Some(Arc::new(mapping.clone()));
            let report = import(&store, &paths, &opts).await.unwrap();
            assert_eq!(report.totals().1, 4000);
            let keys = store.join_keys("account", "domain").await.unwrap();
            assert_eq!(keys.len(), 2000);
            for (value, id, account) in keys {
                let i = value.trim_start_matches('d').trim_end_matches(".example");
                assert_eq!(
                    (id.as_str(), account.as_str()),
                    (&*format!("b-{i}"), &*format!("b-{i}"))
                );
            }
        }
    }

    #[tokio::test]
    async fn mapped_csv_rows_keep_their_order_and_line_numbers_across_threads() {
        // 300 rows (chunks of 100, mapped on two threads); negative MRRs at
        // lines 120 and 171 around a row that is not UTF-8 at line 150.
        let mut bytes = b"Id,Name,MRR,Since\n".to_vec();
        for i in 2..=301 {
            if i == 150 {
                bytes.extend_from_slice(b"a-150,Co \xff,1,2025-01-01\n");
                continue;
            }
            let mrr = if i == 120 || i == 171 { -5 } else { i };
            bytes.extend_from_slice(format!("a-{i},Co {i},{mrr},2025-01-01\n").as_bytes());
        }
        let (totals, rejects, stored) = import_accounts_mapped(
            "companies.csv",
            &bytes,
            ["*companies*.csv", "Id", "Name", "MRR", "Since"],
        )
        .await;
        assert_eq!(totals, (300, 297, 0, 3));
        let at: Vec<&str> = rejects
            .iter()
            .map(|l| l.split(',').nth(1).unwrap())
            .collect();
        assert_eq!(at, ["120", "150", "171"], "{rejects:?}");
        assert!(
            rejects[1].contains(
                ",150,account,,row,is not UTF-8 text (column 2 at byte 4; export it as UTF-8)"
            ),
            "{rejects:?}"
        );
        assert!(
            rejects[2].contains(",171,account,a-171,mrr,"),
            "{rejects:?}"
        );
        assert_eq!(stored.len(), 297);
        let a = stored.iter().find(|a| a.id == "a-301").unwrap();
        assert_eq!((a.name.as_str(), a.mrr), ("Co 301", 301.0));
    }

    #[tokio::test]
    async fn a_utf16_semicolon_separated_export_imports_as_its_utf8_comma_separated_twin() {
        // Excel's "Unicode Text" and spreadsheets where the decimal
        // separator is a comma: UTF-16 with a byte-order mark, `;` between
        // fields, CRLF line ends; a comma inside a quoted name, and a
        // negative MRR at line 121.
        let mut text = String::from("Id;Name;MRR;Since\r\n");
        for i in 1..=250 {
            let mrr = if i == 120 { -5 } else { i };
            text.push_str(&format!("a-{i};\"Zoë, Co {i}\";{mrr};2025-01-01\r\n"));
        }
        let twin = text.replace(';', ",");
        let cols = ["*companies*.csv", "Id", "Name", "MRR", "Since"];
        for (what, endian) in [
            ("little-endian", crate::encoding::Endian::Little),
            ("big-endian", crate::encoding::Endian::Big),
        ] {
            let utf16 = crate::encoding::utf16_with_bom(&text, endian);
            let got = import_accounts_mapped("companies.csv", &utf16, cols).await;
            let want = import_accounts_mapped("companies.csv", twin.as_bytes(), cols).await;
            assert_eq!(got.0, (250, 249, 0, 1), "{what}: {:?}", got.1);
            assert_eq!(got.0, want.0, "{what}");
            // The same rejects, but for the temporary directory's name.
            let rows = |r: &[String]| -> Vec<String> {
                r.iter()
                    .map(|l| l.split_once(',').map_or("", |x| x.1).to_string())
                    .collect()
            };
            assert_eq!(rows(&got.1), rows(&want.1), "{what}");
            assert!(
                got.1[0].contains(",121,account,a-120,mrr,"),
                "{what}: {:?}",
                got.1
            );
            assert_eq!(got.2, want.2, "{what}");
            let a = got.2.iter().find(|a| a.id == "a-250").unwrap();
            assert_eq!((a.name.as_str(), a.mrr), ("Zoë, Co 250", 250.0), "{what}");
        }
    }

    #[tokio::test]
    async fn mapped_json_lines_keep_their_order_and_line_numbers_across_threads() {
        // 300 lines (chunks of 100, mapped on two threads), a blank line,
        // bad JSON at line 150, a Latin-1 byte at line 160 and a negative
        // MRR at line 170.
        let mut text: Vec<u8> = Vec::new();
        for i in 1..=300 {
            let l = match i {
                150 => "{not json".to_string(),
                151 => String::new(),
                _ => format!(
                    r#"{{"company": {{"id": "a-{i}", "name": "Co {i}"}}, "billing": {{"mrr": {}}}, "since": "2025-01-01", "extra": [{{"x": 1}}]}}"#,
                    if i == 170 { -5 } else { i }
                ),
            };
            let mut l = l.into_bytes();
            if i == 160 {
                // "Caf\xe9": é as Latin-1 writes it.
                let at = l.windows(2).position(|w| w == b"Co").unwrap();
                l.splice(at..at + 2, *b"Caf\xe9");
            }
            text.extend_from_slice(&l);
            text.push(b'\n');
        }
        let (totals, lines, stored) = import_accounts_mapped(
            "companies.jsonl",
            &text,
            [
                "*companies*.jsonl",
                "company.id",
                "company.name",
                "billing.mrr",
                "since",
            ],
        )
        .await;
        assert_eq!(totals, (299, 296, 0, 3));
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(
            lines[0].contains(",150,account,,line,is not JSON"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains(",160,account,,line,is not UTF-8 text (byte 41 is not;"),
            "{lines:?}"
        );
        assert!(lines[2].contains(",170,account,a-170,mrr,"), "{lines:?}");
        assert_eq!(stored.len(), 296);
        assert!(stored.iter().all(|a| a.id != "a-160"));
        let a = stored.iter().find(|a| a.id == "a-299").unwrap();
        assert_eq!((a.name.as_str(), a.mrr), ("Co 299", 299.0));
    }

    #[tokio::test]
    async fn a_mapping_reads_windows_1252_files_when_it_says_so() {
        // A spreadsheet's export on Windows: two names in Windows-1252 (é is
        // 0xE9, the curly apostrophe 0x92).
        let bytes = b"Id,Name,MRR,Since\r\na-1,Caf\xe9 Ltd,10,2025-01-01\r\n\
                      a-2,O\x92Brien & Co,20,2025-01-01\r\na-3,Plain,30,2025-01-01\r\n";
        for (head, stored, rejected) in [
            (
                "encoding = \"windows-1252\"",
                vec!["Café Ltd", "O’Brien & Co", "Plain"],
                0,
            ),
            ("", vec!["Plain"], 2),
        ] {
            let (totals, rejects, accounts) = import_accounts_mapped_with(
                head,
                "companies.csv",
                bytes,
                ["companies*.csv", "Id", "Name", "MRR", "Since"],
            )
            .await;
            assert_eq!(totals.3, rejected, "{head:?}");
            let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
            assert_eq!(names, stored, "{head:?}");
            if rejected > 0 {
                assert!(
                    rejects[0].contains(",2,account,,row,is not UTF-8 text (column 2 at byte 4;"),
                    "{rejects:?}"
                );
            }
        }
    }

    #[test]
    fn blocks_reading_one_file_in_different_encodings_are_refused() {
        let block = |extra: &str| {
            format!(
                "[[entity]]\nkind = \"usage\"\nfiles = \"u*.csv\"\n{extra}[entity.fields]\n\
                 account_id = \"A\"\nday = \"D\"\nactive_users = \"U\"\nlogins = \"L\"\n"
            )
        };
        let mapping = crate::mapping::Mapping::parse(&format!(
            "{}{}",
            block(""),
            block("encoding = \"windows-1252\"\n")
        ))
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "usage.csv", "A,D,U,L\na-1,2026-01-01,3,4\n");
        let e = plan(&[path], Some(&mapping)).err().unwrap().to_string();
        assert!(
            e.contains("the blocks at lines 2 (utf-8) and 10 (windows-1252) read")
                && e.ends_with("usage.csv with different encodings"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_json_line_that_is_not_utf8_is_rejected_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("accounts.jsonl");
        let line = |id: &str, name: &[u8]| {
            let mut l = format!(r#"{{"id":"{id}","name":""#).into_bytes();
            l.extend_from_slice(name);
            l.extend_from_slice(
                br#"","segment":"smb","plan":"essentials","mrr":10,"seats":3,"start_date":"2025-01-01"}"#,
            );
            l.extend_from_slice(b"\r\n");
            l
        };
        let bytes = [
            line("a-1", b"Acme"),
            line("a-2", b"Caf\xe9 Ltd"),
            line("a-3", "Café Ltd".as_bytes()),
        ]
        .concat();
        std::fs::write(&path, bytes).unwrap();
        let store = Store::in_memory().await.unwrap();
        let rejects_path = dir.path().join("rejects.csv");
        let report = import(&store, &[path], &options(rejects_path.clone(), 100))
            .await
            .unwrap();
        assert_eq!(report.totals(), (3, 2, 0, 1));
        let rejects = std::fs::read_to_string(&rejects_path).unwrap();
        assert!(
            rejects.contains(",2,account,,line,is not UTF-8 text (byte 24 is not;"),
            "{rejects}"
        );
        let stored = store
            .accounts(&pulse_store::AccountFilter::default())
            .await
            .unwrap();
        let names: Vec<&str> = stored.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["Acme", "Café Ltd"]);
    }

    #[test]
    fn nested_json_values_are_read_by_dotted_names() {
        let f = json_fields(
            r#"{"Id": "7", "statistics": {"Count_Reopens": 2, "last_close_at": null},
                "contacts": {"contacts": [{"id": "a"}, {"id": "b"}]}, "open": false}"#,
        )
        .unwrap();
        assert_eq!(f["id"], "7");
        assert_eq!(f["statistics.count_reopens"], "2");
        assert_eq!(f["statistics.last_close_at"], "");
        assert_eq!(f["contacts.contacts.0.id"], "a");
        assert_eq!(f["contacts.contacts.1.id"], "b");
        assert_eq!(f["open"], "false");
        assert_eq!(f.len(), 6);
        // Nesting is bounded: a hostile line cannot recurse without end.
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(40), "]".repeat(40));
        let e = json_fields(&deep).unwrap_err();
        assert!(e.to_string().contains("nests deeper than 16 levels"), "{e}");
        assert!(e.to_string().starts_with("a.0.0"), "{e}");
    }

    #[test]
    fn picked_json_values_are_the_flattened_ones() {
        let line = r#"{"Id": 7, "x": 1.5, "skip": {"deep": [[[{"a": 1}]]], "s": "\u00e9"},
            "statistics": {"Count_Reopens": 2, "last_close_at": null},
            "contacts": {"contacts": [{"id": "a", "n": [1, 2]}, {"id": "b"}]}, "open": false}"#;
        let all = json_fields(line).unwrap();
        let wanted: Vec<String> = [
            "id",
            "x",
            "statistics.count_reopens",
            "statistics.last_close_at",
            "contacts.contacts.1.id",
            "contacts.contacts.0.n.1",
            "open",
            "missing",
            "contacts.contacts.5.id",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut out = vec!["stale".to_string()];
        let mut present = Vec::new();
        JsonPicker::new(&wanted)
            .pick(line, &mut out, &mut present)
            .unwrap();
        for (w, got) in wanted.iter().zip(&out) {
            assert_eq!(got, all.get(w).map_or("", String::as_str), "{w}");
        }
        // A null is there; a name the line lacks is not.
        let missing: Vec<&String> = wanted
            .iter()
            .zip(&present)
            .filter(|(_, p)| !**p)
            .map(|(w, _)| w)
            .collect();
        assert_eq!(missing, ["missing", "contacts.contacts.5.id"]);
        // What a later line holds adds up; nothing is unset.
        JsonPicker::new(&wanted)
            .pick(r#"{"missing": 1}"#, &mut Vec::new(), &mut present)
            .unwrap();
        assert_eq!(present.iter().filter(|p| !**p).count(), 1);
        assert_eq!(out[0], "7");
        assert_eq!(out[5], "2");
        // Errors read as `json_fields` gives them.
        for bad in ["[1, 2]", "{\"a\": ", "not json", "{\"a\": 1} trailing"] {
            let mut o = Vec::new();
            let got = JsonPicker::new(&wanted)
                .pick(bad, &mut o, &mut Vec::new())
                .unwrap_err()
                .to_string();
            let want = json_fields(bad).unwrap_err().to_string();
            assert_eq!(got.split(':').next(), want.split(':').next(), "{bad}");
            assert_eq!(
                got.contains("not a JSON object"),
                want.contains("not a JSON object")
            );
        }
        // Deep nesting is refused where it is read, and skipped elsewhere.
        let deep = format!(
            "{{\"a\": {}1{}, \"id\": 3}}",
            "[".repeat(40),
            "]".repeat(40)
        );
        let mut o = Vec::new();
        let e = JsonPicker::new(&["a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0".into()])
            .pick(&deep, &mut o, &mut Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("nests deeper than 16 levels"), "{e}");
        // Named by where it went too deep, as `json_fields` names it.
        assert!(
            e.to_string()
                .starts_with("a.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0: "),
            "{e}"
        );
        JsonPicker::new(&["id".into()])
            .pick(&deep, &mut o, &mut Vec::new())
            .unwrap();
        assert_eq!(o, vec!["3".to_string()]);
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
                    deleted_at: None,
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
    async fn batches_written_side_by_side_leave_the_later_record() {
        // Batches of two rows: on PostgreSQL a batch that shares no key
        // with the one being written goes beside it; one that does (the
        // second of each file: i-1, and 2026-03-01's usage) waits for it.
        let dir = tempfile::tempdir().unwrap();
        let accounts = write(
            dir.path(),
            "accounts.csv",
            "id,name,segment,plan,mrr,seats,start_date\n\
             a-1,Acme,smb,core,100,30,2025-01-01\n",
        );
        let interactions = write(
            dir.path(),
            "interactions.csv",
            "id,account_id,channel,topic,opened_at,csat,subject,body\n\
             i-1,a-1,ticket,payroll_run,2026-03-01T10:00:00Z,1,Hi,first\n\
             i-2,a-1,ticket,payroll_run,2026-03-02T10:00:00Z,2,Hi,x\n\
             i-3,a-1,ticket,payroll_run,2026-03-03T10:00:00Z,3,Hi,x\n\
             i-1,a-1,ticket,payroll_run,2026-03-01T10:00:00Z,5,Hi,again\n\
             i-4,a-1,ticket,payroll_run,2026-03-04T10:00:00Z,4,Hi,x\n\
             i-5,a-1,ticket,payroll_run,2026-03-05T10:00:00Z,5,Hi,x\n\
             i-6,a-1,ticket,payroll_run,2026-03-06T10:00:00Z,,Hi,x\n\
             i-3,a-1,ticket,payroll_run,2026-03-03T10:00:00Z,,Hi,again\n",
        );
        let usage = write(
            dir.path(),
            "usage.csv",
            "account_id,day,active_users,logins\n\
             a-1,2026-03-01,1,1\n\
             a-1,2026-03-02,2,2\n\
             a-1,2026-03-03,3,3\n\
             a-1,2026-03-01,10,10\n\
             a-1,2026-03-04,4,4\n",
        );
        for store in stores(dir.path(), "side_by_side").await {
            let b = store.backend_name();
            let files = [accounts.clone(), interactions.clone(), usage.clone()];
            let report = import(&store, &files, &options(dir.path().join("r.csv"), 2))
                .await
                .unwrap();
            // 1 account, 8 interaction rows (6 records), 5 usage rows (4).
            assert_eq!(report.totals(), (14, 11, 3, 0), "{b}");
            let h = store.load_histories(None).await.unwrap();
            let csat: Vec<Option<i64>> = h[0].interactions.iter().map(|i| i.csat).collect();
            assert_eq!(
                csat,
                [Some(5), Some(2), None, Some(4), Some(5), None],
                "{b}"
            );
            let active: Vec<i64> = h[0].usage.iter().map(|u| u.active_users).collect();
            assert_eq!(active, [10, 2, 3, 4], "{b}");
        }
    }

    #[tokio::test]
    async fn a_tombstone_file_marks_stored_records_after_the_record_files() {
        let dir = tempfile::tempdir().unwrap();
        let accounts = write(
            dir.path(),
            "accounts.csv",
            "id,name,segment,plan,mrr,seats,start_date\n\
             a-1,Acme,smb,core,100,3,2025-01-01\n",
        );
        let interactions = write(
            dir.path(),
            "interactions.csv",
            "id,account_id,channel,topic,opened_at,subject,body\n\
             i-1,a-1,ticket,payroll_run,2026-03-01T10:00:00Z,Hi,one\n\
             i-2,a-1,ticket,payroll_run,2026-03-02T10:00:00Z,Hi,two\n",
        );
        // Given first: tombstones still go after the records they mark.
        let tombstones = write(
            dir.path(),
            "zendesk-tombstones.csv",
            "entity,id,deleted_at\n\
             interaction,i-1,2026-04-01T00:00:00Z\n\
             interaction,i-404,2026-04-01T00:00:00Z\n\
             account,a-1,2026-04-01T00:00:00Z\n\
             interaction,i-2,soon\n",
        );
        let files = [tombstones.clone(), interactions.clone(), accounts.clone()];
        for (n, store) in stores(dir.path(), "tombstones")
            .await
            .into_iter()
            .enumerate()
        {
            let b = store.backend_name();
            // A dry run says what would be marked and marks nothing.
            let mut opts = options(dir.path().join(format!("t-dry-{n}.csv")), 100);
            opts.dry_run = true;
            let dry = import(&store, &files, &opts).await.unwrap();
            let t = dry.files.last().unwrap();
            assert_eq!(
                (t.kind, t.rows, t.updated, t.rejected),
                (None, 4, 1, 3),
                "{b}"
            );
            let mut text = Vec::new();
            write_dry_run(&dry, &mut text).unwrap();
            let text = String::from_utf8(text).unwrap();
            assert!(
                text.contains("zendesk-tombstones.csv -> tombstones"),
                "{text}"
            );
            assert!(text.contains("1 marked deleted at the source"), "{text}");

            let opts = options(dir.path().join(format!("t-{n}.csv")), 100);
            let report = import(&store, &files, &opts).await.unwrap();
            let t = report.files.last().unwrap();
            assert_eq!(t.path, tombstones, "{b}");
            assert_eq!(
                (t.rows, t.updated, t.deleted, t.rejected),
                (4, 1, 1, 3),
                "{b}"
            );
            let rejects = std::fs::read_to_string(&opts.rejects_path).unwrap();
            for want in [
                ",3,interaction,i-404,id,no stored interaction has the id 'i-404'",
                ",4,account,a-1,entity,\"'account' is not one of",
                ",5,interaction,i-2,deleted_at,",
            ] {
                assert!(rejects.contains(want), "{b}: {want} in {rejects}");
            }
            let h = store.load_histories(None).await.unwrap();
            let d = h[0].deleted.as_deref().expect("i-1 deleted");
            assert_eq!(d.interactions.len(), 1, "{b}");
            assert_eq!(
                store.record_counts("a-1").await.unwrap().interactions,
                1,
                "{b}"
            );

            // Re-importing the interactions without a tombstone restores i-1.
            import(&store, std::slice::from_ref(&interactions), &opts)
                .await
                .unwrap();
            let h = store.load_histories(None).await.unwrap();
            assert!(h[0].deleted.is_none(), "{b}");
        }
    }

    #[tokio::test]
    async fn a_dry_run_counts_what_an_import_would_do_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // CRLF line ends, as many exports have: lines are still the file's.
        let accounts = write(
            dir.path(),
            "accounts.csv",
            "id,name,segment,plan,mrr,seats,start_date\r\n\
             a-1,Acme,smb,core,100,3,2025-01-01\r\n\
             a-2,Bad,smb,core,-5,3,2025-01-01\r\n",
        );
        let usage = write(
            dir.path(),
            "usage.csv",
            "account_id,day,active_users,logins\r\n\
             a-1,2026-01-05,2,9\r\n\
             a-2,2026-01-05,2,9\r\n\
             a-1,bad,2,9\r\n",
        );
        for (n, store) in stores(dir.path(), "dry_run").await.into_iter().enumerate() {
            let b = store.backend_name();
            let mut opts = options(dir.path().join(format!("dry-{n}.csv")), 1);
            opts.dry_run = true;
            let files = [usage.clone(), accounts.clone()];
            let dry = import(&store, &files, &opts).await.unwrap();
            // a-1 is inserted by its own batch, and usage may refer to it.
            assert_eq!(dry.totals(), (5, 2, 0, 3), "{b} {n}");
            let lines: Vec<(usize, &str)> = dry
                .files
                .iter()
                .flat_map(|f| f.reasons.iter())
                .flat_map(|g| g.examples.iter().map(|(l, id, _)| (*l, id.as_str())))
                .collect();
            assert!(lines.contains(&(3, "a-2")), "{b} {n}: {lines:?}");
            assert!(lines.contains(&(3, "a-2/2026-01-05")), "{b} {n}: {lines:?}");
            assert!(lines.contains(&(4, "a-1")), "{b} {n}: {lines:?}");
            let counts = store.table_counts().await.unwrap();
            assert!(counts.iter().all(|(_, c)| *c == 0), "{b} {n}: {counts:?}");
            assert!(
                !opts.rejects_path.exists(),
                "a dry run writes no rejects file"
            );

            opts.dry_run = false;
            let real = import(&store, &files, &opts).await.unwrap();
            assert_eq!(real.totals(), dry.totals(), "{b} {n}");
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
