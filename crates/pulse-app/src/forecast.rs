//! Forecasts from the store and the models in the registry: the current
//! customers' features as of a day, their churn probability over the
//! horizon from the newest time-to-churn model, their expansion probability
//! from the promoted expansion model, last period's actuals from the
//! subscription events, then `pulse_forecast::forecast`. every front end
//! (`ForecastService`, `pulse forecast`, the report) calls [`run`].

use std::sync::Arc;

use pulse_core::FieldError;
use pulse_core::time::{Day, format_day, parse_day};
use pulse_features::{AccountHistory, Excluded};
use pulse_forecast::{
    AccountOutlook, Assumptions, Forecast, ForecastError, GroupBy, MonteCarlo, actuals,
    check_horizon, expansion_over,
};
use pulse_models::ModelKind;
use pulse_scoring::Population;
use pulse_store::Store;

use crate::error::AppError;
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
    /// Accounts left out because a stored value is out of bounds.
    pub warnings: Vec<String>,
}

/// Maps a forecast error onto the server's errors (a bad field is
/// INVALID_ARGUMENT naming it).
pub fn forecast_error(e: ForecastError) -> AppError {
    match e {
        ForecastError::Invalid { field, reason } => {
            AppError::Invalid(FieldError::new(field, reason))
        }
        other => AppError::FailedPrecondition(other.to_string()),
    }
}

/// Parses and checks the request fields; errors name the field.
pub fn parse_query(q: &ForecastQuery, today: Day) -> Result<(i32, Day, GroupBy), AppError> {
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
) -> Result<ForecastResult, AppError> {
    let (horizon, as_of, group_by) = parse_query(q, today)?;
    let (histories, excluded) =
        crate::serving::load_usable_histories(store, Some(pulse_features::end_of_day(as_of)))
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
    .map_err(|e| AppError::internal("forecast task", e))?
    .map(|mut r| {
        r.warnings = excluded.iter().map(Excluded::warning).collect();
        r
    })
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
) -> Result<ForecastResult, AppError> {
    Outlook::build(histories, registry, threads, as_of)?.forecast(
        histories,
        expansion_horizon_days,
        (horizon, group_by),
        mc,
    )
}

/// What every horizon's forecast as of one day shares: the customers and
/// their features, each one's per-interval hazards from the time-to-churn
/// model, and its expansion probability. Built once, it answers any number
/// of horizons (the report asks for six) without rebuilding features or
/// re-running a model.
pub struct Outlook {
    as_of: Day,
    population: Population,
    /// Per-interval hazards from the newest time-to-churn model, row-major
    /// (`intervals` per account).
    hazards: Vec<f64>,
    intervals: usize,
    interval_days: i32,
    /// The promoted expansion model's probability over its own horizon.
    p_expand: Vec<f64>,
    churn_model: String,
    expansion_model: Option<String>,
    survival_model: String,
}

impl Outlook {
    /// The customers at the end of `as_of` and their model outputs;
    /// blocking.
    pub fn build(
        histories: &[AccountHistory],
        registry: &dyn ModelRegistry,
        threads: usize,
        as_of: Day,
    ) -> Result<Outlook, AppError> {
        let at = pulse_features::end_of_day(as_of);
        let Some(churn) = registry.promoted(ModelKind::Churn)? else {
            return Err(AppError::NoModel {
                kind: "churn",
                hint: crate::serving::TRAIN_HINT,
            });
        };
        let Some(survival) = registry.latest_survival()? else {
            return Err(AppError::FailedPrecondition(
                "no time-to-churn model: `pulse train` trains one with the churn model".into(),
            ));
        };
        let expansion = match registry.promoted(ModelKind::Expansion)? {
            Some(v) => Some((v.clone(), registry.get(&v)?)),
            None => None,
        };
        let population = Population::build(histories, at, threads);
        if population.is_empty() {
            return Err(AppError::FailedPrecondition(format!(
                "no account was a customer at the end of {}",
                format_day(as_of)
            )));
        }
        let rows = population.rows.view();
        let hz = survival.hazards(rows).map_err(forecast_error)?;
        let intervals = hz.ncols().max(1);
        // Standard (row-major) layout, as `hazards` builds it: the vector
        // is taken as is, without a copy.
        let hazards: Vec<f64> = if hz.is_standard_layout() {
            hz.into_raw_vec_and_offset().0
        } else {
            hz.iter().copied().collect()
        };
        let p_expand: Vec<f64> = match &expansion {
            Some((_, a)) => a
                .payload
                .model
                .predict_proba(rows)
                .map_err(|e| AppError::FailedPrecondition(format!("expansion model: {e}")))?
                .to_vec(),
            None => vec![0.0; population.len()],
        };
        Ok(Outlook {
            as_of,
            population,
            hazards,
            intervals,
            interval_days: survival.card.interval_days,
            p_expand,
            churn_model: churn,
            expansion_model: expansion.map(|(v, _)| v),
            survival_model: survival.card.version.clone(),
        })
    }

    /// The forecast over `horizon` days, grouped by `group_by`;
    /// `histories` give last period's actuals and must be those the
    /// outlook was built from.
    pub fn forecast(
        &self,
        histories: &[AccountHistory],
        expansion_horizon_days: i32,
        (horizon, group_by): (i32, GroupBy),
        mc: MonteCarlo,
    ) -> Result<ForecastResult, AppError> {
        check_horizon(horizon).map_err(forecast_error)?;
        let as_of = self.as_of;
        let outlooks: Vec<AccountOutlook> = self
            .population
            .accounts
            .iter()
            .zip(self.hazards.chunks(self.intervals).zip(&self.p_expand))
            .map(|(a, (h, &pe))| {
                let pc = pulse_forecast::churn_within(h, self.interval_days, horizon);
                AccountOutlook {
                    id: a.id.clone(),
                    segment: a.segment.clone(),
                    owner: a.owner.clone(),
                    plan: a.plan.clone(),
                    arr: a.arr,
                    p_churn: pc,
                    p_expand: expansion_over(pe, expansion_horizon_days, horizon, pc),
                }
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
            self.survival_model,
            format_day(as_of),
            match &self.expansion_model {
                Some(v) => format!(
                    "model {v}'s {expansion_horizon_days}-day probability at a constant rate over {horizon} days"
                ),
                None => "no promoted expansion model, so none is forecast".into(),
            }
        ));
        Ok(ForecastResult {
            forecast,
            churn_model: self.churn_model.clone(),
            expansion_model: self.expansion_model.clone(),
            survival_model: self.survival_model.clone(),
            warnings: Vec::new(),
        })
    }
}
