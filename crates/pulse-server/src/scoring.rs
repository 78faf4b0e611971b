//! `ScoringService`: Score, ScoreBatch, Explain, GetAccountProfile, the
//! stored scoring runs and change attribution.
//!
//! Live scores come from the in-memory [`Serving`](pulse_app::serving::Serving)
//! (precomputed for every current customer at each refresh, so `Score` by id
//! is a lookup); past dates come from the immutable stored runs; raw feature
//! vectors are scored on the request path.

use std::pin::Pin;
use std::sync::Arc;

use futures::{Stream, StreamExt};
use pulse_core::FieldError;
use pulse_core::time::{Day, format_day, format_ts, parse_day};
use pulse_features::Feature;
use pulse_forecast::ChurnCurve;
use pulse_proto::v1 as pb;
use pulse_proto::v1::scoring_service_server::ScoringService;
use pulse_scoring::{AccountScore, ExplainedDriver, Subject, attribute_change, raw};
use pulse_store::{InteractionView, ScoreRunInfo, Store};
use tonic::{Request, Response, Status};

use crate::error::{IntoStatus, OrStatus, status};
use pulse_app::AppError;
use pulse_app::accounts;
use pulse_app::serving::{Scoring, Serving};

/// Most ids one `ScoreBatch` call may name.
pub const MAX_SCORE_BATCH: usize = 200_000;
/// Most scores in one streamed message.
pub const MAX_CHUNK: usize = 10_000;
const DEFAULT_CHUNK: usize = 1_000;

pub(crate) struct ScoringSvc {
    pub(crate) store: Store,
    pub(crate) scoring: Arc<Scoring>,
    /// Where drivers computed on demand, Explain and raw vectors run.
    pub(crate) cpu: pulse_app::limits::CpuPool,
}

fn opt_day(field: &str, s: &str) -> Result<Option<Day>, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    Ok(Some(parse_day(field, s)?))
}

fn required_id(field: &str, s: &str) -> Result<String, AppError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(FieldError::new(field, "is required").into());
    }
    Ok(s.to_string())
}

fn comparison_out(c: &pulse_scoring::Comparison) -> pb::Comparison {
    pb::Comparison {
        basis: c.basis.clone(),
        reference: c.reference,
        ratio: c.ratio,
        text: c.text.clone(),
    }
}

fn driver_out(d: &ExplainedDriver) -> pb::Driver {
    pb::Driver {
        feature: d.feature.clone(),
        family: d.family.clone(),
        value: d.value.unwrap_or(f64::NAN),
        comparison: d.comparison.as_ref().map(comparison_out),
        contribution: d.contribution,
        sentence: d.sentence.clone(),
        play: d.play.clone().unwrap_or_default(),
        cause: d.cause.as_str().to_string(),
    }
}

