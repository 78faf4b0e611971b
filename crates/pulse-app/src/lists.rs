//! Weekly lists over the store: generation from a week's stored scoring run
//! (the pure ranking is `pulse-lists`), reading a week's lists back,
//! recording outreach, the outreach report, an owner's portfolio, and the
//! weekly schedule. Shared by `ListService`, the scheduler in `serve` and
//! the `pulse lists` / `pulse outreach` commands.

use std::collections::{HashMap, HashSet};

use pulse_core::time::{Day, Ts, day_of_ts, format_day, ts_of_day};
use pulse_core::{Clock, FieldError, Outreach, OutreachOutcome, Record};
use pulse_lists::{
    Candidate, ExpansionRow, LastContact, ListConfig, MoverRow, PlayReport, Portfolio, Previous,
    ReportAccount, ReportWeek, RiskRow, RiskSummary, Week,
};
use pulse_scoring::{AccountScore, Population};
use pulse_store::{ListRow, ListRowFilter, ListRunInfo, ListWrite, NewListRun, Store};
use serde::{Deserialize, Serialize};

use crate::access::{Caller, Role};
use crate::error::AppError;

/// What the run row's `params` JSON holds: the settings the lists were made
/// with and what they add up to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunParams {
    pub config: ListConfig,
    pub summary: RiskSummary,
    pub expansion_accounts: usize,
    pub risers: usize,
    pub newly_red: usize,
}

/// A week's stored list run with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredLists {
    pub run: ListRunInfo,
    pub params: RunParams,
}

/// Row kinds in `list_rows`.
pub const RISK: &str = "risk";
pub const HOLDOUT: &str = "holdout";
pub const EXPANSION: &str = "expansion";
/// The band stored with every expansion row (they are all healthy).
pub const EXPANSION_BAND: &str = "green";
pub const MOVER: &str = "mover";
pub const NEWLY_RED: &str = "newly_red";

fn corrupt(what: &'static str, id: &str, e: impl std::fmt::Display) -> AppError {
    AppError::Store(pulse_store::StoreError::Corrupt {
        table: what,
        id: id.to_string(),
        reason: e.to_string(),
    })
}

fn blocking_failed(what: &str, e: impl std::fmt::Display) -> AppError {
    AppError::internal(what, e)
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("list rows always serialise")
}

/// A stored row: `key` is `[account_id, owner, segment, band]`.
fn list_row<T: Serialize>(kind: &str, rank: u32, key: [&str; 4], value: f64, row: &T) -> ListRow {
    let [account_id, owner, segment, band] = key;
    ListRow {
        kind: kind.into(),
        rank: i64::from(rank),
        account_id: account_id.into(),
        owner: owner.into(),
        segment: segment.into(),
        band: band.into(),
        value,
        row_json: json(row),
    }
}

/// What a list row says of an outreach record.
fn last_contact_of(o: Outreach) -> LastContact {
    LastContact {
        day: day_of_ts(o.contacted_at),
        play: o.play,
        owner: o.owner,
        channel: o.channel,
        outcome: o.outcome.to_string(),
    }
}

