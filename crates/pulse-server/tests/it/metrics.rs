//! Metrics for operators: calls, ingest and models counted, scraped over HTTP
//! from `/metrics` as Prometheus text.

use std::sync::Arc;

use pulse_proto::v1 as pb;
use pulse_proto::v1::account_service_client::AccountServiceClient;
use pulse_proto::v1::ingest_service_client::IngestServiceClient;
use pulse_server::AppState;
use pulse_store::Store;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tonic::Code;

use crate::TestServer;
use crate::ingest::account;

/// Starts the metrics endpoint of `state` on a loopback port; returns its address.
pub(crate) async fn start_metrics(state: &AppState) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let s = state.clone();
    tokio::spawn(pulse_server::serve_metrics(
        listener,
        state.metrics.clone(),
        Arc::new(move |_| s.refresh_metrics()),
        std::future::pending(),
    ));
    addr
}

/// GET `path` over plain HTTP/1.1; returns the status line and the body.
pub(crate) async fn http_get(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: pulse\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// The value of the sample `series` (name and labels exactly as printed).
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

#[tokio::test]
async fn calls_ingest_and_codes_are_counted_and_scraped() {
    let store = Store::in_memory().await.unwrap();
    let registry = Arc::new(crate::models::MemoryRegistry::default());
    let state = crate::state(store, registry);
    let metrics_addr = start_metrics(&state).await;
    let server = TestServer::start_with(state).await;

    let mut ingest = IngestServiceClient::new(server.channel.clone());
    let summary = ingest
        .ingest(futures::stream::iter(vec![pb::IngestRequest {
            records: vec![account("m-1", 100.0), account("m-2", -5.0)],
        }]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((summary.inserted, summary.rejected), (1, 1));

    let mut accounts = AccountServiceClient::new(server.channel.clone());
    for _ in 0..3 {
        accounts
            .get_account(pb::GetAccountRequest { id: "m-1".into() })
            .await
            .unwrap();
    }
    let e = accounts
        .get_account(pb::GetAccountRequest {
            id: "nobody".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    let (status, text) = http_get(metrics_addr, "/metrics").await;
    assert!(status.contains("200"), "{status}");
    let get = |code: &str| {
        sample(
            &text,
            &format!(
                r#"pulse_grpc_requests_total{{service="pulse.v1.AccountService",method="GetAccount",code="{code}"}}"#
            ),
        )
    };
    assert_eq!(get("OK"), Some(3.0), "{text}");
    assert_eq!(get("NOT_FOUND"), Some(1.0));
    assert_eq!(
        sample(
            &text,
            r#"pulse_grpc_requests_total{service="pulse.v1.IngestService",method="Ingest",code="OK"}"#
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pulse_grpc_request_duration_seconds_count{service="pulse.v1.AccountService",method="GetAccount",code="OK"}"#
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, r#"pulse_ingest_records_total{outcome="inserted"}"#),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            r#"pulse_ingest_rejects_total{entity="account",field="mrr"}"#
        ),
        Some(1.0)
    );
    let (status, _) = http_get(metrics_addr, "/nothing").await;
    assert!(status.contains("404"), "{status}");
    server.stop().await;
}
