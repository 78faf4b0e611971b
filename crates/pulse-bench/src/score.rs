//! `pulse-bench score`: a load generator for `ScoringService.Score` over
//! loopback.
//!
//! 1. Requests: account ids from `ScoreBatch` (server streaming) and one full
//!    feature vector per account from `Explain` (each contribution's feature
//!    and value), or both from a CSV written by `--export-features`, so every
//!    server of a comparison gets the very same requests.
//! 2. Every request is encoded once; the load sends the prepared bytes through
//!    a pass-through codec and skips decoding the answers, so the generator
//!    spends as little CPU as possible of the cores it shares with the server.
//! 3. Load: `--concurrency` requests in flight over `--connections` HTTP/2
//!    connections. Closed loop (default): each worker sends its next request
//!    when the previous answer arrives, measuring the most the server can do.
//!    Open loop (`--rate R`): a pacer thread schedules request `i` at
//!    `start + i / R` whatever the server does, and latency is counted from
//!    that scheduled time, so a server that stalls is charged for the requests
//!    that queued behind the stall (no coordinated omission); at most
//!    `--concurrency` are in flight, later ones wait for a slot.
//! 4. Report: throughput, p50/p90/p99/p99.9/max from an HDR histogram (ns
//!    resolution, 3 significant digits), errors by gRPC code, and, given
//!    `--server-pid`, the server's CPU time per request (robust on a loaded
//!    machine, where throughput is not); `--json` adds one JSON line per run.
//!
//! `--compare ADDR` scores a sample of the accounts on a second server (the
//! Python comparison server of `bench/`) by id and by raw features and prints
//! the largest differences of probabilities and contributions.
//!
//! `--stub-server ADDR` serves a bare stub `ScoringService` instead (see
//! [`stub`]): the "bare tonic" baseline Score throughput is reported against,
//! and the server the end-to-end test of this module drives.
//!
//! This file and [`stub`] are the only places outside `pulse-server` that use
//! the generated protobuf types: a gRPC client of Pulse's own API (see
//! ARCHITECTURE.md).

mod stub;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Buf, BufMut, Bytes};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use hdrhistogram::Histogram;
use prost::Message;
use pulse_proto::v1 as pb;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use crate::settings::Settings;

const SCORE_PATH: &str = "/pulse.v1.ScoringService/Score";
/// Explain calls in flight while preparing requests.
const PREPARE_CONCURRENCY: usize = 16;
/// Per-request deadline: a request still unanswered then counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// `pulse-bench score`.
#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// Server address, host:port or http://host:port [default: the configured server address].
    #[arg(long)]
    addr: Option<String>,
    /// Requests: Score by account id, Score with the raw feature vector by
    /// name (`raw`) or in schema order (`ordered`), `both` (id, raw) or
    /// `all` (id, raw, ordered) in turn.
    #[arg(long, value_enum, default_value_t = Mode::Both)]
    mode: Mode,
    /// Ask for no drivers (ScoreRequest.without_drivers): the probability
    /// alone, without the exact contributions.
    #[arg(long)]
    without_drivers: bool,
    /// Requests in flight at once (closed loop: workers; open loop: the cap).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Seconds measured per mode (0: no load, e.g. with --compare).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring, per mode.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Requests per second on a fixed schedule (open loop; latency counted
    /// from each request's scheduled time). Without it: closed loop, as fast
    /// as the server answers.
    #[arg(long)]
    rate: Option<f64>,
    /// Drivers asked for per request (0 = the server's default).
    #[arg(long, default_value_t = 0)]
    top_drivers: u32,
    /// API key, sent as `authorization: Bearer KEY` metadata.
    #[arg(long, env = "PULSE_BENCH_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Use the first N accounts [default: all].
    #[arg(long)]
    accounts: Option<usize>,
    /// Take accounts and feature vectors from this CSV (written by
    /// --export-features) instead of asking the server.
    #[arg(long)]
    features: Option<PathBuf>,
    /// Write every account's id, as_of, ARR and features (from Explain) to
    /// this CSV and the feature catalogue beside it (<stem>.catalog.json), then exit.
    #[arg(long)]
    export_features: Option<PathBuf>,
    /// Before the load, score a sample by id and by raw features on this
    /// second server too and print the largest differences.
    #[arg(long)]
    compare: Option<String>,
    /// Accounts scored with --compare.
    #[arg(long, default_value_t = 200)]
    compare_sample: usize,
    /// Largest |difference| of churn probabilities --compare accepts (exit status 1 above).
    #[arg(long, default_value_t = 1e-9)]
    tolerance: f64,
    /// The server's name in the report.
    #[arg(long, default_value = "pulse")]
    label: String,
    /// Process ids of the server (comma-separated): reports its CPU time per
    /// request (Linux).
    #[arg(long, value_delimiter = ',')]
    server_pid: Vec<u32>,
    /// Also print one JSON line per run.
    #[arg(long)]
    json: bool,
    /// Serve a bare stub ScoringService at this address instead of generating
    /// load: the transport baseline (see the module docs).
    #[arg(long)]
    stub_server: Option<SocketAddr>,
    /// With --stub-server: synthetic accounts the stub knows (with
    /// --features: the CSV's accounts instead).
    #[arg(long, default_value_t = 2_000)]
    stub_accounts: usize,
    /// With --stub-server: score with the promoted churn model on features
    /// computed from the store, so the load generator and the Python server
    /// can be checked against real numbers before the ScoringService lands.
    #[arg(long)]
    stub_model: bool,
    /// With --stub-server: leave Nagle's algorithm on for accepted
    /// connections, as `TcpIncoming::from(listener)` does by default, to
    /// measure what TCP_NODELAY is worth.
    #[arg(long, hide = true)]
    stub_nagle: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Id,
    Raw,
    Ordered,
    Both,
    All,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Id => "id",
            Mode::Raw => "raw",
            Mode::Ordered => "ordered",
            Mode::Both => "both",
            Mode::All => "all",
        }
    }
}

