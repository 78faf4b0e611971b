//! The vendor-shaped synthetic base against the native import.

use super::*;
use crate::import::{ImportOptions, import};
use pulse_core::EntityKind;
use pulse_store::Store;
use sqlx::Row as _;

/// Every stored row of `table`, each column as text, in key order.
async fn rows(db: &Path, table: &str, kind: EntityKind) -> Vec<Vec<Option<String>>> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let cols: Vec<String> = stored_columns(kind)
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect();
    let n = cols.len();
    let sql = format!(
        "SELECT {} FROM {table} ORDER BY {}",
        cols.join(", "),
        (1..=n)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = sqlx::query(&sql)
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| (0..n).map(|i| r.get::<Option<String>, _>(i)).collect())
        .collect();
    pool.close().await;
    out
}

fn stored_columns(kind: EntityKind) -> &'static [&'static str] {
    use pulse_core::*;
    match kind {
        EntityKind::Account => Account::STORED_COLUMNS,
        EntityKind::Contact => Contact::STORED_COLUMNS,
        EntityKind::Interaction => Interaction::STORED_COLUMNS,
        EntityKind::Usage => Usage::STORED_COLUMNS,
        EntityKind::Subscription => SubscriptionEvent::STORED_COLUMNS,
        EntityKind::Survey => SurveyResponse::STORED_COLUMNS,
        EntityKind::Operational => OperationalEvent::STORED_COLUMNS,
        EntityKind::Outreach => Outreach::STORED_COLUMNS,
    }
}

/// Formats in no set ([`SETS`]): the round trip takes them alone.
const EVENT_FORMATS: &[&str] = &["segment-events"];

const TABLES: &[(&str, EntityKind)] = &[
    ("accounts", EntityKind::Account),
    ("contacts", EntityKind::Contact),
    ("interactions", EntityKind::Interaction),
    ("usage", EntityKind::Usage),
    ("subscription_events", EntityKind::Subscription),
    ("survey_responses", EntityKind::Survey),
    ("operational_events", EntityKind::Operational),
];

/// Where a stored `kind`'s column `n` sits in a row of [`rows`].
fn column_of(kind: EntityKind, n: &str) -> usize {
    stored_columns(kind).iter().position(|c| *c == n).unwrap()
}

/// Where a stored interaction's column `n` sits in a row of [`rows`].
fn col(n: &str) -> usize {
    column_of(EntityKind::Interaction, n)
}

/// A native interaction row as the Zendesk CSV carries it ([`LOSSES`]).
fn as_zendesk_carries(row: &mut [Option<String>]) {
    let opened: i64 = row[col("opened_at")].as_deref().unwrap().parse().unwrap();
    if let Some(f) = row[col("first_response_at")].as_deref() {
        let f: i64 = f.parse().unwrap();
        let minutes = ((f - opened) as f64 / 60.0).round() as i64;
        row[col("first_response_at")] = Some((opened + minutes * 60).to_string());
    }
    let csat = &mut row[col("csat")];
    *csat = match csat.as_deref() {
        Some("4" | "5") => Some("5".into()),
        Some("1" | "2") => Some("1".into()),
        _ => None,
    };
    row[col("body")] = Some(String::new());
}

