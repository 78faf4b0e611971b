//! Behaviour tests of the generated base: reproducibility, the import
//! format, the time rules (nothing after the window or after a churn), and
//! that what is observable follows the hidden health.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};

use pulse_core::time::{Day, SECONDS_PER_DAY, day_of_ts, parse_day};
use pulse_core::{
    Account, AccountStatus, Contact, Entity, EntityKind, Interaction, OperationalEvent, Persona,
    SubscriptionEvent, SubscriptionKind, SurveyKind, SurveyResponse, Usage, op_kind,
};

use crate::truth::ChurnKind;
use crate::world::World;
use crate::{FILES, SynthBase, SynthConfig, SynthError, generate, sim, write_csv};

fn end() -> Day {
    parse_day("end", "2026-11-22").unwrap()
}

fn cfg() -> SynthConfig {
    SynthConfig::new(300, 12, 7, end())
}

/// The accounts told of a price increase.
fn announced_increases(b: &SynthBase) -> HashSet<&str> {
    b.operational
        .iter()
        .filter(|o| o.kind == op_kind::PRICE_INCREASE)
        .map(|o| o.account_id.as_str())
        .collect()
}

/// The shared base most tests look at (generated once per test binary).
fn base() -> &'static SynthBase {
    static BASE: OnceLock<SynthBase> = OnceLock::new();
    BASE.get_or_init(|| generate(&cfg()))
}

type Files = Arc<Mutex<BTreeMap<String, Vec<u8>>>>;

struct Sink(Files, String);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut files = self.0.lock().unwrap();
        files
            .entry(self.1.clone())
            .or_default()
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn write_to_memory(cfg: &SynthConfig) -> (BTreeMap<String, Vec<u8>>, crate::SynthSummary) {
    let files: Files = Arc::default();
    let mut open = |name: &str| -> io::Result<Box<dyn Write + Send>> {
        Ok(Box::new(Sink(files.clone(), name.to_string())))
    };
    let mut calls = Vec::new();
    let summary = write_csv(cfg, &mut open, &mut |done, total| calls.push((done, total))).unwrap();
    assert_eq!(calls.first(), Some(&(0, cfg.accounts)));
    assert_eq!(calls.last(), Some(&(cfg.accounts, cfg.accounts)));
    let files = files.lock().unwrap().clone();
    (files, summary)
}

fn parse_file<E: Entity>(bytes: &[u8]) -> Vec<E> {
    let mut r = csv::Reader::from_reader(bytes);
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    let want: Vec<&str> = E::COLUMNS
        .iter()
        .copied()
        .filter(|c| *c != crate::write::WRITTEN_WITHOUT)
        .collect();
    assert_eq!(header, want);
    let cols: Vec<&str> = header.iter().map(String::as_str).collect();
    assert_eq!(EntityKind::from_header(&cols), Some(E::KIND));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let m: HashMap<String, String> = header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect();
            E::from_fields(&m).unwrap_or_else(|e| panic!("{}: {e} in {rec:?}", E::KIND))
        })
        .collect()
}