/// What every request of a run asks for besides its subject.
#[derive(Debug, Clone, Default)]
struct Shape {
    top_drivers: u32,
    without_drivers: bool,
    /// The server's schema fingerprint, for `Mode::Ordered`.
    schema: String,
}

/// One account: what its requests are made of.
#[derive(Debug, Clone, PartialEq)]
struct Account {
    id: String,
    as_of: String,
    arr: f64,
    /// Features in catalogue order (`pulse_features::features()`).
    values: Vec<f64>,
}

pub(crate) async fn run(cfg: &Settings, args: ScoreArgs) -> anyhow::Result<()> {
    if let Some(addr) = args.stub_server {
        let accounts = match &args.features {
            Some(p) => Some(read_features(p)?),
            None => None,
        };
        let opts = stub::StubOptions {
            accounts: args.stub_accounts,
            known: accounts,
            model: args.stub_model,
            nodelay: !args.stub_nagle,
        };
        return stub::run(cfg, addr, opts).await;
    }
    check_args(&args)?;
    let uri = endpoint_uri(args.addr.as_deref(), cfg.server_addr);
    let auth = bearer(args.api_key.as_deref())?;
    let channels = connect(&uri, args.connections).await?;
    let mut accounts = match &args.features {
        Some(p) => read_features(p)?,
        None => fetch_accounts(&channels[0], auth.as_ref(), args.accounts).await?,
    };
    if let Some(n) = args.accounts {
        accounts.truncate(n);
    }
    if accounts.is_empty() {
        bail!("no accounts to score: the server's ScoreBatch returned none");
    }
    let mut out = std::io::stdout().lock();
    if let Some(path) = &args.export_features {
        let catalog = write_features(path, &accounts)?;
        writeln!(
            out,
            "wrote {} accounts x {} features to {} and the catalogue to {}",
            accounts.len(),
            pulse_features::n_features(),
            path.display(),
            catalog.display()
        )?;
        return Ok(());
    }
    if let Some(other) = &args.compare {
        let other_uri = endpoint_uri(Some(other), cfg.server_addr);
        let b = connect(&other_uri, 1).await?;
        let c = compare(
            &channels[0],
            &b[0],
            auth.as_ref(),
            &accounts,
            args.compare_sample,
        )
        .await?;
        writeln!(
            out,
            "compare {uri} vs {other_uri} on {} accounts: max |d churn_probability| id {:.3e}, raw {:.3e}; max |d contribution| {:.3e}; max |d expansion_probability| {:.3e} ({} from one server only); band mismatches {}; refused by both {}; errors {}",
            c.accounts,
            c.prob_id,
            c.prob_raw,
            c.contribution,
            c.expansion,
            c.expansion_one_sided,
            c.band_mismatches,
            c.both_refused,
            c.errors
        )?;
        if args.json {
            writeln!(out, "{}", c.json(&args.label, args.tolerance))?;
        }
        let worst = c.prob_id.max(c.prob_raw);
        if worst.is_nan() || worst > args.tolerance || c.errors > 0 {
            bail!(
                "the servers disagree: probabilities differ by more than {:e} (or calls failed)",
                args.tolerance
            );
        }
    }
    if args.duration == 0.0 {
        return Ok(());
    }
    let modes: &[Mode] = match args.mode {
        Mode::Both => &[Mode::Id, Mode::Raw],
        Mode::All => &[Mode::Id, Mode::Raw, Mode::Ordered],
        Mode::Id => &[Mode::Id],
        Mode::Raw => &[Mode::Raw],
        Mode::Ordered => &[Mode::Ordered],
    };
    let shape = Shape {
        top_drivers: args.top_drivers,
        without_drivers: args.without_drivers,
        schema: if modes.contains(&Mode::Ordered) {
            server_schema(&channels[0], auth.as_ref()).await?
        } else {
            String::new()
        },
    };
    writeln!(out, "{}", Report::header())?;
    out.flush()?;
    for &mode in modes {
        let requests: Vec<Bytes> = accounts
            .iter()
            .map(|a| Bytes::from(score_request(a, mode, &shape).encode_to_vec()))
            .collect();
        let plan = LoadPlan {
            concurrency: args.concurrency,
            warmup: Duration::from_secs_f64(args.warmup),
            duration: Duration::from_secs_f64(args.duration),
            rate: args.rate,
            server_pid: args.server_pid.clone(),
        };
        let result = run_load(&channels, Arc::new(requests), auth.clone(), &plan).await?;
        let report = Report::new(&args, mode, &plan, result);
        writeln!(out, "{}", report.row())?;
        if args.json {
            writeln!(out, "{}", report.json())?;
        }
        out.flush()?;
    }
    Ok(())
}

