//! `pulse sentiment`: score a CSV column with a sentiment model, rescore the
//! stored text, and train a model from a labelled corpus or from the store's
//! survey scores, into a file or into the model registry. Also finds the
//! model `serve`, `import` and `backfill` use: the registry's promoted
//! sentiment model, else the default model file.

use std::fs::File;
use std::io::{BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use pulse_app::{ModelRegistry, SentimentSlot};
use pulse_core::TextScorer;
use pulse_sentiment::{
    Prediction, Sentiment, SentimentCard, SentimentModel, TrainingSource, parse_labelled_csv,
    read_card_beside, train_held_out, weak_label, write_card_beside,
};
use pulse_store::{RatedStoredText, Store, TextSource};

use crate::config::Config;
use crate::train::open_registry;

/// The default model, relative to the working directory, then to the data dir.
pub(crate) const DEFAULT_MODEL: &str = "models/sentiment/sentiment-default.json";

#[derive(Debug, Args)]
pub(crate) struct SentimentArgs {
    #[command(subcommand)]
    command: SentimentCommand,
}

#[derive(Debug, Subcommand)]
enum SentimentCommand {
    /// Label every row of a CSV column: writes row,label,score (and
    /// top_phrases with --top-phrases), scoring on every core.
    Predict {
        /// Input CSV with a header row.
        #[arg(long)]
        input: PathBuf,
        /// The column holding the text.
        #[arg(long)]
        text_column: String,
        /// Output CSV (row is the 1-based data row of the input).
        #[arg(long)]
        out: PathBuf,
        /// Model file [default: the registry's promoted sentiment model, else
        /// models/sentiment/sentiment-default.json in the working directory,
        /// then in the data directory].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Also write the N phrases that moved each prediction most, in a
        /// top_phrases column (about 3x the work per row).
        #[arg(long, default_value_t = 0, value_name = "N")]
        top_phrases: usize,
    },
    /// Rescore every stored interaction (subject and body) and survey comment.
    Backfill {
        /// Model file [default: as for predict].
        #[arg(long)]
        model: Option<PathBuf>,
        /// Records per transaction.
        #[arg(long, default_value_t = 5_000)]
        batch_size: usize,
    },
    /// Train a model on a labelled text,label CSV, or on the store's texts
    /// weakly labelled by the CSAT or NPS score next to them; prints held-out
    /// accuracy and macro-F1 (20% held out, stratified by label). Saves it to
    /// --out, or else into the model registry as sentiment-vN with its card.
    Train {
        /// text,label CSV (labels negative/neutral/positive or -1/0/1).
        #[arg(
            long,
            required_unless_present = "from_store",
            conflicts_with = "from_store"
        )]
        corpus: Option<PathBuf>,
        /// Train on stored interactions with a CSAT and survey comments
        /// (CSAT 1-2 / NPS 0-6 negative, CSAT 3 / NPS 7-8 neutral, else positive).
        #[arg(long)]
        from_store: bool,
        /// Write the model JSON to this file instead of the model registry.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Promote the new registry version (a running server picks it up at
        /// its next start; ModelService.PromoteModel swaps it at once).
        #[arg(long, conflicts_with = "out")]
        promote: bool,
        /// Seed of the held-out split and of training.
        #[arg(long, default_value_t = pulse_sentiment::DEFAULT_SEED)]
        seed: u64,
    },
}

pub(crate) async fn run(args: SentimentArgs, cfg: &Config) -> anyhow::Result<()> {
    match args.command {
        SentimentCommand::Predict {
            input,
            text_column,
            out,
            model,
            top_phrases,
        } => {
            let model = load_model(model.as_deref(), cfg)?;
            predict_file(&model, &input, &text_column, &out, top_phrases)
        }
        SentimentCommand::Backfill { model, batch_size } => {
            let model = Arc::new(load_model(model.as_deref(), cfg)?);
            let store = crate::open_store(cfg).await?;
            let result = backfill(&store, model, batch_size.max(1)).await;
            store.close().await;
            result
        }
        SentimentCommand::Train {
            corpus,
            from_store,
            out,
            promote,
            seed,
        } => {
            let source = if from_store {
                TrainingSource::WeakLabels
            } else {
                TrainingSource::Corpus
            };
            let docs = match corpus {
                Some(corpus) if !from_store => {
                    let text = std::fs::read_to_string(&corpus)
                        .with_context(|| format!("reading {}", corpus.display()))?;
                    parse_labelled_csv(&text)
                        .with_context(|| format!("parsing {}", corpus.display()))?
                        .into_iter()
                        .map(|d| (d.text, d.label))
                        .collect()
                }
                _ => {
                    let store = crate::open_store(cfg).await?;
                    let rated = store.rated_texts().await;
                    store.close().await;
                    weak_docs(rated?)
                }
            };
            train_docs(docs, source, out.as_deref(), promote, seed, cfg)
        }
    }
}

