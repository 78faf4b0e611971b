//! Sentences a CSM can say out loud: one phrase per feature stating the
//! account's real value, plus its comparison ("3.2x its usual rate", "the
//! mid-market median is 4").
//!
//! Every feature of the catalogue has a phrase (a test checks it), so adding
//! a feature without one fails the build's tests rather than showing users
//! a raw column name.

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

/// The phrase stating `value` of feature `name`; `None` for an unknown name.
pub fn phrase(name: &str, v: f64) -> Option<String> {
    if v.is_nan() {
        return unknown(name);
    }
    let s = match name {
        "interactions_7d" => format!(
            "{} in the last 7 days",
            plural(v, "interaction", "interactions")
        ),
        "interactions_30d" => format!(
            "{} in the last 30 days",
            plural(v, "interaction", "interactions")
        ),
        "interactions_90d" => format!(
            "{} in the last 90 days",
            plural(v, "interaction", "interactions")
        ),
        "interactions_trend" => format!("interaction volume {} on the prior 90 days", trend(v)),
        "open_interactions" => format!("{} open", plural(v, "issue", "issues")),
        "first_response_hours_90d" => {
            format!("first response takes {v:.1} hours on average (90 days)")
        }
        "fcr_rate_90d" => format!("{} of issues resolved on first contact (90 days)", pct(v)),
        "resolution_hours_90d" => {
            format!("issues take {v:.0} hours to resolve on average (90 days)")
        }
        "escalation_rate_90d" => format!("{} of resolved issues were escalated (90 days)", pct(v)),
        "reopen_rate_90d" => format!("{} of resolved issues were reopened (90 days)", pct(v)),
        "contacts_to_resolve_90d" => format!("{v:.1} contacts needed per resolved issue (90 days)"),
        "repeat_topic_contacts_90d" => format!(
            "{} about a topic already raised (90 days)",
            plural(v, "contact", "contacts")
        ),
        "csat_mean_90d" => format!("ticket CSAT averages {v:.1} of 5 (90 days)"),
        "csat_low_share_90d" => format!("{} of rated tickets scored CSAT 1-2 (90 days)", pct(v)),
        "sentiment_mean_30d" => format!(
            "interaction sentiment is {} ({}) over 30 days",
            sentiment_word(v),
            signed(v)
        ),
        "sentiment_mean_90d" => format!(
            "interaction sentiment is {} ({}) over 90 days",
            sentiment_word(v),
            signed(v)
        ),
        "sentiment_negative_share_90d" => {
            format!("{} of interactions were negative (90 days)", pct(v))
        }
        "sentiment_min_30d" => format!(
            "the most negative interaction this month scored {}",
            signed(v)
        ),
        "sentiment_trend" => {
            if v.abs() < 0.05 {
                "sentiment is steady against the prior 90 days".into()
            } else if v < 0.0 {
                format!("sentiment fell by {:.2} against the prior 90 days", -v)
            } else {
                format!("sentiment rose by {v:.2} against the prior 90 days")
            }
        }
        "survey_sentiment_mean_180d" => format!(
            "survey comments are {} ({}) over 180 days",
            sentiment_word(v),
            signed(v)
        ),
        "contacts_active" => format!("{} active", plural(v, "contact", "contacts")),
        "relationship_strength_mean" => format!("relationship strength averages {}", level(v)),
        "champion_strength" => format!("the champion relationship is {}", level(v)),
        "champion_sentiment" => format!("the champion is {}", sentiment_word(v)),
        "exec_sponsor_strength" => format!("the executive sponsor relationship is {}", level(v)),
        "exec_sponsor_sentiment" => format!("the executive sponsor is {}", sentiment_word(v)),
        "admin_strength" => format!("the admin relationship is {}", level(v)),
        "admin_sentiment" => format!("the admin is {}", sentiment_word(v)),
        "champion_left" => {
            if v >= 0.5 {
                "the champion has left".into()
            } else {
                "the champion is still there".into()
            }
        }
        "exec_sponsor_present" => {
            if v >= 0.5 {
                "an executive sponsor is engaged".into()
            } else {
                "no executive sponsor".into()
            }
        }
        "exec_sponsor_interaction_sentiment" => format!(
            "the executive sponsor's latest interaction was {} ({})",
            sentiment_word(v),
            signed(v)
        ),
        "exec_sponsor_negative" => {
            if v >= 0.5 {
                "the executive sponsor is negative".into()
            } else {
                "the executive sponsor is not negative".into()
            }
        }
        "active_users_per_seat_30d" => format!("{} of seats active (30 days)", pct(v)),
        "active_users_trend" => format!("active users {} on the prior 90 days", trend(v)),
        "logins_per_day_7d" => format!("{v:.1} logins a day this week"),
        "logins_per_day_30d" => format!("{v:.1} logins a day this month"),
        "logins_trend" => format!("logins {} on the prior 90 days", trend(v)),
        "feature_breadth_30d" => format!(
            "{} used (30 days)",
            plural(v, "key feature", "key features")
        ),
        "days_since_active" => {
            if v < 0.5 {
                "active in the latest usage period".into()
            } else {
                format!("no activity for {}", plural(v, "day", "days"))
            }
        }
        "mrr" => format!("MRR is {}", money(v)),
        "seats" => plural(v, "seat", "seats"),
        "segment_size" => format!("{} account", segment_name(v)),
        "tenure_days" => format!("customer for {}", plural(v, "day", "days")),
        "days_to_renewal" => format!("renews in {}", plural(v, "day", "days")),
        "mrr_change_90d" => {
            if v.abs() < 0.005 {
                "MRR unchanged over 90 days".into()
            } else if v < 0.0 {
                format!("MRR down {} over 90 days", pct(-v))
            } else {
                format!("MRR up {} over 90 days", pct(v))
            }
        }
        "downgrades_90d" => format!("{} in 90 days", plural(v, "downgrade", "downgrades")),
        "downgrades_180d" => format!("{} in 180 days", plural(v, "downgrade", "downgrades")),
        "upgrades_180d" => format!("{} in 180 days", plural(v, "upgrade", "upgrades")),
        "payment_failures_90d" => format!(
            "{} in 90 days",
            plural(v, "failed payment", "failed payments")
        ),
        "missed_payroll_90d" => format!(
            "{} in 90 days",
            plural(v, "missed payroll deadline", "missed payroll deadlines")
        ),
        "missed_payroll_180d" => format!(
            "{} in 180 days",
            plural(v, "missed payroll deadline", "missed payroll deadlines")
        ),
        "tax_errors_90d" => format!(
            "{} in 90 days",
            plural(v, "tax-filing error", "tax-filing errors")
        ),
        "tax_errors_180d" => format!(
            "{} in 180 days",
            plural(v, "tax-filing error", "tax-filing errors")
        ),
        "onboarding_completed" => {
            if v >= 0.5 {
                "onboarding is complete".into()
            } else {
                "onboarding is not complete".into()
            }
        }
        "onboarding_days" => format!("onboarding took {}", plural(v, "day", "days")),
        "training_completed" => {
            if v >= 0.5 {
                "training is complete".into()
            } else {
                "training not completed".into()
            }
        }
        "price_increase_90d" => format!(
            "{} in 90 days",
            plural(v, "price increase", "price increases")
        ),
        "nps_latest" => format!("latest NPS answer is {}", count(v)),
        "nps_trend" => {
            if v.abs() < 0.5 {
                "NPS answer unchanged from the one before".into()
            } else if v < 0.0 {
                format!("NPS fell {} points from the answer before", count(-v))
            } else {
                format!("NPS rose {} points from the answer before", count(v))
            }
        }
        "days_since_nps" => format!("last NPS answer {} ago", plural(v, "day", "days")),
        "csat_survey_latest" => format!("latest CSAT survey answer is {} of 5", count(v)),
        _ => return None,
    };
    Some(s)
}