/// The server's schema fingerprint, after checking that its columns are
/// this binary's (the vectors are built in this binary's order).
async fn server_schema(
    ch: &Channel,
    auth: Option<&MetadataValue<Ascii>>,
) -> anyhow::Result<String> {
    let schema = ScoringServiceClient::new(ch.clone())
        .get_feature_schema(with_auth(pb::GetFeatureSchemaRequest {}, auth))
        .await
        .context("GetFeatureSchema")?
        .into_inner();
    let ours: Vec<&str> = pulse_features::features().iter().map(|d| d.name).collect();
    let theirs: Vec<&str> = schema.features.iter().map(|f| f.name.as_str()).collect();
    if ours != theirs {
        bail!(
            "the server's feature schema ({}) is not this binary's: rebuild the load generator",
            schema.fingerprint
        );
    }
    Ok(schema.fingerprint)
}

fn check_args(args: &ScoreArgs) -> anyhow::Result<()> {
    if args.without_drivers && args.top_drivers != 0 {
        bail!("--top-drivers: cannot be combined with --without-drivers");
    }
    if args.concurrency == 0 {
        bail!("--concurrency: must be at least 1");
    }
    if args.connections == 0 {
        bail!("--connections: must be at least 1");
    }
    if !(args.duration >= 0.0 && args.duration.is_finite()) {
        bail!("--duration: must be zero or a positive number of seconds");
    }
    if !(args.warmup >= 0.0 && args.warmup.is_finite()) {
        bail!("--warmup: must be zero or a positive number of seconds");
    }
    if let Some(r) = args.rate
        && !(r > 0.0 && r.is_finite())
    {
        bail!("--rate: must be a positive number of requests per second");
    }
    let n = pulse_features::n_features() as u32;
    if args.top_drivers > n {
        bail!("--top-drivers: at most {n} (the features)");
    }
    Ok(())
}

/// `host:port` or a full URI; the configured address when not given.
fn endpoint_uri(addr: Option<&str>, default: SocketAddr) -> String {
    match addr {
        Some(a) if a.contains("://") => a.to_string(),
        Some(a) => format!("http://{a}"),
        None => format!("http://{default}"),
    }
}

fn bearer(key: Option<&str>) -> anyhow::Result<Option<MetadataValue<Ascii>>> {
    key.map(|k| {
        MetadataValue::try_from(format!("Bearer {k}"))
            .map_err(|_| anyhow::anyhow!("--api-key: not a valid header value"))
    })
    .transpose()
}

fn with_auth<T>(msg: T, auth: Option<&MetadataValue<Ascii>>) -> Request<T> {
    let mut r = Request::new(msg);
    if let Some(v) = auth {
        r.metadata_mut().insert("authorization", v.clone());
    }
    r
}

/// `n` separate HTTP/2 connections (tonic multiplexes all requests of a
/// channel over one connection).
async fn connect(uri: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(uri.to_string())
        .with_context(|| format!("--addr: '{uri}' is not a valid address"))?
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5));
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            endpoint
                .connect()
                .await
                .with_context(|| format!("connecting to {uri} (is the server running?)"))?,
        );
    }
    Ok(out)
}

/// Account ids from ScoreBatch, then each account's features from Explain.
async fn fetch_accounts(
    ch: &Channel,
    auth: Option<&MetadataValue<Ascii>>,
    limit: Option<usize>,
) -> anyhow::Result<Vec<Account>> {
    let mut client = ScoringServiceClient::new(ch.clone()).max_decoding_message_size(64 << 20);
    let started = Instant::now();
    let mut stream = client
        .score_batch(with_auth(
            pb::ScoreBatchRequest {
                account_ids: Vec::new(),
                top_drivers: 1,
                chunk_size: 1_000,
            },
            auth,
        ))
        .await
        .context("ScoringService.ScoreBatch")?
        .into_inner();
    let mut ids = Vec::new();
    while let Some(chunk) = stream.message().await.context("ScoreBatch stream")? {
        ids.extend(chunk.scores.into_iter().map(|s| s.account_id));
        if limit.is_some_and(|n| ids.len() >= n) {
            break;
        }
    }
    drop(stream);
    if let Some(n) = limit {
        ids.truncate(n);
    }
    let accounts: Vec<anyhow::Result<Account>> = futures::stream::iter(ids)
        .map(|id| {
            let mut client = client.clone();
            async move {
                let e = client
                    .explain(with_auth(score_by_id(&id, &Shape::default()), auth))
                    .await
                    .with_context(|| format!("ScoringService.Explain of {id}"))?
                    .into_inner();
                account_from_explanation(&id, e)
            }
        })
        .buffered(PREPARE_CONCURRENCY)
        .collect()
        .await;
    let accounts = accounts.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    tracing::info!(
        accounts = accounts.len(),
        seconds = started.elapsed().as_secs_f64(),
        "requests prepared from ScoreBatch and Explain"
    );
    Ok(accounts)
}

fn account_from_explanation(id: &str, e: pb::Explanation) -> anyhow::Result<Account> {
    let n = pulse_features::n_features();
    let mut values = vec![f64::NAN; n];
    let mut seen = vec![false; n];
    for d in &e.contributions {
        let Some(j) = pulse_features::feature_index(&d.feature) else {
            bail!(
                "Explain of {id}: feature '{}' is not in this build's catalogue",
                d.feature
            );
        };
        values[j] = d.value;
        seen[j] = true;
    }
    if let Some(j) = seen.iter().position(|s| !s) {
        bail!(
            "Explain of {id}: no contribution for feature '{}' (expected all {n})",
            pulse_features::features()[j].name
        );
    }
    let score = e.score.unwrap_or_default();
    Ok(Account {
        id: id.to_string(),
        as_of: score.as_of,
        arr: score.arr,
        values,
    })
}

fn score_by_id(id: &str, shape: &Shape) -> pb::ScoreRequest {
    pb::ScoreRequest {
        subject: Some(pb::score_request::Subject::AccountId(id.to_string())),
        as_of: String::new(),
        top_drivers: shape.top_drivers,
        without_drivers: shape.without_drivers,
    }
}

