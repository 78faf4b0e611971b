//! `ReportService`: the leadership report the application assembles
//! ([`pulse_app::report::build`]), as protobuf.

use std::sync::Arc;

use crate::error::OrStatus;
use pulse_app::ModelRegistry;
use pulse_app::report::build;
use pulse_core::time::format_day;
use pulse_lists::ListConfig;
use pulse_proto::v1 as pb;
use pulse_proto::v1::report_service_server::ReportService;
use pulse_store::Store;
use tonic::{Request, Response, Status};

/// `ReportService`.
#[derive(Debug)]
pub(crate) struct ReportSvc {
    pub(crate) analytics: crate::analytics::Analytics,
    pub(crate) store: Store,
    pub(crate) registry: Arc<dyn ModelRegistry>,
    pub(crate) lists: ListConfig,
    pub(crate) expansion_horizon_days: i32,
    pub(crate) threads: usize,
    pub(crate) clock: pulse_core::Clock,
}

#[tonic::async_trait]
impl ReportService for ReportSvc {
    #[tracing::instrument(skip_all, fields(rpc = "GetReport"))]
    async fn get_report(
        &self,
        request: Request<pb::GetReportRequest>,
    ) -> Result<Response<pb::GetReportResponse>, Status> {
        let r = request.into_inner();
        let key = self.analytics.key("report", &r.period);
        if let Some(hit) = self.analytics.reports.get(&key) {
            return Ok(Response::new(hit.as_ref().clone()));
        }
        let _slot = self.analytics.pool.slot("a report").await.or_status()?;
        let rep = build(
            &self.store,
            self.registry.clone(),
            &self.lists,
            self.expansion_horizon_days,
            self.threads,
            &r.period,
            &self.clock,
        )
        .await
        .or_status()?;
        let response = pb::GetReportResponse {
            period: rep.period,
            as_of: format_day(rep.as_of),
            horizon_days: rep.horizon_days,
            html: rep.html,
            warnings: rep.warnings,
        };
        self.analytics.reports.put(key, Arc::new(response.clone()));
        Ok(Response::new(response))
    }
}
