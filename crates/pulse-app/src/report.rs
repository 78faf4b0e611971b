//! The leadership report: gathers the quarter's forecast (per segment and
//! at several horizons), past periods' actuals, the health bands of the
//! stored weekly runs, quadrants and risk drivers of the latest run, the
//! support KPIs, the models' calibration and backtest, and the lists'
//! outreach results, expansion pipeline and at-risk accounts; then
//! `pulse_report::render`. Every front end (`ReportService`, `pulse report`) calls [`build`].

use std::collections::HashMap;
use std::sync::Arc;

use pulse_core::FieldError;
use pulse_core::time::{Day, format_day, parse_day};
use pulse_forecast::{GroupBy, MonteCarlo, actuals};
use pulse_lists::ListConfig;
use pulse_report::{ReportData, ScoreFact, band_week, kpis, quadrant_counts, top_drivers};
use pulse_store::Store;

use crate::error::AppError;
use crate::forecast::Outlook;
use crate::registry::ModelRegistry;

/// A rendered report.
#[derive(Debug, Clone)]
pub struct Report {
    pub period: String,
    pub as_of: Day,
    pub horizon_days: i32,
    pub html: String,
    /// The data behind it (for tests and other renderings).
    pub data: ReportData,
    /// Accounts left out because a stored value is out of bounds.
    pub warnings: Vec<String>,
}

/// `YYYY-Qn` -> (first day, last day). Empty: the quarter after `today`'s.
pub fn parse_period(s: &str, today: Day) -> Result<(String, Day, Day), AppError> {
    let bad = |why: &str| AppError::Invalid(FieldError::new("period", why));
    let label = if s.trim().is_empty() {
        let t = format_day(today);
        let (y, m): (i32, u32) = (t[..4].parse().unwrap_or(1970), t[5..7].parse().unwrap_or(1));
        let q = (m - 1) / 3 + 1;
        if q == 4 {
            format!("{}-Q1", y + 1)
        } else {
            format!("{y}-Q{}", q + 1)
        }
    } else {
        s.trim().to_ascii_uppercase()
    };
    let Some((y, q)) = label.split_once("-Q") else {
        return Err(bad(&format!("'{s}' is not a quarter like 2026-Q4")));
    };
    let y: i32 = y
        .parse()
        .ok()
        .filter(|y| (1970..=9999).contains(y))
        .ok_or_else(|| bad(&format!("'{s}' has no valid year")))?;
    let q: u32 = q
        .parse()
        .ok()
        .filter(|q| (1..=4).contains(q))
        .ok_or_else(|| bad(&format!("'{s}': the quarter must be Q1 to Q4")))?;
    let start = parse_day("period", &format!("{y}-{:02}-01", (q - 1) * 3 + 1))?;
    // The last day within the quarter's own year: 9999-Q4 ends on
    // 9999-12-31, with no need of a day in year 10000.
    let end = if q == 4 {
        parse_day("period", &format!("{y}-12-31"))?
    } else {
        parse_day("period", &format!("{y}-{:02}-01", q * 3 + 1))? - 1
    };
    Ok((format!("{y}-Q{q}"), start, end))
}

