//! Allocation-free CSV rendering of the import entities, for the bulk path.
//!
//! `pulse_core`'s [`Columns::write_fields`](pulse_core::Columns::write_fields)
//! defines the import format; it allocates a `String` per field and formats
//! dates through chrono, which dominated the time to write a large base.
//! [`Row::write_row`] writes the very same text straight into the CSV
//! writer. A test renders a whole generated base both ways and requires
//! identical bytes, so the format is still defined once, in `pulse_core`.

use std::fmt::Write as _;
use std::io;

use pulse_core::time::{SECONDS_PER_DAY, Ts};
use pulse_core::{
    Account, Contact, Interaction, OperationalEvent, SubscriptionEvent, SurveyResponse, Usage,
};

use crate::cal;

/// One import row, written field by field with a scratch buffer.
pub(crate) trait Row {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()>;
}

/// Writes a field produced into the scratch buffer.
fn field<W: io::Write>(
    w: &mut csv::Writer<W>,
    buf: &mut String,
    f: impl FnOnce(&mut String),
) -> csv::Result<()> {
    buf.clear();
    f(buf);
    w.write_field(buf.as_bytes())
}

/// `2026-03-01T14:05:00Z`, as `pulse_core::time::format_ts` writes it.
pub(crate) fn push_ts(buf: &mut String, ts: Ts) {
    let day = ts.div_euclid(SECONDS_PER_DAY);
    let secs = ts.rem_euclid(SECONDS_PER_DAY);
    cal::push_day(buf, day as i32);
    let _ = write!(
        buf,
        "T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
}

/// Money as `pulse_core` writes it: rounded to cents, no trailing zeros.
fn push_money(buf: &mut String, v: f64) {
    let r = (v * 100.0).round() / 100.0;
    if r == r.trunc() {
        let _ = write!(buf, "{}", r as i64);
    } else {
        let _ = write!(buf, "{r}");
    }
}

fn push_i64(buf: &mut String, v: i64) {
    let _ = write!(buf, "{v}");
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

impl Row for Account {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.name)?;
        w.write_field(self.segment.as_str())?;
        w.write_field(&self.industry)?;
        w.write_field(&self.region)?;
        w.write_field(&self.plan)?;
        field(w, buf, |b| push_money(b, self.mrr))?;
        field(w, buf, |b| push_i64(b, self.seats))?;
        w.write_field(&self.owner)?;
        field(w, buf, |b| cal::push_day(b, self.start_date))?;
        field(w, buf, |b| {
            if let Some(d) = self.renewal_date {
                cal::push_day(b, d);
            }
        })?;
        w.write_field(self.status.as_str())?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for Contact {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.account_id)?;
        w.write_field(&self.name)?;
        w.write_field(self.persona.as_str())?;
        field(w, buf, |b| push_i64(b, self.relationship_strength))?;
        w.write_field(self.sentiment.as_str())?;
        w.write_field(bool_str(self.active))?;
        field(w, buf, |b| push_ts(b, self.observed_at))?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for Interaction {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.account_id)?;
        w.write_field(self.contact_id.as_deref().unwrap_or(""))?;
        w.write_field(self.channel.as_str())?;
        w.write_field(&self.topic)?;
        field(w, buf, |b| push_ts(b, self.opened_at))?;
        field(w, buf, |b| {
            if let Some(t) = self.first_response_at {
                push_ts(b, t);
            }
        })?;
        field(w, buf, |b| {
            if let Some(t) = self.resolved_at {
                push_ts(b, t);
            }
        })?;
        w.write_field(bool_str(self.escalated))?;
        w.write_field(bool_str(self.reopened))?;
        field(w, buf, |b| push_i64(b, self.contacts_to_resolve))?;
        field(w, buf, |b| {
            if let Some(c) = self.csat {
                push_i64(b, c);
            }
        })?;
        w.write_field(&self.subject)?;
        w.write_field(&self.body)?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for Usage {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.account_id)?;
        field(w, buf, |b| cal::push_day(b, self.day))?;
        field(w, buf, |b| push_i64(b, self.period_days))?;
        field(w, buf, |b| push_i64(b, self.active_users))?;
        field(w, buf, |b| push_i64(b, self.logins))?;
        field(w, buf, |b| push_i64(b, self.features_used))?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for SubscriptionEvent {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.account_id)?;
        w.write_field(self.kind.as_str())?;
        field(w, buf, |b| push_ts(b, self.occurred_at))?;
        field(w, buf, |b| push_money(b, self.mrr_before))?;
        field(w, buf, |b| push_money(b, self.mrr_after))?;
        field(w, buf, |b| {
            if let Some(s) = self.seats_before {
                push_i64(b, s);
            }
        })?;
        field(w, buf, |b| {
            if let Some(s) = self.seats_after {
                push_i64(b, s);
            }
        })?;
        w.write_field(&self.plan)?;
        w.write_field(&self.reason)?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for SurveyResponse {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.account_id)?;
        w.write_field(self.contact_id.as_deref().unwrap_or(""))?;
        w.write_field(self.kind.as_str())?;
        field(w, buf, |b| push_i64(b, self.score))?;
        w.write_field(&self.comment)?;
        field(w, buf, |b| push_ts(b, self.responded_at))?;
        w.write_record(None::<&[u8]>)
    }
}