/// A native interaction row as Intercom's conversation carries it ([`LOSSES`]).
fn as_intercom_carries(row: &mut [Option<String>]) {
    if row[col("channel")].as_deref() == Some("ticket") {
        row[col("channel")] = Some("chat".into());
    }
    let reopened = row[col("reopened")].as_deref() == Some("1");
    let contacts: i64 = row[col("contacts_to_resolve")]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();
    row[col("contacts_to_resolve")] = Some((reopens(reopened, contacts) + 1).to_string());
    let body = &mut row[col("body")];
    if let Some(b) = body.as_deref() {
        *body = Some(b.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}

/// A native interaction row as Freshdesk's ticket export carries it ([`LOSSES`]).
fn as_freshdesk_carries(row: &mut [Option<String>]) {
    row[col("reopened")] = Some("0".into());
    let body = &mut row[col("body")];
    if let Some(b) = body.as_deref() {
        *body = Some(b.split_whitespace().collect::<Vec<_>>().join(" "));
    }
}

/// Where a stored subscription event's column `n` sits in a row of [`rows`].
fn sub_col(n: &str) -> usize {
    column_of(EntityKind::Subscription, n)
}

/// A native subscription event as Stripe's events carry it ([`LOSSES`]).
fn as_stripe_carries(row: &mut [Option<String>]) {
    if row[sub_col("kind")].as_deref() != Some("churn") {
        row[sub_col("reason")] = Some(String::new());
    }
}

/// Native usage rows (in key order) as Segment's calls carry them
/// ([`LOSSES`]): per account, from its first week with an active user to
/// the last such week of any account, a week without a row being idle.
fn as_segment_carries(native: Vec<Vec<Option<String>>>) -> Vec<Vec<Option<String>>> {
    let c = |n: &str| column_of(EntityKind::Usage, n);
    let int =
        |r: &[Option<String>], n: &str| -> i64 { r[c(n)].as_deref().unwrap().parse().unwrap() };
    let active: Vec<&Vec<Option<String>>> = native
        .iter()
        .filter(|r| int(r, "active_users") > 0)
        .collect();
    let last = active.iter().map(|r| int(r, "day")).max().unwrap();
    let mut first: std::collections::BTreeMap<String, i64> = Default::default();
    for r in &active {
        let a = r[c("account_id")].clone().unwrap();
        let d = int(r, "day");
        first.entry(a).and_modify(|f| *f = (*f).min(d)).or_insert(d);
    }
    let by_key: HashMap<(String, i64), &Vec<Option<String>>> = native
        .iter()
        .map(|r| ((r[c("account_id")].clone().unwrap(), int(r, "day")), r))
        .collect();
    let mut out = Vec::new();
    for (account, from) in first {
        for day in (from..=last).step_by(7) {
            out.push(match by_key.get(&(account.clone(), day)) {
                Some(r) => (*r).clone(),
                None => {
                    let mut z =
                        vec![Some("0".to_string()); stored_columns(EntityKind::Usage).len()];
                    z[c("account_id")] = Some(account.clone());
                    z[c("day")] = Some(day.to_string());
                    z[c("period_days")] = Some("7".into());
                    z
                }
            });
        }
    }
    out
}

async fn import_dir(db: &Path, dir: &Path, mapping: Option<crate::mapping::Mapping>) {
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let files = crate::expand_paths(&[dir.to_path_buf()], mapping.as_ref()).unwrap();
    let opts = ImportOptions {
        batch_size: 500,
        rejects_path: db.with_extension("rejects.csv"),
        progress: false,
        sentiment: None,
        mapping: mapping.map(std::sync::Arc::new),
        dry_run: false,
    };
    let report = import(&store, &files, &opts).await.unwrap();
    let (rows, _, _, rejected) = report.totals();
    assert!(rows > 0);
    assert_eq!(
        rejected,
        0,
        "{}: {:?}",
        dir.display(),
        std::fs::read_to_string(db.with_extension("rejects.csv")).ok()
    );
    store.close().await;
}

/// Writes a base, converts a copy of it to `formats`, imports both (the
/// copy through the presets) and compares every stored row, every column.
async fn round_trip(formats: &[String]) {
    let tmp = tempfile::tempdir().unwrap();
    let native = tmp.path().join("native");
    let end = pulse_core::time::parse_day("end", "2026-11-22").unwrap();
    // Segment's calls are about 30 lines per usage row: a smaller base.
    let (accounts, months) = if formats.iter().any(|f| f == "segment-events") {
        (12, 4)
    } else {
        (40, 12)
    };
    crate::synth(accounts, months, 5, end, None, &native).unwrap();
    let vendor = tmp.path().join("vendor");
    std::fs::create_dir_all(&vendor).unwrap();
    for e in std::fs::read_dir(&native).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            std::fs::copy(&p, vendor.join(p.file_name().unwrap())).unwrap();
        }
    }
    let all = formats.to_vec();
    let written = convert(&vendor, &all).unwrap();
    // One file per format, two for a survey tool's (NPS and CSAT).
    let files = formats.len() + formats.iter().filter(|f| f.ends_with("-responses")).count();
    assert_eq!(written.len(), files, "{formats:?}");
    for f in formats {
        assert!(!vendor.join(replaces(f)).exists(), "{f}");
    }

    let a = tmp.path().join("native.db");
    let b = tmp.path().join("vendor.db");
    import_dir(&a, &native, None).await;
    let mapping = crate::presets::load_all(&all, &[]).unwrap();
    import_dir(&b, &vendor, mapping).await;

    for (table, kind) in TABLES {
        let mut want = rows(&a, table, *kind).await;
        let got = rows(&b, table, *kind).await;
        if *kind == EntityKind::Subscription && formats.iter().any(|f| f == "stripe-events") {
            // Every kind of event goes through the preset's blocks.
            let kinds: std::collections::BTreeSet<_> = want
                .iter()
                .filter_map(|r| r[sub_col("kind")].clone())
                .collect();
            assert_eq!(
                kinds.into_iter().collect::<Vec<_>>(),
                [
                    "churn",
                    "downgrade",
                    "payment_failed",
                    "renewal",
                    "seat_change",
                    "start",
                    "upgrade"
                ],
                "{:?}",
                stored_columns(*kind)
            );
            want.iter_mut().for_each(|r| as_stripe_carries(r));
            // A seat change that changes nothing has no Stripe event.
            want.retain(|r| {
                let same = |a: &str, b: &str| r[sub_col(a)] == r[sub_col(b)];
                r[sub_col("kind")].as_deref() != Some("seat_change")
                    || !(same("seats_before", "seats_after") && same("mrr_before", "mrr_after"))
            });
        }
        if *kind == EntityKind::Interaction {
            for f in formats {
                match f.as_str() {
                    "zendesk-tickets" => want.iter_mut().for_each(|r| as_zendesk_carries(r)),
                    "freshdesk-tickets" => want.iter_mut().for_each(|r| as_freshdesk_carries(r)),
                    "intercom-conversations" => {
                        want.iter_mut().for_each(|r| as_intercom_carries(r))
                    }
                    _ => {}
                }
            }
        }
        if *kind == EntityKind::Usage && formats.iter().any(|f| f == "segment-events") {
            want = as_segment_carries(want);
        }
        assert!(!want.is_empty(), "{table}");
        assert_eq!(got.len(), want.len(), "{table}: row counts ({formats:?})");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g, w, "{table}: {:?} ({formats:?})", stored_columns(*kind));
        }
    }
}

