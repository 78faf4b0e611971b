//! Sentences a CSM can say out loud: one phrase per feature stating the
//! account's real value, plus its comparison ("3.2x its usual rate", "the
//! mid-market median is 4").
//!
//! The words are the catalogue's (`pulse_features::FeatureDef`: `says`,
//! `compared`, `missing`); this module writes the values into them. A feature
//! without its sentences does not compile, so users never see a raw column
//! name.

use pulse_features::{Feature, Missing, Says, Sentence, Value};

/// A count: whole numbers without decimals.
fn count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.1}")
    }
}

fn plural(v: f64, one: &str, many: &str) -> String {
    let n = count(v);
    if n == "1" {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

fn signed(v: f64) -> String {
    format!("{v:+.2}")
}

use pulse_core::money::dollars as money;

/// A (recent - prior) / (recent + prior) ratio as "up 40%" / "down 45%" / "flat".
fn trend(r: f64) -> String {
    if r.abs() < 0.02 {
        return "flat".into();
    }
    if r >= 1.0 {
        return "up from nothing".into();
    }
    if r <= -1.0 {
        return "down to nothing".into();
    }
    let change = (1.0 + r) / (1.0 - r) - 1.0;
    if change > 0.0 {
        format!("up {:.0}%", change * 100.0)
    } else {
        format!("down {:.0}%", -change * 100.0)
    }
}

fn sentiment_word(v: f64) -> &'static str {
    if v < -1.0 / 3.0 {
        "negative"
    } else if v > 1.0 / 3.0 {
        "positive"
    } else {
        "neutral"
    }
}

fn level(v: f64) -> String {
    format!("{v:.1} of 4")
}

fn segment_name(v: f64) -> &'static str {
    match v.round() as i64 {
        0 => "SMB",
        1 => "mid-market",
        _ => "enterprise",
    }
}

/// The phrase stating `v` of the feature named `name`; `None` for an
/// unknown name.
pub fn phrase(name: &str, v: f64) -> Option<String> {
    Feature::from_name(name).map(|f| say(f, v))
}

/// The phrase stating `v` of a feature, as its definition words it; NaN
/// says why the value is missing.
pub fn say(feature: Feature, v: f64) -> String {
    let def = &pulse_features::features()[feature.index()];
    if v.is_nan() {
        return match def.missing {
            Missing::When(why) => why,
            Missing::Never => "unknown",
        }
        .to_string();
    }
    match def.says {
        Says::Sentence(s) => sentence(s, v),
        Says::Flag { yes, no } => if v >= 0.5 { yes } else { no }.to_string(),
        Says::Change {
            steady_below,
            steady,
            down,
            up,
        } => {
            if v.abs() < steady_below {
                steady.to_string()
            } else if v < 0.0 {
                sentence(down, -v)
            } else {
                sentence(up, v)
            }
        }
        Says::Below {
            under,
            text,
            otherwise,
        } => {
            if v < under {
                text.to_string()
            } else {
                sentence(otherwise, v)
            }
        }
    }
}

fn sentence(s: Sentence, v: f64) -> String {
    format!("{}{}{}", s.before, value(s.value, v), s.after)
}

/// `v` written as `kind`.
fn value(kind: Value, v: f64) -> String {
    match kind {
        Value::Count { one, many } => plural(v, one, many),
        Value::Number => count(v),
        Value::Decimals(digits) => format!("{v:.digits$}"),
        Value::Hours => format!("{v:.1} hours"),
        Value::Percent => pct(v),
        Value::Signed => signed(v),
        Value::Level => level(v),
        Value::Money => money(v),
        Value::Trend => trend(v),
        Value::Mood => sentiment_word(v).to_string(),
        Value::MoodScore => format!("{} ({})", sentiment_word(v), signed(v)),
        Value::Segment => segment_name(v).to_string(),
    }
}

/// A value of the feature's kind, formatted for a comparison ("4", "38%", "$1,200").
pub fn format_value(feature: Feature, v: f64) -> String {
    if v.is_nan() {
        return "unknown".into();
    }
    value(pulse_features::features()[feature.index()].compared, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feature_has_a_phrase_for_a_value_and_for_unknown() {
        for f in pulse_features::features() {
            let p = phrase(f.name, 1.0).unwrap_or_else(|| panic!("no phrase for {}", f.name));
            assert!(!p.contains(f.name), "{p}");
            assert!(phrase(f.name, f64::NAN).is_some(), "{}", f.name);
        }
        assert_eq!(phrase("no_such_feature", 1.0), None);
    }

    #[test]
    fn phrases_state_the_real_value() {
        assert_eq!(
            phrase("interactions_30d", 14.0).unwrap(),
            "14 interactions in the last 30 days"
        );
        assert_eq!(
            phrase("missed_payroll_90d", 1.0).unwrap(),
            "1 missed payroll deadline in 90 days"
        );
        assert_eq!(phrase("mrr", 12345.4).unwrap(), "MRR is $12,345");
        assert_eq!(
            phrase("fcr_rate_90d", 0.375).unwrap(),
            "38% of issues resolved on first contact (90 days)"
        );
        // (recent - prior) / (recent + prior) = -1/3 means recent = prior / 2.
        assert_eq!(
            phrase("logins_trend", -1.0 / 3.0).unwrap(),
            "logins down 50% on the prior 90 days"
        );
        assert_eq!(
            phrase("champion_left", 1.0).unwrap(),
            "the champion has left"
        );
        assert_eq!(
            phrase("days_since_active", f64::NAN).unwrap(),
            "never active"
        );
    }

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(0.0), "$0");
        assert_eq!(money(999.0), "$999");
        assert_eq!(money(1000.0), "$1,000");
        assert_eq!(money(1234567.0), "$1,234,567");
        assert_eq!(money(-1500.0), "-$1,500");
    }
}
