//! The feature catalogue as every reader of it sees it, pinned in one text
//! file (`catalog.snap`): for every feature, its schema entry (what
//! GetFeatureSchema serves), the scorecard input it feeds, the phrase and the
//! comparison value written for a few representative values, and which raw
//! values are accepted; then the scorecard's inputs in order, the catalogue
//! as JSON (the `pulse bench score` catalog file) and the Markdown table.
//!
//! A change to any of them shows here as a diff. When the change is meant,
//! `PULSE_UPDATE_SNAPSHOTS=1 cargo test -p pulse-server --test it catalog::`
//! rewrites the file.

use std::fmt::Write as _;
use std::path::PathBuf;

use pulse_scoring::{phrases, raw};

/// Values every feature's phrase and comparison value are written for: both
/// sides of every threshold the phrases have (steady trends, flags, the
/// sentiment thirds, "up from nothing"), fractions, counts and money.
const VALUES: &[f64] = &[
    -1.0,
    -0.5,
    -1.0 / 3.0,
    -0.04,
    -0.003,
    0.0,
    0.003,
    0.04,
    0.375,
    0.5,
    1.0,
    2.0,
    4.25,
    14.0,
    12345.4,
];

/// Raw values checked against every feature's range.
const PROBES: &[f64] = &[
    -2.0,
    -1.0,
    -0.5,
    0.0,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    11.0,
    367.0,
    f64::NAN,
    f64::INFINITY,
];

fn render() -> String {
    let mut s = String::new();
    let schema = pulse_server::feature_schema();
    let defs = pulse_features::features();
    let inputs = pulse_training::default_inputs();
    let _ = writeln!(s, "fingerprint {}", schema.fingerprint);
    let _ = writeln!(s, "features {}", defs.len());
    assert_eq!(schema.features.len(), defs.len());
    for (i, (f, def)) in schema.features.iter().zip(defs).enumerate() {
        assert_eq!(f.name, def.name);
        let _ = writeln!(s, "\n## {i} {}", f.name);
        let _ = writeln!(s, "family: {}", f.family);
        let _ = writeln!(s, "window: {}", def.window);
        let _ = writeln!(s, "unit: {}", f.unit);
        let _ = writeln!(s, "description: {}", f.description);
        let _ = writeln!(
            s,
            "range: [{:?}, {:?}] may_be_unknown: {}",
            f.min, f.max, f.may_be_unknown
        );
        let (lo, hi) = raw::valid_range(def);
        assert_eq!(
            (lo.to_bits(), hi.to_bits()),
            (f.min.to_bits(), f.max.to_bits())
        );
        assert_eq!(raw::may_be_unknown(def), f.may_be_unknown);
        match inputs.iter().find(|c| c.feature == f.name) {
            Some(c) => {
                let _ = writeln!(
                    s,
                    "scorecard: {:?} {:?} weight {:?} {:?}",
                    c.component, c.direction, c.weight, c.normalisation
                );
            }
            None => {
                let _ = writeln!(s, "scorecard: -");
            }
        }
        for &v in std::iter::once(&f64::NAN).chain(VALUES) {
            let _ = writeln!(
                s,
                "say {v:?}: {} | {}",
                phrases::phrase(def.name, v).unwrap_or_else(|| "(none)".into()),
                phrases::format_value(pulse_features::Feature::ALL[i], v)
            );
        }
        for &v in PROBES {
            let _ = writeln!(
                s,
                "check {v:?}: {}",
                match raw::check_value(def, v) {
                    Ok(()) => "ok".to_string(),
                    Err(e) => e,
                }
            );
        }
    }
    let _ = writeln!(s, "\n## scorecard inputs, in order");
    for c in &inputs {
        let _ = writeln!(
            s,
            "{} {:?} {:?} weight {:?} {:?}",
            c.feature, c.component, c.direction, c.weight, c.normalisation
        );
    }
    let _ = writeln!(s, "\n## catalogue JSON");
    let _ = writeln!(
        s,
        "{}",
        serde_json::to_string_pretty(pulse_features::features()).unwrap()
    );
    let _ = writeln!(s, "\n## Markdown table");
    s.push_str(&pulse_features::markdown_table());
    s
}

#[test]
fn the_catalogue_reads_the_same_everywhere() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/catalog.snap");
    let got = render();
    let update = std::env::var("PULSE_UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if got == want {
        return;
    }
    if update {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let line = got
        .lines()
        .zip(want.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
    panic!(
        "{} differs from the catalogue at line {}:\n  want: {:?}\n  got:  {:?}\n\
         (PULSE_UPDATE_SNAPSHOTS=1 rewrites it when the change is meant)",
        path.display(),
        line + 1,
        want.lines().nth(line),
        got.lines().nth(line),
    );
}
