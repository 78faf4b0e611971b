//! The leadership report as one self-contained HTML page: inline CSS (with
//! print rules) and inline SVG charts, no script and no external asset.
//! Every piece of text that comes from data goes through [`esc`].

use std::fmt::Write;

use pulse_core::time::format_day;
use pulse_forecast::{Actuals, BacktestRow, Forecast, HorizonCalibration};
use pulse_lists::{ExpansionRow, PlayReport, RiskRow};
use pulse_models::CalibrationBin;

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
            "<li><b>{}</b> ({}, {} ARR, {} churn risk, owner {}): {}. Why: {}.</li>",
            esc(&r.name),
            esc(&r.segment),
            money(r.arr),
            pct(r.churn_probability),
            esc(&r.owner),
            esc(&r.suggested_play),
            esc(&r.drivers.join("; "))
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

const W: f64 = 640.0;
const H: f64 = 220.0;
const PAD: f64 = 40.0;

fn svg_open(id: &str, title: &str) -> String {
    format!(
        "<figure><svg id=\"{}\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\"><rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>",
        esc(id),
        esc(title)
    )
}

fn svg_close(caption: &str) -> String {
    format!("</svg><figcaption>{}</figcaption></figure>", esc(caption))
}

fn x_of(i: usize, n: usize) -> f64 {
    if n <= 1 {
        PAD + (W - 2.0 * PAD) / 2.0
    } else {
        PAD + (W - 2.0 * PAD) * i as f64 / (n - 1) as f64
    }
}

fn y_of(v: f64, lo: f64, hi: f64) -> f64 {
    let span = if hi > lo { hi - lo } else { 1.0 };
    H - PAD - (H - 2.0 * PAD) * (v - lo) / span
}

fn label(x: f64, y: f64, anchor: &str, text: &str) -> String {
    format!(
        "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"11\" text-anchor=\"{anchor}\" font-family=\"sans-serif\">{}</text>",
        esc(text)
    )
}

/// Stacked ARR shares per band, week by week.
fn health_chart(weeks: &[BandWeek]) -> String {
    let mut s = svg_open("chart-health", "share of ARR per health band per week");
    let colors = ["#3c8d5a", "#e0b43a", "#c4453c"];
    let n = weeks.len();
    let bw = if n > 0 {
        (W - 2.0 * PAD) / n as f64 * 0.8
    } else {
        0.0
    };
    for (i, w) in weeks.iter().enumerate() {
        let sh = w.shares(true);
        let x = PAD + (W - 2.0 * PAD) * i as f64 / n.max(1) as f64;
        let mut top = H - PAD;
        for (b, share) in sh.iter().enumerate() {
            let hgt = (H - 2.0 * PAD) * share;
            top -= hgt;
            let _ = write!(
                s,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{bw:.1}\" height=\"{hgt:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                colors[b],
                esc(&format_day(w.as_of)),
                ["green", "yellow", "red"][b],
                pct(*share)
            );
        }
        if i == 0 || i + 1 == n {
            s.push_str(&label(
                x + bw / 2.0,
                H - PAD + 14.0,
                "middle",
                &format_day(w.as_of),
            ));
        }
    }
    s.push_str(&label(
        PAD,
        16.0,
        "start",
        "Share of ARR by health band (green / yellow / red), weekly scoring runs",
    ));
    if n == 0 {
        s.push_str(&label(W / 2.0, H / 2.0, "middle", "no stored scoring runs"));
    }
    s.push_str(&svg_close(
        "Health-band trend: share of ARR in each band per stored weekly run.",
    ));
    s
}

