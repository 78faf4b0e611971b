//! ListService end to end on a synthetic base: lists for two consecutive
//! weeks (ranking, capacity, week-over-week change, movers), idempotent
//! regeneration, outreach recorded and marked on the next generation, the
//! portfolio, the outreach report and the error codes; and the lift of the
//! at-risk list over the following quarter's churn, with the models, scores
//! and lists built from data before that quarter.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use pulse_core::time::{Day, format_day, week_start};
use pulse_lists::{ListConfig, Week};
use pulse_proto::v1 as pb;
use pulse_proto::v1::list_service_client::ListServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_server::{AppState, Scoring, ScoringSettings};
use pulse_store::{ListWrite, Store};
use tonic::Code;
use tonic::transport::Channel;

use crate::TestServer;
use crate::models::{MemoryRegistry, ingest_synthetic_until};
use crate::scoring::{train, wait_ready};
use crate::today;

async fn risk(
    c: &mut ListServiceClient<Channel>,
    req: pb::ListRequest,
) -> Result<(pb::ListRun, Vec<pb::RiskRow>), tonic::Status> {
    let mut s = c.get_risk_list(req).await?.into_inner();
    let mut run = None;
    let mut rows = Vec::new();
    while let Some(chunk) = s.message().await? {
        if run.is_none() {
            run = chunk.run;
        } else {
            assert!(
                chunk.run.is_none(),
                "the run comes on the first message only"
            );
        }
        rows.extend(chunk.rows);
    }
    Ok((run.expect("a run on the first message"), rows))
}

fn all(week: &str) -> pb::ListRequest {
    pb::ListRequest {
        week: week.into(),
        ..Default::default()
    }
}