#[tokio::test]
async fn the_vendor_shaped_base_imports_through_the_presets_into_the_native_store() {
    // The help desk and survey exports find their accounts and contacts by
    // the keys either CRM's preset offers.
    for i in 0..SETS.len() {
        round_trip(&set(i)).await;
    }
    for f in EVENT_FORMATS {
        round_trip(&[f.to_string()]).await;
    }
}

#[test]
fn two_formats_of_one_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = convert(
        dir.path(),
        &["hubspot-companies".into(), "salesforce-accounts".into()],
    )
    .unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("both replace accounts.csv"), "{msg}");
}

#[test]
fn every_format_is_a_preset() {
    for f in FORMATS {
        assert!(crate::presets::text(f).is_ok(), "{f}");
    }
    // Every format is in a round trip above, and a set never asks for two
    // formats of one file.
    for f in FORMATS {
        assert!(
            SETS.iter().any(|s| s.contains(f)) || EVENT_FORMATS.contains(f),
            "{f} is in no set"
        );
    }
    for s in SETS {
        let mut files: Vec<&str> = s.iter().map(|f| replaces(f)).collect();
        files.sort_unstable();
        files.dedup();
        assert_eq!(files.len(), s.len(), "{s:?}");
    }
    for (f, _) in LOSSES {
        assert!(FORMATS.contains(f));
    }
}

#[test]
fn no_format_reads_nothing() {
    // A directory without the base's files: asking for no format must not
    // open them (`pulse synth` without --format on a large base).
    let dir = tempfile::tempdir().unwrap();
    assert!(convert(dir.path(), &[]).unwrap().is_empty());
    let err = convert(dir.path(), &["zendesk-tickets".to_string()]).unwrap_err();
    assert!(format!("{err:#}").contains("accounts.csv"), "{err:#}");
}

#[tokio::test]
async fn a_salesforce_contact_flagged_deleted_is_marked_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("base");
    let end = pulse_core::time::parse_day("end", "2026-11-22").unwrap();
    crate::synth(5, 2, 3, end, None, &dir).unwrap();
    convert(&dir, &set(1)).unwrap();
    // Flag the first contact row as deleted, as Data Loader's "Export All" does.
    let path = dir.join("salesforce-contacts.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let first: Vec<&str> = lines[1].split(',').collect();
    let (id, modified) = (first[0].to_string(), first[11].to_string());
    lines[1] = lines[1].replacen(",false,", ",true,", 1);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let db = tmp.path().join("b.db");
    let mapping = crate::presets::load_all(&set(1), &[]).unwrap();
    import_dir(&db, &dir, mapping).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let deleted: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT id, observed_at, deleted_at FROM contacts WHERE deleted_at IS NOT NULL",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let at = pulse_core::time::parse_opt_ts("t", &modified)
        .unwrap()
        .unwrap();
    assert_eq!(
        deleted,
        vec![(id, at, at)],
        "only the flagged row, from its last change"
    );
    pool.close().await;
}
