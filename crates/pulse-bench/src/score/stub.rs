//! The stub `ScoringService` of `pulse-bench score --stub-server ADDR`.
//!
//! - Bare (default): the "bare tonic" baseline of NOTES-perf. `Score` decodes
//!   the request (the 60-entry map for raw features), looks the account up
//!   in a hash map and answers a fixed Score-shaped response (probability,
//!   health, three drivers with sentences); no model runs. `ScoreBatch` and
//!   `Explain` serve synthetic accounts so the load generator can prepare its
//!   requests. Pulse's Score throughput is reported as a ratio to this server
//!   measured in the same run.
//! - `--stub-model`: the promoted churn model (calibrated probability and
//!   exact TreeSHAP contributions from `pulse-models`) on every current
//!   customer's features computed from the store as of the last day with
//!   data; raw vectors are scored per request (names checked, ranges not).
//!   A stand-in to check the generator and the Python server against real
//!   numbers before `ScoringService` lands in `pulse serve`: it has no
//!   quadrant, expansion, comparisons or plays, and is not what to measure.
//!
//! Other RPCs answer UNIMPLEMENTED.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;

use anyhow::Context;
use futures::Stream;
use pulse_models::CalibratedModel;
use pulse_proto::v1 as pb;
use pulse_proto::v1::scoring_service_server::{ScoringService, ScoringServiceServer};
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};

use crate::settings::Settings;

const DEFAULT_DRIVERS: usize = 3;
/// Drivers kept with each precomputed score (as the real server does).
const STORED_DRIVERS: usize = 5;

struct StubAccount {
    id: String,
    as_of: String,
    arr: f64,
    values: Vec<f64>,
    /// Probability and contributions (model stub only).
    scored: Option<Scored>,
}

struct Scored {
    probability: f64,
    margin: f64,
    contributions: Vec<f64>,
}

/// The stub's state.
pub(super) struct Stub {
    accounts: Vec<StubAccount>,
    index: HashMap<String, usize>,
    /// The churn model and its version (model stub only).
    model: Option<(CalibratedModel, String)>,
    /// The bare stub's answer.
    template: pb::ScoreResponse,
}

fn bare_template() -> pb::ScoreResponse {
    let driver = |feature: &str, family: &str, value: f64, c: f64, sentence: &str| pb::Driver {
        feature: feature.into(),
        family: family.into(),
        value,
        comparison: Some(pb::Comparison {
            basis: "segment_median".into(),
            reference: value / 2.0,
            ratio: 2.0,
            text: "2.0x the mid-market median".into(),
        }),
        contribution: c,
        sentence: sentence.into(),
        play: "Support review: assign a named support lead for a month".into(),
        cause: family.into(),
    };
    pb::ScoreResponse {
        account_id: String::new(),
        as_of: "2026-11-22".into(),
        churn_probability: 0.1234,
        horizon_days: 90,
        health: 87.66,
        band: "yellow".into(),
        quadrant: "trapped".into(),
        outcome: 64.0,
        experience: 41.0,
        expansion_probability: Some(0.05),
        arr: 48_000.0,
        urgency: Some(pb::Urgency {
            days_to_renewal: Some(41.0),
            urgent: true,
            churn_before_renewal: Some(0.1702),
            context_contribution: 0.22,
            text: "renews in 41 days".into(),
        }),
        base_play: "Support review: assign a named support lead for a month".into(),
        play_cause: "support".into(),
        // Live by-id scores carry the time-to-churn curve when a survival model is trained.
        churn_curve: Some(pb::ChurnCurve {
            within_30d: 0.031,
            within_90d: 0.1234,
            within_180d: 0.2011,
            within_365d: 0.3120,
            before_renewal: Some(0.1702),
            model_version: "survival-v1".into(),
        }),
        arr_at_risk: 5_923.2,
        drivers: vec![
            driver(
                "interactions_30d",
                "support",
                14.0,
                0.41,
                "14 support contacts in the last 30 days, 3.2x its usual rate",
            ),
            driver(
                "days_to_renewal",
                "commercial",
                41.0,
                0.33,
                "renews in 41 days",
            ),
            driver(
                "sentiment_mean_30d",
                "sentiment",
                -0.42,
                0.21,
                "sentiment -0.42 over the last 30 days, against +0.10 over its last 90 days",
            ),
        ],
        suggested_play: "Support review: assign a named support lead for a month".into(),
        models: Some(pb::ModelVersions {
            churn: "stub".into(),
            expansion: "stub".into(),
        }),
        source: pb::ScoreSource::Live as i32,
        score_run_id: 0,
    }
}

