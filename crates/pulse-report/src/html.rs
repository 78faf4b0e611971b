//! The leadership report as one self-contained HTML page: inline CSS (with
//! print rules) and inline SVG charts, no script and no external asset.
//! Every piece of text that comes from data goes through [`esc`].

use std::fmt::Write;

use pulse_core::time::format_day;
use pulse_forecast::{Actuals, BacktestRow, Forecast, HorizonCalibration};
use pulse_lists::{ExpansionRow, PlayReport, RiskRow};
use pulse_models::CalibrationBin;

use crate::chart::{
    calibration_chart, churn_vs_past_chart, drivers_chart, health_chart, nrr_chart,
};
use crate::views::{BandWeek, DriverShare, KpiMonth, QuadrantCount};

/// Everything the report shows, gathered by the caller.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// e.g. "2026-Q4".
    pub period: String,
    /// RFC 3339, the caller's clock.
    pub generated_at: String,
    /// The quarter's forecast, per segment.
    pub forecast: Forecast,
    /// Total NRR forecasts at increasing horizons (days, forecast).
    pub nrr_by_horizon: Vec<(i32, Forecast)>,
    /// Actual figures of past periods of the forecast's length, oldest first.
    pub past: Vec<Actuals>,
    pub health: Vec<BandWeek>,
    pub quadrants: Vec<QuadrantCount>,
    pub kpis: Vec<KpiMonth>,
    pub drivers: Vec<DriverShare>,
    /// Where the top drivers concentrate: (feature, segment, ARR raising).
    pub driver_segments: Vec<(String, String, f64)>,
    pub churn_model: String,
    pub churn_calibration: Vec<CalibrationBin>,
    pub survival_model: String,
    pub survival_calibration: Vec<HorizonCalibration>,
    pub backtest: Vec<BacktestRow>,
    pub outreach: Vec<PlayReport>,
    pub expansion: Vec<ExpansionRow>,
    pub expansion_pipeline_arr: f64,
    pub at_risk: Vec<RiskRow>,
    /// The week of the lists used, if any.
    pub lists_week: Option<String>,
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// 1234567.8 -> "1,234,568".
pub use pulse_core::money::grouped as money;

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