/// The candidates of a week: every account of the scoring run with its
/// stored score, last week's score, its latest recent outreach, and the
/// commercial facts (seats, seat use, days to renewal) as of the run's day:
/// stored with the run's scores, or for runs stored before they were, from
/// the histories.
pub async fn candidates(
    store: &Store,
    cfg: &ListConfig,
    week: &Week,
    threads: usize,
    now: Ts,
) -> Result<(pulse_store::ScoreRunInfo, Vec<Candidate>), AppError> {
    let Some(run) = store.score_run_between(week.start, week.end()).await? else {
        return Err(AppError::FailedPrecondition(format!(
            "no stored scoring run dated in {} ({} to {}): run `pulse scores run` (or ScoringService.RunScoring) for a day of that week first",
            week.label,
            format_day(week.start),
            format_day(week.end())
        )));
    };
    let scores = store.run_scores(run.run_id).await?;
    let prev_week = week.previous();
    let mut previous: HashMap<String, Previous> = HashMap::new();
    if let Some(p) = store
        .score_run_between(prev_week.start, prev_week.end())
        .await?
    {
        for s in store.run_scores(p.run_id).await? {
            previous.insert(
                s.account_id,
                Previous {
                    churn_probability: s.churn_probability,
                    health: s.health,
                    red: s.band == "red",
                },
            );
        }
    }
    let as_of_ts = pulse_features::end_of_day(run.as_of).min(now.max(ts_of_day(run.as_of)));
    let contact_from = as_of_ts - i64::from(cfg.contacted_days.max(cfg.hold_back_days)) * 86_400;
    let mut last_contact: HashMap<String, LastContact> = HashMap::new();
    for o in store
        .outreach_between(contact_from, as_of_ts + 1, None)
        .await?
    {
        // Oldest first: the latest wins.
        last_contact.insert(o.account_id.clone(), last_contact_of(o));
    }
    let scores = scores
        .into_iter()
        .map(|s| {
            let a = AccountScore::from_json(&s.explanation)
                .map_err(|e| corrupt("account_scores", &s.account_id, e))?;
            Ok((s, a))
        })
        .collect::<Result<Vec<_>, AppError>>()?;
    // Runs stored by this version keep each account's seat use with its
    // score, so the lists read no histories. Older runs: the features as of
    // the run's day, from the histories.
    let population = if scores.iter().all(|(_, a)| a.seat_use.is_some()) {
        None
    } else {
        let (histories, _excluded) =
            crate::serving::load_usable_histories(store, Some(as_of_ts)).await?;
        let population =
            tokio::task::spawn_blocking(move || Population::build(&histories, as_of_ts, threads))
                .await
                .map_err(|e| blocking_failed("computing features", e))?;
        Some(population)
    };
    let col = |name: &str| pulse_features::feature_index(name).expect("a catalogue feature");
    let (seats_col, aups_col, renewal_col) = (
        col("seats"),
        col("active_users_per_seat_30d"),
        col("days_to_renewal"),
    );
    let accounts: HashMap<String, pulse_core::Account> = store
        .accounts(&pulse_store::AccountFilter::default())
        .await?
        .into_iter()
        .map(|a| (a.id.clone(), a))
        .collect();
    let finite = |v: f64| v.is_finite().then_some(v);
    let mut out = Vec::with_capacity(scores.len());
    for (s, a) in scores {
        let (meta, days_to_renewal, seat_use) = match &population {
            None => (
                None,
                a.urgency.days_to_renewal,
                a.seat_use.unwrap_or_default(),
            ),
            Some(population) => {
                let pos = population.position(&s.account_id);
                let row = pos.map(|i| population.rows.row(i));
                let value = |j: usize| row.as_ref().and_then(|r| finite(r[j]));
                (
                    pos.map(|i| &population.accounts[i]),
                    value(renewal_col),
                    pulse_scoring::SeatUse {
                        seats: value(seats_col),
                        active_users_per_seat: value(aups_col),
                    },
                )
            }
        };
        let acct = accounts.get(&s.account_id);
        let text = |m: Option<&str>, a: Option<&str>| m.or(a).unwrap_or_default().to_string();
        let reason = a
            .play_cause
            .map(|c| c.as_str().to_string())
            .unwrap_or_default();
        out.push(Candidate {
            name: text(meta.map(|m| m.name.as_str()), acct.map(|a| a.name.as_str())),
            owner: text(
                meta.map(|m| m.owner.as_str()),
                acct.map(|a| a.owner.as_str()),
            ),
            segment: text(
                meta.map(|m| m.segment.as_str()),
                acct.map(|a| a.segment.as_str()),
            ),
            plan: text(meta.map(|m| m.plan.as_str()), acct.map(|a| a.plan.as_str())),
            arr: s.arr,
            churn_probability: s.churn_probability,
            margin: a.margin,
            health: s.health,
            band: s.band.clone(),
            quadrant: s.quadrant.clone(),
            experience: a.experience,
            expansion_probability: s.expansion_probability,
            drivers: a.reasons().map(|d| d.sentence.clone()).collect(),
            reason,
            churn_before_renewal: a.urgency.churn_before_renewal,
            base_play: a.base_play,
            suggested_play: a.suggested_play,
            days_to_renewal: days_to_renewal.map(|d| d as i32),
            seats: seat_use.seats,
            active_users_per_seat: seat_use.active_users_per_seat,
            previous: previous.get(&s.account_id).copied(),
            last_contact: last_contact.get(&s.account_id).cloned(),
            account_id: s.account_id,
        });
    }
    Ok((run, out))
}

