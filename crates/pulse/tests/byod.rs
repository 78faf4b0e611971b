//! Bring your own data, end to end through the `pulse` binary: the
//! synthetic base written in vendors' export shapes, checked with a dry run,
//! a broken export's problems named by line, field and reason, then
//! imported through the presets, twice.

use std::path::Path;
use std::process::{Command, Output};

fn pulse(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pulse"));
    c.arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("PULSE_CONFIG")
        .env_remove("RUST_BACKTRACE")
        .env("PULSE_LOG", "warn");
    c
}

fn run(c: &mut Command) -> Output {
    let out = c.output().expect("pulse runs");
    assert!(
        out.status.success(),
        "{c:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

const PRESETS: &[&str] = &[
    "hubspot-companies",
    "hubspot-contacts",
    "zendesk-tickets",
    "delighted-responses",
];

fn import(dir: &Path, extra: &[&str]) -> Command {
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment"]);
    for p in PRESETS {
        c.args(["--preset", p]);
    }
    c.args(extra);
    c
}

/// `(line, rest)` of the example lines of a dry run's rejections.
/// The stored usage rows of the store under `dir`, by account and day, as
/// `account,day,period_days,active_users,logins,features_used`.
fn stored_usage(dir: &Path) -> Vec<String> {
    on_store(dir, async |pool| {
        sqlx::query_scalar(
            "SELECT account_id || ',' || date(day * 86400, 'unixepoch') || ',' || period_days \
             || ',' || active_users || ',' || logins || ',' || features_used \
             FROM usage ORDER BY account_id, day",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    })
}

/// Runs `f` on the SQLite store under `dir` and closes it.
fn on_store<T>(dir: &Path, f: impl AsyncFnOnce(&sqlx::SqlitePool) -> T) -> T {
    let url = format!("sqlite://{}", dir.join("data").join("pulse.db").display());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let v = f(&pool).await;
            pool.close().await;
            v
        })
}

fn examples(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("line "))
        .collect()
}

