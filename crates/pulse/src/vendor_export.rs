//! The synthetic base in other systems' export shapes
//! (`pulse synth --format PRESET`), so the same world can be imported
//! through each preset, and a test can check that it gives the native store.
//!
//! Each format reads the native files `pulse synth` wrote and replaces one
//! of them by the vendor's file: HubSpot's companies and contacts exports,
//! Salesforce's account and contact exports, Zendesk's and Freshdesk's
//! ticket exports,
//! Delighted's and Qualtrics' response exports, Stripe's subscription and
//! invoice events, Segment's calls (from the weekly usage). Accounts get an
//! email domain and contacts an email address (the synthetic base has
//! neither), made from their names and unique in the base. What a vendor's
//! format cannot carry is listed in [`LOSSES`].

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use pulse_core::rng::{SplitMix64, fnv1a};

/// The formats `pulse synth --format` writes: the presets' names.
pub(crate) const FORMATS: &[&str] = &[
    "hubspot-companies",
    "hubspot-contacts",
    "salesforce-accounts",
    "salesforce-contacts",
    "zendesk-tickets",
    "freshdesk-tickets",
    "intercom-conversations",
    "delighted-responses",
    "qualtrics-responses",
    "stripe-events",
    "segment-events",
];

/// Formats that can be asked for at once (each replaces another native
/// file): one CRM's accounts and contacts, the help desk's tickets and one
/// survey tool's answers. Together they hold every format but Segment's
/// events: about 30 lines per usage row (14 GB for 2,000 accounts over 12
/// months), too many for `pulse bench import --mapped`.
pub(crate) const SETS: &[&[&str]] = &[
    &[
        "hubspot-companies",
        "hubspot-contacts",
        "zendesk-tickets",
        "delighted-responses",
    ],
    &[
        "salesforce-accounts",
        "salesforce-contacts",
        "intercom-conversations",
        "qualtrics-responses",
        "stripe-events",
    ],
    &[
        "salesforce-accounts",
        "salesforce-contacts",
        "freshdesk-tickets",
    ],
];

/// [`SETS`]' `i`th set, as `--format` values.
pub(crate) fn set(i: usize) -> Vec<String> {
    SETS[i].iter().map(|f| f.to_string()).collect()
}

/// The native file each format replaces: two formats of one file (a CRM's
/// accounts from HubSpot and from Salesforce) cannot be asked for at once.
fn replaces(format: &str) -> &'static str {
    match format {
        "hubspot-companies" | "salesforce-accounts" => "accounts.csv",
        "hubspot-contacts" | "salesforce-contacts" => "contacts.csv",
        "zendesk-tickets" | "freshdesk-tickets" | "intercom-conversations" => "interactions.csv",
        "stripe-events" => "subscription_events.csv",
        "segment-events" => "usage.csv",
        _ => "survey_responses.csv",
    }
}

/// What each format cannot carry exactly, as the round-trip test expects it.
pub(crate) const LOSSES: &[(&str, &str)] = &[
    (
        "zendesk-tickets",
        "first replies to the minute (\"First reply time in minutes\"); satisfaction as good \
         (CSAT 4-5 -> 5), bad (1-2 -> 1) or none (3); no ticket body (the CSV export has no \
         descriptions)",
    ),
    (
        "freshdesk-tickets",
        "whether a ticket was reopened (the export has no reopen count); runs of blanks in a \
         description as one space (Freshdesk writes descriptions so)",
    ),
    (
        "intercom-conversations",
        "web-form tickets become chats (Intercom has no such channel); the contacts it took \
         as one more than the reopenings (2 or more when reopened, else 1); runs of blanks \
         in a body as one space (bodies are HTML)",
    ),
    (
        "segment-events",
        "a week without any call before an account's first call (no call, no row), and the \
         idle weeks after an account's last native row (churned) up to the last week with a \
         call, which become weeks of 0",
    ),
    (
        "stripe-events",
        "why a subscription changed, but for a cancellation (Stripe's updates and failed \
         invoices carry no reason; a cancellation's is its comment); a seat change that \
         changes neither seats nor MRR (Stripe writes no event for it)",
    ),
];

type Row = HashMap<String, String>;

fn read(path: &Path) -> anyhow::Result<Vec<Row>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header: Vec<String> = r.headers()?.iter().map(str::to_string).collect();
    let mut out = Vec::new();
    for rec in r.records() {
        let rec = rec?;
        out.push(
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect(),
        );
    }
    Ok(out)
}

fn write(path: &Path, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("creating {}", path.display()))?;
    w.write_record(header)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.flush()?;
    Ok(())
}