fn score_raw(a: &Account, shape: &Shape, ordered: bool) -> pb::ScoreRequest {
    let mut fv = pb::FeatureVector {
        arr: a.arr,
        reference: a.id.clone(),
        ..Default::default()
    };
    if ordered {
        fv.ordered_values = a.values.clone();
        fv.schema = shape.schema.clone();
    } else {
        fv.values = pulse_features::features()
            .iter()
            .zip(&a.values)
            .map(|(f, &v)| (f.name.to_string(), v))
            .collect();
    }
    pb::ScoreRequest {
        subject: Some(pb::score_request::Subject::Features(fv)),
        as_of: String::new(),
        top_drivers: shape.top_drivers,
        without_drivers: shape.without_drivers,
    }
}

fn score_request(a: &Account, mode: Mode, shape: &Shape) -> pb::ScoreRequest {
    match mode {
        Mode::Raw => score_raw(a, shape, false),
        Mode::Ordered => score_raw(a, shape, true),
        Mode::Id | Mode::Both | Mode::All => score_by_id(&a.id, shape),
    }
}

const FIXED_COLUMNS: [&str; 3] = ["account_id", "as_of", "arr"];

/// Writes the CSV and the catalogue beside it; returns the catalogue's path.
fn write_features(path: &Path, accounts: &[Account]) -> anyhow::Result<PathBuf> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    let mut header: Vec<&str> = FIXED_COLUMNS.to_vec();
    header.extend(pulse_features::features().iter().map(|f| f.name));
    w.write_record(&header)?;
    for a in accounts {
        let mut rec = vec![a.id.clone(), a.as_of.clone(), a.arr.to_string()];
        // Display of f64 is the shortest text that reads back to the same bits.
        rec.extend(a.values.iter().map(|v| v.to_string()));
        w.write_record(&rec)?;
    }
    w.flush()?;
    let catalog = catalog_path(path);
    let json = serde_json::to_string_pretty(pulse_features::features())?;
    std::fs::write(&catalog, json).with_context(|| format!("writing {}", catalog.display()))?;
    Ok(catalog)
}

fn catalog_path(csv: &Path) -> PathBuf {
    let stem = csv
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "features".into());
    csv.with_file_name(format!("{stem}.catalog.json"))
}