impl Stub {
    /// `n` synthetic accounts `stub-000001`...; some features unknown (NaN).
    pub(super) fn bare(n: usize) -> Stub {
        let nf = pulse_features::n_features();
        let accounts: Vec<StubAccount> = (0..n)
            .map(|i| StubAccount {
                id: format!("stub-{:06}", i + 1),
                as_of: "2026-11-22".into(),
                arr: 12_000.0 + (i % 40) as f64 * 1_000.0,
                values: (0..nf)
                    .map(|j| {
                        if j % 13 == 5 && i % 2 == 0 {
                            f64::NAN
                        } else {
                            ((i * 31 + j * 17) % 100) as f64 / 10.0
                        }
                    })
                    .collect(),
                scored: None,
            })
            .collect();
        Stub::new(accounts, None)
    }

    /// A bare stub that knows these accounts.
    fn of_accounts(accounts: Vec<super::Account>) -> Stub {
        let accounts = accounts
            .into_iter()
            .map(|a| StubAccount {
                id: a.id,
                as_of: a.as_of,
                arr: a.arr,
                values: a.values,
                scored: None,
            })
            .collect();
        Stub::new(accounts, None)
    }

    fn new(accounts: Vec<StubAccount>, model: Option<(CalibratedModel, String)>) -> Stub {
        let index = accounts
            .iter()
            .enumerate()
            .map(|(i, a)| (a.id.clone(), i))
            .collect();
        Stub {
            accounts,
            index,
            model,
            template: bare_template(),
        }
    }

    /// The promoted churn model on the store's current customers.
    async fn with_model(cfg: &Settings) -> anyhow::Result<Stub> {
        use pulse_app::ModelRegistry;
        let registry =
            pulse_app::DirRegistry::open(&cfg.models_dir(), pulse_core::Clock::system())?;
        let version = registry.promoted(pulse_models::ModelKind::Churn)?.context(
            "no promoted churn model: run `pulse demo --no-serve` (or `pulse train`) first",
        )?;
        // Verified like pulse verifies it: the payload hash and the feature schema.
        let artifact = registry.get(&version)?;
        let model = artifact.payload.model;
        let names: Vec<&str> = pulse_features::features().iter().map(|f| f.name).collect();
        if model
            .feature_names()
            .iter()
            .map(String::as_str)
            .ne(names.iter().copied())
        {
            anyhow::bail!("{version}: its feature schema is not this build's");
        }
        let store = crate::open_store(cfg).await?;
        // Every event is at or before the end of the last day with data, so
        // one load gives the features as of then.
        let histories = store.load_histories(None).await?;
        store.close().await;
        let (_, end) = pulse_training::data_span(&histories)
            .context("the store holds no events: import data first")?;
        let t = pulse_features::end_of_day(end);
        let as_of = pulse_core::time::format_day(end);
        let mrr = pulse_features::feature_index("mrr").expect("mrr is a feature");
        let mut accounts = Vec::new();
        for h in histories
            .iter()
            .filter(|h| pulse_features::is_customer_at(h, t))
        {
            let mut values = vec![0.0; names.len()];
            pulse_features::compute(h, t, &mut values);
            let s = model.score_row(&values)?;
            accounts.push(StubAccount {
                id: h.account.id.clone(),
                as_of: as_of.clone(),
                arr: if values[mrr].is_finite() {
                    12.0 * values[mrr]
                } else {
                    0.0
                },
                values,
                scored: Some(Scored {
                    probability: s.probability,
                    margin: s.margin,
                    contributions: s.contributions,
                }),
            });
        }
        Ok(Stub::new(accounts, Some((model, version))))
    }

    fn top_k(&self, requested: u32) -> Result<usize, Status> {
        let n = pulse_features::n_features();
        match requested as usize {
            0 => Ok(DEFAULT_DRIVERS),
            k if k <= n => Ok(k),
            k => Err(Status::invalid_argument(format!(
                "top_drivers: {k} is more than the {n} features"
            ))),
        }
    }