/// NRR expected with 80% and 95% bands over horizons.
fn nrr_chart(points: &[(i32, Forecast)]) -> String {
    let mut s = svg_open("chart-nrr", "net revenue retention forecast with intervals");
    if points.is_empty() {
        s.push_str(&svg_close("No NRR forecast."));
        return s;
    }
    let lo = points
        .iter()
        .map(|(_, f)| f.total.nrr.i95.lo)
        .fold(f64::INFINITY, f64::min)
        .min(1.0)
        - 0.01;
    let hi = points
        .iter()
        .map(|(_, f)| f.total.nrr.i95.hi)
        .fold(f64::NEG_INFINITY, f64::max)
        .max(1.0)
        + 0.01;
    let n = points.len();
    let band = |get: &dyn Fn(&Forecast) -> (f64, f64)| {
        let mut up = Vec::new();
        let mut down = Vec::new();
        for (i, (_, f)) in points.iter().enumerate() {
            let (a, b) = get(f);
            up.push(format!("{:.1},{:.1}", x_of(i, n), y_of(b, lo, hi)));
            down.push(format!("{:.1},{:.1}", x_of(i, n), y_of(a, lo, hi)));
        }
        down.reverse();
        format!("{} {}", up.join(" "), down.join(" "))
    };
    let _ = write!(
        s,
        "<polygon points=\"{}\" fill=\"#c9d8ea\"/>",
        band(&|f| (f.total.nrr.i95.lo, f.total.nrr.i95.hi))
    );
    let _ = write!(
        s,
        "<polygon points=\"{}\" fill=\"#8fb1d6\"/>",
        band(&|f| (f.total.nrr.i80.lo, f.total.nrr.i80.hi))
    );
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, f))| {
            format!(
                "{:.1},{:.1}",
                x_of(i, n),
                y_of(f.total.nrr.expected, lo, hi)
            )
        })
        .collect();
    let _ = write!(
        s,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#1d3f66\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    let y100 = y_of(1.0, lo, hi);
    let _ = write!(
        s,
        "<line x1=\"{PAD}\" x2=\"{:.1}\" y1=\"{y100:.1}\" y2=\"{y100:.1}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
        W - PAD
    );
    s.push_str(&label(W - PAD + 4.0, y100 + 4.0, "start", "100%"));
    for (i, (d, f)) in points.iter().enumerate() {
        s.push_str(&label(
            x_of(i, n),
            H - PAD + 14.0,
            "middle",
            &format!("{d} d"),
        ));
        s.push_str(&label(
            x_of(i, n),
            y_of(f.total.nrr.expected, lo, hi) - 6.0,
            "middle",
            &pct(f.total.nrr.expected),
        ));
    }
    s.push_str(&label(
        PAD,
        16.0,
        "start",
        "Forecast NRR by horizon: expected, 80% band (dark), 95% band (light)",
    ));
    s.push_str(&svg_close("NRR forecast with its interval band, from the account-level probabilities (Monte Carlo, fixed seed)."));
    s
}

/// Past periods' actual churned ARR and the forecast with its 80% interval.
fn churn_vs_past_chart(f: &Forecast, past: &[Actuals]) -> String {
    let mut s = svg_open(
        "chart-churned-arr",
        "churned ARR forecast against past actuals",
    );
    let n = past.len() + 1;
    let hi = past
        .iter()
        .map(|a| a.churned_arr)
        .chain([f.total.churned_arr.i80.hi])
        .fold(0.0, f64::max)
        * 1.1
        + 1.0;
    let bw = (W - 2.0 * PAD) / n as f64 * 0.6;
    for (i, a) in past.iter().enumerate() {
        let x = PAD + (W - 2.0 * PAD) * i as f64 / n as f64;
        let y = y_of(a.churned_arr, 0.0, hi);
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#7d8590\"><title>{}</title></rect>",
            H - PAD - y,
            esc(&money(a.churned_arr))
        );
        s.push_str(&label(
            x + bw / 2.0,
            H - PAD + 14.0,
            "middle",
            &format!("to {}", format_day(a.to)),
        ));
        s.push_str(&label(
            x + bw / 2.0,
            y - 4.0,
            "middle",
            &money(a.churned_arr),
        ));
    }
    let x = PAD + (W - 2.0 * PAD) * past.len() as f64 / n as f64;
    let e = &f.total.churned_arr;
    let y = y_of(e.expected, 0.0, hi);
    let _ = write!(
        s,
        "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{:.1}\" fill=\"#2f5d8a\"/>",
        H - PAD - y
    );
    let xm = x + bw / 2.0;
    let _ = write!(
        s,
        "<line x1=\"{xm:.1}\" x2=\"{xm:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#111\" stroke-width=\"2\"/>",
        y_of(e.i80.lo, 0.0, hi),
        y_of(e.i80.hi, 0.0, hi)
    );
    s.push_str(&label(xm, H - PAD + 14.0, "middle", "forecast"));
    s.push_str(&label(xm + 6.0, y - 4.0, "start", &money(e.expected)));
    s.push_str(&label(PAD, 16.0, "start", "Churned ARR: past periods of the same length (grey) and the forecast with its 80% interval"));
    s.push_str(&svg_close(
        "Churned ARR forecast against past actuals (customers at each period's start).",
    ));
    s
}