#[test]
fn vendor_exports_import_through_presets_after_a_dry_run_names_their_problems() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let vendor = dir.join("vendor");
    let mut synth = pulse(dir);
    synth.args([
        "synth",
        "--accounts",
        "30",
        "--months",
        "3",
        "--seed",
        "9",
        "--end",
        "2026-11-22",
        "--out",
    ]);
    synth.arg(&vendor);
    for p in PRESETS {
        synth.args(["--format", p]);
    }
    let out = run(&mut synth);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("zendesk-tickets cannot carry"), "{said}");

    // Break the ticket export: a date in another format on data row 2 (file
    // line 3), and a requester domain no account has on row 4 (line 5).
    let tickets = vendor.join("zendesk-tickets.csv");
    let mut r = csv::Reader::from_path(&tickets).unwrap();
    let header = r.headers().unwrap().clone();
    let mut rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    let set = |row: &mut csv::StringRecord, c: usize, v: &str| {
        let mut f: Vec<String> = row.iter().map(str::to_string).collect();
        f[c] = v.to_string();
        *row = csv::StringRecord::from(f);
    };
    let (bad_date, bad_domain) = (rows[1][1].to_string(), rows[3][1].to_string());
    set(&mut rows[1], col("Created at"), "05/03/2026 10:00");
    set(&mut rows[3], col("Requester domain"), "nowhere.example.org");
    let mut w = csv::Writer::from_path(&tickets).unwrap();
    w.write_record(&header).unwrap();
    for row in &rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();

    let out = run(import(dir, &["--dry-run"]).arg(&vendor));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.starts_with("Dry run: nothing was written."),
        "{report}"
    );
    assert!(
        report
            .contains("zendesk-tickets.csv -> interaction (preset zendesk-tickets, block at line"),
        "{report}"
    );
    assert!(
        report.contains("opened_at (column \"Created at\"): '…' does not match the format"),
        "{report}"
    );
    let ex = examples(&report);
    assert!(
        ex.iter().any(|l| l.starts_with(&format!(
            "line 3 (id {bad_date}): '05/03/2026 10:00' does not match the format"
        ))),
        "{report}"
    );
    assert!(
        ex.iter().any(|l| *l
            == format!("line 5 (id {bad_domain}): no account has domain 'nowhere.example.org'")),
        "{report}"
    );
    assert!(report.contains("(1 refer to unknown accounts"), "{report}");
    assert!(
        report.contains("columns left unmapped: Summation column"),
        "{report}"
    );
    assert!(
        !dir.join("data").join("pulse.db").exists(),
        "a dry run creates no store"
    );

    // A mistake in a mapping of one's own is refused before anything is read.
    let mine = dir.join("mine.toml");
    std::fs::write(
        &mine,
        "[[entity]]\nkind = \"usage\"\nfiles = \"usage*.csv\"\n[entity.fields]\n\
         account_id = \"account_id\"\nday = \"day\"\nactive_users = \"active_users\"\n\
         logins = \"logins\"\nlogin_count = \"logins\"\n",
    )
    .unwrap();
    let out = pulse(dir)
        .args(["import", "--no-sentiment", "--mapping"])
        .arg(&mine)
        .arg(vendor.join("usage.csv"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mine.toml: line 9: 'login_count' is not a field of usage"),
        "{err}"
    );

    // The real import stores all but the two broken rows; importing the same
    // export again updates in place and adds nothing.
    let out = run(import(dir, &[]).arg(&vendor));
    let first = String::from_utf8_lossy(&out.stdout).into_owned();
    let total = |s: &str| -> Vec<u64> {
        s.lines()
            .find(|l| l.starts_with("total"))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .take(4)
            .map(|v| v.parse().unwrap())
            .collect()
    };
    let t1 = total(&first);
    assert_eq!(t1[3], 2, "{first}");
    assert_eq!(t1[1], t1[0] - 2, "{first}");
    let out = run(import(dir, &[]).arg(&vendor));
    let again = String::from_utf8_lossy(&out.stdout).into_owned();
    let t2 = total(&again);
    assert_eq!((t2[1], t2[2], t2[3]), (0, t1[1], 2), "{again}");

    // Incremental: the help desk's export alone, days later. Into an empty
    // store it cannot find its accounts and says so before reading a row;
    // after the CRM exports were imported once, their keys are stored.
    let later = dir.join("later");
    let tickets_alone = |d: &Path| {
        let mut c = pulse(d);
        c.args(["import", "--no-sentiment", "--preset", "zendesk-tickets"])
            .arg(&tickets);
        c
    };
    let out = tickets_alone(&later).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("joins on account.domain"), "{err}");
    assert!(err.contains("no earlier import stored that key"), "{err}");
    let mut crm = pulse(&later);
    crm.args([
        "import",
        "--no-sentiment",
        "--preset",
        "hubspot-companies",
        "--preset",
        "hubspot-contacts",
    ])
    .arg(vendor.join("hubspot-companies.csv"))
    .arg(vendor.join("hubspot-contacts.csv"));
    run(&mut crm);
    let out = run(&mut tickets_alone(&later));
    let t3 = total(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(t3[0], rows.len() as u64, "every ticket read");
    assert_eq!(
        t3[1],
        rows.len() as u64 - 2,
        "all but the two broken tickets stored"
    );

    // A ticket deleted in the help desk: the next export keeps it with the
    // status "deleted", and a copy of the preset marks it with a
    // field-level `when`. The import updates it in place; exported again
    // with its old status, it is restored.
    let preset = run(pulse(dir).args(["presets", "zendesk-tickets"])).stdout;
    let mine = String::from_utf8(preset).unwrap()
        + "deleted_at = { column = \"Updated at\", format = [\"%Y-%m-%d %H:%M:%S\", \"%Y-%m-%d %H:%M\"], when = { Status = \"deleted\" } }\n";
    let mapping = dir.join("tickets-with-deletes.toml");
    std::fs::write(&mapping, mine).unwrap();
    let gone = rows[0][col("Id")].to_string();
    let status = rows[0][col("Status")].to_string();
    let updated_at = rows[0][col("Updated at")].to_string();
    let write_tickets = |path: &Path, first_status: &str| {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(&header).unwrap();
        for (k, row) in rows.iter().enumerate() {
            let mut row = row.clone();
            if k == 0 {
                set(&mut row, col("Status"), first_status);
            }
            w.write_record(&row).unwrap();
        }
        w.flush().unwrap();
    };
    let deleted_export = dir.join("deleted").join("zendesk-tickets.csv");
    std::fs::create_dir_all(deleted_export.parent().unwrap()).unwrap();
    let with_mapping = |d: &Path, file: &Path| {
        let mut c = pulse(d);
        c.args(["import", "--no-sentiment", "--mapping"])
            .arg(&mapping)
            .arg(file);
        c
    };
    let stored_deleted_at = || -> Option<i64> {
        on_store(&later, async |pool| {
            sqlx::query_scalar("SELECT deleted_at FROM interactions WHERE id = ?")
                .bind(&gone)
                .fetch_one(pool)
                .await
                .unwrap()
        })
    };
    write_tickets(&deleted_export, "Deleted");
    let dry = run(with_mapping(&later, &deleted_export).arg("--dry-run"));
    let dry = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        dry.contains("  1 marked deleted at the source: features leave them out"),
        "{dry}"
    );
    let out = run(&mut with_mapping(&later, &deleted_export));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        said.contains("zendesk-tickets.csv: 1 marked deleted at the source"),
        "{said}"
    );
    let t4 = total(&said);
    assert_eq!(
        (t4[1], t4[2]),
        (0, rows.len() as u64 - 2),
        "updated in place"
    );
    let t = updated_at.trim();
    let want = parse_utc(t, "%Y-%m-%d %H:%M:%S")
        .or_else(|| parse_utc(t, "%Y-%m-%d %H:%M"))
        .expect("the export's Updated at");
    assert_eq!(stored_deleted_at(), Some(want), "ticket {gone}");
    write_tickets(&deleted_export, &status);
    run(&mut with_mapping(&later, &deleted_export));
    assert_eq!(stored_deleted_at(), None, "ticket {gone} restored");
}