/// `professional_services` -> `Professional Services`.
fn title(s: &str) -> String {
    s.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Letters and digits of a name, lower case.
fn slug(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A unique value made from `base`: `base`, then `base2`, `base3`...
fn unique(
    base: String,
    taken: &mut HashSet<String>,
    join: &dyn Fn(&str, usize) -> String,
) -> String {
    if taken.insert(base.clone()) {
        return base;
    }
    (2..)
        .map(|n| join(&base, n))
        .find(|c| taken.insert(c.clone()))
        .expect("some suffix is free")
}

/// Each account's email domain: its name without "Inc."-like endings,
/// made unique.
fn domains(accounts: &[Row]) -> HashMap<String, String> {
    let mut taken = HashSet::new();
    accounts
        .iter()
        .map(|a| {
            let mut s = slug(&a["name"]);
            if s.is_empty() {
                s = slug(&a["id"]);
            }
            let d = unique(s, &mut taken, &|b, n| format!("{b}{n}"));
            (a["id"].clone(), format!("{d}.example.com"))
        })
        .collect()
}

/// Each contact's email: first.last@domain, made unique.
fn emails(contacts: &[Row], domains: &HashMap<String, String>) -> HashMap<String, String> {
    let mut taken = HashSet::new();
    let mut out = HashMap::new();
    for c in contacts {
        if out.contains_key(&c["id"]) {
            continue;
        }
        let local: Vec<String> = c["name"].split_whitespace().map(slug).collect();
        let mut local = local.join(".");
        if local.is_empty() {
            local = slug(&c["id"]);
        }
        let domain = domains.get(&c["account_id"]).cloned().unwrap_or_default();
        let e = unique(format!("{local}@{domain}"), &mut taken, &|b, n| {
            let (l, d) = b.split_once('@').unwrap_or((b, ""));
            format!("{l}{n}@{d}")
        });
        out.insert(c["id"].clone(), e);
    }
    out
}

/// A segment as a CRM's picklist spells it.
fn segment_label(segment: &str) -> String {
    match segment {
        "smb" => "SMB".to_string(),
        "mid_market" => "Mid-Market".to_string(),
        other => title(other),
    }
}

/// A persona as a CRM's buying-role picklist spells it.
fn buying_role(persona: &str) -> &'static str {
    match persona {
        "champion" => "Champion",
        "executive_sponsor" => "Executive Sponsor",
        "billing" => "Budget Holder",
        "end_user" => "End User",
        _ => "Other",
    }
}

/// The day 30 days before `start` (a CRM record is created before the deal
/// closes), or `start` itself when it is not a day.
fn created_before(start: &str) -> String {
    pulse_core::time::parse_day("d", start)
        .map(|d| pulse_core::time::format_day(d - 30))
        .unwrap_or_else(|_| start.to_string())
}

/// `2026-03-01T14:05:00Z` -> `2026-03-01T14:05:00.000Z`, as Salesforce
/// writes date-times.
fn with_millis(ts: &str) -> String {
    match ts.strip_suffix('Z') {
        Some(t) if !t.contains('.') => format!("{t}.000Z"),
        _ => ts.to_string(),
    }
}

/// `2026-03-01T14:05:00Z` -> `2026-03-01 14:05:00` (UTC).
fn spaced(ts: &str) -> String {
    ts.trim_end_matches('Z').replace('T', " ")
}

fn seconds(ts: &str) -> Option<i64> {
    pulse_core::time::parse_opt_ts("t", ts).ok().flatten()
}

/// `text` as an HTML message body: escaped, lines as `<br>`, in a
/// paragraph (blank text stays blank).
fn html_body(text: &str) -> String {
    if text.trim().is_empty() {
        return String::new();
    }
    let mut out = String::from("<p>");
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out.push_str("</p>");
    out
}

/// Reopenings an Intercom conversation records for a native interaction:
/// the preset reads the contacts it took as one more than these.
fn reopens(reopened: bool, contacts_to_resolve: i64) -> i64 {
    if reopened {
        (contacts_to_resolve - 1).max(1)
    } else {
        0
    }
}

/// The interactions as Intercom's REST API returns conversations, one
/// object per line (the fields the preset reads, and some it leaves).
/// A conversation without a known contact comes from someone at the
/// account's domain whom the CRM does not list.
fn intercom_conversations(
    dir: &Path,
    names: &HashMap<&str, &str>,
    emails: &HashMap<String, String>,
    domains: &HashMap<String, String>,
) -> anyhow::Result<PathBuf> {
    use std::io::Write as _;
    let p = dir.join("intercom-conversations.jsonl");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
    );
    for (n, i) in read(&dir.join("interactions.csv"))?.iter().enumerate() {
        let opened = seconds(&i["opened_at"]).unwrap_or(0);
        let first = seconds(&i["first_response_at"]);
        let closed = seconds(&i["resolved_at"]);
        let contact = i["contact_id"].as_str();
        let count_reopens = reopens(
            i["reopened"] == "true",
            i["contacts_to_resolve"].parse().unwrap_or(1),
        );
        let rating = i["csat"].parse::<i64>().ok().map(|r| {
            serde_json::json!({
                "rating": r,
                "remark": null,
                "created_at": closed.unwrap_or(opened),
                "contact": {"type": "contact", "external_id": contact},
            })
        });
        let conversation = serde_json::json!({
            "type": "conversation",
            "id": i["id"],
            "created_at": opened,
            "updated_at": closed.unwrap_or(opened),
            "waiting_since": null,
            "snoozed_until": null,
            "open": closed.is_none(),
            "state": if closed.is_some() { "closed" } else { "open" },
            "read": true,
            "priority": if i["escalated"] == "true" { "priority" } else { "not_priority" },
            "admin_assignee_id": null,
            "team_assignee_id": null,
            "tags": {"type": "tag.list", "tags": []},
            "conversation_rating": rating,
            "source": {
                "type": match i["channel"].as_str() {
                    "email" => "email",
                    "call" => "phone_call",
                    _ => "conversation",
                },
                "id": format!("{}", 400_000_000 + n),
                "delivered_as": "customer_initiated",
                "subject": i["subject"],
                "body": html_body(&i["body"]),
                "author": {
                    "type": if contact.is_empty() { "lead" } else { "user" },
                    "id": contact,
                    "name": names.get(contact).copied().unwrap_or(""),
                    "email": emails.get(contact).cloned().unwrap_or_else(|| {
                        format!("help{n}@{}", domains.get(&i["account_id"]).map_or("", String::as_str))
                    }),
                },
                "attachments": [],
                "url": null,
                "redacted": false,
            },
            "contacts": {
                "type": "contact.list",
                "contacts": [{
                    "type": "contact",
                    "id": if contact.is_empty() { format!("lead-{n}") } else { contact.to_string() },
                    "external_id": if contact.is_empty() { None } else { Some(contact) },
                }],
            },
            "statistics": {
                "type": "conversation_statistics",
                "first_contact_reply_at": opened,
                "first_admin_reply_at": first,
                "last_close_at": closed,
                "count_reopens": count_reopens,
                "count_assignments": 1,
            },
            "custom_attributes": {"Topic": title(&i["topic"])},
        });
        serde_json::to_writer(&mut w, &conversation)?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    Ok(p)
}

/// Stripe's cancellation feedback (its fixed list) for a churn reason; the
/// reason itself goes in the free-text comment.
fn stripe_feedback(reason: &str) -> &'static str {
    match reason {
        "price" | "budget_cuts" => "too_expensive",
        "competitor" => "switched_service",
        "low_adoption" => "unused",
        "support_experience" => "customer_service",
        _ => "other",
    }
}