    fn account(&self, id: &str) -> Result<&StubAccount, Status> {
        self.index
            .get(id.trim())
            .map(|&i| &self.accounts[i])
            .ok_or_else(|| Status::not_found(format!("account '{id}' not found")))
    }

    /// A model score as a response (model stub).
    #[allow(clippy::too_many_arguments)]
    fn scored_response(
        &self,
        id: &str,
        as_of: &str,
        arr: f64,
        values: &[f64],
        s: &Scored,
        k: usize,
        source: pb::ScoreSource,
    ) -> pb::ScoreResponse {
        let defs = pulse_features::features();
        let version = self.model.as_ref().map_or("", |m| m.1.as_str());
        let mut order: Vec<usize> = (0..s.contributions.len()).collect();
        order.sort_by(|&a, &b| {
            s.contributions[b]
                .abs()
                .total_cmp(&s.contributions[a].abs())
                .then(a.cmp(&b))
        });
        let p = s.probability;
        let health = 100.0 * (1.0 - p);
        let arr = if arr > 0.0 {
            arr
        } else {
            let m = values[pulse_features::feature_index("mrr").expect("mrr")];
            if m.is_finite() { 12.0 * m } else { 0.0 }
        };
        pb::ScoreResponse {
            account_id: id.to_string(),
            as_of: as_of.to_string(),
            churn_probability: p,
            horizon_days: 90,
            health,
            band: if health >= 90.0 {
                "green"
            } else if health >= 75.0 {
                "yellow"
            } else {
                "red"
            }
            .into(),
            quadrant: "unknown".into(),
            outcome: f64::NAN,
            experience: f64::NAN,
            expansion_probability: None,
            arr,
            urgency: None,
            base_play: String::new(),
            play_cause: String::new(),
            churn_curve: None,
            arr_at_risk: p * arr,
            drivers: order
                .into_iter()
                .take(k)
                .map(|j| pb::Driver {
                    feature: defs[j].name.into(),
                    family: defs[j].family.as_str().into(),
                    value: values[j],
                    comparison: None,
                    contribution: s.contributions[j],
                    sentence: format!("{} is {}", defs[j].name, values[j]),
                    play: String::new(),
                    cause: defs[j].cause(values[j]).as_str().into(),
                })
                .collect(),
            suggested_play: String::new(),
            models: Some(pb::ModelVersions {
                churn: version.into(),
                expansion: String::new(),
            }),
            source: source as i32,
            score_run_id: 0,
        }
    }

    fn score_model(&self, row: &[f64]) -> Result<Scored, Status> {
        let (model, _) = self.model.as_ref().expect("model stub");
        let s = model
            .score_row(row)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(Scored {
            probability: s.probability,
            margin: s.margin,
            contributions: s.contributions,
        })
    }

    fn score_account(&self, id: &str, k: usize) -> Result<pb::ScoreResponse, Status> {
        let a = self.account(id)?;
        match &a.scored {
            Some(s) if k <= STORED_DRIVERS => Ok(self.scored_response(
                &a.id,
                &a.as_of,
                a.arr,
                &a.values,
                s,
                k,
                pb::ScoreSource::Live,
            )),
            Some(_) => {
                let s = self.score_model(&a.values)?;
                Ok(self.scored_response(
                    &a.id,
                    &a.as_of,
                    a.arr,
                    &a.values,
                    &s,
                    k,
                    pb::ScoreSource::Live,
                ))
            }
            None => Ok(pb::ScoreResponse {
                account_id: a.id.clone(),
                ..self.template.clone()
            }),
        }
    }