/// Seconds since the epoch of a UTC time written in `fmt`.
fn parse_utc(s: &str, fmt: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(s, fmt)
        .ok()
        .map(|t| t.and_utc().timestamp())
}

/// `training-data/samples/` is what `pulse synth --format` writes, byte for
/// byte, and imports through the presets without a rejected row.
#[test]
fn the_shipped_samples_are_what_synth_writes_and_import_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let fresh = dir.join("samples");
    // The samples' base: 50 accounts, 3 months, seed 42.
    let synth = |out: &Path, formats: &[&str]| {
        let mut c = pulse(dir);
        c.args([
            "synth",
            "--accounts",
            "50",
            "--months",
            "3",
            "--seed",
            "42",
            "--end",
            "2026-11-22",
            "--out",
        ]);
        c.arg(out);
        for f in formats {
            c.args(["--format", f]);
        }
        run(&mut c);
    };
    synth(&fresh, PRESETS);
    // The same base's accounts and contacts as Salesforce exports them, its
    // interactions as Intercom's conversations, its answers as Qualtrics' and
    // its subscription events as Stripe's.
    let other = dir.join("salesforce");
    synth(
        &other,
        &[
            "salesforce-accounts",
            "salesforce-contacts",
            "intercom-conversations",
            "qualtrics-responses",
            "stripe-events",
        ],
    );
    for n in [
        "salesforce-accounts.csv",
        "salesforce-contacts.csv",
        "intercom-conversations.jsonl",
        "qualtrics-nps.csv",
        "qualtrics-csat.csv",
        "stripe-events.jsonl",
    ] {
        std::fs::copy(other.join(n), fresh.join(n)).unwrap();
    }
    // Its interactions as Freshdesk's tickets, and its usage as Segment's
    // calls, of two small accounts only.
    let segment = dir.join("segment");
    synth(&segment, &["freshdesk-tickets", "segment-events"]);
    std::fs::copy(
        segment.join("freshdesk-tickets.csv"),
        fresh.join("freshdesk-tickets.csv"),
    )
    .unwrap();
    let calls = std::fs::read_to_string(segment.join("segment-events.jsonl")).unwrap();
    let kept: String = calls
        .lines()
        .filter(|l| {
            l.contains(r#""groupId":"acct-000001""#) || l.contains(r#""groupId":"acct-000003""#)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(fresh.join("segment-events.jsonl"), kept).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&shipped)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 16, "{names:?}");
    for n in &names {
        let want = std::fs::read(fresh.join(n)).unwrap_or_default();
        let got = std::fs::read(shipped.join(n)).unwrap();
        assert!(
            got == want,
            "training-data/samples/{n} differs from what `pulse synth --format` writes now: \
             regenerate it (training-data/README.md)"
        );
    }
    let out = run(import(
        dir,
        &[
            "--dry-run",
            "--preset",
            "salesforce-accounts",
            "--preset",
            "salesforce-contacts",
            "--preset",
            "intercom-conversations",
            "--preset",
            "qualtrics-responses",
            "--preset",
            "stripe-events",
        ],
    )
    .arg(&shipped));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(" 0 rejected (0 refer to unknown"),
        "{report}"
    );
    assert!(
        report.contains("salesforce-accounts.csv -> account (preset salesforce-accounts"),
        "{report}"
    );
    // HubSpot's `*contacts*.csv` matches it too; the file has Salesforce's
    // columns, so it goes to Salesforce's block alone.
    assert!(
        report.contains("salesforce-contacts.csv -> contact (preset salesforce-contacts"),
        "{report}"
    );
    assert!(
        !report.contains("salesforce-contacts.csv -> contact (preset hubspot-contacts"),
        "{report}"
    );
    assert!(
        report
            .contains("intercom-conversations.jsonl -> interaction (preset intercom-conversations"),
        "{report}"
    );
    // The presets read no name their sample lacks.
    assert!(!report.contains("names no line holds"), "{report}");
    // Six blocks read Stripe's events in one pass, each the rows of its
    // `when`: every event is one of theirs.
    assert!(
        report.contains(
            "stripe-events.jsonl -> subscription_event (preset stripe-events, blocks at lines \
             39, 54, 70, 88, 105, 122)\n  rows 26: 26 would be inserted, 0 updated, 0 rejected, \
             0 left out"
        ),
        "{report}"
    );
    // Delighted's and Qualtrics' NPS files both match `*nps*.csv`.
    assert!(
        report.contains("qualtrics-nps.csv -> survey_response (preset qualtrics-responses"),
        "{report}"
    );
    assert!(
        report.contains("delighted-nps.csv -> survey_response (preset delighted-responses"),
        "{report}"
    );
}

/// The Segment sample counts into the weekly usage of its two accounts:
/// each week from the account's first call to the last week with a call,
/// as `usage.csv` has it (a week `usage.csv` lacks is idle).
#[test]
fn segment_calls_count_into_the_samples_weekly_usage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let mut c = pulse(dir);
    c.args([
        "import",
        "--no-sentiment",
        "--preset",
        "salesforce-accounts",
        "--preset",
        "segment-events",
    ])
    .arg(shipped.join("salesforce-accounts.csv"))
    .arg(shipped.join("segment-events.jsonl"));
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    let calls = std::fs::read_to_string(shipped.join("segment-events.jsonl"))
        .unwrap()
        .lines()
        .count();
    // The native rows of the two accounts with an active user, and the
    // idle weeks between.
    let usage = std::fs::read_to_string(shipped.join("usage.csv")).unwrap();
    let rows: Vec<Vec<&str>> = usage
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[0] == "acct-000001" || r[0] == "acct-000003")
        .collect();
    let active: Vec<&Vec<&str>> = rows.iter().filter(|r| r[3] != "0").collect();
    let last = active.iter().map(|r| r[1]).max().unwrap();
    let want: Vec<String> = rows
        .iter()
        .filter(|r| {
            let first = active
                .iter()
                .filter(|a| a[0] == r[0])
                .map(|a| a[1])
                .min()
                .unwrap();
            r[1] >= first && r[1] <= last
        })
        .map(|r| r[..6].join(","))
        .collect();
    // file, rows, inserted, updated, rejected.
    let line = report
        .lines()
        .find(|l| l.starts_with("segment-events.jsonl (usage)"))
        .unwrap_or_else(|| panic!("{report}"));
    let cells: Vec<&str> = line.split_whitespace().skip(2).take(4).collect();
    let want_cells = [
        calls.to_string(),
        want.len().to_string(),
        "0".into(),
        "0".into(),
    ];
    assert_eq!(cells, want_cells, "{report}");
    // What was stored is the native rows.
    assert_eq!(stored_usage(dir), want);
}