#[test]
fn every_written_row_parses_back_to_the_generated_row() {
    let cfg = SynthConfig::new(150, 12, 11, end());
    let base = generate(&cfg);
    let (files, summary) = write_to_memory(&cfg);
    assert_eq!(files.keys().count(), FILES.len());
    for name in FILES.iter().take(7) {
        assert!(EntityKind::from_file_name(name).is_some(), "{name}");
    }
    assert_eq!(parse_file::<Account>(&files["accounts.csv"]), base.accounts);
    assert_eq!(parse_file::<Contact>(&files["contacts.csv"]), base.contacts);
    assert_eq!(
        parse_file::<Interaction>(&files["interactions.csv"]),
        base.interactions
    );
    assert_eq!(parse_file::<Usage>(&files["usage.csv"]), base.usage);
    assert_eq!(
        parse_file::<SubscriptionEvent>(&files["subscription_events.csv"]),
        base.subscriptions
    );
    assert_eq!(
        parse_file::<SurveyResponse>(&files["survey_responses.csv"]),
        base.surveys
    );
    assert_eq!(
        parse_file::<OperationalEvent>(&files["operational_events.csv"]),
        base.operational
    );

    // Truth files: one row per account and per account-week, with headers.
    let mut r = csv::Reader::from_reader(&files["truth_accounts.csv"][..]);
    assert_eq!(r.headers().unwrap(), crate::TruthAccount::COLUMNS);
    assert_eq!(r.records().count(), base.truth.accounts.len());
    let mut r = csv::Reader::from_reader(&files["truth_health.csv"][..]);
    assert_eq!(r.headers().unwrap(), crate::TruthWeek::COLUMNS);
    let weeks: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(weeks.len(), base.truth.weeks.len());
    let h: f64 = weeks[0][2].parse().unwrap();
    assert!((h - base.truth.weeks[0].health).abs() < 0.01);

    // The summary counts what was written.
    assert_eq!(
        summary.rows("interactions.csv"),
        base.interactions.len() as u64
    );
    assert_eq!(
        summary.rows("truth_health.csv"),
        base.truth.weeks.len() as u64
    );
    assert_eq!(summary.accounts, 150);
    let churned = base.truth.accounts.iter().filter(|t| t.churned).count();
    assert_eq!(summary.churned_accounts, churned as u64);
    for f in &summary.files {
        assert_eq!(f.bytes, files[f.name].len() as u64, "{}", f.name);
    }
}

#[test]
fn same_seed_same_bytes_different_seed_different_base() {
    let cfg = SynthConfig::new(130, 6, 3, end());
    let (a, _) = write_to_memory(&cfg);
    let (b, _) = write_to_memory(&cfg);
    assert_eq!(a, b);
    let other = SynthConfig { seed: 4, ..cfg };
    let (c, _) = write_to_memory(&other);
    for name in FILES {
        assert_ne!(a[name], c[name], "{name} did not change with the seed");
    }
    assert_eq!(generate(&cfg), generate(&cfg));
}

#[test]
fn parallel_output_is_the_sequential_output() {
    let cfg = SynthConfig::new(140, 6, 9, end());
    let world = World::new(&cfg);
    let base = generate(&cfg);
    let mut interactions = Vec::new();
    for i in 0..cfg.accounts {
        let out = sim::simulate(&world, i);
        assert_eq!(out.account, base.accounts[i]);
        interactions.extend(out.interactions);
    }
    assert_eq!(interactions, base.interactions);
}

#[test]
fn nothing_is_dated_after_the_end_or_after_a_churn() {
    let b = base();
    let end_ts = (end() as i64 + 1) * SECONDS_PER_DAY - 1;
    let mut limit: HashMap<&str, i64> = HashMap::new();
    let mut start: HashMap<&str, Day> = HashMap::new();
    for (a, t) in b.accounts.iter().zip(&b.truth.accounts) {
        assert_eq!(a.id, t.account_id);
        let l = t
            .churn_day
            .map_or(end_ts, |d| d as i64 * SECONDS_PER_DAY + 12 * 3600);
        limit.insert(&a.id, l.min(end_ts));
        start.insert(&a.id, a.start_date);
    }
    let check = |id: &str, ts: i64, what: &str| {
        assert!(
            ts <= limit[id],
            "{what} of {id} at {ts} after {}",
            limit[id]
        );
        assert!(
            ts >= start[id] as i64 * SECONDS_PER_DAY - 3 * SECONDS_PER_DAY,
            "{what} of {id} before its start"
        );
    };
    for c in &b.contacts {
        check(&c.account_id, c.observed_at, "contact");
    }
    for i in &b.interactions {
        check(&i.account_id, i.opened_at, "interaction");
        for t in [i.first_response_at, i.resolved_at].into_iter().flatten() {
            check(&i.account_id, t, "interaction response");
            assert!(t >= i.opened_at);
        }
    }
    for u in &b.usage {
        // A weekly row covers Monday..Sunday, all of it inside the window
        // and before the churn.
        check(
            &u.account_id,
            (u.day as i64 + 7) * SECONDS_PER_DAY - 1,
            "usage",
        );
        assert_eq!(crate::cal::weekday(u.day), 0);
        assert_eq!(u.period_days, 7);
    }
    for s in &b.subscriptions {
        check(&s.account_id, s.occurred_at, "subscription event");
    }
    for s in &b.surveys {
        check(&s.account_id, s.responded_at, "survey");
    }
    for o in &b.operational {
        check(&o.account_id, o.occurred_at, "operational event");
    }
    for w in &b.truth.weeks {
        assert!(w.week <= end());
    }
    // One usage row per account and week.
    let keys: HashSet<(&str, Day)> = b
        .usage
        .iter()
        .map(|u| (u.account_id.as_str(), u.day))
        .collect();
    assert_eq!(keys.len(), b.usage.len());
}