fn read_features(path: &Path) -> anyhow::Result<Vec<Account>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = r.headers()?.clone();
    let names: Vec<&str> = header.iter().collect();
    if names.len() < 3 || names[..3] != FIXED_COLUMNS {
        bail!(
            "{}: expected the columns {} then the features",
            path.display(),
            FIXED_COLUMNS.join(",")
        );
    }
    let n = pulse_features::n_features();
    let mut col = vec![usize::MAX; n];
    for (i, name) in names.iter().enumerate().skip(3) {
        match pulse_features::feature_index(name) {
            Some(j) => col[j] = i,
            None => bail!("{}: column '{name}' is not a feature", path.display()),
        }
    }
    if let Some(j) = col.iter().position(|&c| c == usize::MAX) {
        bail!(
            "{}: no column for feature '{}'",
            path.display(),
            pulse_features::features()[j].name
        );
    }
    let mut out = Vec::new();
    for (line, rec) in r.records().enumerate() {
        let rec = rec?;
        let num = |i: usize| -> anyhow::Result<f64> {
            let s = rec.get(i).unwrap_or("");
            s.parse().with_context(|| {
                format!(
                    "{} line {}: '{s}' in column {} is not a number",
                    path.display(),
                    line + 2,
                    names[i]
                )
            })
        };
        out.push(Account {
            id: rec.get(0).unwrap_or("").to_string(),
            as_of: rec.get(1).unwrap_or("").to_string(),
            arr: num(2)?,
            values: col.iter().map(|&i| num(i)).collect::<anyhow::Result<_>>()?,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Comparing two servers

#[derive(Debug, Default)]
struct Comparison {
    accounts: usize,
    prob_id: f64,
    prob_raw: f64,
    contribution: f64,
    /// NaN when no pair of expansion probabilities was compared.
    expansion: f64,
    expansion_pairs: usize,
    /// Scores with an expansion probability from one server only.
    expansion_one_sided: usize,
    band_mismatches: usize,
    /// Requests both servers refused with the same code (agreement).
    both_refused: usize,
    /// Requests one server answered and the other refused, or refused with
    /// different codes.
    errors: usize,
}

impl Comparison {
    fn json(&self, label: &str, tolerance: f64) -> String {
        serde_json::json!({
            "bench": "score-compare",
            "server": label,
            "accounts": self.accounts,
            "max_diff_probability_id": self.prob_id,
            "max_diff_probability_raw": self.prob_raw,
            "max_diff_contribution": self.contribution,
            "max_diff_expansion": self.expansion.is_finite().then_some(self.expansion),
            "expansion_one_sided": self.expansion_one_sided,
            "band_mismatches": self.band_mismatches,
            "refused_by_both": self.both_refused,
            "errors": self.errors,
            "ok": self.prob_id.max(self.prob_raw) <= tolerance && self.errors == 0,
        })
        .to_string()
    }
}

/// |a - b|, 0 for the same bits (NaN included), infinite when one is NaN
/// (`f64::max` would drop a NaN).
fn diff(a: f64, b: f64) -> f64 {
    if a.to_bits() == b.to_bits() {
        0.0
    } else if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        (a - b).abs()
    }
}

/// Scores an evenly spaced sample on both servers, by id and raw, with every
/// driver, and records the largest differences.
async fn compare(
    a: &Channel,
    b: &Channel,
    auth: Option<&MetadataValue<Ascii>>,
    accounts: &[Account],
    sample: usize,
) -> anyhow::Result<Comparison> {
    let mut ca = ScoringServiceClient::new(a.clone());
    let mut cb = ScoringServiceClient::new(b.clone());
    let all = pulse_features::n_features() as u32;
    let step = (accounts.len() / sample.max(1)).max(1);
    let mut c = Comparison::default();
    for acct in accounts.iter().step_by(step).take(sample) {
        c.accounts += 1;
        for mode in [Mode::Id, Mode::Raw] {
            let shape = Shape {
                top_drivers: all,
                ..Default::default()
            };
            let req = score_request(acct, mode, &shape);
            let (ra, rb) = futures::join!(
                ca.score(with_auth(req.clone(), auth)),
                cb.score(with_auth(req, auth))
            );
            let (ra, rb) = match (ra, rb) {
                (Ok(x), Ok(y)) => (x.into_inner(), y.into_inner()),
                (Err(x), Err(y)) if x.code() == y.code() => {
                    tracing::warn!(account = %acct.id, mode = mode.as_str(), code = ?x.code(), a = x.message(), b = y.message(), "compare: both servers refused");
                    c.both_refused += 1;
                    continue;
                }
                (x, y) => {
                    for e in [x.err(), y.err()].into_iter().flatten() {
                        tracing::warn!(account = %acct.id, mode = mode.as_str(), code = ?e.code(), message = e.message(), "compare: Score failed");
                    }
                    c.errors += 1;
                    continue;
                }
            };
            let d = diff(ra.churn_probability, rb.churn_probability);
            match mode {
                Mode::Raw | Mode::Ordered => c.prob_raw = c.prob_raw.max(d),
                Mode::Id | Mode::Both | Mode::All => c.prob_id = c.prob_id.max(d),
            }
            match (ra.expansion_probability, rb.expansion_probability) {
                (Some(x), Some(y)) => {
                    c.expansion = c.expansion.max(diff(x, y));
                    c.expansion_pairs += 1;
                }
                (None, None) => {}
                // One server has an expansion model and the other not.
                _ => c.expansion_one_sided += 1,
            }
            if ra.band != rb.band {
                c.band_mismatches += 1;
            }
            let by_feature: HashMap<&str, f64> = rb
                .drivers
                .iter()
                .map(|d| (d.feature.as_str(), d.contribution))
                .collect();
            for d in &ra.drivers {
                match by_feature.get(d.feature.as_str()) {
                    Some(&x) => c.contribution = c.contribution.max(diff(d.contribution, x)),
                    None => c.contribution = f64::INFINITY,
                }
            }
        }
    }
    if c.expansion_pairs == 0 {
        c.expansion = f64::NAN;
    }
    Ok(c)
}

// ---------------------------------------------------------------------------
// The load

/// Sends prepared request bytes as they are and ignores the answer's bytes
/// (its status still counts).
#[derive(Debug, Clone, Copy, Default)]
struct PassThrough;

impl Codec for PassThrough {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = PassThrough;
    type Decoder = PassThrough;
    fn encoder(&mut self) -> Self::Encoder {
        PassThrough
    }
    fn decoder(&mut self) -> Self::Decoder {
        PassThrough
    }
}

impl Encoder for PassThrough {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for PassThrough {
    type Item = ();
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        let n = src.remaining();
        src.advance(n);
        Ok(Some(()))
    }
}

async fn call(
    ch: &Channel,
    body: Bytes,
    auth: Option<&MetadataValue<Ascii>>,
) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(format!("connection not ready: {e}")))?;
    grpc.unary(
        with_auth(body, auth),
        PathAndQuery::from_static(SCORE_PATH),
        PassThrough,
    )
    .await
    .map(|_| ())
}

struct LoadPlan {
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    rate: Option<f64>,
    /// Every process of the server (CPU time is summed).
    server_pid: Vec<u32>,
}

/// Latencies and outcomes of the requests of the measured window.
struct Recorder {
    latency: Histogram<u64>,
    /// Open loop: how late requests left their scheduled time.
    lag: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<String, u64>,
    /// Open loop: requests due in the window that were never sent.
    not_sent: u64,
    /// Completion time of the last request of the window.
    last: Option<Instant>,
}

