//! Streaming the base to CSV import files: accounts are generated in
//! batches on two worker threads, each batch rendered to CSV bytes on the
//! worker, and the batches written in account order by the calling thread,
//! so the files are byte-identical whatever the timing.

use std::io::Write;
use std::ops::Range;
use std::sync::mpsc;

use serde::Serialize;

use pulse_core::Columns;

use crate::rows::Row;
use crate::sim::{self, AccountOut};
use crate::truth::{TruthAccount, TruthWeek};
use crate::world::World;
use crate::{SynthConfig, SynthError};

/// The files [`crate::write_csv`] writes, in this order.
pub const FILES: [&str; 9] = [
    "accounts.csv",
    "contacts.csv",
    "interactions.csv",
    "usage.csv",
    "subscription_events.csv",
    "survey_responses.csv",
    "operational_events.csv",
    "truth_accounts.csv",
    "truth_health.csv",
];

/// Rows and bytes written to one file (the header line counts in bytes,
/// not in rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSummary {
    pub name: &'static str,
    pub rows: u64,
    pub bytes: u64,
}

/// What [`crate::write_csv`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynthSummary {
    /// One entry per file, in [`FILES`] order.
    pub files: Vec<FileSummary>,
    pub accounts: u64,
    /// Accounts that churned inside the window.
    pub churned_accounts: u64,
    /// Accounts with a health-driven expansion inside the window.
    pub expanded_accounts: u64,
}

impl SynthSummary {
    /// Rows written to a file of [`FILES`] (0 for another name).
    pub fn rows(&self, file: &str) -> u64 {
        self.files
            .iter()
            .find(|f| f.name == file)
            .map_or(0, |f| f.rows)
    }

    /// Bytes written to all files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

/// The import column a generated file leaves out.
pub(crate) const WRITTEN_WITHOUT: &str = "deleted_at";

/// Accounts per batch: large enough to keep the workers busy, small
/// enough to bound memory (two batches in flight per worker).
const BATCH: usize = 64;
const WORKERS: usize = 2;

/// Maps batches of account indices to results on worker threads and hands
/// them to `sink` in order. Worker `w` takes batches `w, w + WORKERS, ...`
/// and the sink reads from the workers in turn, so the order never depends
/// on timing. An error from `sink` stops the workers.
pub(crate) fn ordered<T, E, F, S>(n: usize, make: F, mut sink: S) -> Result<(), E>
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
    S: FnMut(T) -> Result<(), E>,
{
    let batches = n.div_ceil(BATCH);
    let range = move |b: usize| b * BATCH..((b + 1) * BATCH).min(n);
    let workers = WORKERS.min(batches);
    if workers <= 1 {
        for b in 0..batches {
            sink(make(range(b)))?;
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let make = &make;
        let mut rxs = Vec::with_capacity(workers);
        for first in 0..workers {
            let (tx, rx) = mpsc::sync_channel::<T>(2);
            rxs.push(rx);
            scope.spawn(move || {
                let mut b = first;
                while b < batches {
                    if tx.send(make(range(b))).is_err() {
                        return;
                    }
                    b += workers;
                }
            });
        }
        for b in 0..batches {
            match rxs[b % workers].recv() {
                Ok(t) => sink(t)?,
                // A worker panicked: the scope re-raises its panic.
                Err(_) => break,
            }
        }
        Ok(())
    })
}

/// One batch of accounts rendered to CSV bytes, per file.
struct Rendered {
    bufs: Vec<Vec<u8>>,
    rows: [u64; 9],
    accounts: u64,
    churned: u64,
    expanded: u64,
}

fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .buffer_capacity(64 * 1024)
        .from_writer(Vec::with_capacity(64 * 1024))
}

fn put<E: Row>(w: &mut csv::Writer<Vec<u8>>, rows: &[E], buf: &mut String) -> csv::Result<u64> {
    for r in rows {
        r.write_row(w, buf)?;
    }
    Ok(rows.len() as u64)
}

