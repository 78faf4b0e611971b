//! Forecasts from the store and the models in the registry: the current
//! customers' features as of a day, their churn probability over the
//! horizon from the newest time-to-churn model, their expansion probability
//! from the promoted expansion model, last period's actuals from the
//! subscription events, then `pulse_forecast::forecast`. `ForecastService`
//! and `pulse forecast` both call [`run`].

use std::sync::Arc;

use pulse_core::FieldError;
use pulse_core::time::{Day, format_day, parse_day};
use pulse_features::AccountHistory;
use pulse_forecast::{
    AccountOutlook, Assumptions, Forecast, ForecastError, GroupBy, MonteCarlo, actuals,
    check_horizon, expansion_over,
};
use pulse_models::ModelKind;
use pulse_proto::v1 as pb;
use pulse_proto::v1::forecast_service_server::ForecastService;
use pulse_scoring::Population;
use pulse_store::Store;
use tonic::{Request, Response, Status};

use crate::error::ServerError;
use crate::registry::ModelRegistry;

/// The default horizon: a quarter.
pub const DEFAULT_HORIZON_DAYS: i32 = 91;

/// A forecast request in core terms.
#[derive(Debug, Clone)]
pub struct ForecastQuery {
    /// Days ahead; 0 means [`DEFAULT_HORIZON_DAYS`].
    pub horizon_days: i32,
    /// `YYYY-MM-DD`; empty means today.
    pub as_of: String,
    /// `total`, `segment`, `owner` or `plan`; empty means total.
    pub group_by: String,
    pub monte_carlo: MonteCarlo,
}

/// A forecast with the model versions behind it.
#[derive(Debug, Clone)]
pub struct ForecastResult {
    pub forecast: Forecast,
    pub churn_model: String,
    pub expansion_model: Option<String>,
    pub survival_model: String,
}

/// Maps a forecast error onto the server's errors (a bad field is
/// INVALID_ARGUMENT naming it).
pub fn forecast_error(e: ForecastError) -> ServerError {
    match e {
        ForecastError::Invalid { field, reason } => {
            ServerError::Invalid(FieldError::new(field, reason))
        }
        other => ServerError::FailedPrecondition(other.to_string()),
    }
}

/// Parses and checks the request fields; errors name the field.
pub fn parse_query(q: &ForecastQuery, today: Day) -> Result<(i32, Day, GroupBy), ServerError> {
    let horizon = if q.horizon_days == 0 {
        DEFAULT_HORIZON_DAYS
    } else {
        q.horizon_days
    };
    check_horizon(horizon).map_err(forecast_error)?;
    let as_of = if q.as_of.trim().is_empty() {
        today
    } else {
        parse_day("as_of", q.as_of.trim())?
    };
    if as_of > today {
        return Err(FieldError::new(
            "as_of",
            format!(
                "{} is in the future; a forecast starts from what is known",
                format_day(as_of)
            ),
        )
        .into());
    }
    let group_by = GroupBy::parse(&q.group_by).map_err(forecast_error)?;
    Ok((horizon, as_of, group_by))
}

/// Runs a forecast: store reads, then [`compute`] on the blocking pool.
pub async fn run(
    store: &Store,
    registry: Arc<dyn ModelRegistry>,
    expansion_horizon_days: i32,
    threads: usize,
    q: &ForecastQuery,
    today: Day,
) -> Result<ForecastResult, ServerError> {
    let (horizon, as_of, group_by) = parse_query(q, today)?;
    let histories = store
        .load_histories(Some(pulse_features::end_of_day(as_of)))
        .await?;
    let mc = q.monte_carlo;
    tokio::task::spawn_blocking(move || {
        compute(
            &histories,
            registry.as_ref(),
            expansion_horizon_days,
            threads,
            (horizon, as_of, group_by),
            mc,
        )
    })
    .await
    .map_err(|e| ServerError::FailedPrecondition(format!("forecast task failed: {e}")))?
}