/// Builds the report of `period` (see [`parse_period`]).
#[allow(clippy::too_many_arguments)]
pub async fn build(
    store: &Store,
    registry: Arc<dyn ModelRegistry>,
    lists_cfg: &ListConfig,
    expansion_horizon_days: i32,
    threads: usize,
    period: &str,
    clock: &pulse_core::Clock,
) -> Result<Report, AppError> {
    let today = clock.today();
    let (label, start, end) = parse_period(period, today)?;
    let as_of = today.min(start - 1);
    let horizon = end - as_of;
    if !(1..=pulse_forecast::MAX_HORIZON_DAYS).contains(&horizon) {
        return Err(FieldError::new(
            "period",
            format!(
                "{label} ends {horizon} days after {}; at most {} days ahead",
                format_day(as_of),
                pulse_forecast::MAX_HORIZON_DAYS
            ),
        )
        .into());
    }
    let (histories, excluded) =
        crate::serving::load_usable_histories(store, Some(pulse_features::end_of_day(as_of)))
            .await?;
    let segment_of: HashMap<String, String> = histories
        .iter()
        .map(|h| (h.account.id.clone(), h.account.segment.to_string()))
        .collect();
    let hs = histories;
    let reg = registry.clone();
    let out = tokio::task::spawn_blocking(move || -> Result<_, AppError> {
        let mc = MonteCarlo::default();
        // Features and model outputs as of the day before the period, once
        // for the six forecasts below.
        let outlook = Outlook::build(&hs, reg.as_ref(), threads, as_of)?;
        let main =
            outlook.forecast(&hs, expansion_horizon_days, (horizon, GroupBy::Segment), mc)?;
        let mut by_h = Vec::new();
        for h in [30, 91, 182, 273, 365] {
            let f = outlook.forecast(&hs, expansion_horizon_days, (h, GroupBy::Total), mc)?;
            by_h.push((h, f.forecast));
        }
        let start = pulse_training::data_span(&hs).map_or(as_of, |s| s.0);
        let mut past = Vec::new();
        for k in (1..=4).rev() {
            let from = as_of - k * horizon;
            if from - 120 < start {
                continue;
            }
            if let Some(a) = actuals(&hs, from, from + horizon, GroupBy::Total)
                .into_iter()
                .next()
            {
                past.push(a);
            }
        }
        let kp = kpis(&hs, as_of - 365, as_of);
        let churn_card = reg.get(&main.churn_model)?.card;
        let survival = reg.latest_survival()?;
        Ok((main, by_h, past, kp, churn_card, survival))
    })
    .await
    .map_err(|e| AppError::internal("report task", e))??;
    let (main, by_h, past, kp, churn_card, survival) = out;
    // The histories (most of the report's memory) are dropped with the task
    // above, before the stored runs and lists are read.
    // Stored runs up to as_of: the last 13 weeks for the band trend, the
    // latest for quadrants and drivers.
    let mut runs: Vec<_> = store
        .score_runs(200)
        .await?
        .into_iter()
        .filter(|r| r.as_of <= as_of && r.as_of > as_of - 7 * 13)
        .collect();
    runs.sort_by_key(|r| (r.as_of, r.run_id));
    // One run per as-of day (the newest).
    runs.dedup_by(|b, a| {
        if a.as_of == b.as_of {
            *a = b.clone();
            true
        } else {
            false
        }
    });
    let mut health = Vec::new();
    let mut latest: Vec<ScoreFact> = Vec::new();
    let mut latest_ids: Vec<String> = Vec::new();
    for r in &runs {
        let scores = store.run_scores(r.run_id).await?;
        let facts: Vec<ScoreFact> = scores
            .iter()
            .map(|s| ScoreFact {
                band: s.band.clone(),
                quadrant: s.quadrant.clone(),
                arr: s.arr,
                drivers: pulse_scoring::AccountScore::from_json(&s.explanation)
                    .map(|a| {
                        a.reasons()
                            .map(|d| (d.feature.clone(), d.contribution))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        health.push(band_week(r.as_of, &facts));
        latest_ids = scores.iter().map(|s| s.account_id.clone()).collect();
        latest = facts;
    }
    let quadrants = quadrant_counts(&latest);
    let drivers = top_drivers(&latest, 8);
    let driver_segments = drivers
        .iter()
        .filter_map(|d| {
            let mut by: HashMap<&str, f64> = HashMap::new();
            for (id, s) in latest_ids.iter().zip(&latest) {
                if s.drivers.iter().any(|(f, c)| *f == d.feature && *c > 0.0) {
                    let seg = segment_of
                        .get(id.as_str())
                        .map_or("unknown", |s| s.as_str());
                    *by.entry(seg).or_default() += s.arr;
                }
            }
            by.into_iter()
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(seg, arr)| (d.feature.clone(), seg.to_string(), arr))
        })
        .collect();

    // Lists: the latest week up to as_of, when any.
    let lists = crate::lists::load(store, "week", "")
        .await
        .ok()
        .filter(|l| l.run.as_of <= as_of);
    let (at_risk, expansion, pipeline, week) = match &lists {
        Some(l) => {
            let mut f = crate::lists::RowFilter::default();
            let risk = crate::lists::risk_rows(store, l, &f, true).await?;
            f.top = 0;
            let exp = crate::lists::expansion_rows(store, l, &f).await?;
            let pipeline = exp.iter().map(|e| e.expected_expansion_arr).sum();
            (risk, exp, pipeline, Some(l.run.week.clone()))
        }
        None => (Vec::new(), Vec::new(), 0.0, None),
    };
    let mut at_risk = at_risk;
    at_risk.sort_by(|a, b| b.arr_at_risk.total_cmp(&a.arr_at_risk));
    let outreach = crate::lists::outreach_report(store, lists_cfg, "", "", clock.now())
        .await
        .map(|(_, p)| p)
        .unwrap_or_default();

    let (survival_calibration, backtest) = survival
        .map(|m| (m.card.calibration.clone(), m.card.forecast_backtest.clone()))
        .unwrap_or_default();
    let data = ReportData {
        period: label.clone(),
        generated_at: clock.now_rfc3339(),
        forecast: main.forecast,
        nrr_by_horizon: by_h,
        past,
        health,
        quadrants,
        kpis: kp,
        drivers,
        driver_segments,
        churn_model: main.churn_model,
        churn_calibration: churn_card.calibration_table,
        survival_model: main.survival_model,
        survival_calibration,
        backtest,
        outreach,
        expansion,
        expansion_pipeline_arr: pipeline,
        at_risk,
        lists_week: week,
    };
    Ok(Report {
        period: label,
        as_of,
        horizon_days: horizon,
        html: pulse_report::render(&data),
        data,
        warnings: excluded
            .iter()
            .map(pulse_features::Excluded::warning)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse_to_their_first_and_last_day() {
        let today = parse_day("t", "2026-11-30").unwrap();
        let (label, start, end) = parse_period("2026-q2", today).unwrap();
        assert_eq!(label, "2026-Q2");
        assert_eq!(format_day(start), "2026-04-01");
        assert_eq!(format_day(end), "2026-06-30");
        // Empty: the quarter after today's, across the year end.
        assert_eq!(parse_period("", today).unwrap().0, "2027-Q1");
        // The last quarter there is ends inside its own year.
        let (_, _, end) = parse_period("9999-Q4", today).unwrap();
        assert_eq!(format_day(end), "9999-12-31");
        for bad in ["2026", "2026-Q5", "10000-Q1", "0-Q1", "Q1-2026"] {
            let e = parse_period(bad, today).unwrap_err();
            assert!(e.to_string().starts_with("period: "), "{bad}: {e}");
        }
    }
}