#[test]
fn churned_accounts_end_churned_with_one_churn_event() {
    let b = base();
    let mut churn_events: HashMap<&str, Vec<&SubscriptionEvent>> = HashMap::new();
    for s in &b.subscriptions {
        if s.kind == SubscriptionKind::Churn {
            churn_events.entry(&s.account_id).or_default().push(s);
        }
    }
    let mut kinds = HashSet::new();
    for (a, t) in b.accounts.iter().zip(&b.truth.accounts) {
        let events = churn_events
            .get(a.id.as_str())
            .map_or(&[][..], Vec::as_slice);
        if t.churned {
            assert_eq!(a.status, AccountStatus::Churned);
            assert_eq!(a.mrr, 0.0);
            assert_eq!(events.len(), 1, "{}", a.id);
            assert_eq!(events[0].mrr_after, 0.0);
            assert!(events[0].mrr_before > 0.0);
            assert_eq!(events[0].reason, t.churn_reason);
            assert!(!t.churn_reason.is_empty());
            kinds.insert(t.churn_kind.unwrap());
            if t.churn_kind == Some(ChurnKind::Renewal) {
                assert_eq!(a.renewal_date, t.churn_day);
            }
        } else {
            assert_eq!(a.status, AccountStatus::Active);
            assert!(events.is_empty());
            assert!(a.mrr > 0.0);
            assert!(a.renewal_date.unwrap() > end());
            assert!(a.renewal_date.unwrap() <= end() + 366);
        }
        let r = a.renewal_date.unwrap();
        assert!(r >= a.start_date);
    }
    assert!(kinds.contains(&ChurnKind::Renewal), "{kinds:?}");
}

#[test]
fn churn_and_expansion_rates_are_realistic() {
    let b = base();
    let n = b.accounts.len() as f64;
    let churned = b.truth.accounts.iter().filter(|t| t.churned).count() as f64;
    let expanded = b.truth.accounts.iter().filter(|t| t.expanded).count() as f64;
    // Twelve months, about 8-15% a year, fewer for accounts that joined late.
    let rate = churned / n;
    assert!((0.04..=0.22).contains(&rate), "churn rate {rate}");
    let rate = expanded / n;
    assert!((0.03..=0.25).contains(&rate), "expansion rate {rate}");
    // Segments: SMB most, enterprise least.
    let count = |s: &str| {
        b.accounts
            .iter()
            .filter(|a| a.segment.as_str() == s)
            .count()
    };
    assert!(count("smb") > count("mid_market") && count("mid_market") > count("enterprise"));
    // Some accounts start inside the window and onboard there.
    let ws = cfg().window_start();
    let new = b.accounts.iter().filter(|a| a.start_date >= ws).count();
    assert!(new > 10 && new < 100, "{new} new accounts");
    let onboarding = b
        .operational
        .iter()
        .filter(|o| o.kind == op_kind::ONBOARDING_STARTED)
        .count();
    assert_eq!(onboarding, new);
}

/// Mean of `f` over accounts, by quartile of true mean health (0 lowest).
fn by_quartile(b: &SynthBase, f: impl Fn(usize) -> Option<f64>) -> [f64; 4] {
    let health: Vec<f64> = b.truth.accounts.iter().map(|t| t.mean_health).collect();
    by_quartile_of(&health, f)
}

/// Mean of `f` over accounts, by quartile of `key` (0 lowest).
fn by_quartile_of(key: &[f64], f: impl Fn(usize) -> Option<f64>) -> [f64; 4] {
    let mut order: Vec<usize> = (0..key.len()).collect();
    order.sort_by(|&i, &j| key[i].total_cmp(&key[j]));
    let mut out = [0.0; 4];
    for (q, chunk) in order.chunks(order.len().div_ceil(4)).enumerate() {
        let vals: Vec<f64> = chunk.iter().filter_map(|&i| f(i)).collect();
        out[q] = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
    }
    out
}