/// The forecast over `histories` (which must hold nothing after the end of
/// `as_of`); blocking.
pub fn compute(
    histories: &[AccountHistory],
    registry: &dyn ModelRegistry,
    expansion_horizon_days: i32,
    threads: usize,
    (horizon, as_of, group_by): (i32, Day, GroupBy),
    mc: MonteCarlo,
) -> Result<ForecastResult, ServerError> {
    let at = pulse_features::end_of_day(as_of);
    let Some(churn) = registry.promoted(ModelKind::Churn)? else {
        return Err(ServerError::NoModel {
            kind: "churn",
            hint: crate::serving::TRAIN_HINT,
        });
    };
    let Some(survival) = registry.latest_survival()? else {
        return Err(ServerError::FailedPrecondition(
            "no time-to-churn model: `pulse train` trains one with the churn model".into(),
        ));
    };
    let expansion = match registry.promoted(ModelKind::Expansion)? {
        Some(v) => Some((v.clone(), registry.get(&v)?)),
        None => None,
    };
    let population = Population::build(histories, at, threads);
    if population.is_empty() {
        return Err(ServerError::FailedPrecondition(format!(
            "no account was a customer at the end of {}",
            format_day(as_of)
        )));
    }
    let rows = population.rows.view();
    let p_churn = survival
        .churn_within(rows, horizon)
        .map_err(forecast_error)?;
    let p_exp: Vec<f64> = match &expansion {
        Some((_, a)) => a
            .payload
            .model
            .predict_proba(rows)
            .map_err(|e| ServerError::FailedPrecondition(format!("expansion model: {e}")))?
            .to_vec(),
        None => vec![0.0; population.len()],
    };
    let outlooks: Vec<AccountOutlook> = population
        .accounts
        .iter()
        .zip(p_churn.iter().zip(&p_exp))
        .map(|(a, (&pc, &pe))| AccountOutlook {
            id: a.id.clone(),
            segment: a.segment.clone(),
            owner: a.owner.clone(),
            plan: a.plan.clone(),
            arr: a.arr,
            p_churn: pc,
            p_expand: expansion_over(pe, expansion_horizon_days, horizon, pc),
        })
        .collect();
    let last = actuals(histories, as_of - horizon, as_of, group_by);
    let assumptions = last
        .iter()
        .find(|a| a.group == "total")
        .map(Assumptions::from_actuals)
        .unwrap_or_default();
    let mut forecast =
        pulse_forecast::forecast(&outlooks, as_of, horizon, group_by, assumptions, mc, &last)
            .map_err(forecast_error)?;
    forecast.methods.push(format!(
        "churn probability over {horizon} days: time-to-churn model {} (features as of the end of {}); expansion: {}",
        survival.card.version,
        format_day(as_of),
        match &expansion {
            Some((v, _)) => format!(
                "model {v}'s {expansion_horizon_days}-day probability at a constant rate over {horizon} days"
            ),
            None => "no promoted expansion model, so none is forecast".into(),
        }
    ));
    Ok(ForecastResult {
        forecast,
        churn_model: churn,
        expansion_model: expansion.map(|(v, _)| v),
        survival_model: survival.card.version.clone(),
    })
}

fn interval_out(i: pulse_forecast::Interval) -> pb::Interval {
    pb::Interval { lo: i.lo, hi: i.hi }
}

fn estimate_out(e: &pulse_forecast::Estimate) -> pb::Estimate {
    pb::Estimate {
        expected: e.expected,
        interval_80: Some(interval_out(e.i80)),
        interval_95: Some(interval_out(e.i95)),
    }
}

fn group_out(g: &pulse_forecast::GroupForecast) -> pb::GroupForecast {
    pb::GroupForecast {
        group: g.group.clone(),
        accounts: g.accounts as u32,
        current_arr: g.current_arr,
        churned_accounts: Some(estimate_out(&g.churned_accounts)),
        churned_arr: Some(estimate_out(&g.churned_arr)),
        expansion_arr: Some(estimate_out(&g.expansion_arr)),
        contraction_arr: g.contraction_arr,
        gross_revenue_retention: Some(estimate_out(&g.grr)),
        net_revenue_retention: Some(estimate_out(&g.nrr)),
        last_period: g.last_period.as_ref().map(|a| pb::PeriodActuals {
            from: format_day(a.from),
            to: format_day(a.to),
            accounts: a.accounts as u32,
            start_arr: a.start_arr,
            churned_accounts: a.churned_accounts as u32,
            churned_arr: a.churned_arr,
            expansion_arr: a.expansion_arr,
            contraction_arr: a.contraction_arr,
            gross_revenue_retention: a.grr,
            net_revenue_retention: a.nrr,
        }),
    }
}