/// A per-seat yearly price in cents for `mrr` over `seats`, as Stripe's
/// `unit_amount_decimal` (at most 12 decimals).
fn stripe_unit(mrr: f64, seats: i64) -> String {
    let cents = format!("{:.12}", mrr * 1200.0 / seats.max(1) as f64);
    cents
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// A Stripe price object: `no`, the account's `no`th price.
fn stripe_price(acct: &str, no: usize, unit: &str, plan: &str) -> serde_json::Value {
    let whole = unit.parse::<f64>().ok().filter(|c| c.fract() == 0.0);
    serde_json::json!({
        "id": format!("price_{}_{no}", slug(acct)),
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "currency": "usd",
        "nickname": title(plan),
        "product": format!("prod_{}", slug(plan)),
        "recurring": {"interval": "year", "interval_count": 1, "usage_type": "licensed"},
        "type": "recurring",
        "unit_amount": whole.map(|c| c as i64),
        "unit_amount_decimal": unit,
    })
}

/// The subscription and invoice events of Stripe's Events API, one object
/// per line, for the native subscription events: a start is
/// `customer.subscription.created`, a churn `customer.subscription.deleted`
/// (the reason as the cancellation's comment), a failed payment
/// `invoice.payment_failed`, and the others `customer.subscription.updated`
/// with the attributes that changed in `previous_attributes`, as Stripe
/// writes them: a renewal starts a new yearly period, a seat change changes
/// the quantity, an upgrade or a downgrade the price. Each account's
/// subscription is one per-seat yearly price, the account's id in its
/// metadata.
fn stripe_events(dir: &Path) -> anyhow::Result<PathBuf> {
    use serde_json::{Value, json};
    use std::io::Write as _;
    const YEAR: i64 = 365 * 86_400;
    /// An account's subscription as the last event left it.
    struct Sub {
        price: usize,
        plan: String,
        period_start: i64,
    }
    let p = dir.join("stripe-events.jsonl");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
    );
    let mut subs: HashMap<String, Sub> = HashMap::new();
    for e in &read(&dir.join("subscription_events.csv"))? {
        let at = seconds(&e["occurred_at"]).unwrap_or(0);
        let acct = e["account_id"].as_str();
        let kind = e["kind"].as_str();
        let plan = e["plan"].as_str();
        let money = |c: &str| e[c].parse::<f64>().unwrap_or(0.0);
        let (mrr_before, mrr_after) = (money("mrr_before"), money("mrr_after"));
        let seats_after: i64 = e["seats_after"].parse().unwrap_or(0);
        let seats_before: i64 = e["seats_before"].parse().unwrap_or(seats_after);
        // A churn keeps the subscription's last items, as Stripe does.
        let (mrr, seats) = if kind == "churn" {
            (mrr_before, seats_before)
        } else {
            (mrr_after, seats_after)
        };
        if kind == "seat_change" && seats_before == seats_after && mrr_before == mrr_after {
            // Stripe writes no event for an update that changes nothing.
            continue;
        }
        let unit = stripe_unit(mrr, seats);
        // The price before is what the event says it was (before the first
        // event of the export, the plan too).
        let old = subs.remove(acct).unwrap_or_else(|| Sub {
            price: 1,
            plan: plan.to_string(),
            period_start: at - YEAR,
        });
        let old_unit = if kind == "start" {
            unit.clone()
        } else {
            stripe_unit(mrr_before, seats_before)
        };
        let price_changed = old_unit != unit || old.plan != plan;
        let price_no = old.price + usize::from(price_changed);
        let period_start = if matches!(kind, "renewal" | "start") {
            at
        } else {
            old.period_start
        };
        let price = stripe_price(acct, price_no, &unit, plan);
        let items = |price: &Value, quantity: i64| {
            json!({
                "object": "list",
                "data": [{
                    "id": format!("si_{}", slug(acct)),
                    "object": "subscription_item",
                    "price": price,
                    "plan": price,
                    "quantity": quantity,
                }],
                "has_more": false,
            })
        };
        let canceled = kind == "churn";
        let reason = e["reason"].as_str();
        let subscription = json!({
            "id": format!("sub_{}", slug(acct)),
            "object": "subscription",
            "customer": format!("cus_{}", slug(acct)),
            "status": if canceled { "canceled" } else { "active" },
            "collection_method": "send_invoice",
            "currency": "usd",
            "current_period_start": period_start,
            "current_period_end": period_start + YEAR,
            "cancel_at_period_end": false,
            "canceled_at": canceled.then_some(at),
            "ended_at": canceled.then_some(at),
            "cancellation_details": {
                "comment": (canceled && !reason.is_empty()).then_some(reason),
                "feedback": canceled.then(|| stripe_feedback(reason)),
                "reason": canceled.then_some("cancellation_requested"),
            },
            "items": items(&price, seats),
            "plan": price,
            "quantity": seats,
            "metadata": {"account_id": acct},
        });
        let (type_, object, previous) = match kind {
            "start" => ("customer.subscription.created", subscription, None),
            "churn" => ("customer.subscription.deleted", subscription, None),
            "payment_failed" => {
                let amount = (mrr * 1200.0).round() as i64;
                let invoice = json!({
                    "id": format!("in_{}", slug(&e["id"])),
                    "object": "invoice",
                    "customer": format!("cus_{}", slug(acct)),
                    "subscription": format!("sub_{}", slug(acct)),
                    "status": "open",
                    "billing_reason": "subscription_cycle",
                    "collection_method": "send_invoice",
                    "currency": "usd",
                    "amount_due": amount,
                    "attempt_count": 1,
                    "subscription_details": {"metadata": {"account_id": acct}},
                    "lines": {
                        "object": "list",
                        "data": [{
                            "id": format!("il_{}", slug(&e["id"])),
                            "object": "line_item",
                            "amount": amount,
                            "price": price,
                            "quantity": seats,
                            "type": "subscription",
                        }],
                        "has_more": false,
                    },
                });
                ("invoice.payment_failed", invoice, None)
            }
            _ => {
                let mut prev = serde_json::Map::new();
                if kind == "renewal" {
                    prev.insert("current_period_start".into(), json!(old.period_start));
                    prev.insert("current_period_end".into(), json!(at));
                }
                let old_price = stripe_price(acct, old.price, &old_unit, &old.plan);
                if seats_before != seats_after {
                    prev.insert("quantity".into(), json!(seats_before));
                }
                if price_changed || seats_before != seats_after {
                    prev.insert("items".into(), items(&old_price, seats_before));
                }
                if price_changed {
                    prev.insert("plan".into(), old_price);
                }
                (
                    "customer.subscription.updated",
                    subscription,
                    Some(Value::Object(prev)),
                )
            }
        };
        let mut data = json!({ "object": object });
        if let Some(prev) = previous {
            data["previous_attributes"] = prev;
        }
        let event = json!({
            "id": e["id"],
            "object": "event",
            "api_version": "2024-06-20",
            "created": at,
            "data": data,
            "livemode": true,
            "pending_webhooks": 0,
            "request": {"id": null, "idempotency_key": null},
            "type": type_,
        });
        serde_json::to_writer(&mut w, &event)?;
        w.write_all(b"\n")?;
        subs.insert(
            acct.to_string(),
            Sub {
                price: price_no,
                plan: plan.to_string(),
                period_start,
            },
        );
    }
    w.flush()?;
    Ok(p)
}