    fn score_raw(
        &self,
        fv: &pb::FeatureVector,
        k: usize,
        without_drivers: bool,
    ) -> Result<pb::ScoreResponse, Status> {
        let defs = pulse_features::features();
        let n = if fv.ordered_values.is_empty() {
            fv.values.len()
        } else {
            fv.ordered_values.len()
        };
        if self.model.is_none() {
            if n != defs.len() {
                return Err(Status::invalid_argument(format!(
                    "features.values: {n} values, the schema has {}",
                    defs.len()
                )));
            }
            return Ok(pb::ScoreResponse {
                account_id: fv.reference.clone(),
                source: pb::ScoreSource::Raw as i32,
                ..self.template.clone()
            });
        }
        let row = if fv.ordered_values.is_empty() {
            if let Some(unknown) = fv
                .values
                .keys()
                .find(|k| pulse_features::feature_index(k).is_none())
            {
                return Err(Status::invalid_argument(format!(
                    "feature {unknown}: is not a feature of the model's schema"
                )));
            }
            defs.iter()
                .map(|d| {
                    fv.values.get(d.name).copied().ok_or_else(|| {
                        Status::invalid_argument(format!("feature {}: is missing", d.name))
                    })
                })
                .collect::<Result<Vec<f64>, Status>>()?
        } else if n == defs.len() {
            fv.ordered_values.clone()
        } else {
            return Err(Status::invalid_argument(format!(
                "features.ordered_values: {n} values, the schema has {}",
                defs.len()
            )));
        };
        if without_drivers {
            let (model, version) = self.model.as_ref().expect("model stub");
            let p = model
                .probability_row(&row)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            return Ok(pb::ScoreResponse {
                account_id: fv.reference.clone(),
                churn_probability: p,
                health: 100.0 * (1.0 - p),
                arr: fv.arr,
                arr_at_risk: p * fv.arr,
                models: Some(pb::ModelVersions {
                    churn: version.clone(),
                    expansion: String::new(),
                }),
                source: pb::ScoreSource::Raw as i32,
                ..Default::default()
            });
        }
        let s = self.score_model(&row)?;
        Ok(self.scored_response(&fv.reference, "", fv.arr, &row, &s, k, pb::ScoreSource::Raw))
    }
}

