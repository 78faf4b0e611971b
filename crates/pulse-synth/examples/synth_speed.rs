//! Measures how fast the synthetic base is written, and optionally writes
//! it to a directory to look at.
//!
//! ```text
//! cargo run --release -p pulse-synth --example synth_speed -- [ACCOUNTS] [MONTHS] [OUT_DIR]
//! ```
//!
//! Defaults: 50,000 accounts, 24 months, files discarded (`io::sink`). The
//! window ends on 2026-11-22 and the seed is 42.

use std::io;
use std::time::Instant;

use pulse_synth::{SynthConfig, write_csv};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let accounts = args.first().map_or(Ok(50_000), |s| s.parse())?;
    let months = args.get(1).map_or(Ok(24), |s| s.parse())?;
    let out_dir = args.get(2).cloned();
    let end = pulse_core::time::parse_day("end", "2026-11-22")?;
    let cfg = SynthConfig::new(accounts, months, 42, end);
    if let Some(dir) = &out_dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut open = |name: &str| -> io::Result<Box<dyn io::Write + Send>> {
        match &out_dir {
            Some(dir) => Ok(Box::new(io::BufWriter::with_capacity(
                1 << 20,
                std::fs::File::create(std::path::Path::new(dir).join(name))?,
            ))),
            None => Ok(Box::new(io::sink())),
        }
    };
    let t = Instant::now();
    let summary = write_csv(&cfg, &mut open, &mut |_, _| {})?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{accounts} accounts x {months} months in {secs:.2} s ({:.0} accounts/s, {:.1} MB)",
        accounts as f64 / secs,
        summary.total_bytes() as f64 / 1e6
    );
    for f in &summary.files {
        println!(
            "  {:<26} {:>11} rows {:>9.1} MB",
            f.name,
            f.rows,
            f.bytes as f64 / 1e6
        );
    }
    println!(
        "  churned {} ({:.1}%), expanded {} ({:.1}%)",
        summary.churned_accounts,
        100.0 * summary.churned_accounts as f64 / accounts.max(1) as f64,
        summary.expanded_accounts,
        100.0 * summary.expanded_accounts as f64 / accounts.max(1) as f64
    );
    Ok(())
}