/// Where the default model is looked for, in order.
fn default_candidates(cfg: &Config) -> Vec<PathBuf> {
    vec![
        PathBuf::from(DEFAULT_MODEL),
        cfg.data_dir.join(DEFAULT_MODEL),
    ]
}

fn read_model(path: &Path) -> anyhow::Result<SentimentModel> {
    let file = File::open(path)
        .with_context(|| format!("opening the sentiment model {}", path.display()))?;
    SentimentModel::from_json(BufReader::new(file))
        .with_context(|| format!("reading the sentiment model {}", path.display()))
}

/// The registry's promoted sentiment model with its version, if there is one.
fn promoted_model(cfg: &Config) -> anyhow::Result<Option<(String, SentimentModel)>> {
    if !cfg.models_dir().is_dir() {
        return Ok(None);
    }
    let registry = open_registry(cfg)?;
    let Some(version) = registry.promoted_sentiment()? else {
        return Ok(None);
    };
    let model = registry
        .get_sentiment(&version)
        .with_context(|| format!("loading the promoted sentiment model {version}"))?;
    Ok(Some((version, model)))
}

/// `explicit`, else the registry's promoted sentiment model, else the first
/// default candidate that exists; an error names every place tried.
pub(crate) fn load_model(explicit: Option<&Path>, cfg: &Config) -> anyhow::Result<SentimentModel> {
    if let Some(p) = explicit {
        return read_model(p);
    }
    if let Some((version, model)) = promoted_model(cfg)? {
        tracing::info!(%version, model = model.version(), "using the promoted sentiment model");
        return Ok(model);
    }
    let candidates = default_candidates(cfg);
    match candidates.iter().find(|p| p.is_file()) {
        Some(p) => read_model(p),
        None => bail!(
            "no sentiment model: looked for {}; pass --model PATH or train one with \
             `pulse sentiment train --corpus FILE.csv --out {DEFAULT_MODEL}`",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    }
}

/// The model `serve` starts with: the registry's promoted one (with its
/// version), else the default file, else an empty slot.
pub(crate) fn serving_slot(cfg: &Config) -> anyhow::Result<SentimentSlot> {
    if let Some((version, model)) = promoted_model(cfg)? {
        tracing::info!(%version, model = model.version(), "promoted sentiment model loaded");
        return Ok(SentimentSlot::new(Some(Arc::new(model)), Some(version)));
    }
    let Some((path, model)) = find_file_model(cfg)? else {
        return Ok(SentimentSlot::default());
    };
    // A missing or stale card is no reason to refuse the model: the console
    // then says its held-out figures are unknown.
    let card = match read_card_beside(&path, &model) {
        Ok(card) => card.map(Arc::new),
        Err(e) => {
            tracing::warn!(error = %e, "the default sentiment model's card is not used");
            None
        }
    };
    Ok(SentimentSlot::from_file(model, card))
}

/// The model for `import` (and `demo`): the registry's promoted one, else the
/// default file, else `None` (with one warning); a model that exists but
/// does not load is an error.
pub(crate) fn load_default_model(cfg: &Config) -> anyhow::Result<Option<Arc<SentimentModel>>> {
    if let Some((version, model)) = promoted_model(cfg)? {
        tracing::info!(%version, model = model.version(), "promoted sentiment model loaded");
        return Ok(Some(Arc::new(model)));
    }
    load_file_model(cfg)
}

fn load_file_model(cfg: &Config) -> anyhow::Result<Option<Arc<SentimentModel>>> {
    Ok(find_file_model(cfg)?.map(|(_, m)| m))
}

/// The first default model file that exists, read, with its path.
fn find_file_model(cfg: &Config) -> anyhow::Result<Option<(PathBuf, Arc<SentimentModel>)>> {
    let candidates = default_candidates(cfg);
    let Some(path) = candidates.iter().find(|p| p.is_file()) else {
        tracing::warn!(
            looked_for = %candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            "no sentiment model: sentiment is not scored (stored as NULL) and SentimentService is unavailable"
        );
        return Ok(None);
    };
    let model = read_model(path)?;
    tracing::info!(path = %path.display(), version = model.version(), "sentiment model loaded");
    Ok(Some((path.clone(), Arc::new(model))))
}

fn predict_file(
    model: &SentimentModel,
    input: &Path,
    column: &str,
    out: &Path,
    phrases: usize,
) -> anyhow::Result<()> {
    // The bar counts the bytes of text read: about half a UTF-16 file's.
    let halved = matches!(crate::encoding::utf16_mark(input), Ok(Some(_)));
    let size = std::fs::metadata(input).map_or(0, |m| m.len() >> u32::from(halved));
    // A UTF-16 file (by its byte-order mark) is read as its text; fields
    // may be separated by `;` or tabs (read off the header).
    let encoding = crate::encoding::Encoding::Utf8;
    let delimiter = crate::encoding::csv_delimiter(input, encoding)
        .with_context(|| format!("opening {}", input.display()))?;
    let file = crate::encoding::open(input, encoding)
        .with_context(|| format!("opening {}", input.display()))?;
    let progress = (std::io::stderr().is_terminal() && size > 1 << 20).then(|| {
        let bar = ProgressBar::new(size);
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar.set_message("scoring");
        bar
    });
    let writer = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rows = predict_csv(
        model,
        csv::ReaderBuilder::new()
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(BufReader::with_capacity(1 << 20, file)),
        column,
        BufWriter::with_capacity(1 << 20, writer),
        phrases,
        threads,
        progress.as_ref(),
    )
    .with_context(|| format!("scoring {}", input.display()))?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    println!("{rows} rows scored -> {}", out.display());
    Ok(())
}

/// Rows read, scored (on every core) and written at a time by `predict`.
const PREDICT_CHUNK: usize = 16_384;

/// Reads a CSV with a header from `reader` (flexible: rows may be
/// shorter or longer than the header), writes `row,label,score` for every
/// data row to `out`, and `top_phrases` (the `phrases` phrases that moved
/// each prediction most) when `phrases` > 0; returns the number of rows.
/// Rows are read a chunk at a time and each chunk is scored on `threads`
/// threads; the output is in the input's order, the same for any number of
/// threads.
fn predict_csv<R: Read, W: Write>(
    model: &SentimentModel,
    mut reader: csv::Reader<R>,
    column: &str,
    out: W,
    phrases: usize,
    threads: usize,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<u64> {
    let headers = reader.headers().context("reading the header row")?.clone();
    let Some(index) = headers.iter().position(|h| h.trim() == column) else {
        bail!(
            "no column '{column}'; the columns are: {}",
            headers.iter().collect::<Vec<_>>().join(", ")
        );
    };
    let mut writer = csv::Writer::from_writer(out);
    if phrases > 0 {
        writer.write_record(["row", "label", "score", "top_phrases"])?;
    } else {
        writer.write_record(["row", "label", "score"])?;
    }
    // Bytes, so a row that is not UTF-8 is scored on its readable text
    // (each bad byte read as U+FFFD) instead of stopping the file.
    let mut records: Vec<csv::ByteRecord> = Vec::new();
    let mut row: u64 = 0;
    let mut field = String::new();
    loop {
        // One chunk of rows, reusing the records of the last one.
        let mut n = 0;
        while n < PREDICT_CHUNK {
            if n == records.len() {
                records.push(csv::ByteRecord::new());
            }
            if !reader
                .read_byte_record(&mut records[n])
                .context("reading a row")?
            {
                break;
            }
            n += 1;
        }
        if n == 0 {
            break;
        }
        let texts: Vec<std::borrow::Cow<str>> = records[..n]
            .iter()
            .map(|r| String::from_utf8_lossy(r.get(index).unwrap_or(b"")))
            .collect();
        let texts: Vec<&str> = texts.iter().map(|t| t.as_ref()).collect();
        for (p, top) in score_texts(model, &texts, phrases, threads) {
            row += 1;
            use std::fmt::Write as _;
            let mut cell = |f: std::fmt::Arguments| -> csv::Result<()> {
                field.clear();
                let _ = field.write_fmt(f);
                writer.write_field(&field)
            };
            cell(format_args!("{row}"))?;
            cell(format_args!("{}", p.label))?;
            cell(format_args!("{:.4}", p.score))?;
            if phrases > 0 {
                writer.write_field(&top)?;
            }
            writer.write_record(None::<&[u8]>)?;
        }
        if let Some(bar) = progress {
            bar.set_position(reader.position().byte());
        }
        if n < PREDICT_CHUNK {
            break;
        }
    }
    writer.flush()?;
    Ok(row)
}

/// The prediction of each text, with its top `phrases` phrases written as
/// `text (+0.12); ...` (blank when none are asked or the text is empty),
/// in order; the texts are split over `threads` threads.
fn score_texts(
    model: &SentimentModel,
    texts: &[&str],
    phrases: usize,
    threads: usize,
) -> Vec<(Prediction, String)> {
    let part = |texts: &[&str]| -> Vec<(Prediction, String)> {
        model
            .predict_batch(texts)
            .into_iter()
            .zip(texts)
            .map(|(p, text)| {
                let top = if p.empty || phrases == 0 {
                    String::new()
                } else {
                    model
                        .explain(text, phrases)
                        .iter()
                        .map(|ph| format!("{} ({:+.2})", ph.text, ph.contribution))
                        .collect::<Vec<_>>()
                        .join("; ")
                };
                (p, top)
            })
            .collect()
    };
    crate::import::on_threads(texts, threads, 128, part)
        .into_iter()
        .flatten()
        .collect()
}

/// Scores every stored text of both sources in pages of `batch` records.
async fn backfill(store: &Store, model: Arc<SentimentModel>, batch: usize) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    for (source, what) in [
        (TextSource::Interactions, "interactions"),
        (TextSource::SurveyComments, "survey comments"),
    ] {
        let total = store.text_count(source).await?;
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::new(total)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_message(what);
        let (mut after, mut done, mut scored) = (None::<String>, 0u64, 0u64);
        loop {
            let page = store.texts_after(source, after.as_deref(), batch).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id.clone());
            let m = model.clone();
            // CPU-bound: off the async workers.
            let scores = tokio::task::spawn_blocking(move || {
                page.into_iter()
                    .map(|t| (t.id, TextScorer::score(m.as_ref(), &t.text)))
                    .collect::<Vec<_>>()
            })
            .await?;
            scored += scores.iter().filter(|(_, s)| s.is_some()).count() as u64;
            done += store
                .set_sentiment(source, &scores, model.version())
                .await?;
            bar.set_position(done);
        }
        bar.finish_and_clear();
        println!("{what}: {done} rescored ({scored} with a score, the rest blank or unknown text)");
    }
    println!(
        "model {} in {:.1}s",
        model.version(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Texts weakly labelled by their survey score (see `pulse_sentiment::weak_label`).
fn weak_docs(rated: Vec<RatedStoredText>) -> Vec<(String, Sentiment)> {
    rated
        .into_iter()
        .map(|t| (t.text, weak_label(t.kind.into(), t.score)))
        .collect()
}

/// Trains on 80% of `docs` (stratified by label), evaluates on the rest,
/// writes the model to `out` or saves it (and its card) in the registry,
/// and prints the numbers.
fn train_docs(
    docs: Vec<(String, Sentiment)>,
    source: TrainingSource,
    out: Option<&Path>,
    promote: bool,
    seed: u64,
    cfg: &Config,
) -> anyhow::Result<()> {
    if docs.is_empty() {
        bail!("no labelled text to train on");
    }
    let started = std::time::Instant::now();
    let (model, report) = train_held_out(docs, seed).context("training")?;
    let e = &report.evaluation;
    println!(
        "trained on {} texts in {:.1}s; {} held out: accuracy {:.3}, macro-F1 {:.3}",
        report.train_documents,
        started.elapsed().as_secs_f64(),
        report.held_out_documents,
        e.accuracy,
        e.macro_f1
    );
    let card = SentimentCard::new(&model, source, report, cfg.clock.now_rfc3339());
    if let Some(out) = out {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut w = BufWriter::new(file);
        model.write_json(&mut w)?;
        w.flush()?;
        let card_file = write_card_beside(out, &card)?;
        println!(
            "model {} -> {} (card {})",
            model.version(),
            out.display(),
            card_file.display()
        );
        return Ok(());
    }
    let registry = open_registry(cfg)?;
    let mut entry = registry.save_sentiment(card, &model)?;
    if promote {
        let p = registry.promote_sentiment(&entry.card.version)?;
        entry.promoted = true;
        println!(
            "model {} saved as {} and promoted{} (servers pick it up at their next start; \
             ModelService.PromoteModel swaps it into a running one)",
            model.version(),
            entry.card.version,
            p.previous.map(|v| format!(", was {v}")).unwrap_or_default()
        );
    } else {
        println!(
            "model {} saved as {} in {} (pulse models promote {} to serve it)",
            model.version(),
            entry.card.version,
            registry.dir().display(),
            entry.card.version
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_model() -> SentimentModel {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(DEFAULT_MODEL);
        read_model(&path).unwrap()
    }

    /// A CSV reader of `bytes`, as `predict_file` makes one of a file.
    fn csv_in(bytes: &[u8]) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new().flexible(true).from_reader(bytes)
    }

    #[test]
    fn a_utf16_semicolon_separated_file_is_scored_as_its_utf8_comma_separated_twin() {
        let model = default_model();
        let dir = tempfile::tempdir().unwrap();
        let text = "id;comment\r\n\
                    a1;\"Still not resolved; this is terrible!!! :(\"\r\n\
                    a2;Thanks, the team was fantastic 😀\r\n";
        let twin = "id,comment\r\n\
                    a1,\"Still not resolved; this is terrible!!! :(\"\r\n\
                    a2,\"Thanks, the team was fantastic 😀\"\r\n";
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(
            &a,
            crate::encoding::utf16_with_bom(text, crate::encoding::Endian::Little),
        )
        .unwrap();
        std::fs::write(&b, twin).unwrap();
        let scored = |input: &Path, out: &str| {
            let out = dir.path().join(out);
            predict_file(&model, input, "comment", &out, 2).unwrap();
            std::fs::read_to_string(out).unwrap()
        };
        let (got, want) = (scored(&a, "a.out"), scored(&b, "b.out"));
        assert_eq!(got, want);
        assert_eq!(got.lines().count(), 3, "{got}");
        assert!(
            got.lines().nth(1).unwrap().starts_with("1,negative,"),
            "{got}"
        );
    }

    #[test]
    fn predict_csv_writes_one_row_per_input_row() {
        let model = default_model();
        let input = "id,comment,owner\n\
                     a1,\"Still not resolved, this is terrible!!! :(\",dana\n\
                     a2,,lee\n\
                     a3,\"Thanks, the team was fantastic, great support\",dana\n";
        let mut out = Vec::new();
        let rows = predict_csv(
            &model,
            csv_in(input.as_bytes()),
            "comment",
            &mut out,
            3,
            2,
            None,
        )
        .unwrap();
        assert_eq!(rows, 3);
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "row,label,score,top_phrases");
        assert!(lines[1].starts_with("1,negative,-"), "{}", lines[1]);
        assert!(
            lines[1]
                .split(',')
                .nth(3)
                .is_some_and(|f| f.contains(" (+") || f.contains(" (-")),
            "phrases: {}",
            lines[1]
        );
        assert_eq!(lines[2], "2,neutral,0.0000,");
        assert!(lines[3].starts_with("3,positive,0."), "{}", lines[3]);
        assert_eq!(lines.len(), 4);

        // Without phrases: the same rows, without the column.
        let mut plain = Vec::new();
        predict_csv(
            &model,
            csv_in(input.as_bytes()),
            "comment",
            &mut plain,
            0,
            2,
            None,
        )
        .unwrap();
        let plain = String::from_utf8(plain).unwrap();
        let plain: Vec<&str> = plain.lines().collect();
        assert_eq!(plain[0], "row,label,score");
        assert_eq!(plain[2], "2,neutral,0.0000");
        for (p, full) in plain.iter().zip(&lines).skip(1) {
            assert!(full.starts_with(&format!("{p},")), "{p} / {full}");
        }
    }

    #[test]
    fn predictions_are_the_same_on_any_number_of_threads_and_across_chunks() {
        let model = default_model();
        let texts = [
            "Still not resolved, this is terrible!!! :(",
            "Thanks, the team was fantastic, great support",
            "Please send the invoice for March",
            "third time asking, no response from anyone",
            "",
            "The new payroll screen is OK I guess",
        ];
        let n = PREDICT_CHUNK + 1_000;
        let mut input = String::from("id,text\n");
        for i in 0..n {
            input.push_str(&format!("{i},\"{} #{}\"\n", texts[i % texts.len()], i % 97));
        }
        let run = |phrases, threads, rows: usize| {
            let text: String = input
                .lines()
                .take(rows + 1)
                .map(|l| format!("{l}\n"))
                .collect();
            let mut out = Vec::new();
            let read = predict_csv(
                &model,
                csv_in(text.as_bytes()),
                "text",
                &mut out,
                phrases,
                threads,
                None,
            )
            .unwrap();
            assert_eq!(read as usize, rows);
            String::from_utf8(out).unwrap()
        };
        let one = run(0, 1, n);
        assert_eq!(one, run(0, 2, n));
        assert_eq!(one, run(0, 3, n));
        assert_eq!(one.lines().count(), n + 1);
        assert!(one.lines().last().unwrap().starts_with(&format!("{n},")));
        let with = run(3, 1, 600);
        assert_eq!(with, run(3, 2, 600));
        // The labels and scores do not depend on the phrases being asked.
        for (p, full) in one.lines().zip(with.lines()).skip(1) {
            assert!(full.starts_with(&format!("{p},")), "{p} / {full}");
        }
    }

    #[test]
    fn a_row_that_is_not_utf8_is_scored_on_its_readable_text() {
        let model = default_model();
        let input = b"id,text\n1,Caf\xe9 was terrible and still not resolved\n2,Thanks a lot!\n";
        let mut out = Vec::new();
        assert_eq!(
            predict_csv(&model, csv_in(&input[..]), "text", &mut out, 0, 1, None).unwrap(),
            2
        );
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].starts_with("1,negative,"), "{out}");
        assert!(lines[2].starts_with("2,positive,"), "{out}");
    }

    #[test]
    fn a_missing_column_lists_the_available_ones() {
        let model = default_model();
        let err = predict_csv(
            &model,
            csv_in(&b"id,body\n1,hi\n"[..]),
            "text",
            Vec::new(),
            0,
            1,
            None,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(err, "no column 'text'; the columns are: id, body");
    }

    #[test]
    fn a_missing_model_names_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().join("nowhere"),
            ..Config::default()
        };
        // Run from the temporary directory's point of view: an explicit path
        // that does not exist is reported as such.
        let err = load_model(Some(&dir.path().join("m.json")), &cfg)
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.json"), "{err}");
    }

    #[test]
    fn a_model_trained_to_a_file_is_served_with_the_card_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let out = dir.path().join(DEFAULT_MODEL);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let docs: Vec<(String, Sentiment)> = [
            ("still waiting, this is terrible", Sentiment::Negative),
            ("not resolved, awful", Sentiment::Negative),
            ("please send the invoice", Sentiment::Neutral),
            ("the meeting is on Tuesday", Sentiment::Neutral),
            ("thanks, great support", Sentiment::Positive),
            ("fantastic, fixed quickly", Sentiment::Positive),
        ]
        .iter()
        .cycle()
        .take(60)
        .map(|(t, l)| (t.to_string(), *l))
        .collect();
        train_docs(docs, TrainingSource::Corpus, Some(&out), false, 7, &cfg).unwrap();

        let slot = serving_slot(&cfg).unwrap();
        let card = slot.file_card().expect("the card beside the model");
        assert_eq!(card.fingerprint, slot.get().unwrap().version());
        assert_eq!(
            card.held_out.train_documents + card.held_out.held_out_documents,
            60
        );

        // A card of another model is not shown, and the model still serves.
        let card_file = pulse_sentiment::card_path(&out);
        let text = std::fs::read_to_string(&card_file).unwrap();
        std::fs::write(
            &card_file,
            text.replace(&card.fingerprint, "sentiment-000000000000"),
        )
        .unwrap();
        let slot = serving_slot(&cfg).unwrap();
        assert!(slot.get().is_some());
        assert!(slot.file_card().is_none());
    }
}