fn negative_cues(text: &str) -> bool {
    let t = text.to_lowercase();
    [
        "not ",
        "still",
        "frustrat",
        "unacceptable",
        "!!!",
        "upset",
        "never",
        "disappoint",
        "ridiculous",
        "fed up",
        ":(",
    ]
    .iter()
    .any(|c| t.contains(c))
}

#[test]
fn observables_follow_hidden_health() {
    let b = base();
    let index: HashMap<&str, usize> = b
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let n = b.accounts.len();
    let weeks = {
        let mut w = vec![0.0; n];
        for t in &b.truth.weeks {
            w[index[t.account_id.as_str()]] += 1.0;
        }
        w
    };
    let mut tickets = vec![0.0; n];
    let mut negative = vec![(0.0, 0.0); n];
    let mut csat = vec![(0.0, 0.0); n];
    for i in &b.interactions {
        let a = index[i.account_id.as_str()];
        tickets[a] += 1.0;
        negative[a].0 += f64::from(u8::from(negative_cues(&i.body)));
        negative[a].1 += 1.0;
        if let Some(c) = i.csat {
            csat[a].0 += c as f64;
            csat[a].1 += 1.0;
        }
    }
    let mut per_seat = vec![(0.0, 0.0); n];
    for u in &b.usage {
        let a = index[u.account_id.as_str()];
        per_seat[a].0 += u.active_users as f64 / b.accounts[a].seats.max(1) as f64;
        per_seat[a].1 += 1.0;
    }
    let ratio = |v: &[(f64, f64)], i: usize| (v[i].1 > 0.0).then(|| v[i].0 / v[i].1);
    let per_month = by_quartile(b, |i| {
        (weeks[i] > 4.0).then(|| tickets[i] / weeks[i] * 4.33)
    });
    let neg = by_quartile(b, |i| ratio(&negative, i));
    let sat = by_quartile(b, |i| ratio(&csat, i));
    let use_ = by_quartile(b, |i| ratio(&per_seat, i));
    assert!(
        per_month[0] > 1.3 * per_month[3],
        "tickets/month {per_month:?}"
    );
    assert!(neg[0] > 1.5 * neg[3], "negative text share {neg:?}");
    assert!(sat[0] + 0.4 < sat[3], "csat {sat:?}");
    assert!(use_[0] + 0.1 < use_[3], "active users per seat {use_:?}");
    // Volume is realistic: about 1-4 interactions per account-month.
    let all: f64 = per_month.iter().sum::<f64>() / 4.0;
    assert!((1.0..=4.0).contains(&all), "{all} interactions per month");

    // NPS is a weak but real signal.
    let mut nps = vec![(0.0, 0.0); n];
    for s in b.surveys.iter().filter(|s| s.kind == SurveyKind::Nps) {
        let a = index[s.account_id.as_str()];
        nps[a].0 += s.score as f64;
        nps[a].1 += 1.0;
    }
    let nps = by_quartile(b, |i| ratio(&nps, i));
    assert!(nps[0] + 1.0 < nps[3], "nps {nps:?}");
}

#[test]
fn texts_are_varied_and_sized_like_real_messages() {
    let b = base();
    let bodies: HashSet<&str> = b.interactions.iter().map(|i| i.body.as_str()).collect();
    let n = b.interactions.len();
    assert!(
        bodies.len() as f64 > 0.97 * n as f64,
        "{} distinct of {n}",
        bodies.len()
    );
    let mut lens: Vec<usize> = b.interactions.iter().map(|i| i.body.len()).collect();
    lens.sort_unstable();
    let (p25, p50, p90) = (lens[n / 4], lens[n / 2], lens[n * 9 / 10]);
    assert!(
        p25 >= 60 && (100..=400).contains(&p50) && p90 <= 600,
        "{p25} {p50} {p90}"
    );
    let topics: HashSet<&str> = b.interactions.iter().map(|i| i.topic.as_str()).collect();
    assert_eq!(topics.len(), 12, "{topics:?}");
    let how = b
        .interactions
        .iter()
        .filter(|i| i.body.to_lowercase().contains("how "))
        .count();
    // About one in five (19.6% since competitor evaluations sour some
    // questions; 20% or more before).
    assert!(how * 6 > n, "{how} how-do-I questions of {n}");
    let shouting = b
        .interactions
        .iter()
        .filter(|i| i.body.contains("!!!"))
        .count();
    assert!(shouting > 0 && shouting * 10 < n, "{shouting} with !!!");
    assert!(b.surveys.iter().any(|s| !s.comment.is_empty()));
}