/// A Freshdesk ticket export's columns: the ticket's, then a custom
/// "Topic" field, the requester's and the company's.
const FRESHDESK_COLUMNS: [&str; 32] = [
    "Ticket ID",
    "Subject",
    "Description",
    "Status",
    "Priority",
    "Source",
    "Type",
    "Agent",
    "Group",
    "Created time",
    "Due by Time",
    "Resolved time",
    "Closed time",
    "Last update time",
    "Initial response time",
    "Time tracked",
    "First response time (in hrs)",
    "Resolution time (in hrs)",
    "Agent interactions",
    "Customer interactions",
    "Resolution status",
    "First response status",
    "Tags",
    "Survey results",
    "Product",
    "Topic",
    "Full name",
    "Email",
    "Contact ID",
    "Unique External ID",
    "Company Name",
    "Company Domains",
];

/// Seconds as Freshdesk's "(in hrs)" columns write them: `HH:MM:SS`.
fn hours(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// The base's interactions as Freshdesk's ticket export rows. A ticket
/// without a known contact comes from `support@` the account's domain.
fn freshdesk_rows(
    interactions: &[Row],
    (names, emails): (&HashMap<&str, &str>, &HashMap<String, String>),
    (account_names, domains): (&HashMap<&str, &str>, &HashMap<String, String>),
) -> Vec<Vec<String>> {
    interactions
        .iter()
        .map(|i| {
            let opened = seconds(&i["opened_at"]).unwrap_or(0);
            let since = |c: &str| {
                seconds(&i[c])
                    .map(|t| hours(t - opened))
                    .unwrap_or_default()
            };
            let contact = i["contact_id"].as_str();
            let domain = domains.get(&i["account_id"]).cloned().unwrap_or_default();
            let email = emails
                .get(contact)
                .cloned()
                .unwrap_or_else(|| format!("support@{domain}"));
            let resolved = !i["resolved_at"].is_empty();
            vec![
                i["id"].clone(),
                i["subject"].clone(),
                i["body"].split_whitespace().collect::<Vec<_>>().join(" "),
                if resolved { "Closed" } else { "Open" }.into(),
                if i["escalated"] == "true" {
                    "Urgent"
                } else {
                    "Medium"
                }
                .into(),
                match i["channel"].as_str() {
                    "email" => "Email",
                    "chat" => "Chat",
                    "call" => "Phone",
                    _ => "Portal",
                }
                .into(),
                "Question".into(),
                "Support Agent".into(),
                "Support".into(),
                spaced(&i["opened_at"]),
                String::new(),
                spaced(&i["resolved_at"]),
                spaced(&i["resolved_at"]),
                spaced(if resolved {
                    &i["resolved_at"]
                } else {
                    &i["opened_at"]
                }),
                spaced(&i["first_response_at"]),
                String::new(),
                since("first_response_at"),
                since("resolved_at"),
                i["contacts_to_resolve"].clone(),
                i["contacts_to_resolve"].clone(),
                "Within SLA".into(),
                "Within SLA".into(),
                String::new(),
                match i["csat"].as_str() {
                    "5" => "Extremely satisfied",
                    "4" => "Satisfied",
                    "3" => "Neutral",
                    "2" => "Dissatisfied",
                    "1" => "Extremely dissatisfied",
                    _ => "",
                }
                .into(),
                String::new(),
                title(&i["topic"]),
                names.get(contact).copied().unwrap_or("").to_string(),
                email,
                String::new(),
                contact.to_string(),
                account_names
                    .get(i["account_id"].as_str())
                    .copied()
                    .unwrap_or("")
                    .to_string(),
                domain,
            ]
        })
        .collect()
}

/// Product events a payroll, HR and benefits product's analytics would
/// track, as Segment event names: the "features" of the usage rows.
const PRODUCT_EVENTS: [&str; 16] = [
    "Payroll Run",
    "Payroll Previewed",
    "Employee Added",
    "Timesheet Approved",
    "Time Off Approved",
    "Benefits Plan Compared",
    "Benefits Enrollment Submitted",
    "Report Exported",
    "Tax Form Downloaded",
    "Direct Deposit Updated",
    "Org Chart Viewed",
    "Onboarding Checklist Completed",
    "Expense Approved",
    "Performance Review Started",
    "Compliance Alert Resolved",
    "Integration Synced",
];

/// The first `k` of `0..n` in a random order (a partial Fisher-Yates
/// shuffle from the front).
fn pick(mix: &mut SplitMix64, n: usize, k: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..n).collect();
    for i in 0..k.min(n) {
        let j = i + mix.below(n - i);
        v.swap(i, j);
    }
    v.truncate(k.min(n));
    v
}

