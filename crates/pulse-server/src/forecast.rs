//! `ForecastService`: the application's forecasts ([`pulse_app::forecast`])
//! and the time-to-churn model's quality, as protobuf.

use std::sync::Arc;

use crate::error::{IntoStatus, OrStatus};
use pulse_app::forecast::{ForecastQuery, ForecastResult, run};
use pulse_app::{AppError, ModelRegistry};
use pulse_core::time::format_day;
use pulse_forecast::MonteCarlo;
use pulse_proto::v1 as pb;
use pulse_proto::v1::forecast_service_server::ForecastService;
use pulse_store::Store;
use tonic::{Request, Response, Status};

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
pub(crate) fn response_out(r: &ForecastResult) -> pb::ForecastResponse {
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
        warnings: r.warnings.clone(),
    }
}

/// `ForecastService`.
#[derive(Debug)]
pub(crate) struct ForecastSvc {
    pub(crate) analytics: crate::analytics::Analytics,
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
        let key = self.analytics.key(
            "forecast",
            &format!("{}|{}|{}", r.horizon_days, r.as_of, r.group_by),
        );
        if let Some(hit) = self.analytics.forecasts.get(&key) {
            return Ok(Response::new(hit));
        }
        let _slot = self.analytics.pool.slot("a forecast").await.or_status()?;
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
        .await
        .or_status()?;
        let response = response_out(&out);
        self.analytics.forecasts.put(key, response.clone());
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetForecastQuality"))]
    async fn get_forecast_quality(
        &self,
        _request: Request<pb::GetForecastQualityRequest>,
    ) -> Result<Response<pb::ForecastQuality>, Status> {
        let registry = self.registry.clone();
        let survival = tokio::task::spawn_blocking(move || registry.latest_survival())
            .await
            .map_err(|e| AppError::FailedPrecondition(format!("reading the survival model: {e}")))
            .or_status()?
            .or_status()?;
        let Some(model) = survival else {
            return Err(AppError::FailedPrecondition(
                "no time-to-churn model: `pulse train` trains one with the churn model".into(),
            )
            .into_status());
        };
        Ok(Response::new(quality_out(&model.card)))
    }
}

/// The quality figures of a time-to-churn model's card.
pub(crate) fn quality_out(card: &pulse_forecast::SurvivalCard) -> pb::ForecastQuality {
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
