//! The feature catalogue: every feature's name, family, window, unit,
//! meaning, valid values, sentences and scorecard input, defined exactly once.
//!
//! [`Feature`] names every feature; [`Feature::def`] is one exhaustive
//! `match` returning its [`FeatureDef`], whose fields have no defaults. A
//! feature added to the enum without a definition, or a definition without
//! its range, missing-value rule, sentence, comparison format or scorecard
//! entry, does not compile. Everything else reads these definitions: the
//! raw-vector checks and the sentences in `pulse-scoring`, the scorecard in
//! `pulse-training`, the server's feature schema.
//!
//! The order of [`Feature::ALL`] (and of [`features()`]) is the column order
//! of every feature vector and matrix this crate produces. Names are stable
//! snake_case identifiers: they flow unchanged into model artifacts,
//! explanations and the README feature table ([`markdown_table`]), so
//! renaming one is a model-breaking change; a new feature goes at the end.
//!
//! Conventions shared by every definition:
//! - "window Nd" means the N days ending at the as-of instant t, lower bound
//!   excluded and t included: `(t - N days, t]`. Usage windows count whole
//!   days ending at the last complete day (see the crate docs).
//! - "trend" compares the last 30 days with the 90 days before them,
//!   `(t - 120d, t - 30d]`. Rate trends are `(recent - prior) / (recent + prior)`
//!   of per-day rates, in [-1, 1]; mean trends are differences of means.
//! - Missing values are `f64::NAN`; each description says when a feature is
//!   missing, and [`Missing`] says it to the program. Counts are never missing
//!   (no events is 0).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// The signal family a feature belongs to, as people group them when they
/// read an account's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Support,
    Sentiment,
    Relationships,
    Adoption,
    Commercial,
    Operational,
    Surveys,
}

impl Family {
    pub const ALL: &'static [Family] = &[
        Family::Support,
        Family::Sentiment,
        Family::Relationships,
        Family::Adoption,
        Family::Commercial,
        Family::Operational,
        Family::Surveys,
    ];

    /// The family's snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Support => "support",
            Family::Sentiment => "sentiment",
            Family::Relationships => "relationships",
            Family::Adoption => "adoption",
            Family::Commercial => "commercial",
            Family::Operational => "operational",
            Family::Surveys => "surveys",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a feature tells a CSM about an account's churn risk: *when* the
/// account can leave, or *why* it may want to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Context and timing (days to renewal, tenure, segment, size): it
    /// changes how urgent an account is, not what to talk about. It is
    /// shown as urgency, never as a reason.
    Context,
    /// Something the customer experiences and a CSM can act on (support,
    /// adoption, relationships, sentiment, billing, operations, surveys).
    Actionable,
    /// Missing knowledge about the account (how long since anyone asked for
    /// feedback): the action is to close the gap.
    Gap,
}

/// The cause a driver points to: its family when it is actionable, a data
/// gap, or context. Plays are chosen by cause, and the list's reasons are
/// counted by cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Support,
    Sentiment,
    Relationships,
    Adoption,
    Commercial,
    Operational,
    Surveys,
    /// No recent feedback (no NPS or CSAT answer, or an old one).
    DataGap,
    /// Timing and context; never a reason.
    Context,
}

impl Cause {
    /// The causes a reason can be, in catalogue order (every one but context).
    pub const ACTIONABLE: &'static [Cause] = &[
        Cause::Support,
        Cause::Sentiment,
        Cause::Relationships,
        Cause::Adoption,
        Cause::Commercial,
        Cause::Operational,
        Cause::Surveys,
        Cause::DataGap,
    ];

    /// The cause's snake_case name (a family's name, `data_gap`, `context`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Support => "support",
            Cause::Sentiment => "sentiment",
            Cause::Relationships => "relationships",
            Cause::Adoption => "adoption",
            Cause::Commercial => "commercial",
            Cause::Operational => "operational",
            Cause::Surveys => "surveys",
            Cause::DataGap => "data_gap",
            Cause::Context => "context",
        }
    }

    /// The cause named `name`.
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ACTIONABLE
            .iter()
            .chain(&[Cause::Context])
            .copied()
            .find(|c| c.as_str() == name)
    }

    /// How a CSM calls it.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Support => "support experience",
            Cause::Sentiment => "sentiment",
            Cause::Relationships => "relationships",
            Cause::Adoption => "adoption",
            Cause::Commercial => "billing and pricing",
            Cause::Operational => "operational incidents",
            Cause::Surveys => "survey feedback",
            Cause::DataGap => "data gap",
            Cause::Context => "timing and context",
        }
    }

    /// Whether a driver with this cause is a reason (not context).
    pub fn is_reason(self) -> bool {
        self != Cause::Context
    }
}

