//! Ingest over gRPC, read back, health and reflection.

use futures::StreamExt;
use pulse_proto::v1 as pb;
use pulse_proto::v1::account_service_client::AccountServiceClient;
use pulse_proto::v1::ingest_service_client::IngestServiceClient;
use pulse_store::Store;
use tonic::Code;

use crate::TestServer;

pub(crate) fn account(id: &str, mrr: f64) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Account(pb::Account {
            id: id.into(),
            name: format!("Customer {id}"),
            segment: "mid_market".into(),
            industry: "construction".into(),
            region: "us-east".into(),
            plan: "professional".into(),
            mrr,
            seats: 80,
            owner: "dana".into(),
            start_date: "2024-05-01".into(),
            renewal_date: "2027-05-01".into(),
            status: "active".into(),
        })),
    }
}

fn interaction(id: &str, account: &str, csat: Option<i64>) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Interaction(pb::Interaction {
            id: id.into(),
            account_id: account.into(),
            channel: "ticket".into(),
            topic: "tax_withholding".into(),
            opened_at: "2026-10-01T09:30:00Z".into(),
            first_response_at: "2026-10-01T10:00:00Z".into(),
            csat,
            subject: "Wrong state withholding".into(),
            body: "Taxes were withheld for Ohio but the employee lives in Kentucky.".into(),
            ..Default::default()
        })),
    }
}

fn contact(id: &str, account: &str, active: bool, at: &str) -> pb::Record {
    pb::Record {
        entity: Some(pb::record::Entity::Contact(pb::Contact {
            deleted_at: String::new(),
            id: id.into(),
            account_id: account.into(),
            name: "Sam Lee".into(),
            persona: "champion".into(),
            relationship_strength: 4,
            sentiment: "positive".into(),
            active: Some(active),
            observed_at: at.into(),
        })),
    }
}