fn unknown(name: &str) -> Option<String> {
    let s = match name {
        "first_response_hours_90d" | "resolution_hours_90d" | "contacts_to_resolve_90d" => {
            "no resolved issue in 90 days to time"
        }
        "fcr_rate_90d" | "escalation_rate_90d" | "reopen_rate_90d" => {
            "no resolved issue in 90 days"
        }
        "csat_mean_90d" | "csat_low_share_90d" => "no rated ticket in 90 days",
        "sentiment_mean_30d" | "sentiment_min_30d" => "no scored interaction in 30 days",
        "sentiment_mean_90d" | "sentiment_negative_share_90d" => "no scored interaction in 90 days",
        "sentiment_trend" => "too few scored interactions for a sentiment trend",
        "survey_sentiment_mean_180d" => "no survey comment in 180 days",
        "relationship_strength_mean" => "no active contact",
        "champion_strength" | "champion_sentiment" => "no active champion",
        "exec_sponsor_strength" | "exec_sponsor_sentiment" => "no active executive sponsor",
        "exec_sponsor_interaction_sentiment" => {
            "no scored interaction from the executive sponsor in 180 days"
        }
        "admin_strength" | "admin_sentiment" => "no active admin",
        "active_users_per_seat_30d" => "active users per seat unknown",
        "active_users_trend" | "logins_trend" => "too little usage data for a trend",
        "logins_per_day_7d" | "logins_per_day_30d" | "feature_breadth_30d" => "no usage data",
        "days_since_active" => "never active",
        "seats" => "seats unknown",
        "days_to_renewal" => "not started yet",
        "mrr_change_90d" => "no MRR 90 days ago",
        "onboarding_days" => "onboarding not completed",
        "nps_latest" | "days_since_nps" => "no NPS answer",
        "nps_trend" => "fewer than two NPS answers",
        "csat_survey_latest" => "no CSAT survey answer",
        n if pulse_features::feature_index(n).is_some() => "unknown",
        _ => return None,
    };
    Some(s.to_string())
}

/// A value of the feature's kind, formatted for a comparison ("4", "38%", "$1,200").
pub fn format_value(name: &str, unit: &str, v: f64) -> String {
    if v.is_nan() {
        return "unknown".into();
    }
    match unit {
        "fraction" => pct(v),
        "currency/month" => money(v),
        "hours" => format!("{v:.1} hours"),
        "days" => plural(v, "day", "days"),
        "score [-1,1]" | "score difference" | "ratio [-1,1]" => signed(v),
        "level 1-4" => level(v),
        "logins/day" => format!("{v:.1}"),
        _ if name.ends_with("_mean_90d") => format!("{v:.1}"),
        _ => count(v),
    }
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
