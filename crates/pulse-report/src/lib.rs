//! Base-wide views and the leadership report.
//!
//! ```text
//! band_week(as_of, &scores) / quadrant_counts(&scores) / top_drivers(&scores, k)   from stored runs
//! kpis(&histories, from, to)                 FCR, escalation rate, first response, CSAT, NPS per month and segment
//! render(&ReportData) -> String              one self-contained HTML page (inline CSS and SVG, no script)
//! ```
//!
//! Architecture Invariant: no I/O, no async, no clock reads (the caller
//! passes `generated_at`), no printing; never depends on tokio, sqlx, tonic,
//! prost or clap. All text from data is HTML-escaped.

pub mod chart;
mod html;
mod views;

pub use html::{ReportData, esc, money, render};
pub use views::{
    BandWeek, DriverShare, KpiMonth, QuadrantCount, ScoreFact, band_week, kpis, quadrant_counts,
    top_drivers,
};