fn score_out(
    s: &AccountScore,
    k: usize,
    source: pb::ScoreSource,
    run_id: i64,
) -> pb::ScoreResponse {
    pb::ScoreResponse {
        account_id: s.account_id.clone(),
        as_of: format_day(s.as_of),
        churn_probability: s.churn_probability,
        horizon_days: s.horizon_days,
        health: s.health,
        band: s.band.as_str().to_string(),
        quadrant: s.quadrant.as_str().to_string(),
        outcome: s.outcome.unwrap_or(f64::NAN),
        experience: s.experience.unwrap_or(f64::NAN),
        expansion_probability: s.expansion_probability,
        arr: s.arr,
        arr_at_risk: s.arr_at_risk,
        drivers: s.drivers.iter().take(k).map(driver_out).collect(),
        suggested_play: s.suggested_play.clone(),
        models: Some(pb::ModelVersions {
            churn: s.churn_version.clone(),
            expansion: s.expansion_version.clone().unwrap_or_default(),
        }),
        source: source as i32,
        score_run_id: run_id,
        churn_curve: None,
        urgency: Some(pb::Urgency {
            days_to_renewal: s.urgency.days_to_renewal,
            urgent: s.urgency.urgent,
            churn_before_renewal: s.urgency.churn_before_renewal,
            context_contribution: s.urgency.context_contribution,
            text: s.urgency.text.clone(),
        }),
        base_play: s.base_play.clone(),
        play_cause: s
            .play_cause
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// A live score with population row `i`'s churn curve, when there is one.
fn live_out(serving: &Serving, s: &AccountScore, i: usize, k: usize) -> pb::ScoreResponse {
    let mut out = score_out(s, k, pb::ScoreSource::Live, 0);
    out.churn_curve = serving.curve(i).map(|(c, version)| curve_out(c, version));
    out
}

/// An application-layer score answer, as the response message.
fn answer_out(a: &accounts::ScoreAnswer, k: usize) -> pb::ScoreResponse {
    let source = match a.source {
        accounts::ScoreSource::Live => pb::ScoreSource::Live,
        accounts::ScoreSource::Stored => pb::ScoreSource::Stored,
    };
    let mut out = score_out(&a.score, k, source, a.run_id);
    out.churn_curve = a.curve.as_ref().map(|(c, v)| curve_out(c, v));
    out
}

pub(crate) fn curve_out(c: &ChurnCurve, version: &str) -> pb::ChurnCurve {
    pb::ChurnCurve {
        within_30d: c.within_30d,
        within_90d: c.within_90d,
        within_180d: c.within_180d,
        within_365d: c.within_365d,
        before_renewal: c.before_renewal,
        model_version: version.to_string(),
    }
}

fn run_out(r: &ScoreRunInfo) -> pb::ScoreRun {
    pb::ScoreRun {
        run_id: r.run_id,
        as_of: format_day(r.as_of),
        created_at: format_ts(r.created_at),
        models: Some(pb::ModelVersions {
            churn: r.churn_version.clone(),
            expansion: r.expansion_version.clone().unwrap_or_default(),
        }),
        trigger: r.trigger.clone(),
        accounts: r.n_accounts,
        warnings: Vec::new(),
    }
}

fn interaction_out(i: &InteractionView) -> pb::ProfileInteraction {
    pb::ProfileInteraction {
        id: i.id.clone(),
        channel: i.channel.to_string(),
        topic: i.topic.clone(),
        subject: i.subject.clone(),
        opened_at: format_ts(i.opened_at),
        resolved_at: i.resolved_at.map(format_ts).unwrap_or_default(),
        escalated: i.escalated,
        contact_id: i.contact_id.clone().unwrap_or_default(),
        sentiment: i.sentiment_label.map(|s| s.to_string()).unwrap_or_default(),
        sentiment_score: i.sentiment_score.unwrap_or(0.0),
    }
}

fn stored(explanation: &str) -> Result<AccountScore, AppError> {
    accounts::parse_stored(explanation)
}

/// The feature schema raw vectors are checked against (GetFeatureSchema).
pub fn feature_schema() -> pb::FeatureSchema {
    let features = Feature::ALL
        .iter()
        .map(|f| {
            let d = f.def();
            pb::SchemaFeature {
                name: d.name.to_string(),
                family: d.family.as_str().to_string(),
                unit: d.unit.to_string(),
                description: d.description.to_string(),
                min: d.range.min,
                max: d.range.max,
                may_be_unknown: d.missing.is_possible(),
            }
        })
        .collect();
    pb::FeatureSchema {
        features,
        fingerprint: raw::schema_fingerprint().to_string(),
    }
}

/// How much of an explanation a raw-feature score computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// Every feature's contribution (Explain).
    All,
    /// The top drivers (Score).
    Top,
    /// None (Score with `without_drivers`).
    None,
}

type ScoreStream = Pin<Box<dyn Stream<Item = Result<pb::ScoreBatchResponse, Status>> + Send>>;

impl ScoringSvc {
    fn top_k(&self, requested: u32) -> Result<usize, AppError> {
        accounts::top_k(&self.scoring, "top_drivers", requested)
    }

    async fn not_live(&self, id: &str, as_of: Day) -> AppError {
        accounts::not_live(&self.store, id, as_of).await
    }

    fn population<'a>(
        &self,
        serving: &'a Serving,
    ) -> Result<&'a Arc<pulse_scoring::ScoredPopulation>, AppError> {
        accounts::population(serving)
    }

    async fn score_account(
        &self,
        id: &str,
        as_of: Option<Day>,
        k: usize,
    ) -> Result<pb::ScoreResponse, AppError> {
        let a = accounts::score(&self.scoring, &self.store, &self.cpu, id, as_of, k).await?;
        Ok(answer_out(&a, k))
    }

    fn raw_subject(fv: &pb::FeatureVector) -> Result<(Vec<f64>, Option<&str>), AppError> {
        let feature_error = |e| match e {
            pulse_scoring::ScoringError::Feature { feature, reason } => {
                AppError::Invalid(FieldError::new(format!("features.{feature}"), reason))
            }
            other => AppError::FailedPrecondition(other.to_string()),
        };
        let row = if fv.ordered_values.is_empty() {
            raw::row_from_map(&fv.values).map_err(feature_error)?
        } else {
            if !fv.values.is_empty() {
                return Err(FieldError::new(
                    "features.values",
                    "give the values by name or as ordered_values, not both",
                )
                .into());
            }
            match raw::row_from_ordered(&fv.ordered_values, &fv.schema) {
                Ok(r) => r.map_err(feature_error)?,
                Err(raw::OrderedError::Schema(reason)) => {
                    return Err(if fv.schema.trim().is_empty() {
                        FieldError::new("features.schema", reason).into()
                    } else {
                        AppError::FailedPrecondition(format!("features.schema: {reason}"))
                    });
                }
                Err(raw::OrderedError::Length(reason)) => {
                    return Err(FieldError::new("features.ordered_values", reason).into());
                }
            }
        };
        if !(fv.arr.is_finite() && fv.arr >= 0.0) {
            return Err(FieldError::new(
                "features.arr",
                format!("{} is not a non-negative number", fv.arr),
            )
            .into());
        }
        let segment = match fv.segment.trim() {
            "" => None,
            s @ ("smb" | "mid_market" | "enterprise") => Some(s),
            other => {
                return Err(FieldError::new(
                    "features.segment",
                    format!("'{other}' is not one of smb, mid_market, enterprise"),
                )
                .into());
            }
        };
        Ok((row, segment))
    }

    async fn score_raw(
        &self,
        fv: &pb::FeatureVector,
        k: usize,
        detail: Detail,
    ) -> Result<(AccountScore, Vec<ExplainedDriver>), AppError> {
        let serving = self.scoring.require()?;
        let inline = serving.engine.explains_inline();
        let (row, segment) = Self::raw_subject(fv)?;
        let segment = segment.map(str::to_string);
        let account_id = fv.reference.clone();
        let (as_of, arr) = (self.scoring.clock().today(), fv.arr);
        let work = move || -> Result<(AccountScore, Vec<ExplainedDriver>), AppError> {
            let reference = serving.scored.as_ref().map(|s| &s.population.reference);
            let subject = Subject {
                account_id: &account_id,
                as_of,
                row: &row,
                arr,
                segment: segment.as_deref(),
            };
            Ok(match detail {
                Detail::All => serving.engine.explain(&subject, reference, k)?,
                Detail::Top => (serving.engine.score(&subject, reference, k)?, Vec::new()),
                Detail::None => (serving.engine.score_without_drivers(&subject)?, Vec::new()),
            })
        };
        match detail {
            // A prediction alone is microseconds, and so are one row's top
            // drivers under a model of bounded size: the hop to the pool
            // (two thread wake-ups) would cost more than the work.
            Detail::None => work(),
            Detail::Top if inline => work(),
            Detail::Top | Detail::All => self.cpu.run("scoring a feature vector", work).await?,
        }
    }
}