/// A JSON Lines file has no header to check a mapping against: a name no
/// line holds (a misspelling) is named by the dry run instead of reading as
/// blank everywhere unseen.
#[test]
fn a_name_no_json_line_holds_is_named_by_the_dry_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let mapping = dir.join("churns.toml");
    std::fs::write(
        &mapping,
        r#"
[[entity]]
kind = "subscription_event"
files = "*stripe*event*.jsonl"
when = { type = "customer.subscription.deleted" }
[entity.fields]
id = "id"
account_id = "data.object.metadata.account_id"
kind = { value = "churn" }
occurred_at = { column = "created", format = "unix" }
reason = "data.object.cancelation_details.comment"
"#,
    )
    .unwrap();
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment", "--dry-run", "--mapping"])
        .arg(&mapping)
        .arg(shipped.join("stripe-events.jsonl"));
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(
            "names no line holds (blank in every record; misspelt?): \"data.object.cancelation_details.comment\""
        ),
        "{report}"
    );
    assert_eq!(report.matches("names no line holds").count(), 1, "{report}");
}

/// The docs' five-minute path: the samples directory through one CRM's,
/// one help desk's and one survey tool's presets. The other vendors'
/// exports in it are skipped, each with its reason, and nothing is
/// rejected.
#[test]
fn the_samples_directory_imports_through_one_set_of_presets() {
    let tmp = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let out = run(import(tmp.path(), &[]).arg(&shipped));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    let total = stdout.lines().find(|l| l.starts_with("total")).unwrap();
    let cells: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(cells[4], "0", "rejected: {stdout}");
    for (file, why) in [
        ("salesforce-accounts.csv", "are not Pulse's account columns"),
        ("salesforce-contacts.csv", "column \"Record ID\" is not in"),
        ("qualtrics-nps.csv", "column \"Response ID\" is not in"),
        ("qualtrics-csat.csv", "column \"Response ID\" is not in"),
    ] {
        let line = stderr
            .lines()
            .find(|l| l.starts_with("skipping") && l.contains(file))
            .unwrap_or_else(|| panic!("{file} is not skipped: {stderr}"));
        assert!(line.contains(why), "{line}");
    }
    // JSON Lines no preset given reads are left alone.
    assert!(!stdout.contains("intercom"), "{stdout}");
    assert!(!stdout.contains("stripe"), "{stdout}");
}