#[test]
fn a_champion_who_leaves_gets_a_later_inactive_row() {
    let b = base();
    let mut rows: HashMap<&str, Vec<&Contact>> = HashMap::new();
    for c in &b.contacts {
        rows.entry(&c.id).or_default().push(c);
    }
    let left: Vec<&Vec<&Contact>> = rows
        .values()
        .filter(|r| r.iter().any(|c| !c.active))
        .collect();
    let champions = left
        .iter()
        .filter(|r| r[0].persona == Persona::Champion)
        .count();
    let truth_left: u32 = b.truth.accounts.iter().map(|t| t.champion_left).sum();
    assert!(truth_left > 0);
    assert!(champions as u32 <= truth_left);
    assert!(champions > 0);
    for r in rows.values() {
        // Rows of one contact are in time order, start active, keep their
        // persona, and nothing follows the inactive row.
        assert!(r[0].active);
        for pair in r.windows(2) {
            assert!(pair[0].observed_at <= pair[1].observed_at);
            assert_eq!(pair[0].persona, pair[1].persona);
            assert!(pair[0].active, "a row after leaving: {}", pair[1].id);
        }
    }
    // Relationships change over time: many contacts have more than one row.
    let with_history = rows.values().filter(|r| r.len() > 1).count();
    assert!(
        with_history * 4 > rows.len(),
        "{with_history} of {}",
        rows.len()
    );
}

#[test]
fn truth_weeks_cover_each_account_without_gaps() {
    let b = base();
    let mut last: HashMap<&str, Day> = HashMap::new();
    for w in &b.truth.weeks {
        if let Some(prev) = last.insert(&w.account_id, w.week) {
            assert_eq!(w.week, prev + 7, "{}", w.account_id);
        }
        assert!((0.0..=100.0).contains(&w.health));
        assert!((0.0..=1.0).contains(&w.churn_hazard));
    }
    assert_eq!(last.len(), b.accounts.len());
    let events: HashSet<&str> = b
        .truth
        .weeks
        .iter()
        .flat_map(|w| w.events.split(';'))
        .filter(|e| !e.is_empty())
        .collect();
    for e in [
        "renewal",
        "champion_left",
        "missed_payroll_deadline",
        "price_increase",
    ] {
        assert!(events.contains(e), "no {e} in {events:?}");
    }
}

#[test]
fn write_errors_and_bad_configs_are_reported() {
    let mut open = |name: &str| -> io::Result<Box<dyn Write + Send>> {
        if name == "usage.csv" {
            Err(io::Error::other("disk full"))
        } else {
            Ok(Box::new(io::sink()))
        }
    };
    let err = write_csv(
        &SynthConfig::new(10, 3, 1, end()),
        &mut open,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, SynthError::Io { file, .. } if file == "usage.csv"),
        "{err}"
    );

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("broken pipe"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut open = |_: &str| -> io::Result<Box<dyn Write + Send>> { Ok(Box::new(Failing)) };
    let err = write_csv(
        &SynthConfig::new(500, 3, 1, end()),
        &mut open,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, SynthError::Io { .. }), "{err}");

    let mut open = |_: &str| -> io::Result<Box<dyn Write + Send>> { Ok(Box::new(io::sink())) };
    for (cfg, field) in [
        (SynthConfig::new(10, 0, 1, end()), "months"),
        (SynthConfig::new(10, 999, 1, end()), "months"),
        (SynthConfig::new(10, 12, 1, 0), "end"),
    ] {
        match write_csv(&cfg, &mut open, &mut |_, _| {}) {
            Err(SynthError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{cfg:?}: {other:?}"),
        }
    }
    // An empty base still has headers.
    let (files, summary) = write_to_memory(&SynthConfig::new(0, 12, 1, end()));
    assert_eq!(summary.accounts, 0);
    assert!(files["accounts.csv"].starts_with(b"id,name,segment"));
    assert_eq!(generate(&SynthConfig::new(5, 0, 1, end())).usage.len(), 0);
}

