//! One account's score and profile, as every front end shows them: the live
//! score of a current customer (a lookup in the serving population, its
//! drivers computed on the CPU pool when more are asked for than were kept),
//! a stored score for a past date, and the profile a CSM reads before a call
//! (who, the score and its trend, what changed, recent and open
//! interactions, the people and their sentiment).
//!
//! The gRPC `Score` / `GetAccountProfile` handlers and the web console both
//! call these functions, so the same question gets the same number on each.

use std::sync::Arc;

use pulse_core::time::{Day, day_of_ts, format_day};
use pulse_core::{Account, FieldError, Persona, Sentiment};
use pulse_forecast::ChurnCurve;
use pulse_scoring::{AccountScore, attribute_change};
use pulse_store::{ContactRelationship, InteractionView, ScoreRunInfo, Store, StoredScore};

use crate::error::AppError;
use crate::limits::CpuPool;
use crate::serving::{Scoring, Serving};

/// Weeks of stored scores in a profile's trend.
pub const TREND_WEEKS: i32 = 12;
/// Most recent interactions a profile may ask for.
pub const MAX_PROFILE_INTERACTIONS: u32 = 100;

/// Where a score came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoreSource {
    /// The serving population (today's features, the promoted models).
    Live,
    /// A stored scoring run (a past date, or an account no longer live).
    Stored,
}

/// A score with where it came from.
#[derive(Debug, Clone)]
pub struct ScoreAnswer {
    pub score: AccountScore,
    pub source: ScoreSource,
    /// The stored run's id (0 for a live score).
    pub run_id: i64,
    /// The time-to-churn curve and the survival model's version (live
    /// scores, when a survival model is trained).
    pub curve: Option<(ChurnCurve, String)>,
}

/// A stored score's full explanation, parsed.
pub fn parse_stored(explanation: &str) -> Result<AccountScore, AppError> {
    AccountScore::from_json(explanation).map_err(|e| {
        AppError::Store(pulse_store::StoreError::Corrupt {
            table: "account_scores",
            id: String::new(),
            reason: format!("explanation does not parse: {e}"),
        })
    })
}

/// The number of drivers a caller asked for: 0 is the configured default;
/// more than there are features is an error naming `field`.
pub fn top_k(scoring: &Scoring, field: &str, requested: u32) -> Result<usize, AppError> {
    let n = pulse_features::n_features();
    match requested as usize {
        0 => Ok(scoring.settings().config.top_drivers),
        k if k <= n => Ok(k),
        k => Err(FieldError::new(field, format!("{k} is more than the {n} features")).into()),
    }
}

/// The serving population, or UNAVAILABLE while the first one is built.
pub fn population(serving: &Serving) -> Result<&Arc<pulse_scoring::ScoredPopulation>, AppError> {
    serving.scored.as_ref().ok_or_else(|| {
        AppError::Unavailable(
            "the scoring population is still being built; retry in a few seconds".into(),
        )
    })
}

/// Not in the live population: NOT_FOUND for an unknown account, else
/// FAILED_PRECONDITION (churned or not started yet).
pub async fn not_live(store: &Store, id: &str, as_of: Day) -> AppError {
    match store.account(id).await {
        Ok(Some(_)) => AppError::FailedPrecondition(format!(
            "account '{id}' is not a customer as of {} (churned or not started): it has no live score; ask for a past date (as_of) to read a stored one",
            format_day(as_of)
        )),
        Ok(None) => AppError::NotFound {
            what: "account",
            id: id.to_string(),
        },
        Err(e) => e.into(),
    }
}

/// A live answer for population row `i`, with its churn curve.
pub fn live_answer(serving: &Serving, score: AccountScore, i: usize) -> ScoreAnswer {
    ScoreAnswer {
        score,
        source: ScoreSource::Live,
        run_id: 0,
        curve: serving
            .curve(i)
            .map(|(c, version)| (*c, version.to_string())),
    }
}

/// Account `id`'s score with `k` drivers: live as of the serving
/// population's day (or `as_of` equal to it), stored for an earlier day.
/// A day after the latest features is an error naming `as_of`.
pub async fn score(
    scoring: &Scoring,
    store: &Store,
    cpu: &CpuPool,
    id: &str,
    as_of: Option<Day>,
    k: usize,
) -> Result<ScoreAnswer, AppError> {
    let serving = scoring.require()?;
    let scored = population(&serving)?;
    let live_day = scored.population.as_of;
    if let Some(day) = as_of.filter(|d| *d < live_day) {
        return stored_score(store, id, day).await;
    }
    if let Some(day) = as_of.filter(|d| *d > live_day) {
        return Err(FieldError::new(
            "as_of",
            format!(
                "{} is after the latest features ({}); scores describe what is known",
                format_day(day),
                format_day(live_day)
            ),
        )
        .into());
    }
    let Some(i) = scored.population.position(id) else {
        return Err(not_live(store, id, live_day).await);
    };
    let s = &scored.scores[i];
    if k <= scored.top_k {
        return Ok(live_answer(&serving, s.clone(), i));
    }
    // More drivers than were kept: TreeSHAP, where the request is served
    // when the model is small enough (see `Engine::explains_inline`), else
    // on the CPU pool.
    let (engine, population) = (serving.engine.clone(), scored.clone());
    let work = move || {
        engine.score(
            &population.population.subject(i),
            Some(&population.population.reference),
            k,
        )
    };
    let full = if serving.engine.explains_inline() {
        work()?
    } else {
        cpu.run("scoring drivers", work).await??
    };
    Ok(live_answer(&serving, full, i))
}