fn drivers_chart(drivers: &[DriverShare]) -> String {
    let mut s = svg_open("chart-drivers", "top churn risk drivers across the base");
    let max = drivers
        .iter()
        .map(|d| d.mean_abs_contribution)
        .fold(0.0, f64::max)
        .max(1e-9);
    let row = (H - 30.0) / drivers.len().max(1) as f64;
    for (i, d) in drivers.iter().enumerate() {
        let y = 24.0 + row * i as f64;
        let w = (W - 260.0) * d.mean_abs_contribution / max;
        s.push_str(&label(
            200.0,
            y + row * 0.6,
            "end",
            &d.feature.replace('_', " "),
        ));
        let _ = write!(
            s,
            "<rect x=\"206\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#c4453c\"/>",
            row * 0.7
        );
        s.push_str(&label(
            210.0 + w,
            y + row * 0.6,
            "start",
            &format!(
                "{:.2} ({} ARR)",
                d.mean_abs_contribution,
                money(d.arr_raising)
            ),
        ));
    }
    s.push_str(&label(
        PAD,
        14.0,
        "start",
        "Mean |contribution| to churn log-odds, with the ARR where each raises risk",
    ));
    s.push_str(&svg_close("Top risk drivers across the base."));
    s
}

fn calibration_chart(bins: &[CalibrationBin], model: &str) -> String {
    let mut s = svg_open("chart-calibration", "calibration of the churn model");
    let hi = bins
        .iter()
        .map(|b| b.mean_predicted.max(b.observed_rate))
        .fold(0.05, f64::max)
        .min(1.0);
    let side = H - 2.0 * PAD;
    let px = |v: f64| PAD + side * v / hi;
    let py = |v: f64| H - PAD - side * v / hi;
    let _ = write!(
        s,
        "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>",
        px(0.0),
        py(0.0),
        px(hi),
        py(hi)
    );
    for b in bins {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"{:.1}\" fill=\"#2f5d8a\"><title>predicted {} observed {} ({} rows)</title></circle>",
            px(b.mean_predicted),
            py(b.observed_rate),
            3.0 + (b.count as f64).log10(),
            pct(b.mean_predicted),
            pct(b.observed_rate),
            b.count
        );
    }
    s.push_str(&label(
        px(hi),
        py(0.0) + 14.0,
        "end",
        &format!("predicted (to {})", pct(hi)),
    ));
    s.push_str(&label(
        PAD,
        16.0,
        "start",
        &format!(
            "Calibration of {model} on held-out weeks: observed vs predicted churn rate per bin"
        ),
    ));
    if bins.is_empty() {
        s.push_str(&label(
            W / 2.0,
            H / 2.0,
            "middle",
            "no calibration table in the model card",
        ));
    }
    s.push_str(&svg_close(
        "Churn model calibration (points on the dashed diagonal are perfectly calibrated).",
    ));
    s
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