/// The base's weekly usage as Segment's raw calls, one JSON object per line
/// (its S3 destination's shape): per usage row, `active_users` distinct
/// users of the account, `logins` "Signed In" track calls, `features_used`
/// distinct product events, and a page call for each active user left
/// without a track call, all at times within the row's week.
fn segment_events(dir: &Path) -> anyhow::Result<PathBuf> {
    use serde_json::json;
    use std::io::Write as _;
    let usage = read(&dir.join("usage.csv"))?;
    // An account's users: as many as it ever had active in a week.
    let mut pool: HashMap<&str, usize> = HashMap::new();
    for u in &usage {
        let n: usize = u["active_users"].parse().unwrap_or(0);
        let p = pool.entry(u["account_id"].as_str()).or_default();
        *p = (*p).max(n);
    }
    let p = dir.join("segment-events.jsonl");
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
    );
    for u in &usage {
        let acct = u["account_id"].as_str();
        let count = |c: &str| u[c].parse::<usize>().unwrap_or(0);
        let (active, logins, features) = (
            count("active_users"),
            count("logins"),
            count("features_used").min(PRODUCT_EVENTS.len()),
        );
        if active == 0 {
            continue;
        }
        let monday = pulse_core::time::parse_day("day", &u["day"])?;
        // The export's choices (which users, which features, when): the
        // same for the same base.
        let mut mix = SplitMix64::new(fnv1a(format!("{acct}/{}", u["day"]).as_bytes()));
        let users: Vec<String> = pick(&mut mix, pool[acct], active)
            .into_iter()
            .map(|k| format!("{acct}-u{:03}", k + 1))
            .collect();
        let mut calls: Vec<(&str, &str)> = vec![("track", "Signed In"); logins];
        calls.extend(
            pick(&mut mix, PRODUCT_EVENTS.len(), features)
                .into_iter()
                .map(|k| ("track", PRODUCT_EVENTS[k])),
        );
        let tracked = calls.len();
        calls.extend((tracked..active).map(|_| ("page", "")));
        let mut lines: Vec<(i64, serde_json::Value)> = calls
            .into_iter()
            .enumerate()
            .map(|(k, (type_, event))| {
                let at = i64::from(monday) * 86_400 * 1000 + mix.below(7 * 86_400_000) as i64;
                let user = &users[k % active];
                let time = chrono::DateTime::from_timestamp_millis(at)
                    .expect("a time of the base")
                    .format("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .to_string();
                let mut call = json!({
                    "type": type_,
                    "messageId": format!("ajs-{:016x}", mix.next_u64()),
                    "userId": user,
                    "timestamp": time,
                    "context": {"groupId": acct, "library": {"name": "analytics.js"}},
                });
                if type_ == "track" {
                    call["event"] = json!(event);
                    call["properties"] = json!({});
                } else {
                    call["name"] = json!("Dashboard");
                    call["properties"] = json!({"path": "/dashboard"});
                }
                (at, call)
            })
            .collect();
        lines.sort_by_key(|(at, _)| *at);
        for (_, call) in lines {
            serde_json::to_writer(&mut w, &call)?;
            w.write_all(b"\n")?;
        }
    }
    w.flush()?;
    Ok(p)
}

/// A Qualtrics CSV export's columns (numeric values), the survey's score
/// question as Q1 and its open "why" as Q2.
const QUALTRICS_COLUMNS: [&str; 20] = [
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
    "Q1",
    "Q2",
    "Q3",
];