#[test]
fn each_latent_component_shows_in_its_own_observables() {
    let b = base();
    let n = b.accounts.len();
    let index: HashMap<&str, usize> = b
        .accounts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.id.as_str(), i))
        .collect();
    let mut mean = vec![[0.0f64; 4]; n];
    let mut weeks = vec![0.0; n];
    for w in &b.truth.weeks {
        let i = index[w.account_id.as_str()];
        let m = &mut mean[i];
        m[0] += w.support_quality;
        m[1] += w.adoption;
        m[2] += w.relationship;
        m[3] += w.price_shock;
        weeks[i] += 1.0;
    }
    let component = |c: usize| -> Vec<f64> { (0..n).map(|i| mean[i][c] / weeks[i]).collect() };

    // Support quality: faster first responses on tickets and emails.
    let mut frt = vec![(0.0, 0.0); n];
    for it in &b.interactions {
        if let (Some(t), pulse_core::Channel::Ticket | pulse_core::Channel::Email) =
            (it.first_response_at, it.channel)
        {
            let i = index[it.account_id.as_str()];
            frt[i].0 += (t - it.opened_at) as f64 / 3600.0;
            frt[i].1 += 1.0;
        }
    }
    let q = by_quartile_of(&component(0), |i| {
        (frt[i].1 > 0.0).then(|| frt[i].0 / frt[i].1)
    });
    assert!(
        q[0] > 1.3 * q[3],
        "hours to first response by support quality {q:?}"
    );

    // Adoption: active users per seat.
    let mut util = vec![(0.0, 0.0); n];
    for u in &b.usage {
        let i = index[u.account_id.as_str()];
        util[i].0 += u.active_users as f64 / b.accounts[i].seats.max(1) as f64;
        util[i].1 += 1.0;
    }
    let q = by_quartile_of(&component(1), |i| {
        (util[i].1 > 0.0).then(|| util[i].0 / util[i].1)
    });
    assert!(
        q[0] + 0.15 < q[3],
        "active users per seat by adoption {q:?}"
    );

    // Relationship: the strength contacts are observed at.
    let mut strength = vec![(0.0, 0.0); n];
    for c in b.contacts.iter().filter(|c| c.active) {
        let i = index[c.account_id.as_str()];
        strength[i].0 += c.relationship_strength as f64;
        strength[i].1 += 1.0;
    }
    let q = by_quartile_of(&component(2), |i| {
        (strength[i].1 > 0.0).then(|| strength[i].0 / strength[i].1)
    });
    assert!(q[0] + 0.3 < q[3], "contact strength by relationship {q:?}");

    // Price shock: announced increases, and more invoice questions.
    let announced = announced_increases(b);
    let shocked: Vec<usize> = (0..n).filter(|&i| mean[i][3] > 0.0).collect();
    assert!(!shocked.is_empty());
    assert!(
        shocked
            .iter()
            .all(|&i| announced.contains(b.accounts[i].id.as_str()))
    );
    let invoice_share = |accounts: &HashSet<&str>, inside: bool| {
        let (mut inv, mut all) = (0.0, 0.0);
        for it in &b.interactions {
            if accounts.contains(it.account_id.as_str()) == inside {
                all += 1.0;
                inv += f64::from(u8::from(it.topic == "invoice_billing"));
            }
        }
        inv / all
    };
    let (with, without) = (
        invoice_share(&announced, true),
        invoice_share(&announced, false),
    );
    assert!(
        with > without,
        "invoice share {with} with a price increase, {without} without"
    );
}