/// Account `id`'s stored score on or before `day`.
pub async fn stored_score(store: &Store, id: &str, day: Day) -> Result<ScoreAnswer, AppError> {
    match store.score_as_of(id, day).await? {
        Some((run, s)) => Ok(ScoreAnswer {
            score: parse_stored(&s.explanation)?,
            source: ScoreSource::Stored,
            run_id: run.run_id,
            curve: None,
        }),
        None => match store.account(id).await? {
            Some(_) => Err(AppError::NotFound {
                what: "stored score of account",
                id: format!(
                    "{id}' on or before '{}: past scores come from stored scoring runs (ScoringService.RunScoring or `pulse scores run --as-of DATE`)",
                    format_day(day)
                ),
            }),
            None => Err(AppError::NotFound {
                what: "account",
                id: id.to_string(),
            }),
        },
    }
}

/// One point of a profile's trend: a stored weekly score.
#[derive(Debug, Clone)]
pub struct TrendPoint {
    pub run: ScoreRunInfo,
    pub stored: StoredScore,
}

/// What a CSM reads before a call.
#[derive(Debug, Clone)]
pub struct Profile {
    pub account: Account,
    /// Today, by the application's clock.
    pub today: Day,
    /// ARR: the live score's, else twelve times the recorded MRR.
    pub arr: f64,
    /// Days from today to the renewal date (negative when it passed).
    pub days_to_renewal: Option<i32>,
    /// The live score of a current customer, else the latest stored one.
    pub score: Option<ScoreAnswer>,
    /// Stored scores of the last [`TREND_WEEKS`] weeks, oldest first.
    pub trend: Vec<TrendPoint>,
    /// What moved the health between the last two stored scores.
    pub change_summary: String,
    pub recent_interactions: Vec<InteractionView>,
    pub open_issues: Vec<InteractionView>,
    /// Each current contact with their latest scored interaction,
    /// executive sponsors first.
    pub people: Vec<ContactRelationship>,
    /// An active executive sponsor who is negative, or whose latest
    /// interaction was.
    pub negative_executive_sponsor: bool,
}

/// Whether an active executive sponsor is negative (their recorded
/// sentiment, or their latest scored interaction).
pub fn negative_executive_sponsor(people: &[ContactRelationship]) -> bool {
    people.iter().any(|r| {
        r.contact.active
            && r.contact.persona == Persona::ExecutiveSponsor
            && (r.contact.sentiment == Sentiment::Negative
                || r.latest_interaction
                    .as_ref()
                    .is_some_and(|i| i.label == Sentiment::Negative))
    })
}

/// Account `id`'s profile with its `interactions` most recent interactions
/// (0: 10; at most [`MAX_PROFILE_INTERACTIONS`]).
pub async fn profile(
    scoring: &Scoring,
    store: &Store,
    id: &str,
    interactions: u32,
) -> Result<Profile, AppError> {
    let id = id.trim();
    if id.is_empty() {
        return Err(FieldError::new("account_id", "is required").into());
    }
    let n = match interactions {
        0 => 10,
        n @ 1..=MAX_PROFILE_INTERACTIONS => n,
        n => {
            return Err(FieldError::new(
                "interactions",
                format!("{n} is over the limit of {MAX_PROFILE_INTERACTIONS}"),
            )
            .into());
        }
    };
    let account = store.account(id).await?.ok_or_else(|| AppError::NotFound {
        what: "account",
        id: id.to_string(),
    })?;
    let now = scoring.clock().now();
    let today = day_of_ts(now);
    let k = scoring.settings().config.top_drivers;

    // The live score when the account is a current customer, else its
    // latest stored one.
    let serving = scoring.current();
    let live = serving.as_ref().and_then(|s| {
        let scored = s.scored.as_ref()?;
        let i = scored.population.position(id)?;
        Some((i, scored.scores[i].clone()))
    });
    let trend = store
        .score_trend(id, today - 7 * TREND_WEEKS, today)
        .await?;
    let mut parsed = Vec::with_capacity(trend.len());
    for (run, s) in &trend {
        parsed.push((run.as_of, parse_stored(&s.explanation)?));
    }
    let arr = live.as_ref().map_or(12.0 * account.mrr, |(_, s)| s.arr);
    let score = match (live, trend.last()) {
        (Some((i, s)), _) => serving.as_ref().map(|sv| live_answer(sv, s, i)),
        (None, Some((run, _))) => parsed.last().map(|(_, s)| ScoreAnswer {
            score: s.clone(),
            source: ScoreSource::Stored,
            run_id: run.run_id,
            curve: None,
        }),
        (None, None) => None,
    };
    let score = score.map(|mut a| {
        // Scores stored before timing was told apart may list it as a driver.
        a.score.drivers.retain(|d| d.cause.is_reason());
        a.score.drivers.truncate(k);
        a
    });
    let change_summary = match parsed.as_slice() {
        [.., (from_day, a), (_, b)] => attribute_change(a, b, &format_day(*from_day)).summary,
        _ => String::new(),
    };
    let recent_interactions = store.recent_interactions(id, now, n).await?;
    let open_issues = store.open_interactions(id, now).await?;
    let people = store.persona_map(id).await?;
    Ok(Profile {
        days_to_renewal: account.renewal_date.map(|d| d - today),
        negative_executive_sponsor: negative_executive_sponsor(&people),
        account,
        today,
        arr,
        score,
        trend: trend
            .into_iter()
            .map(|(run, stored)| TrendPoint { run, stored })
            .collect(),
        change_summary,
        recent_interactions,
        open_issues,
        people,
    })
}