impl Recorder {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1_000, 120_000_000_000, 3).expect("valid bounds");
        Recorder {
            latency: h(),
            lag: h(),
            ok: 0,
            errors: BTreeMap::new(),
            not_sent: 0,
            last: None,
        }
    }

    /// A request given up on, `late` after its due time.
    fn record_not_sent(&mut self, late: Duration, at: Instant) {
        self.latency
            .saturating_record((late.as_nanos() as u64).max(self.latency.low()));
        *self.errors.entry("NotSent".into()).or_default() += 1;
        self.not_sent += 1;
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    fn record(&mut self, r: &Result<(), Status>, latency: Duration, done: Instant) {
        self.latency
            .saturating_record((latency.as_nanos() as u64).max(self.latency.low()));
        match r {
            Ok(()) => self.ok += 1,
            Err(e) => *self.errors.entry(format!("{:?}", e.code())).or_default() += 1,
        }
        self.last = Some(self.last.map_or(done, |l| l.max(done)));
    }

    fn merge(&mut self, o: Recorder) {
        self.latency.add(&o.latency).expect("same bounds");
        self.lag.add(&o.lag).expect("same bounds");
        self.ok += o.ok;
        self.not_sent += o.not_sent;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.last = match (self.last, o.last) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

struct LoadResult {
    rec: Recorder,
    /// From the start of the window to the last answer of a window request
    /// (at least the window).
    elapsed: Duration,
    client_cpu: Option<f64>,
    server_cpu: Option<f64>,
}

/// CPU seconds (user + system) of processes so far (Linux); `None` when
/// one cannot be read.
fn cpu_of(pids: &[u32]) -> Option<f64> {
    pids.iter().map(|&p| cpu_seconds(Some(p))).sum()
}

/// CPU seconds (user + system) of a process (this one without `pid`) so
/// far (Linux).
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // After the command name (in parentheses): utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

async fn run_load(
    channels: &[Channel],
    requests: Arc<Vec<Bytes>>,
    auth: Option<MetadataValue<Ascii>>,
    plan: &LoadPlan,
) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let window = start + plan.warmup;
    let end = window + plan.duration;
    let load = match plan.rate {
        None => tokio::spawn(closed_loop(
            channels.to_vec(),
            requests,
            auth,
            plan.concurrency,
            window,
            end,
        )),
        Some(rate) => tokio::spawn(open_loop(
            channels.to_vec(),
            requests,
            auth,
            plan.concurrency,
            rate,
            start,
            window,
            end,
        )),
    };
    tokio::time::sleep_until(window.into()).await;
    let cpu0 = (cpu_seconds(None), cpu_of(&plan.server_pid));
    tokio::time::sleep_until(end.into()).await;
    let cpu1 = (cpu_seconds(None), cpu_of(&plan.server_pid));
    let rec = load.await.context("load task")?;
    let elapsed = rec.last.map_or(plan.duration, |l| {
        l.saturating_duration_since(window).max(plan.duration)
    });
    let diff = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| b - a);
    Ok(LoadResult {
        rec,
        elapsed,
        client_cpu: diff(cpu0.0, cpu1.0),
        server_cpu: if plan.server_pid.is_empty() {
            None
        } else {
            diff(cpu0.1, cpu1.1)
        },
    })
}

/// `concurrency` workers, each sending its next request when the previous
/// answer arrives; requests started in `[window, end)` are recorded.
async fn closed_loop(
    channels: Vec<Channel>,
    requests: Arc<Vec<Bytes>>,
    auth: Option<MetadataValue<Ascii>>,
    concurrency: usize,
    window: Instant,
    end: Instant,
) -> Recorder {
    let mut set = tokio::task::JoinSet::new();
    for w in 0..concurrency {
        let ch = channels[w % channels.len()].clone();
        let requests = requests.clone();
        let auth = auth.clone();
        set.spawn(async move {
            let mut rec = Recorder::new();
            let mut i = w;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let body = requests[i % requests.len()].clone();
                i += concurrency;
                let r = call(&ch, body, auth.as_ref()).await;
                let t1 = Instant::now();
                if t0 >= window {
                    rec.record(&r, t1 - t0, t1);
                }
            }
            rec
        });
    }
    let mut total = Recorder::new();
    while let Some(r) = set.join_next().await {
        if let Ok(r) = r {
            total.merge(r);
        }
    }
    total
}

/// How far behind schedule the open loop keeps sending; requests due in the
/// window but not sent by `end + GIVE_UP_AFTER` are counted as `NotSent`,
/// with their lateness at that moment as latency (a lower bound).
const GIVE_UP_AFTER: Duration = Duration::from_secs(1);

