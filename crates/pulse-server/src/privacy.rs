//! `PrivacyService`: erasure of personal data and the audit log (admin
//! only: no access rule names the service, so it needs the admin role).

use pulse_app::privacy::{ForgetTarget, forget};
use pulse_core::Clock;
use pulse_proto::v1 as pb;
use pulse_proto::v1::privacy_service_server::PrivacyService;
use pulse_store::Store;
use tonic::{Request, Response, Status};

use crate::error::OrStatus;

pub(crate) struct PrivacySvc {
    pub(crate) store: Store,
    pub(crate) clock: Clock,
}

/// Audit entries per call at most.
const MAX_AUDIT: u32 = 1_000;

#[tonic::async_trait]
impl PrivacyService for PrivacySvc {
    #[tracing::instrument(skip_all, fields(rpc = "Forget"))]
    async fn forget(
        &self,
        request: Request<pb::ForgetRequest>,
    ) -> Result<Response<pb::ForgetResponse>, Status> {
        let r = request.into_inner();
        let target = ForgetTarget::from_ids(&r.account_id, &r.contact_id).or_status()?;
        let e = forget(&self.store, &target, self.clock.now())
            .await
            .or_status()?;
        Ok(Response::new(pb::ForgetResponse {
            accounts: e.accounts,
            contacts: e.contacts,
            interactions: e.interactions,
            survey_responses: e.surveys,
            operational_events: e.operational,
            outreach: e.outreach,
            copies: e.copies,
            join_keys: e.join_keys,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetAuditLog"))]
    async fn get_audit_log(
        &self,
        request: Request<pb::GetAuditLogRequest>,
    ) -> Result<Response<pb::GetAuditLogResponse>, Status> {
        let limit = match request.into_inner().limit {
            0 => 50,
            n => n.min(MAX_AUDIT),
        };
        let entries = self.store.audit_log(limit as usize).await.or_status()?;
        Ok(Response::new(pb::GetAuditLogResponse {
            entries: entries
                .into_iter()
                .map(|e| pb::AuditEntry {
                    at: pulse_core::time::format_ts(e.at),
                    action: e.action,
                    subject: e.subject,
                    detail: e.detail,
                })
                .collect(),
        }))
    }
}