impl From<Family> for Cause {
    fn from(f: Family) -> Cause {
        match f {
            Family::Support => Cause::Support,
            Family::Sentiment => Cause::Sentiment,
            Family::Relationships => Cause::Relationships,
            Family::Adoption => Cause::Adoption,
            Family::Commercial => Cause::Commercial,
            Family::Operational => Cause::Operational,
            Family::Surveys => Cause::Surveys,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One feature: what it is called, what it measures and over which window,
/// which values it can take and how a CSM says them.
///
/// Serialises as its name, family, description, window and unit only.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FeatureDef {
    /// Stable snake_case identifier (the column name).
    pub name: &'static str,
    pub family: Family,
    /// Whether it says when (context) or why (actionable, a data gap).
    pub role: Role,
    /// What it measures, including when it is missing (NaN).
    pub description: &'static str,
    /// The time span it looks at (`7d`, `30d vs prior 90d`, `at t`, `all to t`).
    pub window: &'static str,
    /// `count`, `fraction`, `hours`, `days`, `currency`, `score`, ...
    pub unit: &'static str,
    /// The values a caller-supplied vector may hold for it.
    #[serde(skip)]
    pub range: Range,
    /// Whether it may be missing (NaN), and the sentence for it then.
    #[serde(skip)]
    pub missing: Missing,
    /// The sentence stating a known value.
    #[serde(skip)]
    pub says: Says,
    /// How a value it is compared with (the account's usual level, a
    /// segment's median) is written.
    #[serde(skip)]
    pub compared: Value,
    /// The rule-based scorecard's use of it.
    #[serde(skip)]
    pub scorecard: Scorecard,
}

impl FeatureDef {
    /// The cause a value of this feature points to: context for a context
    /// feature; a data gap for a gap feature, and for a survey feature with
    /// no answer (NaN); else the feature's family.
    pub fn cause(&self, value: f64) -> Cause {
        match self.role {
            Role::Context => Cause::Context,
            Role::Gap => Cause::DataGap,
            Role::Actionable if value.is_nan() && self.family == Family::Surveys => Cause::DataGap,
            Role::Actionable => self.family.into(),
        }
    }
}

/// The closed range of valid values of a feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: f64,
    /// Only whole numbers are valid (flags and ordinals).
    pub whole: bool,
}

impl Range {
    /// Every value in `[min, max]`.
    pub const fn new(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            whole: false,
        }
    }

    /// The whole numbers in `[min, max]`.
    pub const fn whole(min: f64, max: f64) -> Range {
        Range {
            min,
            max,
            whole: true,
        }
    }
}

/// Whether a feature may be missing (NaN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Always computed: NaN is never a valid value (it reads "unknown").
    Never,
    /// Missing in the case the description names; the sentence says that
    /// case to a CSM ("no NPS answer").
    When(&'static str),
}

impl Missing {
    /// Whether NaN is a valid value.
    pub const fn is_possible(self) -> bool {
        matches!(self, Missing::When(_))
    }
}

/// The sentence stating a known value of a feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Says {
    /// The value in a sentence.
    Sentence(Sentence),
    /// A 0/1 flag: `yes` from 0.5 up, else `no`.
    Flag { yes: &'static str, no: &'static str },
    /// A change around 0: `steady` when its size is below `steady_below`,
    /// else `down` stating the size of a fall or `up` that of a rise.
    Change {
        steady_below: f64,
        steady: &'static str,
        down: Sentence,
        up: Sentence,
    },
    /// `text` below `under`, else the sentence.
    Below {
        under: f64,
        text: &'static str,
        otherwise: Sentence,
    },
}

/// `before`, the value written as `value`, `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sentence {
    pub before: &'static str,
    pub value: Value,
    pub after: &'static str,
}

/// How a value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    /// A count and its noun: "1 contact", "3 contacts".
    Count {
        one: &'static str,
        many: &'static str,
    },
    /// A whole number without decimals, else with one: "4", "4.5".
    Number,
    /// Fixed decimals: "2.3".
    Decimals(usize),
    /// One decimal and "hours".
    Hours,
    /// A fraction as a percentage: "38%".
    Percent,
    /// Signed, two decimals: "+0.25".
    Signed,
    /// A relationship level: "2.5 of 4".
    Level,
    /// Dollars with grouped thousands: "$12,345".
    Money,
    /// A `(recent - prior) / (recent + prior)` ratio: "up 40%", "flat".
    Trend,
    /// A sentiment score as a word: "negative", "neutral", "positive".
    Mood,
    /// The word and the score: "negative (-0.50)".
    MoodScore,
    /// The segment ordinal's name: "SMB", "mid-market", "enterprise".
    Segment,
}

/// How the rule-based health scorecard uses a feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scorecard {
    /// Not an input.
    Unused,
    /// An input of the component; a higher value is healthier.
    Healthier(ScorecardComponent),
    /// An input of the component; a higher value is riskier.
    Riskier(ScorecardComponent),
}

/// The scorecard's components (`pulse_models::Component`, which knows
/// nothing of this crate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScorecardComponent {
    Adoption,
    Support,
    Sentiment,
    Relationships,
    Commercial,
}

macro_rules! feature_enum {
    ($($id:ident,)+) => {
        /// Every feature, in column order: `feature as usize` is its column.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(usize)]
        pub enum Feature {
            $($id),+
        }

        impl Feature {
            /// Every feature, in column order.
            pub const ALL: &'static [Feature] = &[$(Feature::$id),+];
        }
    };
}

feature_enum! {
    Interactions7d,
    Interactions30d,
    Interactions90d,
    InteractionsTrend,
    OpenInteractions,
    FirstResponseHours90d,
    FcrRate90d,
    ResolutionHours90d,
    EscalationRate90d,
    ReopenRate90d,
    ContactsToResolve90d,
    RepeatTopicContacts90d,
    CsatMean90d,
    CsatLowShare90d,
    SentimentMean30d,
    SentimentMean90d,
    SentimentNegativeShare90d,
    SentimentMin30d,
    SentimentTrend,
    SurveySentimentMean180d,
    ContactsActive,
    RelationshipStrengthMean,
    ChampionStrength,
    ChampionSentiment,
    ExecSponsorStrength,
    ExecSponsorSentiment,
    AdminStrength,
    AdminSentiment,
    ChampionLeft,
    ExecSponsorPresent,
    ExecSponsorNegative,
    ExecSponsorInteractionSentiment,
    ActiveUsersPerSeat30d,
    ActiveUsersTrend,
    LoginsPerDay7d,
    LoginsPerDay30d,
    LoginsTrend,
    FeatureBreadth30d,
    DaysSinceActive,
    Mrr,
    Seats,
    SegmentSize,
    TenureDays,
    DaysToRenewal,
    MrrChange90d,
    Downgrades90d,
    Downgrades180d,
    Upgrades180d,
    PaymentFailures90d,
    MissedPayroll90d,
    MissedPayroll180d,
    TaxErrors90d,
    TaxErrors180d,
    OnboardingCompleted,
    OnboardingDays,
    TrainingCompleted,
    PriceIncrease90d,
    NpsLatest,
    NpsTrend,
    DaysSinceNps,
    CsatSurveyLatest,
}

