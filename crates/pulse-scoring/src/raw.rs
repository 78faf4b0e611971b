//! Caller-supplied feature vectors: every feature present, each within its
//! range, NaN only where the catalogue says a feature may be unknown (each
//! feature's `range` and `missing` in `pulse_features::Feature::def`).

use std::collections::HashMap;

use pulse_features::FeatureDef;

use crate::ScoringError;

/// The closed range of valid values of a feature (its definition's `range`).
pub fn valid_range(def: &FeatureDef) -> (f64, f64) {
    (def.range.min, def.range.max)
}

/// Whether a feature may be unknown (NaN): its definition's `missing`.
pub fn may_be_unknown(def: &FeatureDef) -> bool {
    def.missing.is_possible()
}

/// Checks one value of a feature; the reason names what is wrong.
pub fn check_value(def: &FeatureDef, v: f64) -> Result<(), String> {
    if v.is_nan() {
        return if may_be_unknown(def) {
            Ok(())
        } else {
            Err("is NaN, but this feature is never unknown".into())
        };
    }
    if v.is_infinite() {
        return Err(format!("{v} is not finite"));
    }
    let (lo, hi) = valid_range(def);
    if v < lo || v > hi {
        return Err(format!("{v} is outside [{lo}, {hi}]"));
    }
    if def.range.whole && v.fract() != 0.0 {
        return Err(format!("{v} is not a whole number"));
    }
    Ok(())
}

/// The schema-ordered row of a feature map, or the first problem found
/// (unknown names first, then missing features, then bad values, each in
/// schema order so the error is deterministic).
pub fn row_from_map(values: &HashMap<String, f64>) -> Result<Vec<f64>, ScoringError> {
    let defs = pulse_features::features();
    // The common case: exactly the schema's names (as many keys as features,
    // every feature found, so no key is unknown); only the values to check.
    if values.len() == defs.len() {
        let found: Option<Vec<f64>> = defs.iter().map(|d| values.get(d.name).copied()).collect();
        if let Some(row) = found {
            return check_row(defs, row);
        }
    }
    if let Some(unknown) = values
        .keys()
        .filter(|k| pulse_features::feature_index(k).is_none())
        .min()
    {
        return Err(ScoringError::Feature {
            feature: unknown.clone(),
            reason: "is not a feature of the model's schema".into(),
        });
    }
    let mut row = Vec::with_capacity(defs.len());
    for def in defs {
        let Some(&v) = values.get(def.name) else {
            return Err(ScoringError::Feature {
                feature: def.name.into(),
                reason: format!(
                    "is missing (all {} features are required; NaN marks an unknown value where allowed)",
                    defs.len()
                ),
            });
        };
        row.push(v);
    }
    check_row(defs, row)
}

/// Checks every value of a schema-ordered row, in schema order.
fn check_row(defs: &[FeatureDef], row: Vec<f64>) -> Result<Vec<f64>, ScoringError> {
    for (def, &v) in defs.iter().zip(&row) {
        check_value(def, v).map_err(|reason| ScoringError::Feature {
            feature: def.name.into(),
            reason,
        })?;
    }
    Ok(row)
}

/// The fingerprint of the feature schema: FNV-1a (64 bits) over the names in
/// column order, each followed by a newline, as 16 hex digits. Callers that
/// send schema-ordered vectors name it, so a vector built for another
/// schema (a feature added, removed or moved) is refused, never misread.
pub fn schema_fingerprint() -> &'static str {
    static FP: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FP.get_or_init(|| {
        use pulse_core::rng::{FNV_OFFSET, fnv1a_from};
        let h = pulse_features::features()
            .iter()
            .fold(FNV_OFFSET, |h, def| {
                fnv1a_from(fnv1a_from(h, def.name.as_bytes()), b"\n")
            });
        format!("{h:016x}")
    })
}

/// Why a schema-ordered vector was refused before its values were read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderedError {
    /// No fingerprint was sent, or another schema's.
    #[error("{0}")]
    Schema(String),
    /// Not one value per feature.
    #[error("{0}")]
    Length(String),
}

