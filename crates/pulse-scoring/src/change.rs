//! Change attribution between two scores of one account: how many health
//! points each feature family moved ("health fell 14 points since last
//! week: usage -8, support -4, sentiment -2").
//!
//! Health is `100 x (1 - p)` with `p = calibrate(margin)` and the margin is
//! `base + sum of family contributions`, exactly. The health change is split
//! over the families in proportion to their change in margin, so the parts
//! add up to the total; a change of model shows as `model` (the change of the
//! base value).

use serde::{Deserialize, Serialize};

use crate::AccountScore;

/// One family's part of a health change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyChange {
    pub family: String,
    /// Health points (positive: healthier).
    pub points: f64,
}

/// Why health changed between two scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub health_from: f64,
    pub health_to: f64,
    pub points: f64,
    /// Largest moves first; they add up to `points`.
    pub families: Vec<FamilyChange>,
    pub summary: String,
}

/// How a family is called in a summary.
pub fn family_label(family: &str) -> &str {
    match family {
        "adoption" => "usage",
        "support" => "tickets",
        "operational" => "operations",
        other => other,
    }
}

/// The change from `from` to `to`; `since` names the earlier point in the
/// summary ("last week", "2026-11-16").
pub fn attribute_change(from: &AccountScore, to: &AccountScore, since: &str) -> ScoreChange {
    let points = to.health - from.health;
    let dmargin = to.margin - from.margin;
    let mut deltas: Vec<(String, f64)> = to
        .families
        .iter()
        .map(|f| {
            let before = from
                .families
                .iter()
                .find(|g| g.family == f.family)
                .map_or(0.0, |g| g.contribution);
            (f.family.clone(), f.contribution - before)
        })
        .collect();
    let dbase = to.base_value - from.base_value;
    if dbase.abs() > 1e-12 {
        deltas.push(("model".into(), dbase));
    }
    let mut families: Vec<FamilyChange> = deltas
        .into_iter()
        .map(|(family, d)| FamilyChange {
            family,
            points: if dmargin.abs() > 1e-12 {
                points * d / dmargin
            } else {
                0.0
            },
        })
        .collect();
    families.sort_by(|a, b| b.points.abs().total_cmp(&a.points.abs()));
    let summary = summary(points, &families, since);
    ScoreChange {
        health_from: from.health,
        health_to: to.health,
        points,
        families,
        summary,
    }
}

fn summary(points: f64, families: &[FamilyChange], since: &str) -> String {
    let whole = points.round();
    if whole == 0.0 {
        return format!("health unchanged since {since}");
    }
    let verb = if whole < 0.0 { "fell" } else { "rose" };
    let n = whole.abs() as i64;
    let unit = if n == 1 { "point" } else { "points" };
    let parts: Vec<String> = families
        .iter()
        .filter(|f| f.points.round() != 0.0)
        .take(4)
        .map(|f| format!("{} {:+}", family_label(&f.family), f.points.round() as i64))
        .collect();
    if parts.is_empty() {
        format!("health {verb} {n} {unit} since {since}")
    } else {
        format!(
            "health {verb} {n} {unit} since {since}: {}",
            parts.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Band, FamilyContribution, Quadrant};

    fn score(health: f64, margin: f64, base: f64, fams: &[(&str, f64)]) -> AccountScore {
        AccountScore {
            account_id: "a".into(),
            as_of: 0,
            churn_probability: 1.0 - health / 100.0,
            horizon_days: 90,
            health,
            band: Band::Green,
            quadrant: Quadrant::Unknown,
            outcome: None,
            experience: None,
            expansion_probability: None,
            arr: 0.0,
            arr_at_risk: 0.0,
            drivers: vec![],
            suggested_play: String::new(),
            base_play: String::new(),
            play_cause: None,
            urgency: Default::default(),
            seat_use: None,
            base_value: base,
            margin,
            families: fams
                .iter()
                .map(|(f, c)| FamilyContribution {
                    family: f.to_string(),
                    contribution: *c,
                })
                .collect(),
            churn_version: "churn-v1".into(),
            expansion_version: None,
        }
    }

    #[test]
    fn parts_add_up_and_name_the_families() {
        let a = score(
            90.0,
            -2.0,
            -2.5,
            &[("adoption", 0.1), ("support", 0.3), ("sentiment", 0.1)],
        );
        // Margin +1.4: adoption +0.8, support +0.4, sentiment +0.2.
        let b = score(
            76.0,
            -0.6,
            -2.5,
            &[("adoption", 0.9), ("support", 0.7), ("sentiment", 0.3)],
        );
        let c = attribute_change(&a, &b, "last week");
        assert!((c.points + 14.0).abs() < 1e-9);
        let sum: f64 = c.families.iter().map(|f| f.points).sum();
        assert!((sum - c.points).abs() < 1e-9);
        assert_eq!(c.families[0].family, "adoption");
        assert!((c.families[0].points + 8.0).abs() < 1e-9);
        assert_eq!(
            c.summary,
            "health fell 14 points since last week: usage -8, tickets -4, sentiment -2"
        );
    }

    #[test]
    fn a_new_model_shows_as_its_own_part() {
        let a = score(80.0, -1.0, -1.5, &[("adoption", 0.5)]);
        let b = score(90.0, -2.0, -2.0, &[("adoption", 0.0)]);
        let c = attribute_change(&a, &b, "2026-11-16");
        let sum: f64 = c.families.iter().map(|f| f.points).sum();
        assert!((sum - 10.0).abs() < 1e-9);
        assert!(c.families.iter().any(|f| f.family == "model"));
        assert!(
            c.summary
                .starts_with("health rose 10 points since 2026-11-16"),
            "{}",
            c.summary
        );
    }

    #[test]
    fn no_change_says_so() {
        let a = score(80.0, -1.0, -1.5, &[("adoption", 0.5)]);
        let c = attribute_change(&a, &a, "last week");
        assert_eq!(c.summary, "health unchanged since last week");
        assert!(c.families.iter().all(|f| f.points == 0.0));
    }
}