type BatchStream = Pin<Box<dyn Stream<Item = Result<pb::ScoreBatchResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ScoringService for Stub {
    async fn score(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::ScoreResponse>, Status> {
        let r = request.into_inner();
        let k = self.top_k(r.top_drivers)?;
        let out = match &r.subject {
            Some(pb::score_request::Subject::AccountId(id)) => self.score_account(id, k)?,
            Some(pb::score_request::Subject::Features(fv)) => {
                self.score_raw(fv, k, r.without_drivers)?
            }
            None => {
                return Err(Status::invalid_argument(
                    "subject: account_id or features is required",
                ));
            }
        };
        Ok(Response::new(out))
    }

    type ScoreBatchStream = BatchStream;

    async fn score_batch(
        &self,
        request: Request<pb::ScoreBatchRequest>,
    ) -> Result<Response<BatchStream>, Status> {
        let r = request.into_inner();
        let k = self.top_k(r.top_drivers)?;
        let chunk = match r.chunk_size as usize {
            0 => 1_000,
            c => c.min(10_000),
        };
        let mut not_found = Vec::new();
        let ids: Vec<&str> = if r.account_ids.is_empty() {
            self.accounts.iter().map(|a| a.id.as_str()).collect()
        } else {
            r.account_ids
                .iter()
                .filter(|id| {
                    let known = self.index.contains_key(id.as_str());
                    if !known {
                        not_found.push((*id).clone());
                    }
                    known
                })
                .map(String::as_str)
                .collect()
        };
        let mut out = Vec::new();
        for ids in ids.chunks(chunk) {
            let scores = ids
                .iter()
                .map(|id| self.score_account(id, k))
                .collect::<Result<Vec<_>, Status>>()?;
            out.push(Ok(pb::ScoreBatchResponse {
                scores,
                not_found: Vec::new(),
            }));
        }
        if !not_found.is_empty() {
            out.push(Ok(pb::ScoreBatchResponse {
                scores: Vec::new(),
                not_found,
            }));
        }
        Ok(Response::new(Box::pin(futures::stream::iter(out))))
    }

    async fn explain(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::Explanation>, Status> {
        let r = request.into_inner();
        let Some(pb::score_request::Subject::AccountId(id)) = &r.subject else {
            return Err(Status::unimplemented("the stub explains accounts only"));
        };
        let a = self.account(id)?;
        let defs = pulse_features::features();
        let n = defs.len();
        let (score, base, margin, contributions) = match &a.scored {
            Some(s) => {
                let all = self.scored_response(
                    &a.id,
                    &a.as_of,
                    a.arr,
                    &a.values,
                    s,
                    n,
                    pb::ScoreSource::Live,
                );
                let base = self
                    .model
                    .as_ref()
                    .map_or(f64::NAN, |m| m.0.model().base_value());
                let mut score = all.clone();
                score.drivers.truncate(self.top_k(r.top_drivers)?);
                (score, base, s.margin, all.drivers)
            }
            None => {
                let drivers = defs
                    .iter()
                    .zip(&a.values)
                    .map(|(d, &v)| pb::Driver {
                        feature: d.name.into(),
                        family: d.family.as_str().into(),
                        value: v,
                        comparison: None,
                        contribution: 0.0,
                        sentence: String::new(),
                        play: String::new(),
                        cause: d.cause(v).as_str().into(),
                    })
                    .collect();
                let score = pb::ScoreResponse {
                    account_id: a.id.clone(),
                    as_of: a.as_of.clone(),
                    arr: a.arr,
                    ..self.template.clone()
                };
                (score, -2.0, -2.0, drivers)
            }
        };
        Ok(Response::new(pb::Explanation {
            score: Some(score),
            base_value: base,
            margin,
            contributions,
        }))
    }

    async fn get_account_profile(
        &self,
        _: Request<pb::GetAccountProfileRequest>,
    ) -> Result<Response<pb::AccountProfile>, Status> {
        Err(Status::unimplemented("not served by the bench stub"))
    }

    async fn run_scoring(
        &self,
        _: Request<pb::RunScoringRequest>,
    ) -> Result<Response<pb::ScoreRun>, Status> {
        Err(Status::unimplemented("not served by the bench stub"))
    }

    async fn list_score_runs(
        &self,
        _: Request<pb::ListScoreRunsRequest>,
    ) -> Result<Response<pb::ListScoreRunsResponse>, Status> {
        Err(Status::unimplemented("not served by the bench stub"))
    }

    async fn get_score_change(
        &self,
        _: Request<pb::GetScoreChangeRequest>,
    ) -> Result<Response<pb::ScoreChange>, Status> {
        Err(Status::unimplemented("not served by the bench stub"))
    }

    async fn get_feature_schema(
        &self,
        _: Request<pb::GetFeatureSchemaRequest>,
    ) -> Result<Response<pb::FeatureSchema>, Status> {
        Ok(Response::new(pulse_server::feature_schema()))
    }
}

/// Serves the stub on `listener` until `shutdown` resolves, with
/// TCP_NODELAY on accepted connections unless `nodelay` is false.
pub(super) async fn serve(
    listener: TcpListener,
    stub: Stub,
    nodelay: bool,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .add_service(ScoringServiceServer::new(stub))
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(nodelay)),
            shutdown,
        )
        .await
}

/// What `--stub-server` serves.
pub(super) struct StubOptions {
    /// Synthetic accounts of a bare stub without `known`.
    pub(super) accounts: usize,
    /// The accounts a bare stub knows (e.g. from `--features`).
    pub(super) known: Option<Vec<super::Account>>,
    /// Serve the promoted churn model (`--stub-model`).
    pub(super) model: bool,
    pub(super) nodelay: bool,
}

/// `pulse-bench score --stub-server ADDR [--stub-model]`.
pub(super) async fn run(cfg: &Settings, addr: SocketAddr, opts: StubOptions) -> anyhow::Result<()> {
    let stub = match (opts.model, opts.known) {
        (true, _) => Stub::with_model(cfg).await?,
        (false, Some(accounts)) => Stub::of_accounts(accounts),
        (false, None) => Stub::bare(opts.accounts.max(1)),
    };
    let what = match &stub.model {
        Some((_, v)) => format!("model stub ({v}, {} accounts)", stub.accounts.len()),
        None => format!("bare stub ({} accounts)", stub.accounts.len()),
    };
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(addr = %listener.local_addr()?, what, nodelay = opts.nodelay, "serving the bench stub ScoringService");
    serve(
        listener,
        stub,
        opts.nodelay,
        pulse_app::runtime::shutdown_signal(),
    )
    .await?;
    Ok(())
}