#[tokio::test]
async fn streamed_records_are_stored_bad_ones_reported_and_read_back() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    let mut ingest = IngestServiceClient::new(server.channel.clone());
    let batches = vec![
        pb::IngestRequest {
            records: vec![
                account("a-1", 1200.0),
                interaction("i-1", "a-1", Some(2)),
                contact("c-1", "a-1", true, "2026-01-01T00:00:00Z"),
            ],
        },
        pb::IngestRequest {
            records: vec![
                interaction("i-2", "a-1", Some(9)), // csat out of range
                interaction("i-3", "a-404", None),  // unknown account
                account("a-2", -10.0),              // negative MRR
                pb::Record { entity: None },        // empty record
                contact("c-1", "a-1", false, "2026-09-01T00:00:00Z"), // the champion left
                account("a-1", 1500.0),             // an update
            ],
        },
    ];
    let summary = ingest
        .ingest(tokio_stream::iter(batches))
        .await
        .expect("ingest succeeds")
        .into_inner();
    assert_eq!(
        (
            summary.received,
            summary.inserted,
            summary.updated,
            summary.rejected
        ),
        (9, 4, 1, 4)
    );
    let why: Vec<(u64, &str, &str, &str)> = summary
        .rejections
        .iter()
        .map(|r| {
            (
                r.position,
                r.entity.as_str(),
                r.id.as_str(),
                r.field.as_str(),
            )
        })
        .collect();
    assert_eq!(
        why,
        vec![
            (3, "interaction", "i-2", "csat"),
            (4, "interaction", "i-3", "account_id"),
            (5, "account", "a-2", "mrr"),
            (6, "", "", "entity"),
        ]
    );

    let mut accounts = AccountServiceClient::new(server.channel.clone());
    let detail = accounts
        .get_account(pb::GetAccountRequest { id: "a-1".into() })
        .await
        .unwrap()
        .into_inner();
    let a = detail.account.unwrap();
    assert_eq!(
        (a.mrr, a.segment.as_str(), a.start_date.as_str()),
        (1500.0, "mid_market", "2024-05-01")
    );
    assert_eq!(detail.contacts.len(), 1);
    assert_eq!(
        detail.contacts[0].active,
        Some(false),
        "the latest observation wins"
    );
    let counts = detail.counts.unwrap();
    assert_eq!((counts.interactions, counts.contacts), (1, 1));

    // Re-sending the same stream changes nothing.
    let again = ingest
        .ingest(tokio_stream::iter(vec![pb::IngestRequest {
            records: vec![account("a-1", 1500.0), interaction("i-1", "a-1", Some(2))],
        }]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((again.inserted, again.updated), (0, 2));

    let err = accounts
        .get_account(pb::GetAccountRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = accounts
        .get_account(pb::GetAccountRequest { id: " ".into() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("id:"), "{}", err.message());

    let page = accounts
        .list_accounts(pb::ListAccountsRequest {
            page_size: 5000,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(page.code(), Code::InvalidArgument);
    server.stop().await;
}

#[tokio::test]
async fn pagination_walks_every_account_once() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    let mut ingest = IngestServiceClient::new(server.channel.clone());
    let records = (0..25)
        .map(|i| account(&format!("a-{i:02}"), 100.0))
        .collect();
    ingest
        .ingest(tokio_stream::iter(vec![pb::IngestRequest { records }]))
        .await
        .unwrap();
    let mut client = AccountServiceClient::new(server.channel.clone());
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_accounts(pb::ListAccountsRequest {
                page_size: 10,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.accounts.into_iter().map(|a| a.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.first().map(String::as_str), Some("a-00"));
    assert_eq!(seen.last().map(String::as_str), Some("a-24"));
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection_are_on() {
    let server = TestServer::start(Store::in_memory().await.unwrap()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(server.channel.clone());
    for service in ["", "pulse.v1.IngestService", "pulse.v1.AccountService"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(server.channel.clone());
    let req = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter(vec![req]))
        .await
        .unwrap()
        .into_inner();
    let first = responses.next().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("expected a service list, got {:?}", first.message_response);
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"pulse.v1.IngestService".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"pulse.v1.AccountService".to_string()),
        "{names:?}"
    );
    assert!(server.addr.ip().is_loopback());
    server.stop().await;
}

#[tokio::test]
async fn a_failed_stream_says_what_was_committed() {
    use tonic_types::StatusExt;
    let store = Store::in_memory().await.unwrap();
    let server = TestServer::start(store.clone()).await;
    let mut client = IngestServiceClient::new(server.channel.clone());
    let messages = vec![
        pb::IngestRequest {
            records: vec![account("a-1", 100.0), account("a-2", 200.0)],
        },
        pb::IngestRequest {
            records: vec![account("a-3", 300.0), account("a-4", -1.0)],
        },
        // Over the batch limit: the stream fails here.
        pb::IngestRequest {
            records: vec![pb::Record::default(); pulse_server::MAX_BATCH + 1],
        },
        pb::IngestRequest {
            records: vec![account("a-9", 900.0)],
        },
    ];
    let s = client
        .ingest(tokio_stream::iter(messages))
        .await
        .unwrap_err();
    assert_eq!(s.code(), Code::ResourceExhausted, "{s:?}");
    let info = s.get_details_error_info().expect("an ErrorInfo detail");
    assert_eq!(info.reason, pulse_server::INGEST_INTERRUPTED);
    assert_eq!(info.metadata["committed_messages"], "2");
    assert_eq!(info.metadata["committed_records"], "3", "a-4 was rejected");
    assert_eq!(info.metadata["resume_position"], "4");
    assert!(
        s.message().contains("resume at record 4"),
        "{}",
        s.message()
    );
    // What it says was committed is there, and nothing after.
    let counts = store.table_counts().await.unwrap();
    assert_eq!(counts.iter().find(|c| c.0 == "accounts").unwrap().1, 3);
    server.stop().await;
}