/// A health-driven churn is named after the account's largest deficit that
/// week, each weighed as the churn decision weighs it: its weight in health,
/// and for the price shock at a renewal also the renewal logit's own.
#[test]
fn a_churn_is_named_after_its_largest_deficit_in_units_of_health() {
    let b = base();
    let mut last: HashMap<&str, &crate::truth::TruthWeek> = HashMap::new();
    let churned: HashMap<&str, &crate::truth::TruthAccount> = b
        .truth
        .accounts
        .iter()
        .filter(|t| t.churned)
        .map(|t| (t.account_id.as_str(), t))
        .collect();
    for w in &b.truth.weeks {
        if let Some(t) = churned.get(w.account_id.as_str())
            && w.week <= t.churn_day.unwrap()
        {
            last.insert(w.account_id.as_str(), w);
        }
    }
    let mut checked = HashMap::new();
    for (id, t) in &churned {
        let renewal = match t.churn_kind {
            Some(ChurnKind::Renewal) => true,
            Some(ChurnKind::Midterm) => false,
            _ => continue,
        };
        let w = last[id];
        let price = if renewal { 1.2 + 0.9 / 2.2 } else { 1.2 };
        let weights = [
            ("price", price * w.price_shock + 0.05),
            (
                "support_experience",
                3.5 * (0.65 - w.support_quality).max(0.0) + 0.05,
            ),
            ("low_adoption", 3.0 * (0.6 - w.adoption).max(0.0) + 0.05),
            (
                "weak_relationship",
                3.0 * (0.55 - w.relationship).max(0.0) + 0.05,
            ),
            ("competitor", if w.evaluating { 0.8 } else { 0.0 }),
            ("budget_cuts", 0.35 * (-w.business).max(0.0)),
        ];
        let Some(own) = weights.iter().find(|r| r.0 == t.churn_reason) else {
            continue; // champion_left
        };
        let largest = weights.iter().all(|other| own.1 >= other.1);
        if !largest && matches!(own.0, "competitor" | "budget_cuts") {
            continue; // the small draw of a reason that left no trace
        }
        for other in &weights {
            assert!(
                own.1 >= other.1,
                "{id} churned for {} ({:.3}) but {} weighs {:.3}",
                own.0,
                own.1,
                other.0,
                other.1
            );
        }
        *checked.entry(own.0).or_insert(0) += 1;
    }
    assert!(checked.len() >= 3, "reasons checked: {checked:?}");
}

/// A price rise sours those who pay the invoices, not everyone: the billing
/// contacts' observed sentiment falls in accounts told of an increase, the
/// admins' and end users' does not (theirs follows support, adoption and
/// the relationship).
#[test]
fn a_price_rise_shows_in_the_billing_contacts_not_in_everyones_mood() {
    let b = base();
    let announced = announced_increases(b);
    // Mean sentiment (-1, 0, 1) of a persona's observations, in accounts
    // with and without an announced increase.
    let mean = |persona: Persona, inside: bool| {
        let (sum, n) = b
            .contacts
            .iter()
            .filter(|c| c.persona == persona)
            .filter(|c| announced.contains(c.account_id.as_str()) == inside)
            .fold((0.0, 0.0), |(s, n), c| {
                let v = match c.sentiment {
                    pulse_core::Sentiment::Negative => -1.0,
                    pulse_core::Sentiment::Neutral => 0.0,
                    pulse_core::Sentiment::Positive => 1.0,
                };
                (s + v, n + 1.0)
            });
        assert!(n > 20.0, "{persona:?} observations {inside}: {n}");
        sum / n
    };
    let gap = |p: Persona| mean(p, true) - mean(p, false);
    let billing = gap(Persona::Billing);
    for p in [Persona::Admin, Persona::EndUser] {
        let other = gap(p);
        assert!(
            billing < other - 0.25 && other > -0.05,
            "sentiment gap with a price increase: billing {billing:.3}, {p:?} {other:.3}"
        );
    }
}

#[test]
fn records_name_only_contacts_already_known_when_they_happened() {
    let b = base();
    let mut first: HashMap<&str, i64> = HashMap::new();
    for c in &b.contacts {
        let e = first.entry(c.id.as_str()).or_insert(c.observed_at);
        *e = (*e).min(c.observed_at);
    }
    let mut named = 0;
    for (id, c, at) in b
        .interactions
        .iter()
        .map(|i| (&i.id, &i.contact_id, i.opened_at))
        .chain(
            b.surveys
                .iter()
                .map(|s| (&s.id, &s.contact_id, s.responded_at)),
        )
    {
        if let Some(c) = c {
            named += 1;
            let seen = first.get(c.as_str()).copied();
            assert!(
                seen.is_some_and(|t| t <= at),
                "{id} names {c}, first seen {seen:?}, at {at}"
            );
        }
    }
    assert!(named > 1000, "most records name a contact ({named})");
}