const CSS: &str = "body{font-family:Georgia,'Times New Roman',serif;color:#1d2430;max-width:960px;margin:2em auto;padding:0 1em;line-height:1.45}
h1{font-size:1.9em;margin-bottom:.1em}h2{border-bottom:2px solid #1d2430;padding-bottom:.2em;margin-top:1.6em}
.sub{color:#555}.summary{font-size:1.15em;background:#f3f5f8;padding:.8em 1.1em;border-left:5px solid #2f5d8a}
table{border-collapse:collapse;width:100%;margin:.6em 0;font-size:.9em}th,td{border-bottom:1px solid #ccd;padding:.25em .4em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#e8ecf2}.kpis{display:flex;gap:1em;flex-wrap:wrap}
.kpi{flex:1;min-width:150px;border:1px solid #ccd;padding:.5em .8em}.kpi b{display:block;font-size:1.5em}
svg{display:block;margin:.5em 0;max-width:100%;height:auto}.note{color:#555;font-size:.85em}
figure{margin:1em 0}figcaption{font-size:.9em;color:#333}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{page-break-after:avoid}figure,table{page-break-inside:avoid}section{page-break-before:auto}}";

/// Renders the report.
pub fn render(d: &ReportData) -> String {
    let mut h = String::new();
    let f = &d.forecast;
    let t = &f.total;
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Customer health and retention: {}</title><style>{CSS}</style></head><body>",
        esc(&d.period)
    );
    let _ = write!(
        h,
        "<h1>Customer health and retention, {}</h1><p class=\"sub\">Generated {} from data up to {}. Forecast of the {} days from {} (models: churn {}, time to churn {}).</p>",
        esc(&d.period),
        esc(&d.generated_at),
        esc(&format_day(f.as_of)),
        f.horizon_days,
        esc(&format_day(f.as_of + 1)),
        esc(&d.churn_model),
        esc(&d.survival_model)
    );

    // Executive summary: three sentences with the numbers.
    let red = d.health.last().map(|w| w.shares(true)[2]).unwrap_or(0.0);
    let red_before = d.health.first().map(|w| w.shares(true)[2]).unwrap_or(0.0);
    let top_driver = d
        .drivers
        .first()
        .map(|x| x.feature.replace('_', " "))
        .unwrap_or_else(|| "none measured".into());
    let _ = write!(
        h,
        "<section id=\"executive-summary\"><h2>Executive Summary</h2><p class=\"summary\">We forecast net revenue retention of <b>{}</b> (80% interval {} to {}) and gross revenue retention of <b>{}</b> for the period, on {} ARR today. We expect <b>{:.0}</b> of {} customers to churn (80% interval {:.0} to {:.0}), taking <b>{}</b> of ARR (80% interval {} to {}){}. Red accounts hold {} of ARR ({} {} weeks ago); the strongest risk driver across the base is {}, and the retention team's lists cover {} at-risk accounts this week.</p></section>",
        pct(t.nrr.expected),
        pct(t.nrr.i80.lo),
        pct(t.nrr.i80.hi),
        pct(t.grr.expected),
        money(t.current_arr),
        t.churned_accounts.expected,
        t.accounts,
        t.churned_accounts.i80.lo,
        t.churned_accounts.i80.hi,
        money(t.churned_arr.expected),
        money(t.churned_arr.i80.lo),
        money(t.churned_arr.i80.hi),
        match &t.last_period {
            Some(a) => format!(
                ", against {} churned accounts and {} churned ARR in the same length of time before",
                a.churned_accounts,
                money(a.churned_arr)
            ),
            None => String::new(),
        },
        pct(red),
        pct(red_before),
        d.health.len().saturating_sub(1),
        esc(&top_driver),
        d.at_risk.len()
    );

    // Key metrics and trends.
    let _ = write!(
        h,
        "<section id=\"key-metrics\"><h2>Key Metrics and Trends</h2><div class=\"kpis\">\
         <div class=\"kpi\">ARR today<b>{}</b></div><div class=\"kpi\">Forecast NRR<b>{}</b>80%: {} - {}</div>\
         <div class=\"kpi\">Forecast GRR<b>{}</b>80%: {} - {}</div><div class=\"kpi\">Expected churned ARR<b>{}</b>95%: {} - {}</div>\
         <div class=\"kpi\">Expected expansion ARR<b>{}</b>80%: {} - {}</div></div>",
        money(t.current_arr),
        pct(t.nrr.expected),
        pct(t.nrr.i80.lo),
        pct(t.nrr.i80.hi),
        pct(t.grr.expected),
        pct(t.grr.i80.lo),
        pct(t.grr.i80.hi),
        money(t.churned_arr.expected),
        money(t.churned_arr.i95.lo),
        money(t.churned_arr.i95.hi),
        money(t.expansion_arr.expected),
        money(t.expansion_arr.i80.lo),
        money(t.expansion_arr.i80.hi)
    );
    h.push_str("<table id=\"forecast-table\"><tr><th>group</th><th>accounts</th><th>ARR now</th><th>churned accounts [80%]</th><th>churned ARR [80%]</th><th>expansion ARR [80%]</th><th>GRR [80%]</th><th>NRR [80%]</th><th>last period GRR / NRR</th></tr>");
    for g in f.groups.iter().chain(std::iter::once(t)) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.1} [{:.0} - {:.0}]</td><td>{} [{} - {}]</td><td>{} [{} - {}]</td><td>{} [{} - {}]</td><td>{} [{} - {}]</td><td>{}</td></tr>",
            esc(&g.group),
            g.accounts,
            money(g.current_arr),
            g.churned_accounts.expected,
            g.churned_accounts.i80.lo,
            g.churned_accounts.i80.hi,
            money(g.churned_arr.expected),
            money(g.churned_arr.i80.lo),
            money(g.churned_arr.i80.hi),
            money(g.expansion_arr.expected),
            money(g.expansion_arr.i80.lo),
            money(g.expansion_arr.i80.hi),
            pct(g.grr.expected),
            pct(g.grr.i80.lo),
            pct(g.grr.i80.hi),
            pct(g.nrr.expected),
            pct(g.nrr.i80.lo),
            pct(g.nrr.i80.hi),
            g.last_period
                .as_ref()
                .map(|a| format!("{} / {}", pct(a.grr), pct(a.nrr)))
                .unwrap_or_else(|| "-".into())
        );
    }
    h.push_str("</table>");
    let _ = write!(
        h,
        "<p class=\"note\">{}</p>",
        f.methods
            .iter()
            .map(|m| esc(m))
            .collect::<Vec<_>>()
            .join("<br>")
    );
    h.push_str(&health_chart(&d.health));
    h.push_str(&nrr_chart(&d.nrr_by_horizon));
    h.push_str(&churn_vs_past_chart(f, &d.past));
    // Quadrants.
    h.push_str("<h3>Outcome x Experience</h3><table id=\"quadrants\"><tr><th>quadrant</th><th>accounts</th><th>ARR</th></tr>");
    for q in &d.quadrants {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&q.quadrant.replace('_', " ")),
            q.accounts,
            money(q.arr)
        );
    }
    h.push_str("</table>");
    // KPIs (all segments) per month.
    h.push_str("<h3>Support and survey KPIs (all segments)</h3><table id=\"kpis\"><tr><th>month</th><th>interactions</th><th>FCR</th><th>escalation rate</th><th>first response (h, median)</th><th>CSAT</th><th>NPS</th></tr>");
    let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map(f).unwrap_or_else(|| "-".into());
    // The figures of one KPI row, from the interaction count on.
    let figures = |k: &crate::views::KpiMonth| -> String {
        format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            k.interactions,
            opt(k.fcr, &pct),
            opt(k.escalation_rate, &pct),
            opt(k.first_response_hours, &|v| format!("{v:.1}")),
            opt(k.csat, &|v| format!("{v:.2}")),
            opt(k.nps, &|v| format!("{v:.0}"))
        )
    };
    for k in d.kpis.iter().filter(|k| k.segment == "all") {
        let _ = write!(h, "<tr><td>{}</td>{}</tr>", esc(&k.month), figures(k));
    }
    h.push_str("</table>");
    // The last three months per segment.
    let mut months: Vec<&str> = d.kpis.iter().map(|k| k.month.as_str()).collect();
    months.dedup();
    let recent: Vec<&str> = months.iter().rev().take(3).rev().copied().collect();
    h.push_str("<h3>KPIs by segment, last three months</h3><table id=\"kpis-segment\"><tr><th>month</th><th>segment</th><th>interactions</th><th>FCR</th><th>escalation rate</th><th>first response (h, median)</th><th>CSAT</th><th>NPS</th></tr>");
    for k in d
        .kpis
        .iter()
        .filter(|k| k.segment != "all" && recent.contains(&k.month.as_str()))
    {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td>{}</tr>",
            esc(&k.month),
            esc(&k.segment),
            figures(k)
        );
    }
    h.push_str("</table>");
    if !d.backtest.is_empty() {
        h.push_str("<h3>How good are these forecasts? Backtest at past quarter starts</h3><table id=\"backtest\"><tr><th>quarter</th><th>figure</th><th>expected</th><th>80% interval</th><th>actual</th><th>inside</th></tr>");
        for r in &d.backtest {
            let fmt = |v: f64| match r.figure.as_str() {
                "grr" | "nrr" => pct(v),
                "churned_accounts" => format!("{v:.1}"),
                _ => money(v),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} - {}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.quarter),
                esc(&r.figure),
                fmt(r.expected),
                fmt(r.i80.lo),
                fmt(r.i80.hi),
                fmt(r.actual),
                if r.inside_80() { "yes" } else { "no" }
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Root cause analysis.
    h.push_str("<section id=\"root-cause\"><h2>Root Cause Analysis</h2><p>The drivers that explain most of the churn risk across the base (mean absolute contribution to the churn model's log-odds over every scored account, from each account's stored top drivers), and the ARR of the accounts where each one raises risk.</p>");
    h.push_str(&drivers_chart(&d.drivers));
    h.push_str("<table id=\"drivers\"><tr><th>driver</th><th>mean |contribution|</th><th>accounts where it raises risk</th><th>their ARR</th><th>most ARR in</th></tr>");
    for x in &d.drivers {
        let seg = d
            .driver_segments
            .iter()
            .find(|(f, _, _)| *f == x.feature)
            .map(|(_, s, a)| format!("{} ({})", esc(s), money(*a)))
            .unwrap_or_else(|| "-".into());
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{:.3}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.feature.replace('_', " ")),
            x.mean_abs_contribution,
            x.accounts_raising,
            money(x.arr_raising),
            seg
        );
    }
    h.push_str("</table>");
    h.push_str(&calibration_chart(&d.churn_calibration, &d.churn_model));
    if !d.survival_calibration.is_empty() {
        h.push_str("<table id=\"survival-calibration\"><tr><th>time to churn: horizon</th><th>held-out rows</th><th>predicted</th><th>observed</th><th>ROC-AUC</th></tr>");
        for c in &d.survival_calibration {
            let _ = write!(
                h,
                "<tr><td>{} days</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.horizon_days,
                c.test_rows,
                pct(c.mean_predicted),
                pct(c.observed_rate),
                c.roc_auc.map_or("-".into(), |a| format!("{a:.3}"))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");

    // Wins and opportunities.
    h.push_str("<section id=\"wins\"><h2>Wins and Opportunities</h2><h3>Saves from outreach</h3>");
    if d.outreach.is_empty() {
        h.push_str("<p>No outreach recorded from the lists in the reported weeks.</p>");
    } else {
        h.push_str("<table id=\"outreach\"><tr><th>play</th><th>contacted</th><th>settled</th><th>churned</th><th>churn rate</th><th>matched uncontacted</th><th>verdict</th></tr>");
        for p in &d.outreach {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.play),
                p.contacted,
                p.settled,
                p.churned,
                p.churn_rate.map_or("-".into(), pct),
                p.matched_churn_rate.map_or("-".into(), pct),
                esc(&p.verdict)
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<h3>Expansion pipeline</h3><p>Expected expansion ARR of the expansion-ready list{}: <b>{}</b> over {} accounts; the forecast expects {} of expansion ARR across the base.</p>",
        d.lists_week
            .as_ref()
            .map(|w| format!(" ({})", esc(w)))
            .unwrap_or_default(),
        money(d.expansion_pipeline_arr),
        d.expansion.len(),
        money(t.expansion_arr.expected)
    );
    h.push_str("<table id=\"expansion\"><tr><th>account</th><th>owner</th><th>ARR</th><th>propensity</th><th>expected expansion ARR</th><th>signals</th></tr>");
    for e in d.expansion.iter().take(10) {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&e.name),
            esc(&e.owner),
            money(e.arr),
            pct(e.expansion_probability),
            money(e.expected_expansion_arr),
            esc(&e.signals.join("; "))
        );
    }
    h.push_str("</table></section>");

    // Action items.
    h.push_str("<section id=\"actions\"><h2>Action Items and Next Steps</h2><ol>");
    for r in d.at_risk.iter().take(10) {
        let _ = write!(
            h,
            "<li><b>{}</b> ({}, {} ARR, {} churn risk, owner {}): {}. Why: {}.{}</li>",
            esc(&r.name),
            esc(&r.segment),
            money(r.arr),
            pct(r.churn_probability),
            esc(&r.owner),
            esc(&r.suggested_play),
            esc(&r.drivers.join("; ")),
            match (r.days_to_renewal, r.churn_before_renewal) {
                (Some(d), Some(p)) => format!(
                    " When: renews in {d} days, {} chance of churning before then.",
                    pct(p)
                ),
                (Some(d), None) => format!(" When: renews in {d} days."),
                _ => String::new(),
            }
        );
    }
    if let Some(x) = d.drivers.first() {
        let _ = write!(
            h,
            "<li>Base-wide: {} accounts ({} ARR) carry risk from {}; review the play for it with the team leads.</li>",
            x.accounts_raising,
            money(x.arr_raising),
            esc(&x.feature.replace('_', " "))
        );
    }
    h.push_str("</ol></section></body></html>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        assert_eq!(money(1234567.6), "1,234,568");
        assert_eq!(money(-999.0), "-999");
    }
}
