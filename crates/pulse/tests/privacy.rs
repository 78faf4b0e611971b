//! Erasure and retention end to end, through the `pulse` binary and the
//! admin RPC, on an SQLite file and (when `PULSE_TEST_DATABASE_URL` is set)
//! on a PostgreSQL database of its own: after a forget no stored row and no
//! log line holds an erased value, the audit log records each step, and only
//! an admin may call `PrivacyService`.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pulse_proto::v1 as pb;
use pulse_proto::v1::privacy_service_client::PrivacyServiceClient;
use tonic::metadata::MetadataValue;

const TODAY: &str = "2026-11-23";
const ADMIN_KEY: &str = "pk_test_admin_privacy_0123456789";
const READER_KEY: &str = "pk_test_reader_privacy_0123456789";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn pulse(dir: &Path, url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pulse"));
    c.arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--database-url")
        .arg(url)
        .env_remove("PULSE_CONFIG")
        .env_remove("RUST_BACKTRACE")
        .env("PULSE_CLOCK", TODAY)
        .env("PULSE_METRICS__ENABLED", "false")
        .env("PULSE_WEB__ENABLED", "false")
        // Everything the binary logs, to look for erased values in it.
        .env("PULSE_LOG", "debug")
        // The default sentiment model is found from the checkout's root.
        .current_dir(root());
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

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn rows(path: &Path) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|x| {
            h.iter()
                .cloned()
                .zip(x.unwrap().iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The personal values of `account` that no other account shares (a
/// sentence the generator also wrote for another account is not the
/// account's to erase).
fn personal_values(base: &Path, account: &str) -> Vec<String> {
    let mut mine = HashSet::new();
    let mut others = HashSet::new();
    let mut note = |acct: &str, v: &str| {
        if v.len() >= 12 {
            if acct == account {
                mine.insert(v.to_string());
            } else {
                others.insert(v.to_string());
            }
        }
    };
    for a in rows(&base.join("accounts.csv")) {
        note(&a["id"], &a["name"]);
    }
    for c in rows(&base.join("contacts.csv")) {
        note(&c["account_id"], &c["name"]);
    }
    for i in rows(&base.join("interactions.csv")) {
        note(&i["account_id"], &i["body"]);
    }
    for s in rows(&base.join("survey_responses.csv")) {
        note(&s["account_id"], &s["comment"]);
    }
    let mut v: Vec<String> = mine.difference(&others).cloned().collect();
    v.sort();
    v
}

/// Every text value of every table of the store at `url`.
async fn stored_text(url: &str) -> String {
    const TABLES: &[&str] = &[
        "accounts",
        "contacts",
        "interactions",
        "survey_responses",
        "operational_events",
        "outreach",
        "account_scores",
        "list_rows",
        "audit_log",
    ];
    let mut out = String::new();
    macro_rules! scan {
        ($pool:expr) => {{
            use sqlx::Row;
            for t in TABLES {
                for row in sqlx::query(&format!("SELECT * FROM {t}"))
                    .fetch_all(&$pool)
                    .await
                    .unwrap()
                {
                    for i in 0..row.len() {
                        if let Ok(Some(v)) = row.try_get::<Option<String>, _>(i) {
                            out.push_str(&v);
                            out.push('\n');
                        }
                    }
                }
            }
        }};
    }
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        scan!(pool);
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        scan!(pool);
        pool.close().await;
    }
    out
}

fn authed<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let v: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
    r.metadata_mut().insert("authorization", v);
    r
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn erasure_and_retention(dir: &Path, url: &str) {
    let base = dir.join("base");
    run(pulse(dir, url)
        .args([
            "synth",
            "--accounts",
            "12",
            "--months",
            "3",
            "--seed",
            "5",
            "--end",
            "2026-11-22",
            "--out",
        ])
        .arg(&base));
    let import = run(pulse(dir, url).arg("import").arg(&base));
    let accounts = rows(&base.join("accounts.csv"));
    let (forgotten, other) = (accounts[0]["id"].clone(), accounts[1]["id"].clone());
    let erased = personal_values(&base, &forgotten);
    assert!(erased.len() >= 5, "{erased:?}");
    let before = stored_text(url).await;
    for v in &erased {
        assert!(before.contains(v.as_str()), "'{v}' was imported");
    }

    // The command line.
    let out = run(pulse(dir, url).args(["accounts", "forget", &forgotten]));
    let said = text(&out);
    assert!(said.contains("erased; rows changed: accounts=1"), "{said}");
    let after = stored_text(url).await;
    for v in &erased {
        assert!(!after.contains(v.as_str()), "'{v}' is still stored");
        assert!(!said.contains(v.as_str()), "'{v}' was logged");
        assert!(
            !text(&import).contains(v.as_str()),
            "'{v}' was logged at import"
        );
    }
    // Other accounts keep theirs.
    let kept = personal_values(&base, &other);
    assert!(kept.iter().all(|v| after.contains(v.as_str())));
    let out = pulse(dir, url)
        .args(["accounts", "forget", "no-such-account"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("account 'no-such-account' not found"),
        "{}",
        text(&out)
    );

    // Retention: text older than 30 days, all scored at import, goes.
    let out = run(pulse(dir, url).args(["privacy", "retention", "--days", "30"]));
    let said = text(&out);
    assert!(
        said.contains("text older than 30 days dropped from"),
        "{said}"
    );
    let audit = text(&run(pulse(dir, url).args(["privacy", "audit"])));
    assert!(audit.contains("text_retention"), "{audit}");
    assert!(
        audit.contains(&format!("forget_account   {forgotten}")),
        "{audit}"
    );
}

async fn the_admin_rpc(dir: &Path, url: &str) {
    let contacts = rows(&dir.join("base").join("contacts.csv"));
    let contact = contacts.last().unwrap()["id"].clone();
    let name = contacts.last().unwrap()["name"].clone();
    let port = free_port();
    let cfg = dir.join("pulse.toml");
    std::fs::write(
        &cfg,
        format!(
            "[lists]\nschedule = false\n\
             [[auth.keys]]\nname = \"root\"\nrole = \"admin\"\nsha256 = \"{}\"\n\
             [[auth.keys]]\nname = \"rey\"\nrole = \"reader\"\nsha256 = \"{}\"\n",
            pulse_app::access::hash_key(ADMIN_KEY),
            pulse_app::access::hash_key(READER_KEY)
        ),
    )
    .unwrap();
    let mut cmd = pulse(dir, url);
    cmd.arg("--config")
        .arg(&cfg)
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("PULSE_LOG", "info");
    let _server = Server(common::spawn_serving(cmd, "pulse serve"));
    let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_lazy();
    let mut privacy = PrivacyServiceClient::new(ch);
    let req = || pb::ForgetRequest {
        contact_id: contact.clone(),
        ..Default::default()
    };
    let denied = privacy.forget(authed(req(), READER_KEY)).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied);
    let bad = privacy
        .forget(authed(pb::ForgetRequest::default(), ADMIN_KEY))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().contains("account_id"), "{}", bad.message());
    let unknown = privacy
        .forget(authed(
            pb::ForgetRequest {
                contact_id: "nobody".into(),
                ..Default::default()
            },
            ADMIN_KEY,
        ))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound);
    let done = privacy
        .forget(authed(req(), ADMIN_KEY))
        .await
        .unwrap()
        .into_inner();
    assert!(done.contacts >= 1, "{done:?}");
    if name.len() >= 12
        && !contacts
            .iter()
            .any(|c| c["id"] != contact && c["name"] == name)
    {
        assert!(!stored_text(url).await.contains(name.as_str()));
    }
    let log = privacy
        .get_audit_log(authed(pb::GetAuditLogRequest { limit: 1 }, ADMIN_KEY))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(log.entries.len(), 1);
    assert_eq!(log.entries[0].action, "forget_contact");
    assert_eq!(log.entries[0].subject, contact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_and_retention_on_sqlite_and_postgres() {
    let tmp = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", tmp.path().join("pulse.db").display());
    erasure_and_retention(tmp.path(), &sqlite).await;
    the_admin_rpc(tmp.path(), &sqlite).await;

    let Some(base_url) = std::env::var("PULSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("PULSE_TEST_DATABASE_URL is not set: PostgreSQL part skipped");
        return;
    };
    let db = format!("pulse_privacy_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&base_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&admin)
        .await
        .unwrap();
    let (prefix, _) = base_url.rsplit_once('/').unwrap();
    let url = format!("{prefix}/{db}");
    let pg = tempfile::tempdir().unwrap();
    erasure_and_retention(pg.path(), &url).await;
    the_admin_rpc(pg.path(), &url).await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();
}
