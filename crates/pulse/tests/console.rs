//! Customer Central end to end: `pulse demo --no-serve` builds a small
//! base, `pulse serve` serves gRPC and the console with API keys on, and a
//! real headless Chromium (Debian's `chromium`, driven over the DevTools
//! protocol) signs in and opens every page. The DOM is checked against the
//! gRPC API: the account page shows `Score`'s churn probability, band and
//! first driver; the list shows `GetRiskList`'s first rows; an outreach
//! recorded through the form shows on the account page and as `contacted`
//! in `GetRiskList`; a reader's key cannot generate a week's lists. No page
//! may request anything from another origin or log a console error.
//!
//! Screenshots of every page go to `PULSE_SCREENSHOTS` when set (the docs'
//! pictures: `PULSE_SCREENSHOTS=docs/console cargo test --workspace --test
//! console`). Without chromium on PATH the test says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded};
use chromiumoxide::cdp::browser_protocol::network::EventRequestWillBeSent;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use pulse_proto::v1 as pb;
use pulse_proto::v1::list_service_client::ListServiceClient;
use pulse_proto::v1::scoring_service_client::ScoringServiceClient;
use tonic::metadata::MetadataValue;

const TODAY: &str = "2026-11-30";
const ANALYST_KEY: &str = "console-analyst-key-0123456789abcdef";
const READER_KEY: &str = "console-reader-key-0123456789abcdef";

struct Server(Child);

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

/// Debian's chromium on PATH, as a full path.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser"].into_iter().find_map(|b| {
        std::env::split_paths(&path)
            .map(|d| d.join(b))
            .find(|p| p.is_file())
            .filter(|p| {
                Command::new(p)
                    .arg("--version")
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
    })
}

fn pulse(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pulse"));
    c.arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("PULSE_CONFIG")
        .env("PULSE_CLOCK", TODAY)
        .env("PULSE_LOG", "info");
    c
}

fn authed<T>(msg: T, key: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    let v: MetadataValue<_> = format!("Bearer {key}").parse().unwrap();
    r.metadata_mut().insert("authorization", v);
    r
}

/// What the browser saw across every page: requests and console errors.
#[derive(Default)]
struct Seen {
    requests: Vec<String>,
    errors: Vec<String>,
}

async fn text(page: &Page, selector: &str) -> String {
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .inner_text()
        .await
        .unwrap()
        .unwrap_or_default()
        .trim()
        .to_string()
}

async fn attrs(page: &Page, selector: &str, attr: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in page.find_elements(selector).await.unwrap_or_default() {
        if let Some(v) = e.attribute(attr).await.unwrap() {
            out.push(v);
        }
    }
    out
}

async fn open(page: &Page, url: &str) {
    page.goto(url)
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    page.wait_for_navigation().await.unwrap();
}

async fn shoot(page: &Page, dir: &Option<PathBuf>, name: &str) {
    let png = page
        .screenshot(
            ScreenshotParams::builder()
                .format(CaptureScreenshotFormat::Png)
                .full_page(false)
                .build(),
        )
        .await
        .unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{name}");
    if let Some(d) = dir {
        std::fs::create_dir_all(d).unwrap();
        std::fs::write(d.join(format!("{name}.png")), &png).unwrap();
    }
}

/// Clicks `selector` and waits until the page has navigated away from the
/// address it was on (a form's POST, then its redirect) and loaded.
async fn click_and_wait(page: &Page, selector: &str) {
    let before = page.url().await.unwrap().unwrap_or_default();
    page.find_element(selector)
        .await
        .unwrap_or_else(|e| panic!("{selector}: {e}"))
        .click()
        .await
        .unwrap();
    settle(page, &before).await;
}