fn field_of(s: &tonic::Status) -> String {
    use tonic_types::StatusExt;
    s.get_details_bad_request()
        .and_then(|b| b.field_violations.first().map(|v| v.field.clone()))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_weeks_of_lists_outreach_portfolio_and_errors() {
    let store = Store::in_memory().await.unwrap();
    let end = today() - 1;
    ingest_synthetic_until(&store, 300, 18, end).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 40, true).await;
    // Much tighter bands than the defaults (green only below a 1% churn
    // probability), so on any date this small base has enough yellow and red
    // accounts for capacity slices and a holdout to mean something.
    let mut settings = ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    settings.config.green_min = 99.0;
    settings.config.yellow_min = 95.0;
    let mut state = AppState::with_scoring(store.clone(), registry.clone(), settings);
    state.lists = ListConfig {
        capacity_per_owner: 3,
        holdout_share: 0.2,
        holdout_seed: 5,
        schedule: false,
        ..ListConfig::default()
    };
    let server = TestServer::start_with(state).await;
    let mut sc = ScoringServiceClient::new(server.channel.clone());
    wait_ready(&mut sc).await;
    let mut c = ListServiceClient::new(server.channel.clone());

    // Two consecutive past weeks, each with a stored scoring run on its Monday.
    let w2 = Week::of(week_start(today()) - 7);
    let w1 = w2.previous();
    for w in [&w1, &w2] {
        sc.run_scoring(pb::RunScoringRequest {
            as_of: format_day(w.start),
        })
        .await
        .unwrap();
    }

    // Errors first: a bad week names the field; a week without a scoring run
    // says how to get one; no lists yet is FAILED_PRECONDITION.
    let e = c
        .generate_lists(pb::GenerateListsRequest {
            week: "2026-48".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (e.code(), field_of(&e)),
        (Code::InvalidArgument, "week".into()),
        "{e:?}"
    );
    let e = c
        .generate_lists(pb::GenerateListsRequest {
            week: w1.previous().label.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("pulse scores run"), "{}", e.message());
    let e = risk(&mut c, all("")).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");

    let g1 = c
        .generate_lists(pb::GenerateListsRequest {
            week: w1.label.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let g2 = c
        .generate_lists(pb::GenerateListsRequest {
            week: w2.label.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((g1.week.as_str(), g1.generation), (w1.label.as_str(), 1));
    assert_eq!(g2.as_of, format_day(w2.start));
    assert_eq!(g2.models.as_ref().unwrap().churn, "churn-v1");

    // The at-risk list of the second week: ranked by expected ARR at risk.
    let (run, rows) = risk(&mut c, all(&w2.label)).await.unwrap();
    assert_eq!(run.list_run_id, g2.list_run_id);
    let summary = run.summary.unwrap();
    assert_eq!(rows.len() as u32, summary.accounts);
    assert!(rows.len() > 100, "{}", rows.len());
    // At risk: the ranked accounts that are not green (the holdout is apart).
    eprintln!("summary {} {summary:?}", w2.label);
    let not_green = rows.iter().filter(|r| r.band != "green").count();
    assert_eq!(summary.at_risk as usize, not_green, "{summary:?}");
    assert!(summary.at_risk >= 20, "{summary:?}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.rank as usize, i + 1);
        assert!((r.arr_at_risk - r.churn_probability * r.arr).abs() < 1e-6);
        assert!(r.drivers.len() <= 3 && !r.drivers.is_empty());
        assert!(!r.suggested_play.is_empty());
        if i > 0 {
            assert!(rows[i - 1].arr_at_risk >= r.arr_at_risk, "ranked at {i}");
        }
    }
    // Each owner's slice: their own top yellow/red accounts, at most 3.
    let mut per_owner: HashMap<&str, Vec<&pb::RiskRow>> = HashMap::new();
    for r in &rows {
        per_owner.entry(&r.owner).or_default().push(r);
    }
    assert!(per_owner.len() > 1);
    let mut slice_risk = 0.0;
    for (owner, book) in &per_owner {
        let eligible: Vec<&&pb::RiskRow> = book.iter().filter(|r| r.band != "green").collect();
        let slice: Vec<&&pb::RiskRow> = book.iter().filter(|r| r.in_capacity).collect();
        assert_eq!(slice.len(), eligible.len().min(3), "{owner}");
        for (a, b) in slice.iter().zip(&eligible) {
            assert_eq!(
                a.account_id, b.account_id,
                "{owner}: the top of their own book"
            );
        }
        slice_risk += slice.iter().map(|r| r.arr_at_risk).sum::<f64>();
    }
    assert!((summary.capacity_arr_at_risk - slice_risk).abs() < 1e-3);
    assert!((summary.expected_saved_arr - summary.save_rate * slice_risk).abs() < 1e-3);
    let only_slice = risk(
        &mut c,
        pb::ListRequest {
            capacity_only: true,
            ..all(&w2.label)
        },
    )
    .await
    .unwrap()
    .1;
    assert_eq!(only_slice.len() as u32, summary.in_capacity);
    // The reasons of the slices: counted per play and per cause, and said.
    let mix = summary.reasons.as_ref().expect("reason mix");
    assert_eq!(mix.rows, summary.in_capacity);
    assert_eq!(mix.plays.iter().map(|p| p.rows).sum::<u32>(), mix.rows);
    assert_eq!(mix.causes.iter().map(|p| p.rows).sum::<u32>(), mix.rows);
    let top = mix.plays[0].share;
    assert_eq!(mix.concentrated, top > 0.4 || mix.causes[0].share > 0.4);
    assert!(
        mix.statement.contains(&mix.plays[0].name),
        "{}",
        mix.statement
    );
    for r in &only_slice {
        assert!(r.suggested_play.ends_with(r.base_play.as_str()));
        assert!(mix.plays.iter().any(|p| p.name == r.base_play));
        assert_ne!(r.reason, "context");
    }

    // Week-over-week change against the first week's scores (ranked or held out).
    let (_, rows1) = risk(&mut c, all(&w1.label)).await.unwrap();
    let stored1 = pulse_app::lists::load(&store, "week", &w1.label)
        .await
        .unwrap();
    let held1: Vec<pulse_lists::RiskRow> = store
        .list_rows(
            stored1.run.list_run_id,
            &pulse_store::ListRowFilter {
                kind: Some("holdout".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.row_json).unwrap())
        .collect();
    assert!(!held1.is_empty(), "a 20% holdout of the at-risk accounts");
    let mut before: HashMap<String, (f64, String)> = rows1
        .iter()
        .map(|r| (r.account_id.clone(), (r.churn_probability, r.band.clone())))
        .collect();
    before.extend(
        held1
            .iter()
            .map(|r| (r.account_id.clone(), (r.churn_probability, r.band.clone()))),
    );
    let mut compared = 0;
    for r in &rows {
        if let Some((p, _)) = before.get(&r.account_id) {
            let ch = r.churn_probability_change.expect("scored last week");
            assert!((ch - (r.churn_probability - p)).abs() < 1e-12);
            compared += 1;
        } else {
            assert!(r.churn_probability_change.is_none());
        }
    }
    assert!(compared > 100, "{compared}");
    // The holdout is kept off the list, and its accounts are the same each week.
    let listed: HashSet<&str> = rows.iter().map(|r| r.account_id.as_str()).collect();
    let listed1: HashSet<&str> = rows1.iter().map(|r| r.account_id.as_str()).collect();
    for h in &held1 {
        assert!(!listed1.contains(h.account_id.as_str()));
        assert!(h.band != "green");
        if listed.contains(h.account_id.as_str()) {
            let r = rows.iter().find(|r| r.account_id == h.account_id).unwrap();
            assert_eq!(
                r.band, "green",
                "back on the list only when no longer at risk"
            );
        }
    }

    // Movers: the largest rises first; newly red were not red last week.
    let m = c.get_movers(all(&w2.label)).await.unwrap().into_inner();
    for pair in m.risers.windows(2) {
        let rise = |r: &pb::MoverRow| r.churn_probability - r.previous_churn_probability;
        assert!(rise(&pair[0]) >= rise(&pair[1]));
    }
    for r in &m.risers {
        assert!(r.churn_probability > r.previous_churn_probability);
    }
    for r in &m.newly_red {
        assert_eq!(r.band, "red");
        assert_ne!(before.get(&r.account_id).map(|b| b.1.as_str()), Some("red"));
        assert!(r.newly_red);
    }

    // Expansion-ready: green accounts, best expected expansion first.
    let mut s = c
        .get_expansion_list(all(&w2.label))
        .await
        .unwrap()
        .into_inner();
    let mut exp = Vec::new();
    while let Some(chunk) = s.message().await.unwrap() {
        exp.extend(chunk.rows);
    }
    for pair in exp.windows(2) {
        assert!(pair[0].expected_expansion_arr >= pair[1].expected_expansion_arr);
    }
    for r in &exp {
        assert!(r.health >= 90.0, "green: {}", r.health);
        assert!(r.headroom_arr > 0.0);
        assert!((r.expected_expansion_arr - r.expansion_probability * r.headroom_arr).abs() < 1e-6);
    }

    // Filters: by owner, segment and band, top N; an unknown owner is empty.
    let (owner, book) = per_owner.iter().max_by_key(|(_, b)| b.len()).unwrap();
    let (_, mine) = risk(
        &mut c,
        pb::ListRequest {
            owner: owner.to_string(),
            top: 2,
            ..all(&w2.label)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        mine.iter()
            .map(|r| r.account_id.clone())
            .collect::<Vec<_>>(),
        book.iter()
            .take(2)
            .map(|r| r.account_id.clone())
            .collect::<Vec<_>>()
    );
    let (_, red) = risk(
        &mut c,
        pb::ListRequest {
            band: "red".into(),
            segment: "smb".into(),
            ..all(&w2.label)
        },
    )
    .await
    .unwrap();
    assert!(red.iter().all(|r| r.band == "red" && r.segment == "smb"));
    let (_, nobody) = risk(
        &mut c,
        pb::ListRequest {
            owner: "nobody at all".into(),
            ..all(&w2.label)
        },
    )
    .await
    .unwrap();
    assert!(nobody.is_empty());
    let e = risk(
        &mut c,
        pb::ListRequest {
            band: "purple".into(),
            ..all("")
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (e.code(), field_of(&e)),
        (Code::InvalidArgument, "band".into())
    );

    // Idempotent regeneration: same week, same run, same models -> the same
    // rows, one run with its generation counted.
    let again = c
        .generate_lists(pb::GenerateListsRequest {
            week: w2.label.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.list_run_id, again.generation), (g2.list_run_id, 2));
    assert_eq!(again.summary, g2.summary);
    let (_, rows_again) = risk(&mut c, all(&w2.label)).await.unwrap();
    assert_eq!(rows_again, rows);

    // Outreach: validation, then a contact two days before the week's list
    // is marked on it when the week is regenerated.
    let target = rows.iter().find(|r| r.in_capacity).unwrap().clone();
    let when = pulse_core::time::format_ts(pulse_core::time::ts_of_day(w2.start - 2) + 3_600);
    let good = pb::RecordOutreachRequest {
        account_id: target.account_id.clone(),
        play: target.suggested_play.clone(),
        who: target.owner.clone(),
        contacted_at: when.clone(),
        channel: "call".into(),
        outcome: "reached".into(),
        note: "talked through the payroll issue".into(),
        ..Default::default()
    };
    for (bad, field) in [
        (
            pb::RecordOutreachRequest {
                outcome: "great".into(),
                ..good.clone()
            },
            "outcome",
        ),
        (
            pb::RecordOutreachRequest {
                who: " ".into(),
                ..good.clone()
            },
            "who",
        ),
        (
            pb::RecordOutreachRequest {
                channel: "pigeon".into(),
                ..good.clone()
            },
            "channel",
        ),
        (
            pb::RecordOutreachRequest {
                contacted_at: "yesterday".into(),
                ..good.clone()
            },
            "contacted_at",
        ),
        (
            pb::RecordOutreachRequest {
                contacted_at: "2999-01-01T00:00:00Z".into(),
                ..good.clone()
            },
            "contacted_at",
        ),
        (
            pb::RecordOutreachRequest {
                play: String::new(),
                ..good.clone()
            },
            "play",
        ),
    ] {
        let e = c.record_outreach(bad).await.unwrap_err();
        assert_eq!(
            (e.code(), field_of(&e)),
            (Code::InvalidArgument, field.to_string()),
            "{e:?}"
        );
    }
    let e = c
        .record_outreach(pb::RecordOutreachRequest {
            account_id: "no-such-account".into(),
            ..good.clone()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let rec = c.record_outreach(good.clone()).await.unwrap().into_inner();
    assert!(!rec.updated);
    let again = c.record_outreach(good.clone()).await.unwrap().into_inner();
    assert_eq!(
        (again.id, again.updated),
        (rec.id.clone(), true),
        "no duplicate"
    );

    c.generate_lists(pb::GenerateListsRequest {
        week: w2.label.clone(),
    })
    .await
    .unwrap();
    let (_, marked) = risk(&mut c, all(&w2.label)).await.unwrap();
    let m = marked
        .iter()
        .find(|r| r.account_id == target.account_id)
        .unwrap();
    let contact = m.contacted.as_ref().expect("marked as contacted");
    assert_eq!(
        (
            contact.outcome.as_str(),
            contact.play.as_str(),
            contact.day.as_str()
        ),
        (
            "reached",
            target.suggested_play.as_str(),
            format_day(w2.start - 2).as_str()
        )
    );
    assert_eq!(marked.iter().filter(|r| r.contacted.is_some()).count(), 1);
    // Everything else is as it was.
    let strip = |rs: &[pb::RiskRow]| {
        rs.iter()
            .map(|r| pb::RiskRow {
                contacted: None,
                ..r.clone()
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&marked), strip(&rows));

    // Portfolio of the contacted account's owner; an unknown owner is NOT_FOUND.
    let p = c
        .get_portfolio(pb::PortfolioRequest {
            owner: target.owner.clone(),
            week: w2.label.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let own = per_owner[target.owner.as_str()].len() as u32;
    let held_own = store
        .list_rows(
            g2.list_run_id,
            &pulse_store::ListRowFilter {
                kind: Some("holdout".into()),
                owner: Some(target.owner.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .len() as u32;
    assert_eq!(p.accounts, own + held_own);
    assert_eq!(p.bands.iter().map(|b| b.accounts).sum::<u32>(), p.accounts);
    assert_eq!(
        p.in_capacity,
        per_owner[target.owner.as_str()]
            .iter()
            .filter(|r| r.in_capacity)
            .count() as u32
    );
    let e = c
        .get_portfolio(pb::PortfolioRequest {
            owner: "nobody at all".into(),
            week: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // The report: one contact in the week after W1's list is far too few.
    let rep = c
        .get_outreach_report(pb::OutreachReportRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rep.weeks, vec![w1.label.clone(), w2.label.clone()]);
    assert_eq!(rep.plays.len(), 1);
    assert_eq!(rep.plays[0].contacted, 1);
    assert!(
        rep.plays[0].verdict.starts_with("too few to conclude"),
        "{}",
        rep.plays[0].verdict
    );

    server.stop().await;
}

/// The top 10% of the at-risk list, built from data up to a cutoff, holds at
/// least 3x the base churn rate of the quarter that follows. The base ends on
/// a fixed date, so the figure is the same on every run;
/// `PULSE_LIFT_ACCOUNTS` sets a larger base for the figure in docs/benchmarks.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_top_of_the_list_holds_the_next_quarters_churn() {
    let accounts: usize = std::env::var("PULSE_LIFT_ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_200);
    let store = Store::in_memory().await.unwrap();
    let end = pulse_core::time::parse_day("end", "2026-06-30").unwrap();
    ingest_synthetic_until(&store, accounts, 24, end).await;
    // The cutoff: a Monday a full quarter (and a week) before the data ends.
    let cutoff: Day = week_start(end - 97);
    let until = pulse_features::end_of_day(cutoff);

    // Models trained on data up to the cutoff only.
    let hs = store.load_histories(Some(until)).await.unwrap();
    let registry = Arc::new(MemoryRegistry::default());
    let cfg = pulse_training::TrainConfig {
        gbt: pulse_models::GbtParams::new().iterations(60),
        ablation: false,
        ..Default::default()
    };
    let out = tokio::task::spawn_blocking(move || {
        pulse_training::train_models(
            &hs,
            &[
                pulse_models::ModelKind::Churn,
                pulse_models::ModelKind::Expansion,
            ],
            Some(cutoff),
            &cfg,
            "2026-11-30T00:00:00Z",
            &mut || 0.0,
            &mut |_| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    use pulse_server::ModelRegistry;
    for m in out.models {
        let e = registry.save(m.artifact).unwrap();
        registry.promote(&e.card.version).unwrap();
    }
    // Scores as of the cutoff (features read nothing later), then the list.
    // This world ends on a fixed day, whatever the suite's today: its clock
    // reads the day after.
    let settings = ScoringSettings::new(
        pulse_scoring::ScoringConfig::default(),
        90,
        pulse_core::Clock::at_day(end + 1),
    );
    let scoring = Scoring::new(store.clone(), registry, settings);
    assert!(scoring.reload_models().await.unwrap());
    scoring
        .run_and_store(Some(cutoff), "backfill")
        .await
        .unwrap();
    let week = Week::of(cutoff);
    let cfg = ListConfig::default();
    let clock = scoring.clock().clone();
    let lists =
        pulse_app::lists::generate(&store, &cfg, &week, ListWrite::Replace, "manual", 2, &clock)
            .await
            .unwrap()
            .unwrap();
    let rows = pulse_app::lists::risk_rows(
        &store,
        &lists,
        &pulse_app::lists::RowFilter::default(),
        false,
    )
    .await
    .unwrap();
    // Ground truth: the generator's churn events in the quarter after the cutoff.
    let horizon_end = until + 90 * 86_400;
    let churned: HashSet<String> = store
        .churn_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, at)| *at > until && *at <= horizon_end)
        .map(|(id, _)| id)
        .collect();
    let n = rows.len();
    let base = rows
        .iter()
        .filter(|r| churned.contains(&r.account_id))
        .count() as f64
        / n as f64;
    let top = (n / 10).max(1);
    let churned_arr: f64 = rows
        .iter()
        .filter(|r| churned.contains(&r.account_id))
        .map(|r| r.arr)
        .sum();
    // Churners in the top 10%, their lift over the base rate, and the share
    // of all churned ARR they hold.
    let lift_of = |ranked: &[&pulse_lists::RiskRow]| {
        let hit: Vec<&&pulse_lists::RiskRow> = ranked[..top]
            .iter()
            .filter(|r| churned.contains(&r.account_id))
            .collect();
        let arr: f64 = hit.iter().map(|r| r.arr).sum();
        (
            hit.len(),
            hit.len() as f64 / top as f64 / base,
            arr / churned_arr,
        )
    };
    let by_arr: Vec<&pulse_lists::RiskRow> = rows.iter().collect();
    let mut by_p = by_arr.clone();
    by_p.sort_by(|a, b| b.churn_probability.total_cmp(&a.churn_probability));
    let (hits, lift, arr_share) = lift_of(&by_arr);
    let (hits_p, lift_p, arr_share_p) = lift_of(&by_p);
    eprintln!(
        "lift check: {accounts} accounts, cutoff {}, {n} ranked, base churn in the next 90 days {:.2}% ({} accounts); \
         top 10% ({top}) by expected ARR at risk: {hits} churned, lift {lift:.2}, {:.1}% of the churned ARR; \
         by probability: {hits_p} churned, lift {lift_p:.2}, {:.1}% of the churned ARR",
        format_day(cutoff),
        100.0 * base,
        (base * n as f64).round(),
        100.0 * arr_share,
        100.0 * arr_share_p,
    );
    assert!(base > 0.0, "some accounts churn in the quarter");
    assert!(lift >= 3.0, "lift {lift:.2} < 3");

    // The outreach report on this list, whose outcome window has closed:
    // the 40 riskiest yellow and red accounts are called in the list's week
    // (in the synthetic world a call changes nothing). Every number must
    // agree with the ground truth and the list.
    let called: Vec<&pulse_lists::RiskRow> =
        rows.iter().filter(|r| r.band != "green").take(40).collect();
    assert_eq!(called.len(), 40, "enough yellow and red accounts");
    let when = pulse_core::time::format_ts(pulse_core::time::ts_of_day(week.start + 1) + 36_000);
    for r in &called {
        pulse_app::lists::record_outreach(
            &store,
            None,
            pulse_app::lists::OutreachInput {
                account_id: r.account_id.clone(),
                play: "Risk review call".into(),
                who: r.owner.clone(),
                contacted_at: when.clone(),
                channel: "call".into(),
                outcome: "reached".into(),
                ..Default::default()
            },
            clock.now(),
        )
        .await
        .unwrap();
    }
    let (weeks, plays) = pulse_app::lists::outreach_report(&store, &cfg, "", "", clock.now())
        .await
        .unwrap();
    assert_eq!(weeks, vec![week.label.clone()]);
    assert_eq!(plays.len(), 1);
    let p = &plays[0];
    // The report counts a churn within `outcome_days` of the week's start
    // (from its first second), not from the end of the cutoff day.
    let from = pulse_core::time::ts_of_day(week.start);
    let in_window: HashSet<String> = store
        .churn_events()
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, at)| *at >= from && *at < from + i64::from(cfg.outcome_days) * 86_400)
        .map(|(id, _)| id)
        .collect();
    let truth = called
        .iter()
        .filter(|r| in_window.contains(&r.account_id))
        .count() as u64;
    assert_eq!((p.contacted, p.settled, p.churned), (40, 40, truth));
    assert_eq!(p.outcomes.reached, 40);
    // The matched rate: per called account, the churn rate of the uncalled
    // accounts of its band and segment, averaged.
    let mut cells: HashMap<(&str, &str), (u32, u32)> = HashMap::new();
    let called_ids: HashSet<&str> = called.iter().map(|r| r.account_id.as_str()).collect();
    for r in rows
        .iter()
        .filter(|r| !called_ids.contains(r.account_id.as_str()))
    {
        let c = cells.entry((&r.band, &r.segment)).or_default();
        c.0 += 1;
        c.1 += u32::from(in_window.contains(&r.account_id));
    }
    let rates: Vec<f64> = called
        .iter()
        .filter_map(|r| cells.get(&(r.band.as_str(), r.segment.as_str())))
        .map(|(n, k)| f64::from(*k) / f64::from(*n))
        .collect();
    let expected = rates.iter().sum::<f64>() / rates.len() as f64;
    assert!((p.matched_churn_rate.unwrap() - expected).abs() < 1e-12);
    assert_eq!(p.holdout_accounts, 0);
    assert!(
        p.verdict.contains("too few holdout accounts"),
        "{}",
        p.verdict
    );
    eprintln!("outreach report on the lift base: {p:?}");
}

/// The weekly schedule inside `serve`: once the configured time has passed,
/// the week's lists are generated from the week's scoring run, and two
/// servers sharing one database write the week once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_generates_the_week_once() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic_until(&store, 120, 12, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 20, true).await;
    let state = || {
        // Weekly scoring runs on (the lists wait for this week's run), a
        // fast tick, and a schedule that is already due: Monday 00:00.
        let mut settings = ScoringSettings {
            weekly_runs: true,
            ..crate::settings()
        };
        settings.refresh_every = std::time::Duration::from_millis(100);
        let mut s = AppState::with_scoring(store.clone(), registry.clone(), settings);
        s.lists = ListConfig {
            schedule: true,
            schedule_day: "monday".into(),
            schedule_time: "00:00".into(),
            ..ListConfig::default()
        };
        s
    };
    let a = TestServer::start_with(state()).await;
    let b = TestServer::start_with(state()).await;
    let week = Week::of(today());
    let mut run = None;
    for _ in 0..6_000 {
        run = store.list_run(&week.label).await.unwrap();
        if run.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let run = run.expect("the scheduled lists within 10 minutes");
    // Both servers keep ticking; the week stays written once.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = store.list_run(&week.label).await.unwrap().unwrap();
    assert_eq!((again.trigger.as_str(), again.generation), ("scheduled", 1));
    assert_eq!(again.list_run_id, run.list_run_id);
    assert_eq!(store.list_runs(10).await.unwrap().len(), 1);
    let scored = store.score_run(run.score_run_id).await.unwrap().unwrap();
    assert!(scored.as_of >= week.start && scored.as_of <= week.end());
    a.stop().await;
    b.stop().await;
}

/// Lists read each account's seat use and renewal from the scoring run's
/// stored scores, without the histories. A run stored before seat use was
/// kept (its explanations lack `seat_use`) gets the same candidates from the
/// histories.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_read_seat_use_from_the_run_or_for_older_runs_from_the_histories() {
    let store = Store::in_memory().await.unwrap();
    ingest_synthetic_until(&store, 150, 12, today() - 1).await;
    let registry = Arc::new(MemoryRegistry::default());
    train(&store, &registry, 20, true).await;
    let settings = ScoringSettings {
        weekly_runs: false,
        ..crate::settings()
    };
    let scoring = Scoring::new(store.clone(), registry, settings);
    assert!(scoring.reload_models().await.unwrap());
    let week = Week::of(week_start(today()) - 7);
    let stored = scoring
        .run_and_store(Some(week.start), "manual")
        .await
        .unwrap();
    let cfg = ListConfig::default();
    let now = scoring.clock().now();
    let (run, from_run) = pulse_app::lists::candidates(&store, &cfg, &week, 2, now)
        .await
        .unwrap();
    assert_eq!(run.run_id, stored.info.run_id);
    assert_eq!(from_run.len() as u64, run.n_accounts);
    for known in [
        from_run.iter().filter(|c| c.seats.is_some()).count(),
        from_run
            .iter()
            .filter(|c| c.active_users_per_seat.is_some())
            .count(),
        from_run
            .iter()
            .filter(|c| c.days_to_renewal.is_some())
            .count(),
    ] {
        assert!(known > from_run.len() / 2, "{known} of {}", from_run.len());
    }

    // The same scores as an older build stored them, in a later run of the
    // same day (the one the lists take).
    let old: Vec<pulse_store::StoredScore> = store
        .run_scores(run.run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|mut s| {
            let mut v: serde_json::Value = serde_json::from_str(&s.explanation).unwrap();
            assert!(v.as_object_mut().unwrap().remove("seat_use").is_some());
            s.explanation = v.to_string();
            s
        })
        .collect();
    let older = store
        .save_score_run(
            &pulse_store::NewScoreRun {
                as_of: run.as_of,
                created_at: run.created_at + 1,
                churn_version: run.churn_version.clone(),
                expansion_version: run.expansion_version.clone(),
                trigger: "manual".into(),
            },
            &old,
        )
        .await
        .unwrap();
    let (run2, from_histories) = pulse_app::lists::candidates(&store, &cfg, &week, 2, now)
        .await
        .unwrap();
    assert_eq!(run2.run_id, older.run_id);
    assert_eq!(from_histories, from_run);
}