/// Generates a week's lists and stores them. With [`ListWrite::Claim`]
/// nothing is written (and `None` returned) when the week already has lists.
pub async fn generate(
    store: &Store,
    cfg: &ListConfig,
    week: &Week,
    mode: ListWrite,
    trigger: &str,
    threads: usize,
    clock: &Clock,
) -> Result<Option<StoredLists>, AppError> {
    let (score_run, cands) = candidates(store, cfg, week, threads, clock.now()).await?;
    let cfg2 = cfg.clone();
    let as_of = score_run.as_of;
    let lists = tokio::task::spawn_blocking(move || pulse_lists::generate(&cands, &cfg2, as_of))
        .await
        .map_err(|e| blocking_failed("ranking", e))?;
    let mut rows = Vec::new();
    for r in &lists.risk.rows {
        rows.push(list_row(
            RISK,
            r.rank,
            [&r.account_id, &r.owner, &r.segment, &r.band],
            r.arr_at_risk,
            r,
        ));
    }
    for r in &lists.risk.holdout {
        rows.push(list_row(
            HOLDOUT,
            r.rank,
            [&r.account_id, &r.owner, &r.segment, &r.band],
            r.arr_at_risk,
            r,
        ));
    }
    for r in &lists.expansion {
        rows.push(list_row(
            EXPANSION,
            r.rank,
            [&r.account_id, &r.owner, &r.segment, EXPANSION_BAND],
            r.expected_expansion_arr,
            r,
        ));
    }
    for r in &lists.movers.risers {
        let rise = r.churn_probability - r.previous_churn_probability;
        rows.push(list_row(
            MOVER,
            r.rank,
            [&r.account_id, &r.owner, &r.segment, &r.band],
            rise,
            r,
        ));
    }
    for r in &lists.movers.newly_red {
        rows.push(list_row(
            NEWLY_RED,
            r.rank,
            [&r.account_id, &r.owner, &r.segment, &r.band],
            r.churn_probability * r.arr,
            r,
        ));
    }
    let params = RunParams {
        config: cfg.clone(),
        summary: lists.risk.summary.clone(),
        expansion_accounts: lists.expansion.len(),
        risers: lists.movers.risers.len(),
        newly_red: lists.movers.newly_red.len(),
    };
    let new = NewListRun {
        week: week.label.clone(),
        week_start: week.start,
        score_run_id: score_run.run_id,
        as_of: score_run.as_of,
        churn_version: score_run.churn_version.clone(),
        expansion_version: score_run.expansion_version.clone(),
        params: json(&params),
        trigger: trigger.to_string(),
        created_at: clock.now(),
    };
    let saved = store.save_list_run(&new, &rows, mode).await?;
    if let Some(run) = &saved {
        tracing::info!(
            week = %run.week,
            score_run = run.score_run_id,
            generation = run.generation,
            accounts = params.summary.accounts,
            in_capacity = params.summary.in_capacity,
            trigger,
            "lists stored"
        );
    }
    Ok(saved.map(|run| StoredLists { run, params }))
}

/// The week a request names (`field` for the error), or the week of `today`.
pub fn week_or_current(field: &str, s: &str, today: Day) -> Result<Week, AppError> {
    if s.trim().is_empty() {
        Ok(Week::of(today))
    } else {
        Ok(pulse_lists::parse_week(field, s)?)
    }
}

/// A week's stored lists: `week` empty means the latest generated week.
/// NOT_FOUND when that week has none; FAILED_PRECONDITION when no week has.
pub async fn load(store: &Store, field: &str, week: &str) -> Result<StoredLists, AppError> {
    let run = if week.trim().is_empty() {
        store
            .list_runs(1)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| {
                AppError::FailedPrecondition(
                "no lists generated yet: run `pulse lists generate` (or ListService.GenerateLists)"
                    .into(),
            )
            })?
    } else {
        let w = pulse_lists::parse_week(field, week)?;
        store
            .list_run(&w.label)
            .await?
            .ok_or_else(|| AppError::NotFound {
                what: "lists of week",
                id: w.label.clone(),
            })?
    };
    let params: RunParams =
        serde_json::from_str(&run.params).map_err(|e| corrupt("list_runs", &run.week, e))?;
    Ok(StoredLists { run, params })
}