/// A broken Stripe export: each bad event is named once, by line, field and
/// reason, though six blocks read the file.
#[test]
fn a_broken_stripe_export_is_named_by_line_field_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let text = std::fs::read_to_string(shipped.join("stripe-events.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let edit = |line: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        f(&mut v);
        v.to_string()
    };
    // Line 3 lost its account, line 5's time is words, line 7 is cut short.
    lines[2] = edit(&lines[2], &|v| {
        v["data"]["object"]["metadata"] = serde_json::json!({})
    });
    lines[4] = edit(&lines[4], &|v| v["created"] = "yesterday".into());
    lines[6].truncate(200);
    std::fs::write(dir.join("stripe-events.jsonl"), lines.join("\n") + "\n").unwrap();
    std::fs::copy(
        shipped.join("salesforce-accounts.csv"),
        dir.join("salesforce-accounts.csv"),
    )
    .unwrap();
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment", "--dry-run"]);
    for (preset, file) in [
        ("salesforce-accounts", "salesforce-accounts.csv"),
        ("stripe-events", "stripe-events.jsonl"),
    ] {
        c.args(["--preset", preset]).arg(dir.join(file));
    }
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("rows 26: 23 would be inserted, 0 updated, 3 rejected"),
        "{report}"
    );
    let ex = examples(&report);
    assert_eq!(ex.len(), 3, "{report}");
    assert!(
        ex.iter()
            .any(|l| l.starts_with("line 3 (id ") && l.ends_with("): is required")),
        "{report}"
    );
    assert!(report.contains("account_id: is required"), "{report}");
    assert!(
        ex.iter().any(|l| l.starts_with("line 5 (id ")
            && l.contains("'yesterday' does not match the format unix")),
        "{report}"
    );
    assert!(
        ex.iter()
            .any(|l| l.starts_with("line 7: is not JSON: EOF while parsing")),
        "{report}"
    );
}

/// A broken Segment export: a call whose time is words and a line cut
/// short are named by line, field and reason; a call without an account is
/// left out; the other calls still count into the weeks.
#[test]
fn a_broken_segment_export_is_named_by_line_field_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let text = std::fs::read_to_string(shipped.join("segment-events.jsonl")).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    let edit = |line: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        f(&mut v);
        v.to_string()
    };
    // Line 2's time is words, line 4 has no account, line 6 is cut short.
    lines[1] = edit(&lines[1], &|v| v["timestamp"] = "last tuesday".into());
    lines[3] = edit(&lines[3], &|v| v["context"] = serde_json::json!({}));
    lines[5].truncate(60);
    std::fs::write(dir.join("segment-events.jsonl"), lines.join("\n") + "\n").unwrap();
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment", "--dry-run"])
        .args(["--preset", "salesforce-accounts"])
        .arg(shipped.join("salesforce-accounts.csv"))
        .args(["--preset", "segment-events"])
        .arg(dir.join("segment-events.jsonl"));
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "rows {n}: 26 would be inserted, 0 updated, 2 rejected, 1 left out by `when`\n  events counted: {}", n - 3
        )),
        "{report}"
    );
    let ex = examples(&report);
    assert_eq!(ex.len(), 2, "{report}");
    assert!(
        ex.iter().any(|l| l.starts_with("line 2 (id acct-000001)")
            && l.contains("'last tuesday' is not a date or time")),
        "{report}"
    );
    assert!(
        report.contains("day (column \"timestamp\"): '…' is not a date or time"),
        "{report}"
    );
    assert!(
        ex.iter()
            .any(|l| l.starts_with("line 6: is not JSON: EOF while parsing")),
        "{report}"
    );
}