/// The row of a schema-ordered vector built for the schema `fingerprint`.
/// The outer error is about the vector as a whole; the inner one names the
/// first bad value's feature, as [`row_from_map`] does.
pub fn row_from_ordered(
    values: &[f64],
    fingerprint: &str,
) -> Result<Result<Vec<f64>, ScoringError>, OrderedError> {
    let ours = schema_fingerprint();
    if fingerprint.trim().is_empty() {
        return Err(OrderedError::Schema(format!(
            "is required with ordered_values: the fingerprint of the schema the values are \
             ordered by (GetFeatureSchema; this server's is {ours})"
        )));
    }
    if fingerprint.trim() != ours {
        return Err(OrderedError::Schema(format!(
            "'{}' is not this server's feature schema ({ours}): fetch the column order again \
             with GetFeatureSchema",
            fingerprint.trim()
        )));
    }
    let defs = pulse_features::features();
    if values.len() != defs.len() {
        return Err(OrderedError::Length(format!(
            "{} values, the schema has {} features",
            values.len(),
            defs.len()
        )));
    }
    Ok(check_row(defs, values.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> HashMap<String, f64> {
        pulse_features::features()
            .iter()
            .map(|f| {
                let (lo, hi) = valid_range(f);
                let v = if lo.is_finite() {
                    lo
                } else if hi.is_finite() {
                    hi
                } else {
                    0.0
                };
                (f.name.to_string(), v)
            })
            .collect()
    }

    #[test]
    fn a_full_valid_map_becomes_a_schema_ordered_row() {
        let mut m = full();
        m.insert("interactions_30d".into(), 14.0);
        let row = row_from_map(&m).unwrap();
        assert_eq!(row.len(), pulse_features::n_features());
        assert_eq!(
            row[pulse_features::feature_index("interactions_30d").unwrap()],
            14.0
        );
    }

    #[test]
    fn errors_name_the_feature_and_the_reason() {
        let mut m = full();
        m.remove("mrr");
        let e = row_from_map(&m).unwrap_err();
        assert!(
            matches!(&e, ScoringError::Feature { feature, reason } if feature == "mrr" && reason.contains("missing")),
            "{e}"
        );

        let mut m = full();
        m.insert("fcr_rate_90d".into(), 1.7);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(
            e.contains("fcr_rate_90d") && e.contains("outside [0, 1]"),
            "{e}"
        );

        let mut m = full();
        m.insert("mrr".into(), f64::NAN);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(e.contains("mrr") && e.contains("never unknown"), "{e}");

        let mut m = full();
        m.insert("fcr_rate_90d".into(), f64::NAN);
        assert!(row_from_map(&m).is_ok(), "NaN is allowed where documented");

        let mut m = full();
        m.insert("tickets".into(), 3.0);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(e.contains("tickets") && e.contains("not a feature"), "{e}");

        let mut m = full();
        m.insert("champion_left".into(), 0.5);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(e.contains("whole number"), "{e}");

        let mut m = full();
        m.insert("interactions_7d".into(), f64::INFINITY);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");

        // A wrong name in place of a right one: as many keys as features.
        let mut m = full();
        m.remove("mrr");
        m.insert("tickets".into(), 3.0);
        let e = row_from_map(&m).unwrap_err().to_string();
        assert!(e.contains("tickets") && e.contains("not a feature"), "{e}");
    }

    fn ordered(m: &HashMap<String, f64>) -> Vec<f64> {
        pulse_features::features()
            .iter()
            .map(|d| m[d.name])
            .collect()
    }

    #[test]
    fn ordered_vectors_read_like_maps_and_name_the_schema() {
        let mut m = full();
        m.insert("interactions_30d".into(), 14.0);
        let fp = schema_fingerprint();
        assert_eq!(fp.len(), 16);
        assert_eq!(
            row_from_ordered(&ordered(&m), fp).unwrap().unwrap(),
            row_from_map(&m).unwrap()
        );

        assert!(matches!(
            row_from_ordered(&ordered(&m), ""),
            Err(OrderedError::Schema(r)) if r.contains("required") && r.contains(fp)
        ));
        assert!(matches!(
            row_from_ordered(&ordered(&m), "0123456789abcdef"),
            Err(OrderedError::Schema(r)) if r.contains("not this server's")
        ));
        let short = &ordered(&m)[1..];
        assert!(matches!(
            row_from_ordered(short, fp),
            Err(OrderedError::Length(r)) if r.starts_with(&format!("{} values", short.len()))
        ));

        m.insert("fcr_rate_90d".into(), 1.7);
        let e = row_from_ordered(&ordered(&m), fp).unwrap().unwrap_err();
        assert!(
            matches!(&e, ScoringError::Feature { feature, reason } if feature == "fcr_rate_90d" && reason.contains("outside")),
            "{e}"
        );
    }
}
