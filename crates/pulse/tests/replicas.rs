//! Two `pulse serve` processes on one PostgreSQL database and one models
//! directory: a week's run claimed by a server killed mid-job waits for its
//! lease, runs once when the lease expires, and is stored once; a promotion
//! made through one server is served by the other.
//!
//! Needs PostgreSQL: `PULSE_TEST_DATABASE_URL` (`.ci/run` sets it); without
//! it the test says so and passes.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pulse_app::ModelRegistry;
use pulse_core::Record;
use pulse_models::{GbtParams, ModelKind};
use pulse_proto::v1 as pb;
use pulse_proto::v1::model_service_client::ModelServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use pulse_store::Store;

const TODAY: &str = "2026-11-30";

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(dir: &Path, url: &str, name: &str) -> Server {
    let port = free_port();
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        "[scoring]\nrefresh_seconds = 1\nweekly_runs = true\n[lists]\nschedule = false\n[server]\npromotion_watch_secs = 1\n[metrics]\nenabled = false\n",
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse"));
    cmd.arg("--config")
        .arg(&cfg)
        .arg("--data-dir")
        .arg(dir.join(name))
        .arg("--models-dir")
        .arg(dir.join("models"))
        .arg("--database-url")
        .arg(url)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PULSE_CLOCK", TODAY)
        .env("PULSE_WEB__ENABLED", "false")
        .env("PULSE_LOG", "info");
    Server {
        child: common::spawn_serving(cmd, name),
        port,
    }
}

async fn scoring(port: u16) -> ScoringServiceClient<tonic::transport::Channel> {
    let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    ScoringServiceClient::new(ch)
}

/// The churn model version `port` serves for `id`, or why not.
async fn served(port: u16, id: &str) -> Result<String, String> {
    let r = scoring(port)
        .await
        .score(pb::ScoreRequest {
            subject: Some(pb::score_request::Subject::AccountId(id.into())),
            ..Default::default()
        })
        .await
        .map_err(|s| format!("{:?}: {}", s.code(), s.message()))?;
    Ok(r.into_inner().models.map(|m| m.churn).unwrap_or_default())
}

async fn served_version(port: u16, id: &str) -> Option<String> {
    served(port, id).await.ok()
}

/// Trains a churn model on the store's data and saves it (not promoted).
async fn train_churn(
    store: &Store,
    registry: &Arc<pulse_app::DirRegistry>,
    seed_iters: usize,
) -> String {
    let hs = store.load_histories(None).await.unwrap();
    let cfg = pulse_training::TrainConfig {
        gbt: GbtParams::new().iterations(seed_iters),
        ablation: false,
        allow_leakage: true,
        ..Default::default()
    };
    let out = tokio::task::spawn_blocking(move || {
        pulse_training::train_models(
            &hs,
            &[ModelKind::Churn],
            None,
            &cfg,
            "2026-11-30T00:00:00Z",
            &mut || 0.0,
            &mut |_| {},
        )
        .unwrap()
    })
    .await
    .unwrap();
    let m = out.models.into_iter().next().unwrap();
    registry.save(m.artifact).unwrap().card.version
}

