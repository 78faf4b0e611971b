//! `ListService`: weekly lists, outreach and the team lead's portfolio over
//! gRPC. The work is in [`crate::lists`]; this module converts at the edge.

use std::pin::Pin;

use futures::Stream;
use pulse_core::time::{format_day, format_ts};
use pulse_lists::{ExpansionRow, LastContact, ListConfig, MoverRow, OutcomeCounts, RiskRow};
use pulse_proto::v1 as pb;
use pulse_proto::v1::list_service_server::ListService;
use pulse_store::{ListWrite, Store};
use tonic::{Request, Response, Status};

use crate::error::OrStatus;
use pulse_app::AppError;
use pulse_app::lists::{self, OutreachInput, RowFilter, StoredLists};

/// Rows per streamed message.
const CHUNK: usize = 500;

pub(crate) struct ListSvc {
    pub(crate) store: Store,
    pub(crate) config: ListConfig,
    pub(crate) threads: usize,
    pub(crate) clock: pulse_core::Clock,
}

pub(crate) fn run_out(l: &StoredLists) -> pb::ListRun {
    let r = &l.run;
    let s = &l.params.summary;
    pb::ListRun {
        list_run_id: r.list_run_id,
        week: r.week.clone(),
        week_start: format_day(r.week_start),
        score_run_id: r.score_run_id,
        as_of: format_day(r.as_of),
        models: Some(pb::ModelVersions {
            churn: r.churn_version.clone(),
            expansion: r.expansion_version.clone().unwrap_or_default(),
        }),
        trigger: r.trigger.clone(),
        created_at: format_ts(r.created_at),
        generation: r.generation,
        summary: Some(pb::ListSummary {
            accounts: s.accounts as u32,
            at_risk: s.at_risk as u32,
            in_capacity: s.in_capacity as u32,
            capacity_arr_at_risk: s.capacity_arr_at_risk,
            expected_saved_arr: s.expected_saved_arr,
            save_rate: s.save_rate,
            holdout: s.holdout as u32,
            total_arr_at_risk: s.total_arr_at_risk,
            capacity_per_owner: l.params.config.capacity_per_owner as u32,
            expansion_accounts: l.params.expansion_accounts as u32,
            risers: l.params.risers as u32,
            newly_red: l.params.newly_red as u32,
            reasons: Some(mix_out(&s.reasons)),
        }),
        params_json: r.params.clone(),
    }
}

fn mix_out(m: &pulse_lists::ReasonMix) -> pb::ReasonMix {
    let shares = |v: &[pulse_lists::Share]| {
        v.iter()
            .map(|s| pb::ReasonShare {
                name: s.name.clone(),
                rows: s.rows as u32,
                share: s.share,
            })
            .collect()
    };
    pb::ReasonMix {
        rows: m.rows as u32,
        plays: shares(&m.plays),
        causes: shares(&m.causes),
        concentrated: m.concentrated,
        statement: m.statement.clone(),
    }
}

fn contact_out(c: &LastContact) -> pb::LastContact {
    pb::LastContact {
        day: format_day(c.day),
        play: c.play.clone(),
        owner: c.owner.clone(),
        channel: c.channel.clone(),
        outcome: c.outcome.clone(),
    }
}

fn risk_out(r: &RiskRow) -> pb::RiskRow {
    pb::RiskRow {
        rank: r.rank,
        account_id: r.account_id.clone(),
        name: r.name.clone(),
        owner: r.owner.clone(),
        segment: r.segment.clone(),
        arr: r.arr,
        churn_probability: r.churn_probability,
        health: r.health,
        band: r.band.clone(),
        arr_at_risk: r.arr_at_risk,
        churn_probability_change: r.change.map(|c| c.churn_probability),
        health_change: r.change.map(|c| c.health),
        drivers: r.drivers.clone(),
        suggested_play: r.suggested_play.clone(),
        days_to_renewal: r.days_to_renewal,
        contacted: r.contacted.as_ref().map(contact_out),
        owner_rank: r.owner_rank,
        in_capacity: r.in_capacity,
        held_back: r.held_back,
        reason: r.reason.clone(),
        base_play: r.base_play.clone(),
        churn_before_renewal: r.churn_before_renewal,
    }
}