impl Row for OperationalEvent {
    fn write_row<W: io::Write>(&self, w: &mut csv::Writer<W>, buf: &mut String) -> csv::Result<()> {
        w.write_field(&self.id)?;
        w.write_field(&self.account_id)?;
        w.write_field(&self.kind)?;
        field(w, buf, |b| push_ts(b, self.occurred_at))?;
        w.write_field(&self.detail)?;
        w.write_record(None::<&[u8]>)
    }
}

#[cfg(test)]
mod tests {
    use pulse_core::Entity;

    use super::*;
    use crate::{SynthConfig, generate};

    fn fast<E: Row>(rows: &[E]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let mut buf = String::new();
        for r in rows {
            r.write_row(&mut w, &mut buf).unwrap();
        }
        w.into_inner().unwrap()
    }

    fn reference<E: Entity>(rows: &[E]) -> Vec<u8> {
        let mut w = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let mut fields = Vec::new();
        // Generated files leave out `deleted_at` (see `write::header`).
        let skip = E::COLUMNS
            .iter()
            .position(|c| *c == crate::write::WRITTEN_WITHOUT);
        for r in rows {
            fields.clear();
            r.write_fields(&mut fields);
            if let Some(i) = skip {
                assert!(fields[i].is_empty(), "nothing generated is deleted");
                fields.remove(i);
            }
            w.write_record(&fields).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn fast_rows_match_pulse_core_byte_for_byte() {
        let end = pulse_core::time::parse_day("end", "2026-11-22").unwrap();
        let b = generate(&SynthConfig::new(60, 12, 5, end));
        assert_eq!(fast(&b.accounts), reference(&b.accounts));
        assert_eq!(fast(&b.contacts), reference(&b.contacts));
        assert_eq!(fast(&b.interactions), reference(&b.interactions));
        assert_eq!(fast(&b.usage), reference(&b.usage));
        assert_eq!(fast(&b.subscriptions), reference(&b.subscriptions));
        assert_eq!(fast(&b.surveys), reference(&b.surveys));
        assert_eq!(fast(&b.operational), reference(&b.operational));
    }

    #[test]
    fn timestamps_and_money_format_like_pulse_core() {
        for ts in [0, 1_772_373_900, 1_772_373_900 + 86_399, 946_684_800 - 1] {
            let mut s = String::new();
            push_ts(&mut s, ts);
            assert_eq!(s, pulse_core::time::format_ts(ts));
        }
        for (v, want) in [
            (12.0, "12"),
            (12.5, "12.5"),
            (1234.567, "1234.57"),
            (0.1, "0.1"),
        ] {
            let mut s = String::new();
            push_money(&mut s, v);
            assert_eq!(s, want);
        }
    }
}