/// Waits until the address is no longer `before` and the document has loaded
/// (a hang guard of 60 s, not a speed check).
async fn settle(page: &Page, before: &str) {
    for _ in 0..600 {
        let now = page.url().await.unwrap().unwrap_or_default();
        let ready = page
            .evaluate("document.readyState")
            .await
            .ok()
            .and_then(|r| r.into_value::<String>().ok())
            .unwrap_or_default();
        if now != before && ready == "complete" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still on {before} after 60 s");
}

async fn sign_in(page: &Page, web: &str, key: &str, next: &str) {
    open(page, &format!("{web}{next}")).await;
    assert!(
        page.url()
            .await
            .unwrap()
            .unwrap_or_default()
            .contains("/signin"),
        "a page without a session sends the browser to sign in"
    );
    page.find_element("#key")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(key)
        .await
        .unwrap();
    let typed = page
        .evaluate("document.querySelector('#key').value.length")
        .await
        .unwrap()
        .into_value::<usize>()
        .unwrap();
    assert_eq!(typed, key.len(), "the key was typed");
    click_and_wait(page, "form.card button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_what_the_api_says_in_a_real_browser() {
    let Some(chromium) = chromium() else {
        eprintln!(
            "SKIPPED the console browser test: no chromium on PATH (apt-get install chromium)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = pulse(dir.path())
        .args(["demo", "--accounts", "200", "--months", "18", "--no-serve"])
        .env("PULSE_METRICS__ENABLED", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let (grpc_port, web_port) = (free_port(), free_port());
    let cfg = dir.path().join("pulse.toml");
    std::fs::write(
        &cfg,
        format!(
            "[metrics]\nenabled = false\n[lists]\nschedule = false\n[web]\naddr = \"127.0.0.1:{web_port}\"\n\
             [[auth.keys]]\nname = \"ana\"\nrole = \"analyst\"\nsha256 = \"{}\"\n\
             [[auth.keys]]\nname = \"rey\"\nrole = \"reader\"\nsha256 = \"{}\"\n",
            pulse_app::access::hash_key(ANALYST_KEY),
            pulse_app::access::hash_key(READER_KEY)
        ),
    )
    .unwrap();
    let mut cmd = pulse(dir.path());
    cmd.arg("--config")
        .arg(&cfg)
        .args(["serve", "--addr", &format!("127.0.0.1:{grpc_port}")])
        // From the checkout's root, the server finds the default sentiment
        // model and its card, as `pulse demo` run from the README does.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let _server = Server(common::spawn_serving(cmd, "pulse serve"));
    let web = format!("http://127.0.0.1:{web_port}");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc_port}"))
        .unwrap()
        .connect_lazy();
    let mut lists = ListServiceClient::new(channel.clone());
    let mut scoring = ScoringServiceClient::new(channel);

    // What the API says: the latest week's at-risk list, and the first
    // row's score (the population builds in the background: retry).
    let mut risk = Vec::new();
    let mut mix = String::new();
    let mut stream = lists
        .get_risk_list(authed(pb::ListRequest::default(), ANALYST_KEY))
        .await
        .unwrap()
        .into_inner();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        if let Some(r) = chunk.run.as_ref().and_then(|r| r.summary.as_ref()) {
            mix = r
                .reasons
                .as_ref()
                .map(|m| m.statement.clone())
                .unwrap_or_default();
        }
        risk.extend(chunk.rows);
    }
    assert!(risk.len() >= 5, "{} rows", risk.len());
    let first = risk[0].account_id.clone();
    let mut score = None;
    for _ in 0..120 {
        match scoring
            .score(authed(
                pb::ScoreRequest {
                    subject: Some(pb::score_request::Subject::AccountId(first.clone())),
                    ..Default::default()
                },
                ANALYST_KEY,
            ))
            .await
        {
            Ok(r) => {
                score = Some(r.into_inner());
                break;
            }
            // Models and population load in the background at start.
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::Unavailable | tonic::Code::FailedPrecondition
                ) =>
            {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(s) => panic!("{s}"),
        }
    }
    let score = score.expect("the scoring population is built");

    // The browser.
    let profile = tempfile::tempdir().unwrap();
    let (mut browser, mut handler) = Browser::launch(
        BrowserConfig::builder()
            .chrome_executable(chromium)
            .no_sandbox()
            .user_data_dir(profile.path())
            .window_size(1280, 900)
            .viewport(None)
            .arg("--disable-gpu")
            .arg("--disable-dev-shm-usage")
            .build()
            .unwrap(),
    )
    .await
    .expect("chromium starts");
    let driver = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let page = browser.new_page("about:blank").await.unwrap();
    page.execute(LogEnable::default()).await.unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    {
        let mut requests = page
            .event_listener::<EventRequestWillBeSent>()
            .await
            .unwrap();
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = requests.next().await {
                s.lock().unwrap().requests.push(e.request.url.clone());
            }
        });
        let mut console = page
            .event_listener::<EventConsoleApiCalled>()
            .await
            .unwrap();
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = console.next().await {
                if format!("{:?}", e.r#type).to_lowercase().contains("error") {
                    s.lock()
                        .unwrap()
                        .errors
                        .push(format!("console: {:?}", e.args));
                }
            }
        });
        let mut thrown = page.event_listener::<EventExceptionThrown>().await.unwrap();
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = thrown.next().await {
                s.lock()
                    .unwrap()
                    .errors
                    .push(format!("exception: {}", e.exception_details.text));
            }
        });
        let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
        let s = seen.clone();
        tokio::spawn(async move {
            while let Some(e) = log.next().await {
                if format!("{:?}", e.entry.level)
                    .to_lowercase()
                    .contains("error")
                {
                    s.lock()
                        .unwrap()
                        .errors
                        .push(format!("log: {} ({:?})", e.entry.text, e.entry.url));
                }
            }
        });
    }
    // A relative directory is the workspace's (tests run in the crate's).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let shots = std::env::var_os("PULSE_SCREENSHOTS").map(|d| root.join(d));

    // Sign in as the analyst, landing on this week's list.
    sign_in(&page, &web, ANALYST_KEY, "/lists").await;
    let url = page.url().await.unwrap().unwrap_or_default();
    assert!(
        url.ends_with("/lists"),
        "{url}: {}",
        text(&page, "body").await
    );
    let shown = attrs(&page, "#risk-list tbody tr", "data-account").await;
    // The list says what its slices are about, as GetRiskList does.
    assert!(!mix.is_empty());
    assert_eq!(
        text(&page, "#reason-mix").await,
        format!("Reasons in the slices: {mix}")
    );
    let api: Vec<String> = risk.iter().take(10).map(|r| r.account_id.clone()).collect();
    assert_eq!(
        &shown[..10],
        &api[..],
        "the list's first rows are GetRiskList's"
    );
    shoot(&page, &shots, "lists").await;

    // A filtered view (cut in memory from the week's rows) shows what
    // GetRiskList's filter (a query) returns.
    let (segment, band) = (risk[0].segment.clone(), risk[0].band.clone());
    let mut filtered = Vec::new();
    let mut stream = lists
        .get_risk_list(authed(
            pb::ListRequest {
                segment: segment.clone(),
                band: band.clone(),
                ..Default::default()
            },
            ANALYST_KEY,
        ))
        .await
        .unwrap()
        .into_inner();
    while let Some(chunk) = stream.next().await {
        filtered.extend(chunk.unwrap().rows.into_iter().map(|r| r.account_id));
    }
    open(
        &page,
        &format!("{web}/lists?segment={segment}&band={band}&owner="),
    )
    .await;
    let shown = attrs(&page, "#risk-list tbody tr", "data-account").await;
    let n = shown.len().min(filtered.len());
    assert!(n > 0, "{segment} {band}");
    assert_eq!(&shown[..n], &filtered[..n], "{segment} {band}");

    // The account page agrees with Score.
    open(&page, &format!("{web}/accounts/{first}")).await;
    assert_eq!(
        text(&page, "#churn-probability").await,
        format!("{:.1}%", score.churn_probability * 100.0)
    );
    assert_eq!(text(&page, "#band").await, score.band);
    let first_driver = text(&page, "#drivers li .driver").await;
    assert_eq!(first_driver, score.drivers[0].sentence);
    // The when, apart from the why: Score's urgency, and its play.
    let urgency = score.urgency.as_ref().expect("Score's urgency");
    let when = text(&page, "#when").await;
    assert!(when.starts_with(&urgency.text), "{when} / {}", urgency.text);
    assert_eq!(text(&page, "#play").await, score.suggested_play);
    shoot(&page, &shots, "account").await;

    // Record an outreach through the form.
    let note = "Console test: called the sponsor about the renewal";
    page.find_element("#f-note")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(note)
        .await
        .unwrap();
    click_and_wait(&page, "#outreach-form button[type=submit]").await;
    assert!(
        text(&page, "#recorded")
            .await
            .starts_with("Recorded outreach")
    );
    assert!(text(&page, "#outreach-table").await.contains(note));
    let mut stream = lists
        .get_risk_list(authed(pb::ListRequest::default(), ANALYST_KEY))
        .await
        .unwrap()
        .into_inner();
    let mut after = Vec::new();
    while let Some(chunk) = stream.next().await {
        after.extend(chunk.unwrap().rows);
    }
    let row = after.iter().find(|r| r.account_id == first).unwrap();
    let contacted = row.contacted.as_ref().expect("contacted in GetRiskList");
    assert_eq!(
        contacted.owner, "ana",
        "recorded by the signed-in key's name"
    );

    // Every other page opens, and says what it is about.
    open(
        &page,
        &format!("{web}/owners/{}", risk[0].owner.replace(' ', "%20")),
    )
    .await;
    assert!(text(&page, "h1").await.contains(&risk[0].owner));
    shoot(&page, &shots, "owner").await;
    open(&page, &format!("{web}/leadership")).await;
    let forecast = text(&page, "#forecast").await;
    assert!(
        forecast.contains("mid_market") && forecast.contains('%'),
        "{forecast}"
    );
    shoot(&page, &shots, "leadership").await;
    open(&page, &format!("{web}/models")).await;
    assert!(text(&page, "h1").await.contains("Models"));
    assert!(!page.find_elements("svg").await.unwrap().is_empty());
    // Every model in service has its card: churn and expansion with their
    // own charts, the time-to-churn model's calibration per horizon, and the
    // default sentiment model's held-out figures from the card beside it.
    for id in ["#chart-churn-calibration", "#chart-churn-roc"] {
        assert_eq!(page.find_elements(id).await.unwrap().len(), 1, "{id}");
    }
    let chosen = text(&page, "#selection-churn").await;
    assert!(
        chosen.starts_with("Served: ") && chosen.contains("PR-AUC"),
        "{chosen}"
    );
    let horizons = page
        .find_elements("#survival-calibration tbody tr")
        .await
        .unwrap()
        .len();
    assert!(horizons >= 1, "time-to-churn calibration rows");
    assert_eq!(
        page.find_elements("#survival svg").await.unwrap().len(),
        horizons,
        "one reliability chart per horizon"
    );
    let held_out = text(&page, "#sentiment-held-out").await;
    assert!(
        held_out.contains("macro-F1 0.") && held_out.contains("(20.0% of every label"),
        "{held_out}"
    );
    assert_eq!(
        page.find_elements("#sentiment-classes tbody tr")
            .await
            .unwrap()
            .len(),
        3
    );
    shoot(&page, &shots, "models").await;
    open(
        &page,
        &format!("{web}/search?q={}", &first[..first.len() - 1]),
    )
    .await;
    assert!(text(&page, "h1").await.contains("Find"));
    assert!(
        page.find_elements("#search-results tbody tr")
            .await
            .unwrap()
            .len()
            > 1,
        "a partial id lists several accounts"
    );
    open(&page, &format!("{web}/search?q={first}")).await;
    assert_eq!(
        text(&page, "#account-id").await,
        first,
        "an exact id opens the account"
    );

    // Sign out; a reader may read, but not generate a week's lists.
    open(&page, &format!("{web}/lists")).await;
    click_and_wait(&page, ".who form button").await;
    sign_in(&page, &web, READER_KEY, "/lists").await;
    assert!(text(&page, ".who").await.contains("rey"));
    assert!(
        page.find_elements("form[action='/lists/generate']")
            .await
            .unwrap()
            .is_empty(),
        "a reader is not offered the generate form"
    );
    // Post it anyway, with the page's own CSRF token: refused.
    let before = page.url().await.unwrap().unwrap_or_default();
    page.evaluate(
        "(() => { const f = document.createElement('form'); f.method = 'post'; \
         f.action = '/lists/generate'; const t = document.querySelector('input[name=csrf]'); \
         const c = document.createElement('input'); c.name = 'csrf'; c.value = t.value; \
         f.appendChild(c); document.body.appendChild(f); f.submit(); })()",
    )
    .await
    .unwrap();
    settle(&page, &before).await;
    assert!(
        text(&page, "#error-message").await.contains("analyst"),
        "{}",
        text(&page, "body").await
    );
    let refused = page
        .evaluate("document.title")
        .await
        .unwrap()
        .into_value::<String>()
        .unwrap();
    assert!(refused.contains("Forbidden"), "{refused}");

    browser.close().await.unwrap();
    let _ = browser.wait().await;
    driver.abort();

    let seen = seen.lock().unwrap();
    let foreign: Vec<&String> = seen
        .requests
        .iter()
        .filter(|u| !u.starts_with(&web) && !u.starts_with("data:") && *u != "about:blank")
        .collect();
    assert!(foreign.is_empty(), "requests to other origins: {foreign:?}");
    assert!(seen.requests.len() > 10, "{:?}", seen.requests);
    // The one error a page may log is the refusal this test provoked.
    let errors: Vec<&String> = seen
        .errors
        .iter()
        .filter(|e| !(e.contains("403") && e.contains("/lists/generate")))
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
