//! Conversions between protobuf messages and `pulse_core` types.
//!
//! Protobuf types never cross below this crate: every incoming message is
//! parsed and validated into a core type here, and a bad field comes back as a
//! `FieldError` naming it.

use pulse_core::time::{self, format_day, format_ts};
use pulse_core::{
    Account, AccountStatus, Contact, Entity, FieldError, Interaction, OperationalEvent, Outreach,
    OutreachOutcome, Record, Sentiment, SubscriptionEvent, SurveyResponse, Usage, parse_enum,
    parse_id,
};
use pulse_proto::v1 as pb;

fn opt_enum<T: std::str::FromStr<Err = String>>(
    field: &str,
    s: &str,
    default: T,
) -> Result<T, FieldError> {
    if s.trim().is_empty() {
        Ok(default)
    } else {
        parse_enum(field, s)
    }
}

fn opt_id(field: &str, s: &str) -> Result<Option<String>, FieldError> {
    if s.trim().is_empty() {
        Ok(None)
    } else {
        parse_id(field, s).map(Some)
    }
}

/// The entity name and id of a raw record, for reporting a rejection.
pub(crate) fn describe(r: &pb::Record) -> (&'static str, String) {
    use pb::record::Entity as E;
    match &r.entity {
        Some(E::Account(x)) => ("account", x.id.clone()),
        Some(E::Contact(x)) => ("contact", x.id.clone()),
        Some(E::Interaction(x)) => ("interaction", x.id.clone()),
        Some(E::Usage(x)) => ("usage", format!("{}/{}", x.account_id, x.day)),
        Some(E::SubscriptionEvent(x)) => ("subscription_event", x.id.clone()),
        Some(E::SurveyResponse(x)) => ("survey_response", x.id.clone()),
        Some(E::OperationalEvent(x)) => ("operational_event", x.id.clone()),
        Some(E::Outreach(x)) => ("outreach", x.id.clone()),
        None => ("", String::new()),
    }
}

impl TryFrom<pb::Record> for RecordIn {
    type Error = FieldError;
    fn try_from(r: pb::Record) -> Result<Self, FieldError> {
        use pb::record::Entity as E;
        let rec = match r.entity {
            None => {
                return Err(FieldError::new(
                    "entity",
                    "is empty: set one of account, contact, interaction, usage, subscription_event, survey_response, operational_event, outreach",
                ));
            }
            Some(E::Account(x)) => Record::Account(account_in(x)?),
            Some(E::Contact(x)) => Record::Contact(Contact {
                deleted_at: time::parse_opt_ts("deleted_at", &x.deleted_at)?,
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                name: x.name.trim().to_string(),
                persona: parse_enum("persona", &x.persona)?,
                relationship_strength: x.relationship_strength,
                sentiment: opt_enum("sentiment", &x.sentiment, Sentiment::Neutral)?,
                active: x.active.unwrap_or(true),
                observed_at: time::parse_ts("observed_at", &x.observed_at)?,
            }),
            Some(E::Interaction(x)) => Record::Interaction(Interaction {
                deleted_at: time::parse_opt_ts("deleted_at", &x.deleted_at)?,
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                contact_id: opt_id("contact_id", &x.contact_id)?,
                channel: parse_enum("channel", &x.channel)?,
                topic: x.topic.trim().to_string(),
                opened_at: time::parse_ts("opened_at", &x.opened_at)?,
                first_response_at: time::parse_opt_ts("first_response_at", &x.first_response_at)?,
                resolved_at: time::parse_opt_ts("resolved_at", &x.resolved_at)?,
                escalated: x.escalated,
                reopened: x.reopened,
                contacts_to_resolve: x.contacts_to_resolve.unwrap_or(1),
                csat: x.csat,
                subject: x.subject,
                body: x.body,
            }),
            Some(E::Usage(x)) => Record::Usage(Usage {
                account_id: parse_id("account_id", &x.account_id)?,
                day: time::parse_day("day", &x.day)?,
                period_days: x.period_days.unwrap_or(1),
                active_users: x.active_users,
                logins: x.logins,
                features_used: x.features_used,
            }),
            Some(E::SubscriptionEvent(x)) => Record::Subscription(SubscriptionEvent {
                deleted_at: time::parse_opt_ts("deleted_at", &x.deleted_at)?,
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                kind: parse_enum("kind", &x.kind)?,
                occurred_at: time::parse_ts("occurred_at", &x.occurred_at)?,
                mrr_before: x.mrr_before,
                mrr_after: x.mrr_after,
                seats_before: x.seats_before,
                seats_after: x.seats_after,
                plan: x.plan.trim().to_string(),
                reason: x.reason.trim().to_string(),
            }),
            Some(E::SurveyResponse(x)) => Record::Survey(SurveyResponse {
                deleted_at: time::parse_opt_ts("deleted_at", &x.deleted_at)?,
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                contact_id: opt_id("contact_id", &x.contact_id)?,
                kind: parse_enum("kind", &x.kind)?,
                score: x.score,
                comment: x.comment,
                responded_at: time::parse_ts("responded_at", &x.responded_at)?,
            }),
            Some(E::OperationalEvent(x)) => Record::Operational(OperationalEvent {
                deleted_at: time::parse_opt_ts("deleted_at", &x.deleted_at)?,
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                kind: x.kind.trim().to_ascii_lowercase(),
                occurred_at: time::parse_ts("occurred_at", &x.occurred_at)?,
                detail: x.detail,
            }),
            Some(E::Outreach(x)) => Record::Outreach(Outreach {
                id: parse_id("id", &x.id)?,
                account_id: parse_id("account_id", &x.account_id)?,
                play: x.play.trim().to_string(),
                owner: x.owner.trim().to_string(),
                channel: x.channel.trim().to_string(),
                contacted_at: time::parse_ts("contacted_at", &x.contacted_at)?,
                outcome: opt_enum("outcome", &x.outcome, OutreachOutcome::Pending)?,
                note: x.note,
            }),
        };
        rec.validate()?;
        Ok(RecordIn(rec))
    }
}