fn expansion_out(r: &ExpansionRow) -> pb::ExpansionRow {
    pb::ExpansionRow {
        rank: r.rank,
        account_id: r.account_id.clone(),
        name: r.name.clone(),
        owner: r.owner.clone(),
        segment: r.segment.clone(),
        plan: r.plan.clone(),
        arr: r.arr,
        health: r.health,
        experience: r.experience,
        expansion_probability: r.expansion_probability,
        next_plan: r.next_plan.clone().unwrap_or_default(),
        upgrade_arr: r.upgrade_arr,
        seat_overage_arr: r.seat_overage_arr,
        headroom_arr: r.headroom_arr,
        expected_expansion_arr: r.expected_expansion_arr,
        signals: r.signals.clone(),
    }
}

fn mover_out(r: &MoverRow) -> pb::MoverRow {
    pb::MoverRow {
        rank: r.rank,
        account_id: r.account_id.clone(),
        name: r.name.clone(),
        owner: r.owner.clone(),
        segment: r.segment.clone(),
        band: r.band.clone(),
        arr: r.arr,
        churn_probability: r.churn_probability,
        previous_churn_probability: r.previous_churn_probability,
        health_change: r.health_change,
        newly_red: r.newly_red,
        drivers: r.drivers.clone(),
        suggested_play: r.suggested_play.clone(),
    }
}

fn outcomes_out(o: &OutcomeCounts) -> pb::OutcomeCounts {
    pb::OutcomeCounts {
        pending: o.pending,
        reached: o.reached,
        no_answer: o.no_answer,
        saved: o.saved,
        churned_anyway: o.churned_anyway,
        expanded: o.expanded,
    }
}

fn filter(r: &pb::ListRequest) -> Result<RowFilter, AppError> {
    RowFilter::new(&r.owner, &r.segment, &r.band, r.top as usize)
}

type Chunks<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// Streams `rows` in chunks, the run on the first one (also when empty).
fn chunked<R: Send + 'static, T: Send + 'static>(
    run: pb::ListRun,
    rows: Vec<R>,
    make: fn(Option<pb::ListRun>, Vec<R>) -> T,
) -> Chunks<T> {
    let mut chunks: Vec<Vec<R>> = Vec::new();
    let mut it = rows.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(CHUNK).collect());
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    let mut run = Some(run);
    let msgs: Vec<Result<T, Status>> = chunks
        .into_iter()
        .map(|c| Ok(make(run.take(), c)))
        .collect();
    Box::pin(futures::stream::iter(msgs))
}

#[tonic::async_trait]
impl ListService for ListSvc {
    #[tracing::instrument(skip_all, fields(rpc = "GenerateLists"))]
    async fn generate_lists(
        &self,
        request: Request<pb::GenerateListsRequest>,
    ) -> Result<Response<pb::ListRun>, Status> {
        let r = request.into_inner();
        let week = lists::week_or_current("week", &r.week, self.clock.today()).or_status()?;
        let saved = lists::generate(
            &self.store,
            &self.config,
            &week,
            ListWrite::Replace,
            "manual",
            self.threads,
            &self.clock,
        )
        .await
        .or_status()?
        .ok_or_else(|| Status::internal("internal error"))?;
        Ok(Response::new(run_out(&saved)))
    }

    type GetRiskListStream = Chunks<pb::RiskListChunk>;

    #[tracing::instrument(skip_all, fields(rpc = "GetRiskList"))]
    async fn get_risk_list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<Self::GetRiskListStream>, Status> {
        let r = request.into_inner();
        let f = filter(&r).or_status()?;
        let l = lists::load(&self.store, "week", &r.week)
            .await
            .or_status()?;
        let rows = lists::risk_rows(&self.store, &l, &f, r.capacity_only)
            .await
            .or_status()?;
        let rows: Vec<pb::RiskRow> = rows.iter().map(risk_out).collect();
        Ok(Response::new(chunked(run_out(&l), rows, |run, rows| {
            pb::RiskListChunk { run, rows }
        })))
    }

    type GetExpansionListStream = Chunks<pb::ExpansionListChunk>;