/// Request `i` is due at `start + i / rate`. A pacer thread (not a tokio
/// timer, whose 1 ms granularity would add up to 1 ms to every latency)
/// releases each request when due, into at most `concurrency` slots; latency
/// runs from the due time, so waiting for a slot counts. A server that cannot
/// keep up makes the pacer fall behind; past `GIVE_UP_AFTER` it stops.
#[allow(clippy::too_many_arguments)]
async fn open_loop(
    channels: Vec<Channel>,
    requests: Arc<Vec<Bytes>>,
    auth: Option<MetadataValue<Ascii>>,
    concurrency: usize,
    rate: f64,
    start: Instant,
    window: Instant,
    end: Instant,
) -> Recorder {
    const SHARDS: usize = 16;
    let shards: Arc<Vec<Mutex<Recorder>>> =
        Arc::new((0..SHARDS).map(|_| Mutex::new(Recorder::new())).collect());
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let handle = tokio::runtime::Handle::current();
    let pacer = {
        let shards = shards.clone();
        let slots = slots.clone();
        std::thread::spawn(move || {
            let period = 1.0 / rate;
            let due_of = |i: u64| start + Duration::from_secs_f64(i as f64 * period);
            let give_up = end + GIVE_UP_AFTER;
            // Records every request from `i` on that is due in the window as not sent.
            let abandon = |mut i: u64| {
                let now = Instant::now();
                let mut rec = Recorder::new();
                while due_of(i) < end {
                    let due = due_of(i);
                    if due >= window {
                        rec.record_not_sent(now - due, now);
                    }
                    i += 1;
                }
                shards[0]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .merge(rec);
            };
            let mut i: u64 = 0;
            loop {
                let due = due_of(i);
                if due >= end {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else if now >= give_up {
                    abandon(i);
                    break;
                }
                let permit = match slots.clone().try_acquire_owned() {
                    Ok(p) => p,
                    Err(_) => {
                        // Built inside block_on: a timer needs the runtime's context.
                        let wait = async {
                            tokio::time::timeout_at(give_up.into(), slots.clone().acquire_owned())
                                .await
                        };
                        match handle.block_on(wait) {
                            Ok(Ok(p)) => p,
                            Ok(Err(_)) => break,
                            Err(_) => {
                                abandon(i);
                                break;
                            }
                        }
                    }
                };
                let sent = Instant::now();
                let k = i as usize;
                let ch = channels[k % channels.len()].clone();
                let body = requests[k % requests.len()].clone();
                let auth = auth.clone();
                let shards = shards.clone();
                handle.spawn(async move {
                    let r = call(&ch, body, auth.as_ref()).await;
                    let done = Instant::now();
                    if due >= window {
                        let mut s = shards[k % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
                        s.record(&r, done - due, done);
                        let lag = ((sent - due).as_nanos() as u64).max(s.lag.low());
                        s.lag.saturating_record(lag);
                    }
                    // Released only once recorded: all slots back = all recorded.
                    drop(permit);
                });
                i += 1;
            }
        })
    };
    // The pacer blocks; wait for it off the runtime's worker threads.
    let _ = tokio::task::spawn_blocking(move || pacer.join()).await;
    // Every slot back means every request has been answered (or timed out).
    let _ = slots.acquire_many(concurrency as u32).await;
    let mut total = Recorder::new();
    for s in shards.iter() {
        let mut s = s.lock().unwrap_or_else(|e| e.into_inner());
        total.merge(std::mem::replace(&mut *s, Recorder::new()));
    }
    total
}

// ---------------------------------------------------------------------------
// Reporting

struct Report {
    server: String,
    /// The mode, with `/nd` when no drivers were asked for.
    mode: String,
    load: String,
    concurrency: usize,
    connections: usize,
    target_rps: Option<f64>,
    requests: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    rps: f64,
    /// Microseconds.
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
    lag_p99: Option<f64>,
    client_cpu_us: Option<f64>,
    server_cpu_us: Option<f64>,
    seconds: f64,
    load_avg: Option<f64>,
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl Report {
    fn new(args: &ScoreArgs, mode: Mode, plan: &LoadPlan, r: LoadResult) -> Self {
        let rec = &r.rec;
        let n = rec.latency.len();
        let us = |q: f64| {
            if n == 0 {
                f64::NAN
            } else {
                rec.latency.value_at_quantile(q) as f64 / 1_000.0
            }
        };
        let answered = n - rec.not_sent;
        let per_request = |cpu: Option<f64>| {
            cpu.filter(|_| answered > 0)
                .map(|c| c * 1e6 / answered as f64)
        };
        Report {
            server: args.label.clone(),
            mode: format!(
                "{}{}",
                mode.as_str(),
                if args.without_drivers { "/nd" } else { "" }
            ),
            load: match plan.rate {
                Some(_) => "open".into(),
                None => "closed".into(),
            },
            concurrency: plan.concurrency,
            connections: args.connections,
            target_rps: plan.rate,
            requests: n,
            ok: rec.ok,
            errors: rec.errors.clone(),
            // Answered requests (ok or not); never-sent ones only count in
            // `requests` and the errors.
            rps: answered as f64 / r.elapsed.as_secs_f64(),
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p999: us(0.999),
            max: if n == 0 {
                f64::NAN
            } else {
                rec.latency.max() as f64 / 1_000.0
            },
            lag_p99: (plan.rate.is_some() && !rec.lag.is_empty())
                .then(|| rec.lag.value_at_quantile(0.99) as f64 / 1_000.0),
            client_cpu_us: per_request(r.client_cpu),
            server_cpu_us: per_request(r.server_cpu),
            seconds: r.elapsed.as_secs_f64(),
            load_avg: load_average(),
        }
    }

    fn header() -> String {
        format!(
            "{:<8} {:<10} {:<12} {:>5} {:>5} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  errors",
            "server",
            "mode",
            "load",
            "conc",
            "conns",
            "requests",
            "rps",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms",
            "srv us/r",
            "cli us/r",
            "load avg"
        )
    }

    fn row(&self) -> String {
        let ms = |us: f64| format!("{:.3}", us / 1_000.0);
        let opt = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
        let load = match self.target_rps {
            Some(r) => format!("open@{r:.0}"),
            None => "closed".into(),
        };
        let errors = if self.errors.is_empty() {
            "0".to_string()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let lag = self
            .lag_p99
            .map_or(String::new(), |l| format!("  (send lag p99 {l:.0} us)"));
        format!(
            "{:<8} {:<10} {:<12} {:>5} {:>5} {:>9} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}  {errors}{lag}",
            self.server,
            self.mode,
            load,
            self.concurrency,
            self.connections,
            self.requests,
            self.rps,
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.p999),
            ms(self.max),
            opt(self.server_cpu_us, 1),
            opt(self.client_cpu_us, 1),
            opt(self.load_avg, 2),
        )
    }

    fn json(&self) -> String {
        serde_json::json!({
            "bench": "score",
            "server": self.server,
            "mode": self.mode,
            "load": self.load,
            "concurrency": self.concurrency,
            "connections": self.connections,
            "target_rps": self.target_rps,
            "requests": self.requests,
            "ok": self.ok,
            "errors": self.errors,
            "seconds": self.seconds,
            "rps": self.rps,
            "p50_us": self.p50,
            "p90_us": self.p90,
            "p99_us": self.p99,
            "p999_us": self.p999,
            "max_us": self.max,
            "send_lag_p99_us": self.lag_p99,
            "server_cpu_us_per_request": self.server_cpu_us,
            "client_cpu_us_per_request": self.client_cpu_us,
            "load_avg_1m": self.load_avg,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(label: &str) -> ScoreArgs {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            a: ScoreArgs,
        }
        Cli::parse_from(["bench", "--label", label]).a
    }

    async fn stub_server() -> (String, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let svc = stub::Stub::bare(50);
        tokio::spawn(stub::serve(listener, svc, true, async {
            let _ = rx.await;
        }));
        (format!("http://{addr}"), tx)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_generator_drives_a_stub_server_end_to_end() {
        let (uri, stop) = stub_server().await;
        let channels = connect(&uri, 2).await.unwrap();
        let accounts = fetch_accounts(&channels[0], None, None).await.unwrap();
        assert_eq!(accounts.len(), 50);
        assert_eq!(accounts[0].values.len(), pulse_features::n_features());

        // Export and read back: the same accounts, bit for bit (NaN included).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.csv");
        write_features(&path, &accounts).unwrap();
        assert!(dir.path().join("features.catalog.json").exists());
        let back = read_features(&path).unwrap();
        assert_eq!(back.len(), accounts.len());
        for (a, b) in accounts.iter().zip(&back) {
            assert_eq!(a.id, b.id);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.values), bits(&b.values));
        }

        let c = compare(&channels[0], &channels[1], None, &accounts, 10)
            .await
            .unwrap();
        assert_eq!((c.accounts, c.errors), (10, 0));
        assert_eq!(c.prob_id.max(c.prob_raw).max(c.contribution), 0.0);

        for (mode, rate) in [
            (Mode::Id, None),
            (Mode::Raw, None),
            (Mode::Raw, Some(400.0)),
        ] {
            let requests: Vec<Bytes> = accounts
                .iter()
                .map(|a| Bytes::from(score_request(a, mode, &Shape::default()).encode_to_vec()))
                .collect();
            let plan = LoadPlan {
                concurrency: 8,
                warmup: Duration::from_millis(100),
                duration: Duration::from_millis(400),
                rate,
                server_pid: vec![std::process::id()],
            };
            let r = run_load(&channels, Arc::new(requests), None, &plan)
                .await
                .unwrap();
            assert!(r.rec.errors.is_empty(), "{:?}", r.rec.errors);
            assert!(r.rec.ok > 5, "{mode:?} {rate:?}: only {} answers", r.rec.ok);
            let report = Report::new(&args("stub"), mode, &plan, r);
            if let Some(rate) = rate {
                // Open loop: every request due in the window (400/s for 0.4 s)
                // is sent and counted, however late; a late one lowers the rate.
                assert_eq!(report.requests, 160);
                assert!(
                    report.rps > 0.0 && report.rps <= 1.01 * rate,
                    "{}",
                    report.rps
                );
                assert!(report.lag_p99.is_some());
            }
            let json: serde_json::Value = serde_json::from_str(&report.json()).unwrap();
            assert_eq!(json["errors"], serde_json::json!({}));
            assert!(report.row().starts_with("stub"));
        }

        // A rate the server cannot keep up with: the pacer gives up a second
        // after the window instead of running for minutes, and says so.
        let requests: Vec<Bytes> = accounts
            .iter()
            .map(|a| Bytes::from(score_request(a, Mode::Id, &Shape::default()).encode_to_vec()))
            .collect();
        let plan = LoadPlan {
            concurrency: 1,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(200),
            rate: Some(1_000_000.0),
            server_pid: Vec::new(),
        };
        let t0 = Instant::now();
        let r = run_load(&channels, Arc::new(requests), None, &plan)
            .await
            .unwrap();
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        assert!(r.rec.not_sent > 0);
        assert_eq!(r.rec.errors["NotSent"], r.rec.not_sent);
        assert_eq!(r.rec.latency.len(), 200_000);
        let report = Report::new(&args("stub"), Mode::Id, &plan, r);
        assert!(report.p99 >= 1e6, "given-up requests are at least 1 s late");

        // Unknown accounts are counted by status code.
        let bad = vec![Bytes::from(
            score_by_id("no-such-account", &Shape::default()).encode_to_vec(),
        )];
        let plan = LoadPlan {
            concurrency: 2,
            warmup: Duration::ZERO,
            duration: Duration::from_millis(100),
            rate: None,
            server_pid: Vec::new(),
        };
        let r = run_load(&channels, Arc::new(bad), None, &plan)
            .await
            .unwrap();
        assert_eq!(r.rec.ok, 0);
        assert!(r.rec.errors.get("NotFound").copied().unwrap_or(0) > 0);
        let _ = stop.send(());
    }

    #[test]
    fn addresses_and_keys() {
        let d: SocketAddr = "127.0.0.1:50051".parse().unwrap();
        assert_eq!(endpoint_uri(None, d), "http://127.0.0.1:50051");
        assert_eq!(endpoint_uri(Some("localhost:1"), d), "http://localhost:1");
        assert_eq!(endpoint_uri(Some("https://x:2"), d), "https://x:2");
        assert_eq!(
            bearer(Some("k1")).unwrap().unwrap().to_str().unwrap(),
            "Bearer k1"
        );
        assert!(bearer(Some("bad\nkey")).is_err());
        assert!(catalog_path(Path::new("/tmp/f.csv")).ends_with("f.catalog.json"));
        assert_eq!(diff(f64::NAN, f64::NAN), 0.0);
        assert_eq!(diff(0.25, f64::NAN), f64::INFINITY);
        assert_eq!(diff(0.25, 0.5), 0.25);
    }
}