async fn admin_of(url: &str) -> sqlx::PgPool {
    sqlx::PgPool::connect(url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_run_scheduled_jobs_once_and_share_promotions() {
    let Some(base_url) = std::env::var("PULSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("PULSE_TEST_DATABASE_URL is not set: skipping the two-replica test");
        return;
    };
    // A database of our own on that server.
    let db = format!("pulse_replicas_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&base_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base_url.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{db}");

    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(&url).await.unwrap();
    let end = pulse_core::time::parse_day("end", TODAY).unwrap() - 1;
    let base = pulse_synth::generate(&pulse_synth::SynthConfig::new(150, 12, 7, end));
    // A customer today (one that churned has no live score).
    let id = base
        .accounts
        .iter()
        .find(|a| a.status == pulse_core::AccountStatus::Active)
        .unwrap()
        .id
        .clone();
    let mut records: Vec<Record> = Vec::new();
    records.extend(base.accounts.into_iter().map(Record::Account));
    records.extend(base.contacts.into_iter().map(Record::Contact));
    records.extend(base.interactions.into_iter().map(Record::Interaction));
    records.extend(base.usage.into_iter().map(Record::Usage));
    records.extend(base.subscriptions.into_iter().map(Record::Subscription));
    records.extend(base.surveys.into_iter().map(Record::Survey));
    records.extend(base.operational.into_iter().map(Record::Operational));
    for chunk in records.chunks(5_000) {
        let out = store
            .ingest(chunk.iter().cloned().enumerate().collect())
            .await
            .unwrap();
        assert!(out.rejected.is_empty());
    }
    let clock = pulse_core::Clock::parse(TODAY).unwrap();
    let registry =
        Arc::new(pulse_app::DirRegistry::open(&dir.path().join("models"), clock.clone()).unwrap());
    let first = train_churn(&store, &registry, 10).await;
    registry.promote(&first).unwrap();
    let second = train_churn(&store, &registry, 12).await;
    assert_ne!(first, second);

    // A server that claimed this week's run and was killed (kill -9) before
    // storing it leaves its lease behind, unexpired.
    let now = clock.now();
    let week = pulse_core::time::week_start(pulse_core::time::day_of_ts(now));
    let lease = format!("scoring-run:{}", pulse_core::time::iso_week_label(week));
    sqlx::query("INSERT INTO leases (name, holder, expires_at) VALUES ($1, 'killed/1/0', $2)")
        .bind(&lease)
        .bind(now + 3_600)
        .execute(&admin_of(&url).await)
        .await
        .unwrap();

    // Started together, as a deployment rolls out: both reach the week's
    // run at about the same moment.
    let (a, b) = {
        let (d, u) = (dir.path().to_path_buf(), url.clone());
        let a = std::thread::spawn(move || start(&d, &u, "a"));
        let (d, u) = (dir.path().to_path_buf(), url.clone());
        let b = std::thread::spawn(move || start(&d, &u, "b"));
        (a.join().unwrap(), b.join().unwrap())
    };
    // Both serve the first model; the week's scheduled run is stored once.
    // (Hang guards below, not speed checks.)
    let deadline = Instant::now() + Duration::from_secs(120);
    for port in [a.port, b.port] {
        while served_version(port, &id).await.as_deref() != Some(first.as_str()) {
            assert!(
                Instant::now() < deadline,
                "server on {port} never served {first}: {:?}",
                served(port, &id).await
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // While the killed server's lease holds, neither runs the week.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        store.score_runs(10).await.unwrap().is_empty(),
        "the lease held"
    );
    // Its lease expires: the week's run is claimable again, and runs once.
    sqlx::query("UPDATE leases SET expires_at = $1 WHERE name = $2")
        .bind(now - 1)
        .bind(&lease)
        .execute(&admin_of(&url).await)
        .await
        .unwrap();
    loop {
        let runs = store.score_runs(10).await.unwrap();
        if !runs.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "no scheduled run stored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Both servers tick every second: give them several more chances.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let runs = store.score_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "one scheduled run for the week: {runs:?}");
    assert_eq!(runs[0].trigger, "scheduled");

    // Promote the second model through A: B serves it too.
    let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", a.port))
        .unwrap()
        .connect_lazy();
    ModelServiceClient::new(ch)
        .promote_model(pb::PromoteModelRequest {
            version: second.clone(),
        })
        .await
        .unwrap();
    let promoted_at = Instant::now();
    while served_version(b.port, &id).await.as_deref() != Some(second.as_str()) {
        assert!(
            promoted_at.elapsed() < Duration::from_secs(300),
            "B never served {second}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "replica B served the promotion made through A after {:.1} s",
        promoted_at.elapsed().as_secs_f64()
    );
    drop((a, b));
    store.close().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