/// A validated record from the wire.
pub(crate) struct RecordIn(pub(crate) Record);

fn account_in(x: pb::Account) -> Result<Account, FieldError> {
    let a = Account {
        id: parse_id("id", &x.id)?,
        name: x.name.trim().to_string(),
        segment: parse_enum("segment", &x.segment)?,
        industry: x.industry.trim().to_string(),
        region: x.region.trim().to_string(),
        plan: x.plan.trim().to_string(),
        mrr: x.mrr,
        seats: x.seats,
        owner: x.owner.trim().to_string(),
        start_date: time::parse_day("start_date", &x.start_date)?,
        renewal_date: time::parse_opt_day("renewal_date", &x.renewal_date)?,
        status: opt_enum("status", &x.status, AccountStatus::Active)?,
    };
    a.validate()?;
    Ok(a)
}

pub(crate) fn account_out(a: Account) -> pb::Account {
    pb::Account {
        id: a.id,
        name: a.name,
        segment: a.segment.to_string(),
        industry: a.industry,
        region: a.region,
        plan: a.plan,
        mrr: a.mrr,
        seats: a.seats,
        owner: a.owner,
        start_date: format_day(a.start_date),
        renewal_date: a.renewal_date.map(format_day).unwrap_or_default(),
        status: a.status.to_string(),
    }
}

pub(crate) fn contact_out(c: Contact) -> pb::Contact {
    pb::Contact {
        id: c.id,
        account_id: c.account_id,
        name: c.name,
        persona: c.persona.to_string(),
        relationship_strength: c.relationship_strength,
        sentiment: c.sentiment.to_string(),
        active: Some(c.active),
        observed_at: format_ts(c.observed_at),
        deleted_at: c.deleted_at.map(format_ts).unwrap_or_default(),
    }
}

/// One contact of a relationship map.
pub(crate) fn relationship_out(r: pulse_store::ContactRelationship) -> pb::Relationship {
    let c = r.contact;
    pb::Relationship {
        contact_id: c.id,
        name: c.name,
        persona: c.persona.to_string(),
        relationship_strength: c.relationship_strength,
        recorded_sentiment: c.sentiment.to_string(),
        active: c.active,
        observed_at: format_ts(c.observed_at),
        latest_interaction: r.latest_interaction.map(|i| pb::InteractionSentiment {
            interaction_id: i.interaction_id,
            opened_at: format_ts(i.opened_at),
            label: i.label.to_string(),
            score: i.score,
            model: i.model,
        }),
    }
}

/// The headline metrics of a model card.
pub(crate) fn key_metrics_out(m: &pulse_models::Metrics) -> pb::KeyMetrics {
    pb::KeyMetrics {
        roc_auc: m.roc_auc,
        pr_auc: m.pr_auc,
        brier: m.brier,
        ece: m.ece,
        lift_top_decile: m.lift_top_decile,
        precision_at_k: m.precision_at_k,
        recall_at_k: m.recall_at_k,
        k: u32::try_from(m.k).unwrap_or(u32::MAX),
        n_test: m.n_test as u64,
        positive_rate: m.positive_rate,
    }
}

