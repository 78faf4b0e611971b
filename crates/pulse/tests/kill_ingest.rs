//! kill -9 during ingest: the real `pulse serve` on an SQLite file is killed
//! while a batch is in flight. After a restart every acknowledged batch is
//! there in full, the batch in flight is there entirely or not at all, and
//! every stored record is exactly what was sent.

mod common;

use std::process::{Child, Command};
use std::time::Duration;

use pulse_proto::v1 as pb;
use pulse_proto::v1::ingest_service_client::IngestServiceClient;

const PER_BATCH: usize = 2_000;

fn start(dir: &std::path::Path, port: u16) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pulse"));
    cmd.arg("--data-dir")
        .arg(dir)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env_remove("PULSE_CONFIG")
        .env("PULSE_METRICS__ENABLED", "false")
        .env("PULSE_WEB__ENABLED", "false")
        .env("PULSE_LOG", "info");
    common::spawn_serving(cmd, "pulse serve")
}

fn account(batch: usize, j: usize) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Account(pb::Account {
            id: format!("b{batch:03}-{j:05}"),
            name: format!("Customer {batch}/{j}"),
            segment: "smb".into(),
            industry: "retail".into(),
            region: "us-west".into(),
            plan: "core".into(),
            mrr: (batch * 10_000 + j) as f64 + 0.25,
            seats: (j % 500) as i64 + 1,
            owner: "dana".into(),
            start_date: "2025-01-01".into(),
            renewal_date: "2027-01-01".into(),
            status: "active".into(),
        })),
    }
}

async fn send(port: u16, batch: usize) -> Result<pb::IngestSummary, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let records = (0..PER_BATCH).map(|j| account(batch, j)).collect();
    IngestServiceClient::new(channel)
        .ingest(tokio_stream::iter(vec![pb::IngestRequest { records }]))
        .await
        .map(|r| r.into_inner())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_batches_survive_kill_9_and_none_is_partial() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = start(dir.path(), port);
    let mut acked = Vec::new();
    for batch in 0..4 {
        let s = send(port, batch).await.unwrap();
        assert_eq!(s.inserted, PER_BATCH as u64);
        acked.push(batch);
    }
    // Batch 4 in flight when the server is killed (SIGKILL).
    let in_flight = 4;
    let call = tokio::spawn(send(port, in_flight));
    tokio::time::sleep(Duration::from_millis(30)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    if call.await.unwrap().is_ok() {
        acked.push(in_flight);
    }

    // Restart on the same file: the store opens (recovering the log).
    let mut server = start(dir.path(), port);
    server.kill().unwrap();
    server.wait().unwrap();
    let url = format!("sqlite://{}", dir.path().join("pulse.db").display());
    let store = pulse_store::Store::connect(&url).await.unwrap();
    let all = store
        .accounts(&pulse_store::AccountFilter {
            limit: 100_000,
            ..Default::default()
        })
        .await
        .unwrap();
    for batch in 0..=in_flight {
        let stored: Vec<_> = all
            .iter()
            .filter(|a| a.id.starts_with(&format!("b{batch:03}-")))
            .collect();
        if acked.contains(&batch) {
            assert_eq!(stored.len(), PER_BATCH, "acknowledged batch {batch}");
        } else {
            assert!(
                stored.is_empty() || stored.len() == PER_BATCH,
                "batch {batch} in flight: {} of {PER_BATCH} stored",
                stored.len()
            );
        }
        // Every stored record is exactly the one sent.
        for a in stored {
            let j: usize = a.id[5..].parse().unwrap();
            let Some(pb::record::Entity::Account(sent)) = account(batch, j).entity else {
                unreachable!()
            };
            assert_eq!(
                (a.name.as_str(), a.mrr, a.seats),
                (sent.name.as_str(), sent.mrr, sent.seats),
                "{}",
                a.id
            );
        }
    }
    store.close().await;
}