fn render_account(
    out: &AccountOut,
    ws: &mut [csv::Writer<Vec<u8>>],
    rows: &mut [u64; 9],
    buf: &mut String,
) -> csv::Result<()> {
    rows[0] += put(&mut ws[0], std::slice::from_ref(&out.account), buf)?;
    rows[1] += put(&mut ws[1], &out.contacts, buf)?;
    rows[2] += put(&mut ws[2], &out.interactions, buf)?;
    rows[3] += put(&mut ws[3], &out.usage, buf)?;
    rows[4] += put(&mut ws[4], &out.subscriptions, buf)?;
    rows[5] += put(&mut ws[5], &out.surveys, buf)?;
    rows[6] += put(&mut ws[6], &out.operational, buf)?;
    out.truth.write(&mut ws[7], buf)?;
    rows[7] += 1;
    for wk in &out.weeks {
        wk.write(&mut ws[8], buf)?;
    }
    rows[8] += out.weeks.len() as u64;
    Ok(())
}

fn render(world: &World, range: Range<usize>) -> Result<Rendered, SynthError> {
    let mut ws: Vec<csv::Writer<Vec<u8>>> = (0..FILES.len()).map(|_| writer()).collect();
    let mut r = Rendered {
        bufs: Vec::with_capacity(FILES.len()),
        rows: [0; 9],
        accounts: 0,
        churned: 0,
        expanded: 0,
    };
    let mut buf = String::with_capacity(64);
    for idx in range {
        let out = sim::simulate(world, idx);
        render_account(&out, &mut ws, &mut r.rows, &mut buf)
            .map_err(|e| SynthError::csv("batch", e))?;
        r.accounts += 1;
        r.churned += u64::from(out.truth.churned);
        r.expanded += u64::from(out.truth.expanded);
    }
    for (w, name) in ws.into_iter().zip(FILES) {
        let bytes = w
            .into_inner()
            .map_err(|e| SynthError::io(name, e.into_error()))?;
        r.bufs.push(bytes);
    }
    Ok(r)
}

/// The header of a file: the entity's columns but `deleted_at`, which
/// marks a record deleted at its source and which nothing here deletes.
fn header(columns: &[&str]) -> Result<Vec<u8>, SynthError> {
    let mut w = writer();
    w.write_record(columns.iter().filter(|c| **c != WRITTEN_WITHOUT))
        .map_err(|e| SynthError::csv("header", e))?;
    w.into_inner()
        .map_err(|e| SynthError::io("header", e.into_error()))
}

pub(crate) fn write_csv(
    cfg: &SynthConfig,
    open: &mut dyn FnMut(&str) -> std::io::Result<Box<dyn Write + Send>>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<SynthSummary, SynthError> {
    cfg.check()?;
    let world = World::new(cfg);
    let columns: [&[&str]; 9] = [
        pulse_core::Account::COLUMNS,
        pulse_core::Contact::COLUMNS,
        pulse_core::Interaction::COLUMNS,
        pulse_core::Usage::COLUMNS,
        pulse_core::SubscriptionEvent::COLUMNS,
        pulse_core::SurveyResponse::COLUMNS,
        pulse_core::OperationalEvent::COLUMNS,
        TruthAccount::COLUMNS,
        TruthWeek::COLUMNS,
    ];
    let mut outs = Vec::with_capacity(FILES.len());
    let mut summary = SynthSummary {
        files: Vec::with_capacity(FILES.len()),
        accounts: 0,
        churned_accounts: 0,
        expanded_accounts: 0,
    };
    for (name, cols) in FILES.into_iter().zip(columns) {
        let mut out = open(name).map_err(|e| SynthError::io(name, e))?;
        let h = header(cols)?;
        out.write_all(&h).map_err(|e| SynthError::io(name, e))?;
        outs.push(out);
        summary.files.push(FileSummary {
            name,
            rows: 0,
            bytes: h.len() as u64,
        });
    }
    let total = cfg.accounts;
    progress(0, total);
    let world = &world;
    ordered(
        total,
        |range| render(world, range),
        |batch| {
            let batch = batch?;
            for (i, buf) in batch.bufs.iter().enumerate() {
                outs[i]
                    .write_all(buf)
                    .map_err(|e| SynthError::io(FILES[i], e))?;
                summary.files[i].rows += batch.rows[i];
                summary.files[i].bytes += buf.len() as u64;
            }
            summary.accounts += batch.accounts;
            summary.churned_accounts += batch.churned;
            summary.expanded_accounts += batch.expanded;
            progress(summary.accounts as usize, total);
            Ok::<(), SynthError>(())
        },
    )?;
    for (out, name) in outs.iter_mut().zip(FILES) {
        out.flush().map_err(|e| SynthError::io(name, e))?;
    }
    Ok(summary)
}