/// `RecipientEmail` -> `Recipient Email`, `IPAddress` -> `IP Address`.
fn words(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &ch) in c.iter().enumerate() {
        let upper_after_lower = i > 0 && ch.is_uppercase() && c[i - 1].is_lowercase();
        let acronym_end = i > 0
            && ch.is_uppercase()
            && c[i - 1].is_uppercase()
            && c.get(i + 1).is_some_and(|n| n.is_lowercase());
        if upper_after_lower || acronym_end {
            out.push(' ');
        }
        out.push(ch);
    }
    out
}

/// One survey's answers as Qualtrics writes them: after the header, a row
/// of question texts and a row of import ids, then one row per response
/// (the survey tool also records unfinished ones: one is added, which the
/// preset leaves out).
fn qualtrics_rows(
    surveys: &[Row],
    kind: &str,
    names: &HashMap<&str, &str>,
    emails: &HashMap<String, String>,
) -> Vec<Vec<String>> {
    let question = if kind == "nps" {
        "How likely is it that you would recommend us to a friend or colleague?"
    } else {
        "How satisfied were you with your recent support experience?"
    };
    let text: Vec<String> = QUALTRICS_COLUMNS
        .iter()
        .map(|c| match *c {
            "Q1" => question.to_string(),
            "Q2" => "What is the main reason for your score?".to_string(),
            "Q3" => "May we contact you about your answer?".to_string(),
            "ResponseId" => "Response ID".to_string(),
            "Status" => "Response Type".to_string(),
            "ExternalReference" => "External Data Reference".to_string(),
            other => words(other),
        })
        .collect();
    let ids: Vec<String> = QUALTRICS_COLUMNS
        .iter()
        .map(|c| match *c {
            "Q1" => r#"{"ImportId":"QID1"}"#.to_string(),
            "Q2" => r#"{"ImportId":"QID2_TEXT"}"#.to_string(),
            "Q3" => r#"{"ImportId":"QID3"}"#.to_string(),
            "StartDate" | "EndDate" | "RecordedDate" => {
                format!(r#"{{"ImportId":"{c}","timeZone":"UTC"}}"#)
            }
            other => format!(r#"{{"ImportId":"{other}"}}"#),
        })
        .collect();
    let mut rows = vec![text, ids];
    let answers: Vec<&Row> = surveys.iter().filter(|s| s["kind"] == kind).collect();
    for s in &answers {
        let contact = s["contact_id"].as_str();
        let name = names.get(contact).copied().unwrap_or("");
        let (first, last) = name.split_once(' ').unwrap_or((name, ""));
        let recorded = spaced(&s["responded_at"]);
        rows.push(vec![
            recorded.clone(),
            recorded.clone(),
            "0".into(),
            String::new(),
            "100".into(),
            "94".into(),
            "True".into(),
            recorded,
            s["id"].clone(),
            last.to_string(),
            first.to_string(),
            emails.get(contact).cloned().unwrap_or_default(),
            s["account_id"].clone(),
            String::new(),
            String::new(),
            "email".into(),
            "EN".into(),
            s["score"].clone(),
            s["comment"].clone(),
            String::new(),
        ]);
    }
    // A respondent who opened the survey and left: no score, not finished.
    if let Some(s) = answers.first() {
        let recorded = spaced(&s["responded_at"]);
        rows.push(vec![
            recorded.clone(),
            recorded.clone(),
            "0".into(),
            String::new(),
            "33".into(),
            "12".into(),
            "False".into(),
            recorded,
            format!("{}-unfinished", s["id"]),
            String::new(),
            String::new(),
            String::new(),
            s["account_id"].clone(),
            String::new(),
            String::new(),
            "email".into(),
            "EN".into(),
            String::new(),
            String::new(),
            String::new(),
        ]);
    }
    rows
}

/// Replaces native files of `dir` by the vendor files of `formats`.
/// Returns the files written.
pub(crate) fn convert(dir: &Path, formats: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    for (i, f) in formats.iter().enumerate() {
        if !FORMATS.contains(&f.as_str()) {
            bail!("--format: '{f}' is not one of {}", FORMATS.join(", "));
        }
        if let Some(other) = formats[..i]
            .iter()
            .find(|o| *o != f && replaces(o) == replaces(f))
        {
            bail!(
                "--format: '{other}' and '{f}' both replace {}; write them into two directories",
                replaces(f)
            );
        }
    }
    // Without a format there is nothing to read: `pulse synth` of a large
    // base would otherwise hold every contact in memory (1.4 GB at 50,000
    // accounts) for nothing.
    if formats.is_empty() {
        return Ok(Vec::new());
    }
    let accounts = read(&dir.join("accounts.csv"))?;
    let contacts = read(&dir.join("contacts.csv"))?;
    let domains = domains(&accounts);
    let emails = emails(&contacts, &domains);
    let names: HashMap<&str, &str> = contacts
        .iter()
        .map(|c| (c["id"].as_str(), c["name"].as_str()))
        .collect();
    let account_names: HashMap<&str, &str> = accounts
        .iter()
        .map(|a| (a["id"].as_str(), a["name"].as_str()))
        .collect();
    let mut written = Vec::new();
    for f in formats {
        match f.as_str() {
            "hubspot-companies" => {
                let header = [
                    "Record ID",
                    "Company name",
                    "Company Domain Name",
                    "Industry",
                    "Number of Employees",
                    "Annual Revenue",
                    "Lifecycle Stage",
                    "Company owner",
                    "Create Date",
                    "Became a Customer Date",
                    "Country/Region",
                    "Customer Segment",
                    "Plan",
                    "Annual Recurring Revenue",
                    "Renewal Date",
                    "Region",
                ];
                let rows: Vec<Vec<String>> = accounts
                    .iter()
                    .map(|a| {
                        let start = &a["start_date"];
                        let created = created_before(start);
                        let mrr: f64 = a["mrr"].parse().unwrap_or(0.0);
                        vec![
                            a["id"].clone(),
                            a["name"].clone(),
                            domains[&a["id"]].clone(),
                            title(&a["industry"]),
                            a["seats"].clone(),
                            String::new(),
                            if a["status"] == "churned" {
                                "Other"
                            } else {
                                "Customer"
                            }
                            .into(),
                            a["owner"].clone(),
                            format!("{created} 09:00"),
                            format!("{start} 00:00"),
                            "United States".into(),
                            segment_label(&a["segment"]),
                            title(&a["plan"]),
                            format!("{:.2}", mrr * 12.0),
                            a["renewal_date"].clone(),
                            title(&a["region"]),
                        ]
                    })
                    .collect();
                let p = dir.join("hubspot-companies.csv");
                write(&p, &header, &rows)?;
                written.push(p);
            }
            "hubspot-contacts" => {
                let header = [
                    "Record ID",
                    "First Name",
                    "Last Name",
                    "Email",
                    "Job Title",
                    "Buying Role",
                    "Associated Company IDs",
                    "Lifecycle Stage",
                    "Last Modified Date",
                    "Relationship Strength",
                    "Sentiment",
                    "Contact Status",
                ];
                let rows: Vec<Vec<String>> = contacts
                    .iter()
                    .map(|c| {
                        let (first, last) = c["name"].split_once(' ').unwrap_or((&c["name"], ""));
                        vec![
                            c["id"].clone(),
                            first.to_string(),
                            last.to_string(),
                            emails[&c["id"]].clone(),
                            title(&c["persona"]),
                            buying_role(&c["persona"]).into(),
                            c["account_id"].clone(),
                            "Customer".into(),
                            spaced(&c["observed_at"]),
                            c["relationship_strength"].clone(),
                            title(&c["sentiment"]),
                            if c["active"] == "false" {
                                "Inactive"
                            } else {
                                "Active"
                            }
                            .into(),
                        ]
                    })
                    .collect();
                let p = dir.join("hubspot-contacts.csv");
                write(&p, &header, &rows)?;
                written.push(p);
            }
            "salesforce-accounts" => {
                let header = [
                    "Id",
                    "IsDeleted",
                    "Name",
                    "Type",
                    "Industry",
                    "Website",
                    "BillingCountry",
                    "NumberOfEmployees",
                    "AnnualRevenue",
                    "OwnerId",
                    "Owner.Name",
                    "CreatedDate",
                    "LastModifiedDate",
                    "Customer_Since__c",
                    "Segment__c",
                    "Plan__c",
                    "ARR__c",
                    "Renewal_Date__c",
                    "Region__c",
                ];
                // Salesforce user ids (18 characters, prefix 005), one per owner.
                let mut owners: Vec<&str> = accounts.iter().map(|a| a["owner"].as_str()).collect();
                owners.sort_unstable();
                owners.dedup();
                let user_id = |o: &str| {
                    let i = owners.binary_search(&o).unwrap_or(0);
                    format!("005{:012}AAA", i + 1)
                };
                let rows: Vec<Vec<String>> = accounts
                    .iter()
                    .map(|a| {
                        let start = &a["start_date"];
                        let created = format!("{}T09:00:00.000Z", created_before(start));
                        let mrr: f64 = a["mrr"].parse().unwrap_or(0.0);
                        vec![
                            a["id"].clone(),
                            "false".into(),
                            a["name"].clone(),
                            if a["status"] == "churned" {
                                "Former Customer"
                            } else {
                                "Customer - Direct"
                            }
                            .into(),
                            title(&a["industry"]),
                            format!("https://www.{}", domains[&a["id"]]),
                            "United States".into(),
                            a["seats"].clone(),
                            String::new(),
                            user_id(&a["owner"]),
                            a["owner"].clone(),
                            created.clone(),
                            created,
                            start.clone(),
                            segment_label(&a["segment"]),
                            title(&a["plan"]),
                            format!("{:.2}", mrr * 12.0),
                            a["renewal_date"].clone(),
                            title(&a["region"]),
                        ]
                    })
                    .collect();
                let p = dir.join("salesforce-accounts.csv");
                write(&p, &header, &rows)?;
                written.push(p);
            }
            "salesforce-contacts" => {
                let header = [
                    "Id",
                    "IsDeleted",
                    "AccountId",
                    "FirstName",
                    "LastName",
                    "Email",
                    "Title",
                    "Buying_Role__c",
                    "Relationship_Strength__c",
                    "Sentiment__c",
                    "Active__c",
                    "LastModifiedDate",
                ];
                let rows: Vec<Vec<String>> = contacts
                    .iter()
                    .map(|c| {
                        let (first, last) = c["name"].split_once(' ').unwrap_or((&c["name"], ""));
                        vec![
                            c["id"].clone(),
                            "false".into(),
                            c["account_id"].clone(),
                            first.to_string(),
                            last.to_string(),
                            emails[&c["id"]].clone(),
                            title(&c["persona"]),
                            buying_role(&c["persona"]).into(),
                            c["relationship_strength"].clone(),
                            title(&c["sentiment"]),
                            if c["active"] == "false" {
                                "false"
                            } else {
                                "true"
                            }
                            .into(),
                            with_millis(&c["observed_at"]),
                        ]
                    })
                    .collect();
                let p = dir.join("salesforce-contacts.csv");
                write(&p, &header, &rows)?;
                written.push(p);
            }
            "zendesk-tickets" => {
                let header = [
                    "Summation column",
                    "Id",
                    "Requester",
                    "Requester id",
                    "Requester external id",
                    "Requester email",
                    "Requester domain",
                    "Submitter",
                    "Assignee",
                    "Group",
                    "Subject",
                    "Tags",
                    "Status",
                    "Priority",
                    "Via",
                    "Ticket type",
                    "Created at",
                    "Updated at",
                    "Organization",
                    "Solved at",
                    "Resolution time",
                    "Satisfaction Score",
                    "Reopens",
                    "Replies",
                    "First reply time in minutes",
                    "Full resolution time in minutes",
                    "Topic [list]",
                ];
                let rows: Vec<Vec<String>> = read(&dir.join("interactions.csv"))?
                    .iter()
                    .map(|i| {
                        let opened = seconds(&i["opened_at"]).unwrap_or(0);
                        let first = seconds(&i["first_response_at"]);
                        let solved = seconds(&i["resolved_at"]);
                        let contact = i["contact_id"].as_str();
                        let minutes = |t: Option<i64>| {
                            t.map(|t| ((t - opened) as f64 / 60.0).round().to_string())
                                .unwrap_or_default()
                        };
                        vec![
                            "1".into(),
                            i["id"].clone(),
                            names.get(contact).copied().unwrap_or("").to_string(),
                            String::new(),
                            contact.to_string(),
                            emails.get(contact).cloned().unwrap_or_default(),
                            domains.get(&i["account_id"]).cloned().unwrap_or_default(),
                            String::new(),
                            "Support Agent".into(),
                            "Support".into(),
                            i["subject"].clone(),
                            String::new(),
                            if solved.is_some() { "Solved" } else { "Open" }.into(),
                            if i["escalated"] == "true" {
                                "Urgent"
                            } else {
                                "Normal"
                            }
                            .into(),
                            match i["channel"].as_str() {
                                "email" => "Mail",
                                "chat" => "Chat",
                                "call" => "Voice",
                                _ => "Web form",
                            }
                            .into(),
                            "Question".into(),
                            spaced(&i["opened_at"]),
                            spaced(if i["resolved_at"].is_empty() {
                                &i["opened_at"]
                            } else {
                                &i["resolved_at"]
                            }),
                            account_names
                                .get(i["account_id"].as_str())
                                .copied()
                                .unwrap_or("")
                                .to_string(),
                            spaced(&i["resolved_at"]),
                            solved
                                .map(|t| ((t - opened) as f64 / 3600.0).round().to_string())
                                .unwrap_or_default(),
                            match i["csat"].as_str() {
                                "4" | "5" => "Good",
                                "1" | "2" => "Bad",
                                "3" => "Offered",
                                _ => "Not Offered",
                            }
                            .into(),
                            if i["reopened"] == "true" { "1" } else { "0" }.into(),
                            i["contacts_to_resolve"].clone(),
                            minutes(first),
                            minutes(solved),
                            title(&i["topic"]),
                        ]
                    })
                    .collect();
                let p = dir.join("zendesk-tickets.csv");
                write(&p, &header, &rows)?;
                written.push(p);
            }
            "intercom-conversations" => {
                written.push(intercom_conversations(dir, &names, &emails, &domains)?);
            }
            "freshdesk-tickets" => {
                let p = dir.join("freshdesk-tickets.csv");
                let rows = freshdesk_rows(
                    &read(&dir.join("interactions.csv"))?,
                    (&names, &emails),
                    (&account_names, &domains),
                );
                write(&p, &FRESHDESK_COLUMNS, &rows)?;
                written.push(p);
            }
            "stripe-events" => written.push(stripe_events(dir)?),
            "segment-events" => written.push(segment_events(dir)?),
            "delighted-responses" => {
                let header = [
                    "Response ID",
                    "Score",
                    "Comment",
                    "Email",
                    "Name",
                    "Created At",
                    "Permalink",
                    "Tags",
                    "Notes",
                    "Company Domain",
                ];
                let surveys = read(&dir.join("survey_responses.csv"))?;
                for kind in ["nps", "csat"] {
                    let rows: Vec<Vec<String>> = surveys
                        .iter()
                        .filter(|s| s["kind"] == kind)
                        .map(|s| {
                            let contact = s["contact_id"].as_str();
                            vec![
                                s["id"].clone(),
                                s["score"].clone(),
                                s["comment"].clone(),
                                emails.get(contact).cloned().unwrap_or_default(),
                                names.get(contact).copied().unwrap_or("").to_string(),
                                spaced(&s["responded_at"]),
                                String::new(),
                                String::new(),
                                String::new(),
                                domains.get(&s["account_id"]).cloned().unwrap_or_default(),
                            ]
                        })
                        .collect();
                    let p = dir.join(format!("delighted-{kind}.csv"));
                    write(&p, &header, &rows)?;
                    written.push(p);
                }
            }
            "qualtrics-responses" => {
                let surveys = read(&dir.join("survey_responses.csv"))?;
                for kind in ["nps", "csat"] {
                    let p = dir.join(format!("qualtrics-{kind}.csv"));
                    write(
                        &p,
                        &QUALTRICS_COLUMNS,
                        &qualtrics_rows(&surveys, kind, &names, &emails),
                    )?;
                    written.push(p);
                }
            }
            _ => unreachable!("checked above"),
        }
    }
    let mut replaced: Vec<&str> = formats.iter().map(|f| replaces(f)).collect();
    replaced.sort_unstable();
    replaced.dedup();
    for r in replaced {
        std::fs::remove_file(dir.join(r)).with_context(|| format!("removing {r}"))?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