/// Filters of a list read, checked.
#[derive(Debug, Clone, Default)]
pub struct RowFilter {
    pub owner: Option<String>,
    pub segment: Option<String>,
    pub band: Option<String>,
    pub top: usize,
}

fn opt(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

impl RowFilter {
    /// Checks segment and band (an unknown owner just matches nothing).
    pub fn new(owner: &str, segment: &str, band: &str, top: usize) -> Result<Self, AppError> {
        let segment = opt(segment);
        if let Some(s) = &segment
            && s.parse::<pulse_core::Segment>().is_err()
        {
            return Err(FieldError::new(
                "segment",
                format!("'{s}' is not smb, mid_market or enterprise"),
            )
            .into());
        }
        let band = opt(band);
        if let Some(b) = &band
            && !["green", "yellow", "red"].contains(&b.as_str())
        {
            return Err(
                FieldError::new("band", format!("'{b}' is not green, yellow or red")).into(),
            );
        }
        Ok(RowFilter {
            owner: opt(owner),
            segment,
            band,
            top,
        })
    }

    /// Whether a row with these keys passes: the same test as the store's
    /// filter on its `owner`, `segment` and `band` columns (an expansion
    /// row's band is [`EXPANSION_BAND`]).
    pub fn matches(&self, owner: &str, segment: &str, band: &str) -> bool {
        let ok = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        ok(&self.owner, owner) && ok(&self.segment, segment) && ok(&self.band, band)
    }

    /// Whether it filters at all.
    pub fn is_empty(&self) -> bool {
        self.owner.is_none() && self.segment.is_none() && self.band.is_none()
    }

    fn store_filter(&self, kind: &str) -> ListRowFilter {
        ListRowFilter {
            kind: Some(kind.into()),
            owner: self.owner.clone(),
            segment: self.segment.clone(),
            band: self.band.clone(),
            limit: 0,
        }
    }
}

fn parse_rows<T: for<'de> Deserialize<'de>>(rows: Vec<ListRow>) -> Result<Vec<T>, AppError> {
    rows.into_iter()
        .map(|r| {
            serde_json::from_str(&r.row_json).map_err(|e| corrupt("list_rows", &r.account_id, e))
        })
        .collect()
}

/// The at-risk rows of a stored run (only the owners' slices when
/// `capacity_only`), best first.
///
/// Ranks, scores and reasons are the run's, as generated; `contacted` also
/// shows the outreach recorded during the list's week (to its Sunday's
/// end), so the week's work shows on its list, and a past week rereads as
/// it stood when the week ended.
pub async fn risk_rows(
    store: &Store,
    lists: &StoredLists,
    filter: &RowFilter,
    capacity_only: bool,
) -> Result<Vec<RiskRow>, AppError> {
    let rows = store
        .list_rows(lists.run.list_run_id, &filter.store_filter(RISK))
        .await?;
    let mut rows: Vec<RiskRow> = parse_rows(rows)?;
    let (from, to) = (
        ts_of_day(lists.run.week_start),
        ts_of_day(lists.run.week_start + 7),
    );
    let mut during: HashMap<String, LastContact> = HashMap::new();
    for o in store.outreach_between(from, to, None).await? {
        // Oldest first: the latest wins.
        during.insert(o.account_id.clone(), last_contact_of(o));
    }
    for r in &mut rows {
        if let Some(c) = during.get(&r.account_id)
            && r.contacted.as_ref().is_none_or(|old| old.day <= c.day)
        {
            r.contacted = Some(c.clone());
        }
    }
    if capacity_only {
        rows.retain(|r| r.in_capacity);
    }
    if filter.top > 0 {
        rows.truncate(filter.top);
    }
    Ok(rows)
}

/// The expansion-ready rows of a stored run, best first.
pub async fn expansion_rows(
    store: &Store,
    lists: &StoredLists,
    filter: &RowFilter,
) -> Result<Vec<ExpansionRow>, AppError> {
    let mut f = filter.store_filter(EXPANSION);
    f.limit = filter.top;
    parse_rows(store.list_rows(lists.run.list_run_id, &f).await?)
}

/// The risers and the newly red accounts of a stored run.
pub async fn mover_rows(
    store: &Store,
    lists: &StoredLists,
    filter: &RowFilter,
) -> Result<(Vec<MoverRow>, Vec<MoverRow>), AppError> {
    let mut f = filter.store_filter(MOVER);
    f.limit = filter.top;
    let risers = parse_rows(store.list_rows(lists.run.list_run_id, &f).await?)?;
    let mut f = filter.store_filter(NEWLY_RED);
    f.limit = filter.top;
    let red = parse_rows(store.list_rows(lists.run.list_run_id, &f).await?)?;
    Ok((risers, red))
}

/// Channels accepted by [`record_outreach`].
pub const CHANNELS: [&str; 6] = ["call", "email", "meeting", "chat", "visit", "other"];

/// An outreach to record, as a caller gives it.
#[derive(Debug, Clone, Default)]
pub struct OutreachInput {
    pub id: String,
    pub account_id: String,
    pub play: String,
    pub who: String,
    /// RFC 3339; empty means now.
    pub contacted_at: String,
    pub channel: String,
    pub outcome: String,
    pub note: String,
}

/// Validates and stores an outreach; returns its id and whether it replaced
/// a record with the same id. Every bad field is INVALID_ARGUMENT naming it;
/// an unknown account is NOT_FOUND.
///
/// With access control on (`caller` given), who recorded it is the caller's
/// key name: a reader may leave `who` empty or give their own name, an
/// analyst may record for anyone; and an existing record may only be changed
/// by the one who recorded it, or an analyst (PERMISSION_DENIED otherwise).
pub async fn record_outreach(
    store: &Store,
    caller: Option<&Caller>,
    mut input: OutreachInput,
    now: Ts,
) -> Result<(String, bool), AppError> {
    if let Some(c) = caller {
        let who = input.who.trim();
        if who.is_empty() {
            input.who = c.name.clone();
        } else if who != c.name && c.role < Role::Analyst {
            return Err(AppError::PermissionDenied(format!(
                "who: key '{}' records outreach as itself ('{who}' given); leave who empty, or use an analyst key to record for someone else",
                c.name
            )));
        }
    }
    let required = |field: &str, v: &str| -> Result<String, AppError> {
        let v = v.trim();
        if v.is_empty() {
            Err(FieldError::new(field, "is required").into())
        } else {
            Ok(v.to_string())
        }
    };
    let account_id = required("account_id", &input.account_id)?;
    let play = required("play", &input.play)?;
    let who = required("who", &input.who)?;
    let channel = required("channel", &input.channel)?.to_ascii_lowercase();
    if !CHANNELS.contains(&channel.as_str()) {
        return Err(FieldError::new(
            "channel",
            format!("'{channel}' is not one of {}", CHANNELS.join(", ")),
        )
        .into());
    }
    let outcome_s = required("outcome", &input.outcome)?.to_ascii_lowercase();
    let outcome: OutreachOutcome = outcome_s.parse().map_err(|_| {
        FieldError::new(
            "outcome",
            format!(
                "'{outcome_s}' is not reached, no_answer, saved, churned_anyway, expanded or pending"
            ),
        )
    })?;
    let contacted_at = if input.contacted_at.trim().is_empty() {
        now
    } else {
        pulse_core::time::parse_ts("contacted_at", &input.contacted_at)?
    };
    if contacted_at > now + 86_400 {
        return Err(FieldError::new("contacted_at", "is more than a day in the future").into());
    }
    if store.account(&account_id).await?.is_none() {
        return Err(AppError::NotFound {
            what: "account",
            id: account_id,
        });
    }
    let id = match input.id.trim() {
        "" => {
            // FNV-1a over account, time, play and who: the same outreach sent
            // twice gets the same id (and updates), whatever the id lengths.
            let key = format!("{account_id}\u{1f}{contacted_at}\u{1f}{play}\u{1f}{who}");
            let h = pulse_core::rng::fnv1a(key.as_bytes());
            format!("out-{h:016x}")
        }
        s => s.to_string(),
    };
    if let Some(c) = caller.filter(|c| c.role < Role::Analyst)
        && let Some(existing) = store.outreach(&id).await?
        && existing.owner != c.name
    {
        return Err(AppError::PermissionDenied(format!(
            "id: outreach '{}' was recorded by '{}'; only they or an analyst may change it",
            pulse_core::echo(&id),
            existing.owner
        )));
    }
    let rec = Outreach {
        id: id.clone(),
        account_id,
        play,
        owner: who,
        channel,
        contacted_at,
        outcome,
        note: input.note,
    };
    pulse_core::Entity::validate(&rec)?;
    let out = store.ingest(vec![(0, Record::Outreach(rec))]).await?;
    if let Some(r) = out.rejected.first() {
        return Err(r.error.clone().into());
    }
    Ok((id, out.updated > 0))
}

/// The weeks reported on and the per-play report.
pub async fn outreach_report(
    store: &Store,
    cfg: &ListConfig,
    from_week: &str,
    to_week: &str,
    now: Ts,
) -> Result<(Vec<String>, Vec<PlayReport>), AppError> {
    let to = match opt(to_week) {
        Some(w) => pulse_lists::parse_week("to_week", &w)?.start,
        None => match store.list_runs(1).await?.first() {
            Some(r) => r.week_start,
            None => return Ok((Vec::new(), Vec::new())),
        },
    };
    let from = match opt(from_week) {
        Some(w) => pulse_lists::parse_week("from_week", &w)?.start,
        None => to - 7 * 11,
    };
    if from > to {
        return Err(FieldError::new("from_week", "is after to_week").into());
    }
    let runs: Vec<ListRunInfo> = store
        .list_runs(10_000)
        .await?
        .into_iter()
        .filter(|r| r.week_start >= from && r.week_start <= to)
        .collect();
    let mut churns: HashMap<String, Vec<Ts>> = HashMap::new();
    for (id, at) in store.churn_events().await? {
        churns.entry(id).or_default().push(at);
    }
    let horizon = i64::from(cfg.outcome_days) * 86_400;
    let mut weeks = Vec::new();
    for run in runs.iter().rev() {
        let start = ts_of_day(run.week_start);
        let mut contact: HashMap<String, (String, String)> = HashMap::new();
        for o in store
            .outreach_between(start, start + 7 * 86_400, None)
            .await?
        {
            contact
                .entry(o.account_id.clone())
                .or_insert((o.play, o.outcome.to_string()));
        }
        let mut accounts = Vec::new();
        for kind in [RISK, HOLDOUT] {
            let f = ListRowFilter {
                kind: Some(kind.into()),
                ..Default::default()
            };
            for r in store.list_rows(run.list_run_id, &f).await? {
                let churned_at = churns
                    .get(&r.account_id)
                    .and_then(|v| v.iter().find(|t| **t >= start && **t < start + horizon));
                let churned = match churned_at {
                    Some(_) => Some(true),
                    None if now >= start + horizon => Some(false),
                    None => None,
                };
                accounts.push(ReportAccount {
                    contact: contact.get(&r.account_id).cloned(),
                    account_id: r.account_id,
                    band: r.band,
                    segment: r.segment,
                    holdout: kind == HOLDOUT,
                    churned,
                });
            }
        }
        weeks.push(ReportWeek {
            week: run.week.clone(),
            accounts,
        });
    }
    let labels = weeks.iter().map(|w| w.week.clone()).collect();
    let report = pulse_lists::outreach_report(&weeks, cfg);
    Ok((labels, report))
}

/// How the outreach report is computed, in words.
pub fn report_method(cfg: &ListConfig) -> String {
    format!(
        "Each list week, the accounts contacted in the 7 days from the week's Monday (first outreach, by play) are compared with \
         the accounts of the same list that were not contacted, matched on week, risk band and segment, and with the random holdout \
         (lists.holdout_share {}) matched the same way. An account counts as churned when it churns within {} days of the week's \
         Monday; until then it is pending and left out. Fewer than {} settled accounts in a group is too few to conclude; a difference \
         is called only at two standard errors.",
        cfg.holdout_share, cfg.outcome_days, cfg.min_group
    )
}

/// An owner's portfolio in a week; NOT_FOUND when they own no account on
/// that week's list.
pub async fn portfolio(
    store: &Store,
    owner: &str,
    week: &str,
) -> Result<(StoredLists, Portfolio), AppError> {
    let owner = owner.trim();
    if owner.is_empty() {
        return Err(FieldError::new("owner", "is required").into());
    }
    let lists = load(store, "week", week).await?;
    let filter = RowFilter {
        owner: Some(owner.to_string()),
        ..Default::default()
    };
    let mut rows: Vec<RiskRow> = Vec::new();
    for kind in [RISK, HOLDOUT] {
        rows.extend(parse_rows::<RiskRow>(
            store
                .list_rows(lists.run.list_run_id, &filter.store_filter(kind))
                .await?,
        )?);
    }
    if rows.is_empty() {
        return Err(AppError::NotFound {
            what: "owner",
            id: owner.to_string(),
        });
    }
    let (risers, red) = mover_rows(store, &lists, &filter).await?;
    let start = ts_of_day(lists.run.week_start);
    let outreach = store
        .outreach_between(start, start + 7 * 86_400, Some(owner))
        .await?;
    let outcomes: Vec<String> = outreach.iter().map(|o| o.outcome.to_string()).collect();
    let p = pulse_lists::portfolio(
        owner,
        &rows,
        red.iter().chain(&risers),
        outcomes.iter().map(String::as_str),
    );
    Ok((lists, p))
}

/// The instant the scheduled generation of the week starting `week_start`
/// becomes due.
pub fn due_at(cfg: &ListConfig, week_start: Day) -> Result<Ts, String> {
    let day = cfg.schedule_weekday()?;
    let minute = cfg.schedule_minute()?;
    Ok(ts_of_day(week_start + day as Day) + i64::from(minute) * 60)
}

/// Runs the weekly schedule: once the week's scheduled time has passed and
/// the week has no lists, generates them (claiming the week, so servers
/// sharing a database write it once). A week without a stored scoring run
/// yet is retried on the next tick.
pub fn spawn_schedule(
    store: Store,
    cfg: ListConfig,
    every: std::time::Duration,
    threads: usize,
    clock: Clock,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut waiting_for: HashSet<String> = HashSet::new();
        loop {
            tick.tick().await;
            let now = clock.now();
            let week = Week::of(day_of_ts(now));
            let Ok(due) = due_at(&cfg, week.start) else {
                return;
            };
            if now < due {
                continue;
            }
            match store.list_run(&week.label).await {
                Ok(Some(_)) => continue,
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "scheduled lists: reading the list runs");
                    continue;
                }
            }
            match generate(
                &store,
                &cfg,
                &week,
                ListWrite::Claim,
                "scheduled",
                threads,
                &clock,
            )
            .await
            {
                Ok(Some(_)) | Ok(None) => {}
                Err(AppError::FailedPrecondition(m)) => {
                    if waiting_for.insert(week.label.clone()) {
                        tracing::info!(week = %week.label, reason = %m, "scheduled lists wait for the week's scoring run");
                    }
                }
                Err(e) => tracing::error!(error = %e, week = %week.label, "scheduled lists"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use pulse_core::time::{format_ts, parse_day};

    use super::*;

    #[test]
    fn the_schedule_is_due_on_the_configured_weekday_and_time() {
        let monday = parse_day("d", "2026-11-23").unwrap();
        let at = |day: &str, time: &str| {
            let cfg = ListConfig {
                schedule_day: day.into(),
                schedule_time: time.into(),
                ..ListConfig::default()
            };
            format_ts(due_at(&cfg, monday).unwrap())
        };
        assert_eq!(at("monday", "06:00"), "2026-11-23T06:00:00Z");
        assert_eq!(at("Wednesday", "17:45"), "2026-11-25T17:45:00Z");
        assert_eq!(at("sunday", "00:00"), "2026-11-29T00:00:00Z");
        let bad = ListConfig {
            schedule_day: "someday".into(),
            ..ListConfig::default()
        };
        assert!(
            due_at(&bad, monday)
                .unwrap_err()
                .contains("lists.schedule_day")
        );
    }

    #[test]
    fn a_filter_matches_rows_as_the_store_does() {
        let all = RowFilter::new("", "", "", 0).unwrap();
        assert!(all.is_empty() && all.matches("Ana", "smb", "red"));
        let f = RowFilter::new(" Ana ", "smb", "red", 0).unwrap();
        assert!(!f.is_empty());
        assert!(f.matches("Ana", "smb", "red"));
        assert!(!f.matches("Ana", "smb", "yellow"));
        assert!(
            !f.matches("ana", "smb", "red"),
            "owners are matched exactly"
        );
        assert!(!f.matches("Ana", "mid_market", "red"));
        let red = RowFilter::new("", "", "red", 0).unwrap();
        assert!(!red.matches("Ana", "smb", EXPANSION_BAND));
    }
}