#[tonic::async_trait]
impl ScoringService for ScoringSvc {
    #[tracing::instrument(skip_all, fields(rpc = "Score"))]
    async fn score(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::ScoreResponse>, Status> {
        let r = request.into_inner();
        let (k, detail) = if r.without_drivers {
            if r.top_drivers != 0 {
                return Err(AppError::from(FieldError::new(
                    "top_drivers",
                    "cannot be combined with without_drivers",
                ))
                .into_status());
            }
            (0, Detail::None)
        } else {
            (self.top_k(r.top_drivers).or_status()?, Detail::Top)
        };
        let as_of = opt_day("as_of", &r.as_of).or_status()?;
        use pb::score_request::Subject as S;
        let out = match &r.subject {
            Some(S::AccountId(id)) => {
                let id = required_id("account_id", id).or_status()?;
                self.score_account(&id, as_of, k).await.or_status()?
            }
            Some(S::Features(fv)) => {
                if as_of.is_some() {
                    return Err(AppError::from(FieldError::new(
                        "as_of",
                        "applies to account ids only; raw features are scored as given",
                    ))
                    .into_status());
                }
                let (s, _) = self.score_raw(fv, k, detail).await.or_status()?;
                score_out(&s, k, pb::ScoreSource::Raw, 0)
            }
            None => {
                return Err(AppError::from(FieldError::new(
                    "subject",
                    "give an account_id or a features vector",
                ))
                .into_status());
            }
        };
        Ok(Response::new(out))
    }

    type ScoreBatchStream = ScoreStream;

    #[tracing::instrument(skip_all, fields(rpc = "ScoreBatch"))]
    async fn score_batch(
        &self,
        request: Request<pb::ScoreBatchRequest>,
    ) -> Result<Response<Self::ScoreBatchStream>, Status> {
        let r = request.into_inner();
        if r.account_ids.len() > MAX_SCORE_BATCH {
            return Err(AppError::TooLarge {
                what: "account_ids",
                got: r.account_ids.len(),
                limit: MAX_SCORE_BATCH,
            }
            .into_status());
        }
        let k = self.top_k(r.top_drivers).or_status()?;
        let chunk = match r.chunk_size as usize {
            0 => DEFAULT_CHUNK,
            c if c <= MAX_CHUNK => c,
            c => {
                return Err(AppError::from(FieldError::new(
                    "chunk_size",
                    format!("{c} is over the limit of {MAX_CHUNK}"),
                ))
                .into_status());
            }
        };
        let serving = self.scoring.require().or_status()?;
        let scored = self.population(&serving).or_status()?.clone();
        let engine = serving.engine.clone();
        let needs_pool = k > scored.top_k;
        let positions: Vec<Result<usize, String>> = if r.account_ids.is_empty() {
            (0..scored.scores.len()).map(Ok).collect()
        } else {
            r.account_ids
                .into_iter()
                .map(|id| scored.population.position(&id).ok_or(id))
                .collect()
        };
        let chunks: Vec<Vec<Result<usize, String>>> = {
            let mut v = Vec::new();
            let mut it = positions.into_iter().peekable();
            while it.peek().is_some() {
                v.push(it.by_ref().take(chunk).collect());
            }
            v
        };
        let chunk_of =
            move |c: Vec<Result<usize, String>>| -> Result<pb::ScoreBatchResponse, Status> {
                let mut out = pb::ScoreBatchResponse::default();
                for p in c {
                    match p {
                        Ok(i) if k <= scored.top_k => {
                            out.scores.push(live_out(&serving, &scored.scores[i], i, k))
                        }
                        Ok(i) => {
                            let s = engine
                                .score(
                                    &scored.population.subject(i),
                                    Some(&scored.population.reference),
                                    k,
                                )
                                .map_err(status)?;
                            out.scores.push(live_out(&serving, &s, i, k));
                        }
                        Err(id) => out.not_found.push(id),
                    }
                }
                Ok(out)
            };
        if !needs_pool {
            // Stored drivers only: copying them out is cheap.
            let stream = futures::stream::iter(chunks.into_iter().map(chunk_of));
            return Ok(Response::new(Box::pin(stream)));
        }
        // Drivers computed on demand: each chunk on the CPU pool, in order.
        let (cpu, chunk_of) = (self.cpu.clone(), Arc::new(chunk_of));
        let stream = futures::stream::iter(chunks).then(move |c| {
            let (cpu, chunk_of) = (cpu.clone(), chunk_of.clone());
            async move {
                cpu.run("scoring a batch with drivers", move || chunk_of(c))
                    .await
                    .map_err(status)?
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "Explain"))]
    async fn explain(
        &self,
        request: Request<pb::ScoreRequest>,
    ) -> Result<Response<pb::Explanation>, Status> {
        let r = request.into_inner();
        if r.without_drivers {
            return Err(AppError::from(FieldError::new(
                "without_drivers",
                "Explain always explains; use Score for a score without drivers",
            ))
            .into_status());
        }
        let k = self.top_k(r.top_drivers).or_status()?;
        if !r.as_of.trim().is_empty() {
            return Err(AppError::from(FieldError::new(
                "as_of",
                "Explain explains live scores; a past score and its stored drivers come from Score with as_of",
            ))
            .into_status());
        }
        use pb::score_request::Subject as S;
        let (score, all, source) = match &r.subject {
            Some(S::AccountId(id)) => {
                let id = required_id("account_id", id).or_status()?;
                let serving = self.scoring.require().or_status()?;
                let scored = self.population(&serving).or_status()?;
                let Some(i) = scored.population.position(&id) else {
                    return Err(self
                        .not_live(&id, scored.population.as_of)
                        .await
                        .into_status());
                };
                let (engine, population) = (serving.engine.clone(), scored.clone());
                let (s, all) = self
                    .cpu
                    .run("explaining", move || {
                        engine.explain(
                            &population.population.subject(i),
                            Some(&population.population.reference),
                            k,
                        )
                    })
                    .await
                    .or_status()?
                    .or_status()?;
                (s, all, pb::ScoreSource::Live)
            }
            Some(S::Features(fv)) => {
                let (s, all) = self.score_raw(fv, k, Detail::All).await.or_status()?;
                (s, all, pb::ScoreSource::Raw)
            }
            None => {
                return Err(AppError::from(FieldError::new(
                    "subject",
                    "give an account_id or a features vector",
                ))
                .into_status());
            }
        };
        Ok(Response::new(pb::Explanation {
            base_value: score.base_value,
            margin: score.margin,
            contributions: all.iter().map(driver_out).collect(),
            score: Some(score_out(&score, k, source, 0)),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetAccountProfile"))]
    async fn get_account_profile(
        &self,
        request: Request<pb::GetAccountProfileRequest>,
    ) -> Result<Response<pb::AccountProfile>, Status> {
        let r = request.into_inner();
        let p = accounts::profile(&self.scoring, &self.store, &r.account_id, r.interactions)
            .await
            .or_status()?;
        let k = self.scoring.settings().config.top_drivers;
        let personas = p
            .people
            .into_iter()
            .map(|r| {
                let (c, l) = (r.contact, r.latest_interaction);
                pb::PersonaContact {
                    latest_interaction_sentiment: l
                        .as_ref()
                        .map(|i| i.label.to_string())
                        .unwrap_or_default(),
                    latest_interaction_score: l.as_ref().map_or(0.0, |i| i.score),
                    latest_interaction_at: l
                        .as_ref()
                        .map(|i| format_ts(i.opened_at))
                        .unwrap_or_default(),
                    contact_id: c.id,
                    name: c.name,
                    persona: c.persona.to_string(),
                    relationship_strength: u32::try_from(c.relationship_strength).unwrap_or(0),
                    sentiment: c.sentiment.to_string(),
                    active: c.active,
                }
            })
            .collect();
        let account = p.account;
        Ok(Response::new(pb::AccountProfile {
            account_id: account.id.clone(),
            name: account.name.clone(),
            segment: account.segment.to_string(),
            owner: account.owner.clone(),
            plan: account.plan.clone(),
            arr: p.arr,
            renewal_date: account.renewal_date.map(format_day).unwrap_or_default(),
            days_to_renewal: p.days_to_renewal.unwrap_or(0),
            score: p.score.as_ref().map(|a| answer_out(a, k)),
            trend: p
                .trend
                .iter()
                .map(|t| pb::TrendPoint {
                    as_of: format_day(t.run.as_of),
                    health: t.stored.health,
                    band: t.stored.band.clone(),
                    churn_probability: t.stored.churn_probability,
                })
                .collect(),
            recent_interactions: p.recent_interactions.iter().map(interaction_out).collect(),
            open_issues: p.open_issues.iter().map(interaction_out).collect(),
            personas,
            change_summary: p.change_summary,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RunScoring"))]
    async fn run_scoring(
        &self,
        request: Request<pb::RunScoringRequest>,
    ) -> Result<Response<pb::ScoreRun>, Status> {
        let as_of = opt_day("as_of", &request.into_inner().as_of).or_status()?;
        let run = self
            .scoring
            .run_and_store(as_of, "manual")
            .await
            .or_status()?;
        Ok(Response::new(pb::ScoreRun {
            warnings: run.warnings,
            ..run_out(&run.info)
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListScoreRuns"))]
    async fn list_score_runs(
        &self,
        request: Request<pb::ListScoreRunsRequest>,
    ) -> Result<Response<pb::ListScoreRunsResponse>, Status> {
        let limit = match request.into_inner().limit {
            0 => 20,
            l @ 1..=1000 => l,
            l => {
                return Err(AppError::from(FieldError::new(
                    "limit",
                    format!("{l} is over the limit of 1000"),
                ))
                .into_status());
            }
        };
        let runs = self.store.score_runs(limit).await.or_status()?;
        Ok(Response::new(pb::ListScoreRunsResponse {
            runs: runs.iter().map(run_out).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetFeatureSchema"))]
    async fn get_feature_schema(
        &self,
        _request: Request<pb::GetFeatureSchemaRequest>,
    ) -> Result<Response<pb::FeatureSchema>, Status> {
        Ok(Response::new(feature_schema()))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetScoreChange"))]
    async fn get_score_change(
        &self,
        request: Request<pb::GetScoreChangeRequest>,
    ) -> Result<Response<pb::ScoreChange>, Status> {
        let r = request.into_inner();
        let id = required_id("account_id", &r.account_id).or_status()?;
        let to = opt_day("to", &r.to)
            .or_status()?
            .unwrap_or_else(|| self.scoring.clock().today());
        let from = opt_day("from", &r.from).or_status()?.unwrap_or(to - 7);
        if from >= to {
            return Err(AppError::from(FieldError::new(
                "from",
                format!("{} is not before to ({})", format_day(from), format_day(to)),
            ))
            .into_status());
        }
        let missing = |day: Day| AppError::NotFound {
            what: "stored score of account",
            id: format!("{id}' on or before '{}", format_day(day)),
        };
        let (run_b, b) = self
            .store
            .score_as_of(&id, to)
            .await
            .or_status()?
            .ok_or_else(|| missing(to))
            .or_status()?;
        let (run_a, a) = self
            .store
            .score_as_of(&id, from)
            .await
            .or_status()?
            .ok_or_else(|| missing(from))
            .or_status()?;
        let (a, b) = (
            stored(&a.explanation).or_status()?,
            stored(&b.explanation).or_status()?,
        );
        let c = attribute_change(&a, &b, &format_day(run_a.as_of));
        Ok(Response::new(pb::ScoreChange {
            account_id: id,
            from: format_day(run_a.as_of),
            to: format_day(run_b.as_of),
            health_from: c.health_from,
            health_to: c.health_to,
            points: c.points,
            families: c
                .families
                .iter()
                .map(|f| pb::FamilyChange {
                    family: f.family.clone(),
                    points: f.points,
                })
                .collect(),
            summary: c.summary,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drivers_carry_nan_for_unknown_values() {
        let d = ExplainedDriver {
            feature: "nps_latest".into(),
            family: "surveys".into(),
            cause: pulse_features::Cause::DataGap,
            value: None,
            comparison: None,
            contribution: 0.1,
            sentence: "no NPS answer".into(),
            play: None,
        };
        let p = driver_out(&d);
        assert!(p.value.is_nan());
        assert_eq!(p.play, "");
        assert_eq!(p.cause, "data_gap");
    }
}