/// A registry entry as listed.
pub(crate) fn model_summary_out(e: &pulse_app::registry::RegistryEntry) -> pb::ModelSummary {
    let c = &e.card;
    pb::ModelSummary {
        version: c.version.clone(),
        kind: c.kind.as_str().to_string(),
        algorithm: match c.algorithm {
            pulse_models::Algorithm::Gbt => "gbt",
            pulse_models::Algorithm::Logistic => "logistic",
        }
        .to_string(),
        created_at: c.created_at.clone(),
        promoted: e.promoted,
        tabular: e.tabular,
        metrics: c.metrics.as_ref().map(key_metrics_out),
        sha256: c.sha256.clone(),
        sentiment: None,
    }
}

/// A time-to-churn model as a registry listing shows it: `promoted` is true
/// for the newest, the one in service.
pub(crate) fn survival_summary_out(
    c: &pulse_forecast::SurvivalCard,
    in_service: bool,
) -> pb::ModelSummary {
    pb::ModelSummary {
        version: c.version.clone(),
        kind: "survival".into(),
        algorithm: "discrete_time_hazard_gbt".into(),
        created_at: c.created_at.clone(),
        promoted: in_service,
        tabular: false,
        metrics: None,
        sha256: String::new(),
        sentiment: None,
    }
}

/// A sentiment model as a registry listing shows it.
pub(crate) fn sentiment_summary_out(e: &pulse_app::registry::SentimentEntry) -> pb::ModelSummary {
    let c = &e.card;
    let ev = &c.held_out.evaluation;
    pb::ModelSummary {
        version: c.version.clone(),
        kind: "sentiment".into(),
        algorithm: "tfidf_logistic".into(),
        created_at: c.created_at.clone(),
        promoted: e.promoted,
        tabular: false,
        metrics: None,
        sha256: String::new(),
        sentiment: Some(pb::SentimentMetrics {
            accuracy: ev.accuracy,
            macro_f1: ev.macro_f1,
            f1_negative: ev.per_class[0].f1,
            f1_neutral: ev.per_class[1].f1,
            f1_positive: ev.per_class[2].f1,
            n_train: c.held_out.train_documents as u64,
            n_test: c.held_out.held_out_documents as u64,
            source: c.source.as_str().into(),
            fingerprint: c.fingerprint.clone(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction(csat: Option<i64>, opened_at: &str) -> pb::Record {
        pb::Record {
            entity: Some(pb::record::Entity::Interaction(pb::Interaction {
                id: "i-1".into(),
                account_id: "a-1".into(),
                channel: "chat".into(),
                opened_at: opened_at.into(),
                csat,
                ..Default::default()
            })),
        }
    }

    #[test]
    fn wire_records_are_validated_with_field_names() {
        let ok = RecordIn::try_from(interaction(Some(5), "2026-03-01T10:00:00Z")).unwrap();
        assert!(matches!(ok.0, Record::Interaction(ref i) if i.contacts_to_resolve == 1));
        let e = RecordIn::try_from(interaction(Some(9), "2026-03-01T10:00:00Z"))
            .err()
            .unwrap();
        assert_eq!(e.field, "csat");
        let e = RecordIn::try_from(interaction(None, "last tuesday"))
            .err()
            .unwrap();
        assert_eq!(e.field, "opened_at");
        let e = RecordIn::try_from(pb::Record { entity: None })
            .err()
            .unwrap();
        assert_eq!(e.field, "entity");
    }

    #[test]
    fn a_record_deleted_at_its_source_carries_its_instant() {
        let with = |deleted_at: &str| {
            let mut r = interaction(None, "2026-03-01T10:00:00Z");
            if let Some(pb::record::Entity::Interaction(i)) = &mut r.entity {
                i.deleted_at = deleted_at.into();
            }
            RecordIn::try_from(r)
        };
        let Record::Interaction(i) = with("2026-04-01T00:00:00Z").unwrap().0 else {
            panic!("an interaction")
        };
        assert_eq!(
            i.deleted_at.map(format_ts).as_deref(),
            Some("2026-04-01T00:00:00Z")
        );
        let Record::Interaction(i) = with("").unwrap().0 else {
            panic!("an interaction")
        };
        assert_eq!(i.deleted_at, None);
        assert_eq!(with("soon").err().unwrap().field, "deleted_at");
    }

    #[test]
    fn accounts_round_trip() {
        let a = pb::Account {
            id: "a-1".into(),
            name: "Acme".into(),
            segment: "enterprise".into(),
            plan: "core".into(),
            mrr: 1200.0,
            seats: 40,
            start_date: "2025-01-15".into(),
            renewal_date: "2027-01-15".into(),
            status: "active".into(),
            ..Default::default()
        };
        let back = account_out(account_in(a.clone()).unwrap());
        assert_eq!(back, a);
    }
}