#[test]
fn a_price_regime_changes_nothing_before_it_and_raises_prices_and_churn_after() {
    let change = end() - 180;
    let changed = generate(&SynthConfig {
        price_regime_from: Some(change),
        ..cfg()
    });
    let plain = base();
    let before = |b: &SynthBase| -> Vec<SubscriptionEvent> {
        b.subscriptions
            .iter()
            .filter(|s| s.occurred_at < i64::from(change) * SECONDS_PER_DAY)
            .cloned()
            .collect()
    };
    assert_eq!(before(&changed), before(plain));
    let after = |b: &SynthBase, kind: &str| {
        b.operational
            .iter()
            .filter(|o| o.kind == kind && o.occurred_at >= i64::from(change) * SECONDS_PER_DAY)
            .count()
    };
    let churn_after = |b: &SynthBase| {
        b.subscriptions
            .iter()
            .filter(|s| {
                s.kind == SubscriptionKind::Churn
                    && s.occurred_at >= i64::from(change + 60) * SECONDS_PER_DAY
            })
            .count()
    };
    let (rises, rises_plain) = (
        after(&changed, op_kind::PRICE_INCREASE),
        after(plain, op_kind::PRICE_INCREASE),
    );
    assert!(rises > 2 * rises_plain, "{rises} vs {rises_plain}");
    let (churned, churned_plain) = (churn_after(&changed), churn_after(plain));
    assert!(churned > churned_plain, "{churned} vs {churned_plain}");
    let bad = SynthConfig {
        price_regime_from: Some(end() + 1),
        ..cfg()
    };
    assert!(bad.check().is_err());
}

/// A competitor's evaluation and a downturn leave their own traces: NPS
/// answers given while an evaluation runs are lower, a competitor churn
/// mostly comes while one runs (the rest is the small draw of a reason that
/// left no trace), and a budget-cut churn comes in a downturn.
#[test]
fn a_competitor_evaluation_and_a_downturn_leave_their_own_traces() {
    let b = base();
    let mut weeks: HashMap<&str, Vec<&crate::truth::TruthWeek>> = HashMap::new();
    for w in &b.truth.weeks {
        weeks.entry(w.account_id.as_str()).or_default().push(w);
    }
    let week_of = |id: &str, day: Day| {
        weeks
            .get(id)
            .and_then(|ws| ws.iter().rev().find(|w| w.week <= day).copied())
    };
    let (mut during, mut outside) = (Vec::new(), Vec::new());
    for s in b.surveys.iter().filter(|s| s.kind == SurveyKind::Nps) {
        if let Some(w) = week_of(&s.account_id, day_of_ts(s.responded_at)) {
            let to = if w.evaluating {
                &mut during
            } else {
                &mut outside
            };
            to.push(s.score as f64);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        during.len() >= 20,
        "NPS answers during an evaluation: {}",
        during.len()
    );
    assert!(
        mean(&outside) - mean(&during) >= 0.75,
        "NPS {:.2} during an evaluation ({} answers), {:.2} outside",
        mean(&during),
        during.len(),
        mean(&outside)
    );
    let (mut evaluating, mut competitor, mut downturns) = (0, 0, Vec::new());
    for t in b.truth.accounts.iter().filter(|t| t.churned) {
        let Some(w) = week_of(&t.account_id, t.churn_day.unwrap()) else {
            continue;
        };
        match t.churn_reason.as_str() {
            "competitor" => {
                competitor += 1;
                evaluating += usize::from(w.evaluating);
            }
            "budget_cuts" => downturns.push(w.business),
            _ => {}
        }
    }
    assert!(competitor >= 3, "competitor churns: {competitor}");
    assert!(
        2 * evaluating > competitor,
        "{evaluating} of {competitor} competitor churns during an evaluation"
    );
    assert!(
        downturns.len() >= 3,
        "budget-cut churns: {}",
        downturns.len()
    );
    assert!(
        mean(&downturns) < -0.5,
        "business conditions at a budget-cut churn: {:.2}",
        mean(&downturns)
    );
}