const INF: f64 = f64::INFINITY;

const fn say(before: &'static str, value: Value, after: &'static str) -> Says {
    Says::Sentence(sentence(before, value, after))
}

const fn sentence(before: &'static str, value: Value, after: &'static str) -> Sentence {
    Sentence {
        before,
        value,
        after,
    }
}

const fn count(one: &'static str, many: &'static str) -> Value {
    Value::Count { one, many }
}

const DAYS: Value = count("day", "days");

impl Feature {
    /// The feature's definition.
    pub const fn def(self) -> FeatureDef {
        use Family::*;
        use Missing::{Never, When};
        use Role::*;
        use Scorecard::{Healthier, Riskier, Unused};
        use ScorecardComponent as C;
        use Value::*;
        match self {
            // ---- Support -------------------------------------------------------
            Feature::Interactions7d => FeatureDef {
                name: "interactions_7d",
                family: Support,
                role: Actionable,
                window: "7d",
                unit: "count",
                description: "Interactions (tickets, chats, calls, emails) opened in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("interaction", "interactions"),
                    " in the last 7 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::Interactions30d => FeatureDef {
                name: "interactions_30d",
                family: Support,
                role: Actionable,
                window: "30d",
                unit: "count",
                description: "Interactions opened in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("interaction", "interactions"),
                    " in the last 30 days",
                ),
                compared: Number,
                scorecard: Riskier(C::Support),
            },
            Feature::Interactions90d => FeatureDef {
                name: "interactions_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Interactions opened in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("interaction", "interactions"),
                    " in the last 90 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::InteractionsTrend => FeatureDef {
                name: "interactions_trend",
                family: Support,
                role: Actionable,
                window: "30d vs prior 90d",
                unit: "ratio [-1,1]",
                description: "Change in interactions per day, (recent - prior) / (recent + prior); 0 when both windows are empty",
                range: Range::new(-1.0, 1.0),
                missing: Never,
                says: say("interaction volume ", Trend, " on the prior 90 days"),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::OpenInteractions => FeatureDef {
                name: "open_interactions",
                family: Support,
                role: Actionable,
                window: "all to t",
                unit: "count",
                description: "Interactions opened at or before t and not resolved at t",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("", count("issue", "issues"), " open"),
                compared: Number,
                scorecard: Riskier(C::Support),
            },
            Feature::FirstResponseHours90d => FeatureDef {
                name: "first_response_hours_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "hours",
                description: "Mean time to first response of interactions opened in the window and answered by t; NaN if none",
                range: Range::new(0.0, INF),
                missing: When("no resolved issue in 90 days to time"),
                says: say(
                    "first response takes ",
                    Decimals(1),
                    " hours on average (90 days)",
                ),
                compared: Hours,
                scorecard: Riskier(C::Support),
            },
            Feature::FcrRate90d => FeatureDef {
                name: "fcr_rate_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Share of interactions opened in the window and resolved by t that took one contact (first contact resolution); NaN if none resolved",
                range: Range::new(0.0, 1.0),
                missing: When("no resolved issue in 90 days"),
                says: say(
                    "",
                    Percent,
                    " of issues resolved on first contact (90 days)",
                ),
                compared: Percent,
                scorecard: Healthier(C::Support),
            },
            Feature::ResolutionHours90d => FeatureDef {
                name: "resolution_hours_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "hours",
                description: "Mean time to resolution of interactions opened in the window and resolved by t; NaN if none",
                range: Range::new(0.0, INF),
                missing: When("no resolved issue in 90 days to time"),
                says: say(
                    "issues take ",
                    Decimals(0),
                    " hours to resolve on average (90 days)",
                ),
                compared: Hours,
                scorecard: Riskier(C::Support),
            },
            Feature::EscalationRate90d => FeatureDef {
                name: "escalation_rate_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Share escalated among interactions opened in the window and resolved by t (the flag has no time of its own, so it counts once resolved); NaN if none resolved",
                range: Range::new(0.0, 1.0),
                missing: When("no resolved issue in 90 days"),
                says: say("", Percent, " of resolved issues were escalated (90 days)"),
                compared: Percent,
                scorecard: Riskier(C::Support),
            },
            Feature::ReopenRate90d => FeatureDef {
                name: "reopen_rate_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Share reopened among interactions opened in the window and resolved by t; NaN if none resolved",
                range: Range::new(0.0, 1.0),
                missing: When("no resolved issue in 90 days"),
                says: say("", Percent, " of resolved issues were reopened (90 days)"),
                compared: Percent,
                scorecard: Riskier(C::Support),
            },
            Feature::ContactsToResolve90d => FeatureDef {
                name: "contacts_to_resolve_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "contacts",
                description: "Mean contacts it took to resolve interactions opened in the window and resolved by t; NaN if none",
                range: Range::new(0.0, INF),
                missing: When("no resolved issue in 90 days to time"),
                says: say(
                    "",
                    Decimals(1),
                    " contacts needed per resolved issue (90 days)",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::RepeatTopicContacts90d => FeatureDef {
                name: "repeat_topic_contacts_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Interactions in the window about a topic already raised earlier in the window (\"I had to explain this three times\"); empty topics never repeat",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("contact", "contacts"),
                    " about a topic already raised (90 days)",
                ),
                compared: Number,
                scorecard: Riskier(C::Support),
            },
            Feature::CsatMean90d => FeatureDef {
                name: "csat_mean_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "score 1-5",
                description: "Mean CSAT of interactions opened in the window and resolved by t; NaN if none rated",
                range: Range::new(1.0, 5.0),
                missing: When("no rated ticket in 90 days"),
                says: say("ticket CSAT averages ", Decimals(1), " of 5 (90 days)"),
                compared: Decimals(1),
                scorecard: Healthier(C::Support),
            },
            Feature::CsatLowShare90d => FeatureDef {
                name: "csat_low_share_90d",
                family: Support,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Share of rated interactions (as csat_mean_90d) with CSAT 1 or 2; NaN if none rated",
                range: Range::new(0.0, 1.0),
                missing: When("no rated ticket in 90 days"),
                says: say("", Percent, " of rated tickets scored CSAT 1-2 (90 days)"),
                compared: Percent,
                scorecard: Unused,
            },
            // ---- Sentiment -----------------------------------------------------
            Feature::SentimentMean30d => FeatureDef {
                name: "sentiment_mean_30d",
                family: Sentiment,
                role: Actionable,
                window: "30d",
                unit: "score [-1,1]",
                description: "Mean model sentiment of interactions opened in the window; NaN if none is scored",
                range: Range::new(-1.0, 1.0),
                missing: When("no scored interaction in 30 days"),
                says: say("interaction sentiment is ", MoodScore, " over 30 days"),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::SentimentMean90d => FeatureDef {
                name: "sentiment_mean_90d",
                family: Sentiment,
                role: Actionable,
                window: "90d",
                unit: "score [-1,1]",
                description: "Mean model sentiment of interactions opened in the window; NaN if none is scored",
                range: Range::new(-1.0, 1.0),
                missing: When("no scored interaction in 90 days"),
                says: say("interaction sentiment is ", MoodScore, " over 90 days"),
                compared: Signed,
                scorecard: Healthier(C::Sentiment),
            },
            Feature::SentimentNegativeShare90d => FeatureDef {
                name: "sentiment_negative_share_90d",
                family: Sentiment,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Share of scored interactions in the window with sentiment below -1/3 (negative); NaN if none is scored",
                range: Range::new(0.0, 1.0),
                missing: When("no scored interaction in 90 days"),
                says: say("", Percent, " of interactions were negative (90 days)"),
                compared: Percent,
                scorecard: Unused,
            },
            Feature::SentimentMin30d => FeatureDef {
                name: "sentiment_min_30d",
                family: Sentiment,
                role: Actionable,
                window: "30d",
                unit: "score [-1,1]",
                description: "Most negative interaction sentiment in the window; NaN if none is scored",
                range: Range::new(-1.0, 1.0),
                missing: When("no scored interaction in 30 days"),
                says: say(
                    "the most negative interaction this month scored ",
                    Signed,
                    "",
                ),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::SentimentTrend => FeatureDef {
                name: "sentiment_trend",
                family: Sentiment,
                role: Actionable,
                window: "30d vs prior 90d",
                unit: "score difference",
                description: "Mean sentiment of the last 30 days minus that of the 90 days before; NaN if either has no scored interaction",
                range: Range::new(-2.0, 2.0),
                missing: When("too few scored interactions for a sentiment trend"),
                says: Says::Change {
                    steady_below: 0.05,
                    steady: "sentiment is steady against the prior 90 days",
                    down: sentence(
                        "sentiment fell by ",
                        Decimals(2),
                        " against the prior 90 days",
                    ),
                    up: sentence(
                        "sentiment rose by ",
                        Decimals(2),
                        " against the prior 90 days",
                    ),
                },
                compared: Signed,
                scorecard: Unused,
            },
            Feature::SurveySentimentMean180d => FeatureDef {
                name: "survey_sentiment_mean_180d",
                family: Sentiment,
                role: Actionable,
                window: "180d",
                unit: "score [-1,1]",
                description: "Mean model sentiment of survey comments answered in the window; NaN if none is scored",
                range: Range::new(-1.0, 1.0),
                missing: When("no survey comment in 180 days"),
                says: say("survey comments are ", MoodScore, " over 180 days"),
                compared: Signed,
                scorecard: Healthier(C::Sentiment),
            },
            // ---- Relationships -------------------------------------------------
            Feature::ContactsActive => FeatureDef {
                name: "contacts_active",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "count",
                description: "Contacts whose latest observation at or before t is active",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("", count("contact", "contacts"), " active"),
                compared: Number,
                scorecard: Healthier(C::Relationships),
            },
            Feature::RelationshipStrengthMean => FeatureDef {
                name: "relationship_strength_mean",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "level 1-4",
                description: "Mean relationship strength over active contacts; NaN if none",
                range: Range::new(1.0, 4.0),
                missing: When("no active contact"),
                says: say("relationship strength averages ", Level, ""),
                compared: Level,
                scorecard: Healthier(C::Relationships),
            },
            Feature::ChampionStrength => FeatureDef {
                name: "champion_strength",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "level 1-4",
                description: "Strongest relationship among active champions; NaN if no active champion",
                range: Range::new(1.0, 4.0),
                missing: When("no active champion"),
                says: say("the champion relationship is ", Level, ""),
                compared: Level,
                scorecard: Healthier(C::Relationships),
            },
            Feature::ChampionSentiment => FeatureDef {
                name: "champion_sentiment",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "score [-1,1]",
                description: "Mean sentiment (negative -1, neutral 0, positive 1) of active champions; NaN if none",
                range: Range::new(-1.0, 1.0),
                missing: When("no active champion"),
                says: say("the champion is ", Mood, ""),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::ExecSponsorStrength => FeatureDef {
                name: "exec_sponsor_strength",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "level 1-4",
                description: "Strongest relationship among active executive sponsors; NaN if none",
                range: Range::new(1.0, 4.0),
                missing: When("no active executive sponsor"),
                says: say("the executive sponsor relationship is ", Level, ""),
                compared: Level,
                scorecard: Unused,
            },
            Feature::ExecSponsorSentiment => FeatureDef {
                name: "exec_sponsor_sentiment",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "score [-1,1]",
                description: "Mean sentiment of active executive sponsors; NaN if none",
                range: Range::new(-1.0, 1.0),
                missing: When("no active executive sponsor"),
                says: say("the executive sponsor is ", Mood, ""),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::AdminStrength => FeatureDef {
                name: "admin_strength",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "level 1-4",
                description: "Strongest relationship among active admins; NaN if none",
                range: Range::new(1.0, 4.0),
                missing: When("no active admin"),
                says: say("the admin relationship is ", Level, ""),
                compared: Level,
                scorecard: Unused,
            },
            Feature::AdminSentiment => FeatureDef {
                name: "admin_sentiment",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "score [-1,1]",
                description: "Mean sentiment of active admins; NaN if none",
                range: Range::new(-1.0, 1.0),
                missing: When("no active admin"),
                says: say("the admin is ", Mood, ""),
                compared: Signed,
                scorecard: Unused,
            },
            Feature::ChampionLeft => FeatureDef {
                name: "champion_left",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "0/1",
                description: "1 if a contact whose latest observation at or before t is a champion is marked inactive (the champion left)",
                range: Range::whole(0.0, 1.0),
                missing: Never,
                says: Says::Flag {
                    yes: "the champion has left",
                    no: "the champion is still there",
                },
                compared: Number,
                scorecard: Riskier(C::Relationships),
            },
            Feature::ExecSponsorPresent => FeatureDef {
                name: "exec_sponsor_present",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "0/1",
                description: "1 if there is an active executive sponsor",
                range: Range::whole(0.0, 1.0),
                missing: Never,
                says: Says::Flag {
                    yes: "an executive sponsor is engaged",
                    no: "no executive sponsor",
                },
                compared: Number,
                scorecard: Healthier(C::Relationships),
            },
            Feature::ExecSponsorNegative => FeatureDef {
                name: "exec_sponsor_negative",
                family: Relationships,
                role: Actionable,
                window: "at t",
                unit: "0/1",
                description: "1 if an active executive sponsor's sentiment is negative",
                range: Range::whole(0.0, 1.0),
                missing: Never,
                says: Says::Flag {
                    yes: "the executive sponsor is negative",
                    no: "the executive sponsor is not negative",
                },
                compared: Number,
                scorecard: Unused,
            },
            Feature::ExecSponsorInteractionSentiment => FeatureDef {
                name: "exec_sponsor_interaction_sentiment",
                family: Relationships,
                role: Actionable,
                window: "180d",
                unit: "score [-1,1]",
                description: "Model sentiment of the latest scored interaction opened in the window by a contact who is an active executive sponsor at t; NaN if none",
                range: Range::new(-1.0, 1.0),
                missing: When("no scored interaction from the executive sponsor in 180 days"),
                says: say(
                    "the executive sponsor's latest interaction was ",
                    MoodScore,
                    "",
                ),
                compared: Signed,
                scorecard: Unused,
            },
            // ---- Adoption ------------------------------------------------------
            Feature::ActiveUsersPerSeat30d => FeatureDef {
                name: "active_users_per_seat_30d",
                family: Adoption,
                role: Actionable,
                window: "30d",
                unit: "fraction",
                description: "Mean active users per usage row in the window divided by seats at t (daily rows give DAU, weekly rows WAU); 0 with no row in the window; NaN if no usage is known or seats at t are 0 or unknown",
                // Mean active users over seats: more people than seats use it.
                range: Range::new(0.0, INF),
                missing: When("active users per seat unknown"),
                says: say("", Percent, " of seats active (30 days)"),
                compared: Percent,
                scorecard: Healthier(C::Adoption),
            },
            Feature::ActiveUsersTrend => FeatureDef {
                name: "active_users_trend",
                family: Adoption,
                role: Actionable,
                window: "30d vs prior 90d",
                unit: "ratio [-1,1]",
                description: "Change in mean active users per row, (recent - prior) / (recent + prior); NaN if either window has no usage row",
                range: Range::new(-1.0, 1.0),
                missing: When("too little usage data for a trend"),
                says: say("active users ", Trend, " on the prior 90 days"),
                compared: Signed,
                scorecard: Healthier(C::Adoption),
            },
            Feature::LoginsPerDay7d => FeatureDef {
                name: "logins_per_day_7d",
                family: Adoption,
                role: Actionable,
                window: "7d",
                unit: "logins/day",
                description: "Logins per covered day of the usage rows in the window; 0 with no row in the window; NaN if no usage is known",
                range: Range::new(0.0, INF),
                missing: When("no usage data"),
                says: say("", Decimals(1), " logins a day this week"),
                compared: Decimals(1),
                scorecard: Unused,
            },
            Feature::LoginsPerDay30d => FeatureDef {
                name: "logins_per_day_30d",
                family: Adoption,
                role: Actionable,
                window: "30d",
                unit: "logins/day",
                description: "Logins per covered day of the usage rows in the window; 0 with no row in the window; NaN if no usage is known",
                range: Range::new(0.0, INF),
                missing: When("no usage data"),
                says: say("", Decimals(1), " logins a day this month"),
                compared: Decimals(1),
                scorecard: Healthier(C::Adoption),
            },
            Feature::LoginsTrend => FeatureDef {
                name: "logins_trend",
                family: Adoption,
                role: Actionable,
                window: "30d vs prior 90d",
                unit: "ratio [-1,1]",
                description: "Change in logins per day, (recent - prior) / (recent + prior); NaN if either window has no usage row",
                range: Range::new(-1.0, 1.0),
                missing: When("too little usage data for a trend"),
                says: say("logins ", Trend, " on the prior 90 days"),
                compared: Signed,
                scorecard: Healthier(C::Adoption),
            },
            Feature::FeatureBreadth30d => FeatureDef {
                name: "feature_breadth_30d",
                family: Adoption,
                role: Actionable,
                window: "30d",
                unit: "features",
                description: "Most distinct key features used in one usage row of the window; 0 with no row in the window; NaN if no usage is known",
                range: Range::new(0.0, INF),
                missing: When("no usage data"),
                says: say("", count("key feature", "key features"), " used (30 days)"),
                compared: Number,
                scorecard: Healthier(C::Adoption),
            },
            Feature::DaysSinceActive => FeatureDef {
                name: "days_since_active",
                family: Adoption,
                role: Actionable,
                window: "all to t",
                unit: "days",
                description: "Days from the last complete usage day to the end of the latest period with an active user or a login; NaN if never active",
                // A difference of event dates: data entered out of order can
                // make it negative, and it is still what the model was trained on.
                range: Range::new(-INF, INF),
                missing: When("never active"),
                says: Says::Below {
                    under: 0.5,
                    text: "active in the latest usage period",
                    otherwise: sentence("no activity for ", DAYS, ""),
                },
                compared: DAYS,
                scorecard: Riskier(C::Adoption),
            },
            // ---- Commercial ----------------------------------------------------
            Feature::Mrr => FeatureDef {
                name: "mrr",
                family: Commercial,
                role: Context,
                window: "at t",
                unit: "currency/month",
                description: "MRR at t from subscription events (never the account's current value when events exist)",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("MRR is ", Money, ""),
                compared: Money,
                scorecard: Unused,
            },
            Feature::Seats => FeatureDef {
                name: "seats",
                family: Commercial,
                role: Context,
                window: "at t",
                unit: "seats",
                description: "Seats at t from subscription events; NaN when events exist but none tells the seats at t",
                range: Range::new(0.0, INF),
                missing: When("seats unknown"),
                says: say("", count("seat", "seats"), ""),
                compared: Number,
                scorecard: Unused,
            },
            Feature::SegmentSize => FeatureDef {
                name: "segment_size",
                family: Commercial,
                role: Context,
                window: "static",
                unit: "ordinal",
                description: "Customer segment: 0 SMB, 1 mid-market, 2 enterprise",
                range: Range::whole(0.0, 2.0),
                missing: Never,
                says: say("", Segment, " account"),
                compared: Number,
                scorecard: Unused,
            },
            Feature::TenureDays => FeatureDef {
                name: "tenure_days",
                family: Commercial,
                role: Context,
                window: "at t",
                unit: "days",
                description: "Days since the account's start date (negative before it starts)",
                // A difference of event dates (see days_since_active).
                range: Range::new(-INF, INF),
                missing: Never,
                says: say("customer for ", DAYS, ""),
                compared: DAYS,
                scorecard: Healthier(C::Commercial),
            },
            Feature::DaysToRenewal => FeatureDef {
                name: "days_to_renewal",
                family: Commercial,
                role: Context,
                window: "at t",
                unit: "days",
                description: "Days to the next annual anniversary of the start date (0 on the day); NaN before the start date",
                range: Range::new(0.0, 366.0),
                missing: When("not started yet"),
                says: say("renews in ", DAYS, ""),
                compared: DAYS,
                scorecard: Unused,
            },
            Feature::MrrChange90d => FeatureDef {
                name: "mrr_change_90d",
                family: Commercial,
                role: Actionable,
                window: "90d",
                unit: "fraction",
                description: "Relative MRR change, (MRR at t - MRR 90 days before) / MRR 90 days before; NaN if MRR then was 0",
                range: Range::new(-1.0, INF),
                missing: When("no MRR 90 days ago"),
                says: Says::Change {
                    steady_below: 0.005,
                    steady: "MRR unchanged over 90 days",
                    down: sentence("MRR down ", Percent, " over 90 days"),
                    up: sentence("MRR up ", Percent, " over 90 days"),
                },
                compared: Percent,
                scorecard: Healthier(C::Commercial),
            },
            Feature::Downgrades90d => FeatureDef {
                name: "downgrades_90d",
                family: Commercial,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Downgrade events in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("", count("downgrade", "downgrades"), " in 90 days"),
                compared: Number,
                scorecard: Unused,
            },
            Feature::Downgrades180d => FeatureDef {
                name: "downgrades_180d",
                family: Commercial,
                role: Actionable,
                window: "180d",
                unit: "count",
                description: "Downgrade events in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("", count("downgrade", "downgrades"), " in 180 days"),
                compared: Number,
                scorecard: Riskier(C::Commercial),
            },
            Feature::Upgrades180d => FeatureDef {
                name: "upgrades_180d",
                family: Commercial,
                role: Actionable,
                window: "180d",
                unit: "count",
                description: "Upgrade events in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say("", count("upgrade", "upgrades"), " in 180 days"),
                compared: Number,
                scorecard: Unused,
            },
            Feature::PaymentFailures90d => FeatureDef {
                name: "payment_failures_90d",
                family: Commercial,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Failed payment events in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("failed payment", "failed payments"),
                    " in 90 days",
                ),
                compared: Number,
                scorecard: Riskier(C::Commercial),
            },
            // ---- Operational ---------------------------------------------------
            Feature::MissedPayroll90d => FeatureDef {
                name: "missed_payroll_90d",
                family: Operational,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Missed payroll deadlines in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("missed payroll deadline", "missed payroll deadlines"),
                    " in 90 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::MissedPayroll180d => FeatureDef {
                name: "missed_payroll_180d",
                family: Operational,
                role: Actionable,
                window: "180d",
                unit: "count",
                description: "Missed payroll deadlines in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("missed payroll deadline", "missed payroll deadlines"),
                    " in 180 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::TaxErrors90d => FeatureDef {
                name: "tax_errors_90d",
                family: Operational,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Tax filing errors in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("tax-filing error", "tax-filing errors"),
                    " in 90 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::TaxErrors180d => FeatureDef {
                name: "tax_errors_180d",
                family: Operational,
                role: Actionable,
                window: "180d",
                unit: "count",
                description: "Tax filing errors in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("tax-filing error", "tax-filing errors"),
                    " in 180 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            Feature::OnboardingCompleted => FeatureDef {
                name: "onboarding_completed",
                family: Operational,
                role: Actionable,
                window: "all to t",
                unit: "0/1",
                description: "1 if onboarding was completed at or before t",
                range: Range::whole(0.0, 1.0),
                missing: Never,
                says: Says::Flag {
                    yes: "onboarding is complete",
                    no: "onboarding is not complete",
                },
                compared: Number,
                scorecard: Unused,
            },
            Feature::OnboardingDays => FeatureDef {
                name: "onboarding_days",
                family: Operational,
                role: Actionable,
                window: "all to t",
                unit: "days",
                description: "Days from onboarding start (its event, else the start date) to completion; NaN if not completed by t",
                // A difference of event dates (see days_since_active).
                range: Range::new(-INF, INF),
                missing: When("onboarding not completed"),
                says: say("onboarding took ", DAYS, ""),
                compared: DAYS,
                scorecard: Unused,
            },
            Feature::TrainingCompleted => FeatureDef {
                name: "training_completed",
                family: Operational,
                role: Actionable,
                window: "all to t",
                unit: "0/1",
                description: "1 if the customer completed training at or before t",
                range: Range::whole(0.0, 1.0),
                missing: Never,
                says: Says::Flag {
                    yes: "training is complete",
                    no: "training not completed",
                },
                compared: Number,
                scorecard: Unused,
            },
            Feature::PriceIncrease90d => FeatureDef {
                name: "price_increase_90d",
                family: Commercial,
                role: Actionable,
                window: "90d",
                unit: "count",
                description: "Price increases in the window",
                range: Range::new(0.0, INF),
                missing: Never,
                says: say(
                    "",
                    count("price increase", "price increases"),
                    " in 90 days",
                ),
                compared: Number,
                scorecard: Unused,
            },
            // ---- Surveys -------------------------------------------------------
            Feature::NpsLatest => FeatureDef {
                name: "nps_latest",
                family: Surveys,
                role: Actionable,
                window: "all to t",
                unit: "score 0-10",
                description: "Latest NPS answer at or before t; NaN if none",
                range: Range::new(0.0, 10.0),
                missing: When("no NPS answer"),
                says: say("latest NPS answer is ", Number, ""),
                compared: Number,
                scorecard: Healthier(C::Sentiment),
            },
            Feature::NpsTrend => FeatureDef {
                name: "nps_trend",
                family: Surveys,
                role: Actionable,
                window: "all to t",
                unit: "score difference",
                description: "Latest NPS answer minus the one before it; NaN with fewer than two",
                range: Range::new(-10.0, 10.0),
                missing: When("fewer than two NPS answers"),
                says: Says::Change {
                    steady_below: 0.5,
                    steady: "NPS answer unchanged from the one before",
                    down: sentence("NPS fell ", Number, " points from the answer before"),
                    up: sentence("NPS rose ", Number, " points from the answer before"),
                },
                compared: Signed,
                scorecard: Unused,
            },
            Feature::DaysSinceNps => FeatureDef {
                name: "days_since_nps",
                family: Surveys,
                role: Gap,
                window: "all to t",
                unit: "days",
                description: "Days since the latest NPS answer; NaN if none",
                range: Range::new(0.0, INF),
                missing: When("no NPS answer"),
                says: say("last NPS answer ", DAYS, " ago"),
                compared: DAYS,
                scorecard: Unused,
            },
            Feature::CsatSurveyLatest => FeatureDef {
                name: "csat_survey_latest",
                family: Surveys,
                role: Actionable,
                window: "all to t",
                unit: "score 1-5",
                description: "Latest CSAT survey answer at or before t; NaN if none",
                range: Range::new(1.0, 5.0),
                missing: When("no CSAT survey answer"),
                says: say("latest CSAT survey answer is ", Number, " of 5"),
                compared: Number,
                scorecard: Healthier(C::Sentiment),
            },
        }
    }

    /// The feature's column in every feature vector.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The feature's stable name.
    pub fn name(self) -> &'static str {
        FEATURES[self as usize].name
    }

    /// The feature named `name`.
    pub fn from_name(name: &str) -> Option<Feature> {
        feature_index(name).map(|i| Feature::ALL[i])
    }
}

/// Every definition, in column order.
static FEATURES: [FeatureDef; Feature::ALL.len()] = {
    let mut out = [Feature::ALL[0].def(); Feature::ALL.len()];
    let mut i = 1;
    while i < out.len() {
        out[i] = Feature::ALL[i].def();
        i += 1;
    }
    out
};

/// Every feature, in column order.
pub fn features() -> &'static [FeatureDef] {
    &FEATURES
}

/// The number of features (columns).
pub fn n_features() -> usize {
    FEATURES.len()
}

/// The column index of a feature by name.
pub fn feature_index(name: &str) -> Option<usize> {
    FEATURES.iter().position(|f| f.name == name)
}

/// The feature table in Markdown, one row per feature in column order, for
/// the README and for people reading explanations.
pub fn markdown_table() -> String {
    let mut s = String::with_capacity(FEATURES.len() * 160);
    s.push_str("| # | feature | family | role | window | unit | meaning |\n");
    s.push_str("|---|---|---|---|---|---|---|\n");
    for (i, f) in FEATURES.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = writeln!(
            s,
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            i,
            f.name,
            f.family.as_str(),
            match f.role {
                Role::Context => "context",
                Role::Actionable => "actionable",
                Role::Gap => "data gap",
            },
            f.window,
            f.unit,
            f.description.replace('|', "\\|")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_indices_match() {
        let n = features().len();
        assert!((40..=64).contains(&n), "{n} features");
        for (i, f) in features().iter().enumerate() {
            assert!(
                f.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{}",
                f.name
            );
            assert_eq!(feature_index(f.name), Some(i), "duplicate {}", f.name);
            assert!(!f.description.is_empty() && !f.description.ends_with('.'));
            assert!(!f.window.is_empty() && !f.unit.is_empty());
        }
        let context: Vec<&str> = features()
            .iter()
            .filter(|f| f.role == Role::Context)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            context,
            [
                "mrr",
                "seats",
                "segment_size",
                "tenure_days",
                "days_to_renewal"
            ]
        );
        assert_eq!(Feature::ALL.len(), n);
        assert_eq!(Feature::CsatSurveyLatest.index(), n - 1);
        assert_eq!(features()[Feature::Mrr.index()].name, "mrr");
        for (i, f) in Feature::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(f.def(), features()[i]);
            assert_eq!(Feature::from_name(f.name()), Some(*f));
        }
        assert_eq!(Feature::from_name("no_such_feature"), None);
        for fam in Family::ALL {
            assert!(features().iter().any(|f| f.family == *fam), "{fam}");
        }
    }

    #[test]
    fn definitions_agree_with_themselves() {
        for f in features() {
            // The description says when it is missing exactly when it may be.
            assert_eq!(
                f.description.contains("NaN"),
                f.missing.is_possible(),
                "{}",
                f.name
            );
            assert!(f.range.min < f.range.max, "{}", f.name);
            if let Missing::When(s) = f.missing {
                assert!(!s.is_empty(), "{}", f.name);
            }
            // Flags are whole numbers in [0, 1].
            if matches!(f.says, Says::Flag { .. }) {
                assert_eq!(f.range, Range::whole(0.0, 1.0), "{}", f.name);
            }
        }
    }

    #[test]
    fn causes_separate_when_from_why() {
        let def = |f: Feature| f.def();
        assert_eq!(def(Feature::DaysToRenewal).cause(7.0), Cause::Context);
        assert_eq!(def(Feature::TenureDays).cause(f64::NAN), Cause::Context);
        assert_eq!(def(Feature::DaysSinceNps).cause(480.0), Cause::DataGap);
        assert_eq!(def(Feature::NpsLatest).cause(f64::NAN), Cause::DataGap);
        assert_eq!(def(Feature::NpsLatest).cause(3.0), Cause::Surveys);
        assert_eq!(def(Feature::CsatMean90d).cause(2.0), Cause::Support);
        assert_eq!(def(Feature::PriceIncrease90d).cause(1.0), Cause::Commercial);
        assert_eq!(def(Feature::LoginsTrend).cause(f64::NAN), Cause::Adoption);
        for c in Cause::ACTIONABLE {
            assert!(c.is_reason());
            assert_eq!(Cause::from_name(c.as_str()), Some(*c));
        }
        assert_eq!(Cause::from_name("context"), Some(Cause::Context));
        assert!(!Cause::Context.is_reason());
        // Every family is the cause of some feature.
        for fam in Family::ALL {
            let c = Cause::from(*fam);
            assert!(features().iter().any(|f| f.cause(1.0) == c), "{fam}");
        }
    }

    #[test]
    fn markdown_table_has_one_row_per_feature() {
        let t = markdown_table();
        assert_eq!(t.lines().count(), features().len() + 2);
        assert!(t.contains("| 0 | `interactions_7d` | support | actionable | 7d | count |"));
        assert!(t.lines().all(|l| l.starts_with('|') && l.ends_with('|')));
    }
}
