//! `AccountService`: reading accounts back, and their relationship map.

use pulse_proto::v1 as pb;
use pulse_proto::v1::account_service_server::AccountService;
use pulse_store::{AccountFilter, Store};
use tonic::{Request, Response, Status};

use crate::convert::{account_out, contact_out, relationship_out};
use crate::error::{IntoStatus, OrStatus};
use pulse_app::AppError;
use pulse_core::FieldError;

pub(crate) struct AccountSvc {
    pub(crate) store: Store,
}

const MAX_PAGE: u32 = 1_000;

#[tonic::async_trait]
impl AccountService for AccountSvc {
    #[tracing::instrument(skip_all, fields(rpc = "GetAccount"))]
    async fn get_account(
        &self,
        request: Request<pb::GetAccountRequest>,
    ) -> Result<Response<pb::AccountDetail>, Status> {
        let id = request.into_inner().id;
        if id.trim().is_empty() {
            return Err(AppError::Invalid(FieldError::new("id", "is required")).into_status());
        }
        let account = self
            .store
            .account(&id)
            .await
            .or_status()?
            .ok_or(AppError::NotFound {
                what: "account",
                id: id.clone(),
            })
            .or_status()?;
        let contacts = self.store.current_contacts(&id).await.or_status()?;
        let c = self.store.record_counts(&id).await.or_status()?;
        Ok(Response::new(pb::AccountDetail {
            account: Some(account_out(account)),
            contacts: contacts.into_iter().map(contact_out).collect(),
            counts: Some(pb::RecordCounts {
                contacts: c.contacts,
                interactions: c.interactions,
                usage: c.usage,
                subscription_events: c.subscription_events,
                survey_responses: c.survey_responses,
                operational_events: c.operational_events,
                outreach: c.outreach,
            }),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetRelationships"))]
    async fn get_relationships(
        &self,
        request: Request<pb::GetRelationshipsRequest>,
    ) -> Result<Response<pb::Relationships>, Status> {
        let id = request.into_inner().account_id;
        if id.trim().is_empty() {
            return Err(
                AppError::Invalid(FieldError::new("account_id", "is required")).into_status(),
            );
        }
        if self.store.account(&id).await.or_status()?.is_none() {
            return Err(AppError::NotFound {
                what: "account",
                id,
            }
            .into_status());
        }
        let map = self.store.persona_map(&id).await.or_status()?;
        let negative_executive_sponsor = pulse_app::accounts::negative_executive_sponsor(&map);
        Ok(Response::new(pb::Relationships {
            account_id: id,
            relationships: map.into_iter().map(relationship_out).collect(),
            negative_executive_sponsor,
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "ListAccounts"))]
    async fn list_accounts(
        &self,
        request: Request<pb::ListAccountsRequest>,
    ) -> Result<Response<pb::ListAccountsResponse>, Status> {
        let r = request.into_inner();
        if r.page_size > MAX_PAGE {
            return Err(AppError::Invalid(FieldError::new(
                "page_size",
                format!("{} is over the limit of {MAX_PAGE}", r.page_size),
            ))
            .into_status());
        }
        let size = if r.page_size == 0 {
            100
        } else {
            r.page_size as usize
        };
        let nonempty = |s: String| if s.trim().is_empty() { None } else { Some(s) };
        let filter = AccountFilter {
            segment: nonempty(r.segment),
            owner: nonempty(r.owner),
            after_id: nonempty(r.page_token),
            limit: size + 1,
        };
        let mut accounts = self.store.accounts(&filter).await.or_status()?;
        let next = if accounts.len() > size {
            accounts.truncate(size);
            accounts.last().map(|a| a.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.into_iter().map(account_out).collect(),
            next_page_token: next,
        }))
    }
}