/// A broken Freshdesk export: a ticket whose time is words and one from an
/// unknown domain are named by line, field and reason; the others import.
#[test]
fn a_broken_freshdesk_export_is_named_by_line_field_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let mut r = csv::Reader::from_path(shipped.join("freshdesk-tickets.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let at = |name: &str| header.iter().position(|h| h == name).unwrap();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    let n = rows.len();
    // The rows on lines 3 and 5 (the header is line 1).
    rows[1][at("Created time")] = "yesterday".into();
    rows[3][at("Email")] = "pat@nowhere.example.org".into();
    let path = dir.join("freshdesk-tickets.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(&header).unwrap();
    for row in &rows {
        w.write_record(row).unwrap();
    }
    w.flush().unwrap();
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment", "--dry-run"])
        .args(["--preset", "salesforce-accounts"])
        .arg(shipped.join("salesforce-accounts.csv"))
        .args(["--preset", "salesforce-contacts"])
        .arg(shipped.join("salesforce-contacts.csv"))
        .args(["--preset", "freshdesk-tickets"])
        .arg(&path);
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains(&format!(
            "rows {n}: {} would be inserted, 0 updated, 2 rejected",
            n - 2
        )),
        "{report}"
    );
    let ex = examples(&report);
    assert_eq!(ex.len(), 2, "{report}");
    assert!(
        ex.iter()
            .any(|l| l.starts_with("line 3 (id ") && l.contains("'yesterday' does not match")),
        "{report}"
    );
    assert!(
        report.contains("opened_at (column \"Created time\")"),
        "{report}"
    );
    assert!(
        ex.iter().any(|l| l.starts_with("line 5 (id ")
            && l.contains("no account has domain 'nowhere.example.org'")),
        "{report}"
    );
}

/// Rows already counted per user and day (the docs' `count = "sum"`
/// example) add up into weekly usage; a count that is not a whole number
/// rejects its row alone, named by line, field and reason.
#[test]
fn daily_counted_rows_sum_into_weeks_and_a_bad_count_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../training-data/samples");
    let docs = include_str!("../../../docs/bring-your-own-data.md");
    let example = docs
        .split("```toml")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("count = \"sum\""))
        .expect("the docs show a summed field");
    let mapping = dir.join("daily.toml");
    std::fs::write(&mapping, example).unwrap();
    // 2026-11-02 was a Monday.
    std::fs::write(
        dir.join("daily-usage.csv"),
        "Account ID,Date,Visitor ID,Sessions\n\
         acct-000001,2026-11-02,v1,3\n\
         acct-000001,2026-11-03,v2,5\n\
         acct-000001,2026-11-06,v1,lots\n\
         acct-000001,2026-11-10,v1,2\n",
    )
    .unwrap();
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment", "--dry-run"])
        .args(["--preset", "salesforce-accounts"])
        .arg(shipped.join("salesforce-accounts.csv"))
        .arg("--mapping")
        .arg(&mapping)
        .arg(dir.join("daily-usage.csv"));
    let out = run(&mut c);
    let report = String::from_utf8_lossy(&out.stdout);
    let ex = examples(&report);
    assert_eq!(ex.len(), 1, "{report}");
    assert!(
        ex[0].starts_with("line 4 (id acct-000001)")
            && ex[0].contains("is not a whole number of at least 0 to sum: 'lots'"),
        "{report}"
    );
    assert!(
        report.contains("logins: is not a whole number of at least 0 to sum"),
        "{report}"
    );
    // The same import for real: two weeks, the bad row left out.
    let mut c = pulse(dir);
    c.args(["import", "--no-sentiment"])
        .args(["--preset", "salesforce-accounts"])
        .arg(shipped.join("salesforce-accounts.csv"))
        .arg("--mapping")
        .arg(&mapping)
        .arg(dir.join("daily-usage.csv"));
    run(&mut c);
    assert_eq!(
        stored_usage(dir),
        [
            "acct-000001,2026-11-02,7,2,8,0",
            "acct-000001,2026-11-09,7,1,2,0"
        ]
    );
}
