//! Time to churn and leadership forecasts.
//!
//! ```text
//! fit_survival(&histories, data_end, &SurvivalConfig, created_at)?  -> SurvivalModel (+ card with
//!                                                                    held-out calibration per horizon)
//! model.curves(x)? / model.churn_within(x, days)?                    P(churn within 30/90/180/365 d, or d days)
//! actuals(&histories, from, to, GroupBy)                             what happened last period
//! forecast(&[AccountOutlook], as_of, horizon, GroupBy, ..)?          expected figures with 80% / 95% intervals
//! poisson_binomial(&ps)                                              exact count distribution
//! backtest(&histories, start, end, &BacktestConfig, progress)?       past quarters: forecast vs actual
//! ```
//!
//! Architecture Invariant: no I/O, no async, no clock reads (timestamps
//! and seeds come from the caller), no printing; never depends on tokio,
//! sqlx, tonic, prost or clap. Models are fitted with `pulse-models`'
//! GBT; features come from `pulse-features`, so the hazard model reads
//! nothing after its as-of day.

mod backtest;
mod dist;
mod error;
mod forecast;
mod survival;

#[cfg(test)]
mod tests;

pub use backtest::{
    Backtest, BacktestConfig, BacktestRow, FIGURES, backtest, forecast_at, quarter_starts,
};
pub use dist::{
    Interval, MonteCarlo, pmf_interval, pmf_quantile, poisson_binomial, sample_interval,
};
pub use error::ForecastError;
pub use forecast::{
    AccountOutlook, Actuals, Assumptions, Estimate, Forecast, GroupBy, GroupForecast, actuals,
    check_horizon, expansion_over, forecast,
};
pub use survival::{
    ChurnCurve, HORIZONS, HorizonCalibration, INTERVAL_COLUMN, MAX_HORIZON_DAYS, PersonPeriods,
    SurvivalCard, SurvivalConfig, SurvivalModel, churn_within, days_to_churn, fit_hazard_only,
    fit_survival, hazard_feature_names, person_periods,
};
