//! Inline SVG charts: one module for the report and the web console, so a
//! chart reads the same on both. Every chart is a `<figure>` with a titled
//! `<svg role="img">` and a caption; no script, no external resource.

use std::fmt::Write;

use pulse_core::time::format_day;
use pulse_forecast::{Actuals, Forecast};
use pulse_models::CalibrationBin;

use crate::html::{esc, money};
use crate::views::{BandWeek, DriverShare};

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
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
pub fn health_chart(weeks: &[BandWeek]) -> String {
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
pub fn nrr_chart(points: &[(i32, Forecast)]) -> String {
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
pub fn churn_vs_past_chart(f: &Forecast, past: &[Actuals]) -> String {
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

pub fn drivers_chart(drivers: &[DriverShare]) -> String {
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

/// The churn model's reliability chart, as the report shows it.
pub fn calibration_chart(bins: &[CalibrationBin], model: &str) -> String {
    reliability_chart(
        "chart-calibration",
        "calibration of the churn model",
        &format!(
            "Calibration of {model} on held-out weeks: observed vs predicted churn rate per bin"
        ),
        bins,
        "Churn model calibration (points on the dashed diagonal are perfectly calibrated).",
    )
}

/// A reliability chart: each bin's observed rate against its mean predicted
/// probability, a point sized by its rows, over the dashed diagonal of
/// perfect calibration. `id` must be unique on its page.
pub fn reliability_chart(
    id: &str,
    aria: &str,
    title: &str,
    bins: &[CalibrationBin],
    caption: &str,
) -> String {
    let mut s = svg_open(id, aria);
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
    s.push_str(&label(PAD, 16.0, "start", title));
    if bins.is_empty() {
        s.push_str(&label(
            W / 2.0,
            H / 2.0,
            "middle",
            "no calibration table in the model card",
        ));
    }
    s.push_str(&svg_close(caption));
    s
}

/// One series over labelled points (oldest first), on a fixed `lo..hi`
/// scale: an account's health over its weekly scores, say. Each point has
/// a tooltip with its label and value (`unit` appended).
pub fn line_chart(
    id: &str,
    title: &str,
    points: &[(String, f64)],
    (lo, hi): (f64, f64),
    unit: &str,
    caption: &str,
) -> String {
    let mut s = svg_open(id, title);
    let n = points.len();
    for v in [lo, (lo + hi) / 2.0, hi] {
        let y = y_of(v, lo, hi);
        let _ = write!(
            s,
            "<line x1=\"{PAD}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#dde\"/>",
            W - PAD
        );
        s.push_str(&label(PAD - 4.0, y + 4.0, "end", &format!("{v:.0}")));
    }
    let path: Vec<String> = points
        .iter()
        .enumerate()
        .map(|(i, (_, v))| format!("{:.1},{:.1}", x_of(i, n), y_of(v.clamp(lo, hi), lo, hi)))
        .collect();
    if n > 1 {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2f5d8a\" stroke-width=\"2\"/>",
            path.join(" ")
        );
    }
    for (i, (l, v)) in points.iter().enumerate() {
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\" fill=\"#2f5d8a\"><title>{}: {v:.1}{}</title></circle>",
            x_of(i, n),
            y_of(v.clamp(lo, hi), lo, hi),
            esc(l),
            esc(unit)
        );
        if i == 0 || i + 1 == n {
            s.push_str(&label(x_of(i, n), H - PAD + 14.0, "middle", l));
        }
    }
    s.push_str(&label(PAD, 16.0, "start", title));
    if n == 0 {
        s.push_str(&label(W / 2.0, H / 2.0, "middle", "no stored scores yet"));
    }
    s.push_str(&svg_close(caption));
    s
}

/// A curve on the unit square (ROC: false positive rate against true
/// positive rate, with the diagonal; PR: recall against precision, with
/// the base rate `baseline`).
pub fn curve_chart(
    id: &str,
    title: &str,
    points: &[[f64; 2]],
    (x_name, y_name): (&str, &str),
    baseline: Option<f64>,
    caption: &str,
) -> String {
    let mut s = svg_open(id, title);
    let px = |v: f64| PAD + (W - 2.0 * PAD) * v.clamp(0.0, 1.0);
    let py = |v: f64| y_of(v.clamp(0.0, 1.0), 0.0, 1.0);
    let _ = write!(
        s,
        "<rect x=\"{PAD}\" y=\"{PAD}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"none\" stroke=\"#ccd\"/>",
        W - 2.0 * PAD,
        H - 2.0 * PAD
    );
    match baseline {
        Some(b) => {
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                px(0.0),
                py(b),
                px(1.0),
                py(b)
            );
        }
        None => {
            let _ = write!(
                s,
                "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\" stroke-dasharray=\"4 3\"/>",
                px(0.0),
                py(0.0),
                px(1.0),
                py(1.0)
            );
        }
    }
    let path: Vec<String> = points
        .iter()
        .map(|[x, y]| format!("{:.1},{:.1}", px(*x), py(*y)))
        .collect();
    if !path.is_empty() {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#2f5d8a\" stroke-width=\"2\"/>",
            path.join(" ")
        );
    }
    s.push_str(&label(W / 2.0, H - PAD + 16.0, "middle", x_name));
    s.push_str(&label(PAD - 6.0, PAD - 6.0, "start", y_name));
    s.push_str(&label(PAD, 16.0, "start", title));
    s.push_str(&svg_close(caption));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_chart_escapes_labels_and_plots_every_point() {
        let pts = vec![("2026-01-05".to_string(), 80.0), ("<b>".to_string(), 40.0)];
        let s = line_chart("c", "health", &pts, (0.0, 100.0), " points", "cap");
        assert_eq!(s.matches("<circle").count(), 2);
        assert!(s.contains("&lt;b&gt;: 40.0 points"));
        assert!(!s.contains("<b>"));
        assert!(s.contains("<polyline"));
    }

    #[test]
    fn curve_chart_draws_the_curve_and_its_reference() {
        let s = curve_chart(
            "roc",
            "ROC",
            &[[0.0, 0.0], [0.2, 0.7], [1.0, 1.0]],
            ("false positive rate", "true positive rate"),
            None,
            "cap",
        );
        assert!(s.contains("0,"), "{s}");
        assert_eq!(s.matches("<polyline").count(), 1);
        assert!(s.contains("stroke-dasharray"));
    }
}