/// The response message of a forecast.
pub fn response_out(r: &ForecastResult) -> pb::ForecastResponse {
    let f = &r.forecast;
    pb::ForecastResponse {
        as_of: format_day(f.as_of),
        horizon_days: f.horizon_days,
        group_by: f.group_by.as_str().to_string(),
        total: Some(group_out(&f.total)),
        groups: f.groups.iter().map(group_out).collect(),
        methods: f.methods.clone(),
        monte_carlo_draws: f.monte_carlo.draws as u32,
        monte_carlo_seed: f.monte_carlo.seed,
        expansion_uplift: f.assumptions.expansion_uplift,
        contraction_rate: f.assumptions.contraction_rate,
        churn_model: r.churn_model.clone(),
        expansion_model: r.expansion_model.clone().unwrap_or_default(),
        survival_model: r.survival_model.clone(),
    }
}

/// `ForecastService`.
#[derive(Debug)]
pub(crate) struct ForecastSvc {
    pub(crate) store: Store,
    pub(crate) registry: Arc<dyn ModelRegistry>,
    pub(crate) expansion_horizon_days: i32,
    pub(crate) threads: usize,
    pub(crate) clock: pulse_core::Clock,
}

#[tonic::async_trait]
impl ForecastService for ForecastSvc {
    #[tracing::instrument(skip_all, fields(rpc = "Forecast"))]
    async fn forecast(
        &self,
        request: Request<pb::ForecastRequest>,
    ) -> Result<Response<pb::ForecastResponse>, Status> {
        let r = request.into_inner();
        let q = ForecastQuery {
            horizon_days: r.horizon_days,
            as_of: r.as_of,
            group_by: r.group_by,
            monte_carlo: MonteCarlo::default(),
        };
        let out = run(
            &self.store,
            self.registry.clone(),
            self.expansion_horizon_days,
            self.threads,
            &q,
            self.clock.today(),
        )
        .await?;
        Ok(Response::new(response_out(&out)))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetForecastQuality"))]
    async fn get_forecast_quality(
        &self,
        _request: Request<pb::GetForecastQualityRequest>,
    ) -> Result<Response<pb::ForecastQuality>, Status> {
        let registry = self.registry.clone();
        let survival = tokio::task::spawn_blocking(move || registry.latest_survival())
            .await
            .map_err(|e| {
                ServerError::FailedPrecondition(format!("reading the survival model: {e}"))
            })?
            .map_err(ServerError::from)?;
        let Some(model) = survival else {
            return Err(ServerError::FailedPrecondition(
                "no time-to-churn model: `pulse train` trains one with the churn model".into(),
            )
            .into());
        };
        Ok(Response::new(quality_out(&model.card)))
    }
}

/// The quality figures of a time-to-churn model's card.
pub fn quality_out(card: &pulse_forecast::SurvivalCard) -> pb::ForecastQuality {
    pb::ForecastQuality {
        survival_model: card.version.clone(),
        calibration: card
            .calibration
            .iter()
            .map(|c| pb::HorizonCalibration {
                horizon_days: c.horizon_days,
                test_from: c.test_from.clone(),
                test_to: c.test_to.clone(),
                test_rows: u32::try_from(c.test_rows).unwrap_or(u32::MAX),
                mean_predicted: c.mean_predicted,
                observed_rate: c.observed_rate,
                brier: c.brier,
                ece: c.ece,
                roc_auc: c.roc_auc,
            })
            .collect(),
        backtest: card
            .forecast_backtest
            .iter()
            .map(|r| pb::BacktestRow {
                quarter: r.quarter.clone(),
                figure: r.figure.clone(),
                expected: r.expected,
                interval_80: Some(interval_out(r.i80)),
                interval_95: Some(interval_out(r.i95)),
                actual: r.actual,
            })
            .collect(),
        notes: card.notes.clone(),
    }
}