    #[tracing::instrument(skip_all, fields(rpc = "GetExpansionList"))]
    async fn get_expansion_list(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<Self::GetExpansionListStream>, Status> {
        let r = request.into_inner();
        let f = filter(&r).or_status()?;
        let l = lists::load(&self.store, "week", &r.week)
            .await
            .or_status()?;
        let rows = lists::expansion_rows(&self.store, &l, &f)
            .await
            .or_status()?;
        let rows: Vec<pb::ExpansionRow> = rows.iter().map(expansion_out).collect();
        Ok(Response::new(chunked(run_out(&l), rows, |run, rows| {
            pb::ExpansionListChunk { run, rows }
        })))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetMovers"))]
    async fn get_movers(
        &self,
        request: Request<pb::ListRequest>,
    ) -> Result<Response<pb::MoversResponse>, Status> {
        let r = request.into_inner();
        let f = filter(&r).or_status()?;
        let l = lists::load(&self.store, "week", &r.week)
            .await
            .or_status()?;
        let (risers, red) = lists::mover_rows(&self.store, &l, &f).await.or_status()?;
        Ok(Response::new(pb::MoversResponse {
            run: Some(run_out(&l)),
            risers: risers.iter().map(mover_out).collect(),
            newly_red: red.iter().map(mover_out).collect(),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "RecordOutreach"))]
    async fn record_outreach(
        &self,
        request: Request<pb::RecordOutreachRequest>,
    ) -> Result<Response<pb::RecordOutreachResponse>, Status> {
        let caller = crate::auth::caller(&request).cloned();
        let r = request.into_inner();
        let (id, updated) = lists::record_outreach(
            &self.store,
            caller.as_ref(),
            OutreachInput {
                id: r.id,
                account_id: r.account_id,
                play: r.play,
                who: r.who,
                contacted_at: r.contacted_at,
                channel: r.channel,
                outcome: r.outcome,
                note: r.note,
            },
            self.clock.now(),
        )
        .await
        .or_status()?;
        Ok(Response::new(pb::RecordOutreachResponse { id, updated }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetOutreachReport"))]
    async fn get_outreach_report(
        &self,
        request: Request<pb::OutreachReportRequest>,
    ) -> Result<Response<pb::OutreachReport>, Status> {
        let r = request.into_inner();
        let (weeks, plays) = lists::outreach_report(
            &self.store,
            &self.config,
            &r.from_week,
            &r.to_week,
            self.clock.now(),
        )
        .await
        .or_status()?;
        Ok(Response::new(pb::OutreachReport {
            weeks,
            plays: plays
                .iter()
                .map(|p| pb::PlayReport {
                    play: p.play.clone(),
                    contacted: p.contacted,
                    outcomes: Some(outcomes_out(&p.outcomes)),
                    settled: p.settled,
                    churned: p.churned,
                    churn_rate: p.churn_rate,
                    matched_churn_rate: p.matched_churn_rate,
                    matched_accounts: p.matched_accounts,
                    holdout_churn_rate: p.holdout_churn_rate,
                    holdout_accounts: p.holdout_accounts,
                    verdict: p.verdict.clone(),
                })
                .collect(),
            method: lists::report_method(&self.config),
        }))
    }

    #[tracing::instrument(skip_all, fields(rpc = "GetPortfolio"))]
    async fn get_portfolio(
        &self,
        request: Request<pb::PortfolioRequest>,
    ) -> Result<Response<pb::Portfolio>, Status> {
        let r = request.into_inner();
        let (l, p) = lists::portfolio(&self.store, &r.owner, &r.week)
            .await
            .or_status()?;
        Ok(Response::new(pb::Portfolio {
            owner: p.owner.clone(),
            run: Some(run_out(&l)),
            bands: p
                .bands
                .iter()
                .map(|b| pb::PortfolioBand {
                    band: b.band.clone(),
                    accounts: b.accounts as u32,
                    arr: b.arr,
                    arr_at_risk: b.arr_at_risk,
                })
                .collect(),
            accounts: p.accounts as u32,
            arr: p.arr,
            arr_at_risk: p.arr_at_risk,
            in_capacity: p.in_capacity as u32,
            movers: p.movers.iter().map(mover_out).collect(),
            outreach: Some(outcomes_out(&p.outreach)),
            outreach_total: p.outreach_total,
        }))
    }
}
