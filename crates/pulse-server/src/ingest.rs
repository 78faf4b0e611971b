//! `IngestService`: client-streaming ingest of records of any entity.

use std::sync::Arc;

use futures::StreamExt;
use pulse_core::TextScorer;
use pulse_proto::v1 as pb;
use pulse_proto::v1::ingest_service_server::IngestService;
use pulse_store::Store;
use tonic::{Request, Response, Status, Streaming};

use crate::convert::{RecordIn, describe};
use crate::error::{IntoStatus, OrStatus};
use pulse_app::AppError;
use pulse_app::SentimentSlot;

/// Most records one stream message may carry (each message is one transaction).
pub const MAX_BATCH: usize = 50_000;
/// Most rejections listed in one summary.
pub const MAX_REJECTIONS: usize = 10_000;

pub(crate) struct IngestSvc {
    pub(crate) store: Store,
    /// Scores interaction and survey text as it is stored (the model in
    /// service when each batch starts); an empty slot stores NULL sentiment.
    pub(crate) sentiment: SentimentSlot,
    /// Told when records were stored, so the scoring population is rebuilt.
    pub(crate) scoring: Arc<pulse_app::serving::Scoring>,
    /// Counts records inserted, updated and rejected.
    pub(crate) metrics: Arc<crate::metrics::Metrics>,
    pub(crate) cpu: pulse_app::limits::CpuPool,
}

#[tonic::async_trait]
impl IngestService for IngestSvc {
    #[tracing::instrument(skip_all, fields(rpc = "Ingest"))]
    async fn ingest(
        &self,
        request: Request<Streaming<pb::IngestRequest>>,
    ) -> Result<Response<pb::IngestSummary>, Status> {
        let mut stream = request.into_inner();
        let mut summary = pb::IngestSummary::default();
        let mut committed = Committed::default();
        let result = self
            .ingest_stream(&mut stream, &mut summary, &mut committed)
            .await;
        if let Err(status) = result {
            return Err(committed.attach(status));
        }
        tracing::info!(
            received = summary.received,
            inserted = summary.inserted,
            updated = summary.updated,
            rejected = summary.rejected,
            "ingest finished"
        );
        Ok(Response::new(summary))
    }
}

/// What a stream had committed when it failed.
#[derive(Debug, Default)]
struct Committed {
    /// Stream messages written (each in its own transaction).
    messages: u64,
    /// Records stored (inserted or updated) by those messages.
    records: u64,
    /// Records of those messages seen (stored or rejected): where to resume.
    position: u64,
}

/// The `ErrorInfo` reason of a failed ingest stream; its metadata says what
/// was kept (`committed_messages`, `committed_records`, `resume_position`).
pub const INGEST_INTERRUPTED: &str = "INGEST_INTERRUPTED";

impl Committed {
    /// `status` with an `ErrorInfo` detail saying what was committed, so a
    /// client knows where to resume (re-sending is safe: records upsert by
    /// id). Details the status already carries are kept.
    fn attach(&self, status: Status) -> Status {
        use tonic_types::StatusExt;
        let mut details = status.get_error_details();
        details.set_error_info(
            INGEST_INTERRUPTED,
            "pulse",
            [
                ("committed_messages".to_string(), self.messages.to_string()),
                ("committed_records".to_string(), self.records.to_string()),
                ("resume_position".to_string(), self.position.to_string()),
            ],
        );
        Status::with_error_details(
            status.code(),
            format!(
                "{} ({} stream messages with {} records were committed before this; resume at record {})",
                status.message(),
                self.messages,
                self.records,
                self.position
            ),
            details,
        )
    }
}

impl IngestSvc {
    async fn ingest_stream(
        &self,
        stream: &mut Streaming<pb::IngestRequest>,
        summary: &mut pb::IngestSummary,
        committed: &mut Committed,
    ) -> Result<(), Status> {
        let mut position: usize = 0;
        while let Some(msg) = stream.next().await {
            let msg = msg?;
            if msg.records.len() > MAX_BATCH {
                return Err(AppError::TooLarge {
                    what: "an ingest message",
                    got: msg.records.len(),
                    limit: MAX_BATCH,
                }
                .into_status());
            }
            let mut batch = Vec::with_capacity(msg.records.len());
            let mut rejections = Vec::new();
            for rec in msg.records {
                let pos = position;
                position += 1;
                let (entity, id) = describe(&rec);
                match RecordIn::try_from(rec) {
                    Ok(r) => batch.push((pos, r.0)),
                    Err(e) => rejections.push(pb::Rejection {
                        position: pos as u64,
                        entity: entity.to_string(),
                        id,
                        field: e.field,
                        reason: e.reason,
                    }),
                }
            }
            summary.received += (batch.len() + rejections.len()) as u64;
            // Sentiment of the batch's text is CPU work: on the CPU pool.
            let (batch, sentiment) = match self.sentiment.get() {
                Some(model) => self
                    .cpu
                    .run("scoring ingested text", move || {
                        let s = pulse_store::score_batch(model.as_ref() as &dyn TextScorer, &batch);
                        (batch, Some(s))
                    })
                    .await
                    .or_status()?,
                None => (batch, None),
            };
            let out = self
                .store
                .ingest_with_sentiment(batch, sentiment)
                .await
                .or_status()?;
            summary.inserted += out.inserted;
            summary.updated += out.updated;
            if out.inserted + out.updated > 0 {
                self.scoring.mark_dirty();
            }
            rejections.extend(out.rejected.into_iter().map(|r| pb::Rejection {
                position: r.position as u64,
                entity: r.kind.to_string(),
                id: r.id,
                field: r.error.field,
                reason: r.error.reason,
            }));
            rejections.sort_by_key(|r| r.position);
            let rejected: Vec<(String, String)> = rejections
                .iter()
                .map(|r| (r.entity.clone(), r.field.clone()))
                .collect();
            self.metrics
                .record_ingest(out.inserted, out.updated, &rejected);
            summary.rejected += rejections.len() as u64;
            for r in rejections {
                if summary.rejections.len() < MAX_REJECTIONS {
                    summary.rejections.push(r);
                } else {
                    summary.rejections_truncated = true;
                }
            }
            committed.messages += 1;
            committed.records += out.inserted + out.updated;
            committed.position = position as u64;
        }
        Ok(())
    }
}
