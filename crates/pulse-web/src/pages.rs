//! The console's handlers: read the request, call the application layer,
//! fill a template. Errors become an error page with the status the gRPC
//! code maps to and the application's message (which names the field).

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use pulse_app::AppError;
use pulse_app::access::{Access, Caller, Role, required_access};
use pulse_app::accounts::{self, ScoreSource};
use pulse_app::lists::{self as applists, OutreachInput, RowFilter};
use pulse_core::time::format_ts;
use pulse_models::ModelKind;
use pulse_report::chart;
use serde::Deserialize;

use crate::Shared;
use crate::session::{CSRF_COOKIE, SESSION_COOKIE, cookie, nonce, set_cookie};
use crate::view::{day, days_from_now, money, opt_pct, pct, pts, query_value, ts_day};
use pulse_app::cache::ResultCache;

const STYLESHEET: &str = include_str!("../static/console.css");
const FAVICON: &str = include_str!("../static/favicon.svg");
/// Rows a list page shows unless asked for more.
const DEFAULT_ROWS: usize = 100;
/// Most rows a list page or its CSV may hold.
const MAX_ROWS: usize = 10_000;

// ---------------------------------------------------------------- context

/// Who is asking, and the CSRF token their forms carry.
pub(crate) struct Ctx {
    caller: Option<Caller>,
    /// Access control is off (no keys configured).
    open: bool,
    csrf: String,
    /// A new CSRF nonce to set as a cookie with the response.
    new_nonce: Option<String>,
}

/// What every page's frame shows.
pub(crate) struct Nav {
    pub(crate) who: String,
    pub(crate) role: String,
    pub(crate) signed_in: bool,
    pub(crate) csrf: String,
    pub(crate) today: String,
}

impl Ctx {
    fn nav(&self, sh: &Shared) -> Nav {
        Nav {
            who: self
                .caller
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            role: self.caller.as_ref().map_or_else(
                || {
                    if self.open {
                        "open (no keys configured)".into()
                    } else {
                        "not signed in".into()
                    }
                },
                |c| c.role.to_string(),
            ),
            signed_in: self.caller.is_some(),
            csrf: self.csrf.clone(),
            today: day(sh.s.scoring.clock().today()),
        }
    }

    /// Whether the caller may do what the RPC at `path` does, by the gRPC
    /// access table.
    fn may(&self, path: &str) -> bool {
        match required_access(path) {
            Access::Open => true,
            Access::Role(need) => pulse_app::access::allows(self.caller.as_ref(), need),
        }
    }
}

fn now(sh: &Shared) -> i64 {
    sh.s.scoring.clock().now()
}

/// The request's context, or the response to send instead (the sign-in
/// page for a page request without a valid session).
fn context(sh: &Shared, headers: &HeaderMap, path: &str) -> Result<Ctx, Box<Response>> {
    let mut ctx = anonymous_ctx(sh, headers);
    if ctx.open {
        return Ok(ctx);
    }
    ctx.caller = cookie(headers, SESSION_COOKIE)
        .and_then(|v| sh.s.signer.verify_session(v, now(sh), &sh.s.api_keys));
    if ctx.caller.is_none() {
        return Err(Box::new(
            Redirect::to(&format!("/signin?next={}", query_value(path))).into_response(),
        ));
    }
    Ok(ctx)
}

/// Checks a form's CSRF token against the nonce cookie.
fn check_csrf(sh: &Shared, headers: &HeaderMap, token: &str) -> Result<(), Box<Response>> {
    let nonce = cookie(headers, CSRF_COOKIE).unwrap_or("");
    if sh.s.signer.csrf_ok(nonce, token) {
        Ok(())
    } else {
        Err(Box::new(plain(
            StatusCode::FORBIDDEN,
            "the form's CSRF token does not match this browser's session: reload the page and submit again",
        )))
    }
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.to_string(),
    )
        .into_response()
}

fn with_nonce(ctx: &Ctx, mut r: Response) -> Response {
    if let Some(n) = &ctx.new_nonce {
        let c = set_cookie(CSRF_COOKIE, n, std::time::Duration::from_secs(30 * 86_400));
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn render(ctx: &Ctx, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => with_nonce(
            ctx,
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "rendering a console page");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// The HTTP status of an application error (the gRPC code's counterpart).
fn status_of(e: &AppError) -> StatusCode {
    match e {
        AppError::NotFound { .. } => StatusCode::NOT_FOUND,
        AppError::Invalid(_) => StatusCode::BAD_REQUEST,
        AppError::NoModel { .. } | AppError::FailedPrecondition(_) => StatusCode::CONFLICT,
        AppError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        AppError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
        AppError::PermissionDenied(_) => StatusCode::FORBIDDEN,
        AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    nav: Nav,
    title: String,
    status: u16,
    message: String,
}

fn error_page(sh: &Shared, ctx: &Ctx, e: AppError) -> Response {
    let status = status_of(&e);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = ?e, "console request failed");
    }
    let page = ErrorPage {
        nav: ctx.nav(sh),
        title: status.canonical_reason().unwrap_or("Error").to_string(),
        status: status.as_u16(),
        message: e.to_string(),
    };
    let mut r = render(ctx, &page);
    *r.status_mut() = status;
    r
}

/// Security headers on every response: no framing by other sites, no
/// sniffing, no referrer, nothing cached, and a content security policy
/// that allows this server's own files only (no inline script at all).
pub(crate) async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'none'; \
                 frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'",
            ),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

// ---------------------------------------------------------------- basics

pub(crate) async fn home() -> Redirect {
    Redirect::to("/lists")
}

pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        STYLESHEET,
    )
        .into_response()
}

pub(crate) async fn favicon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        FAVICON,
    )
        .into_response()
}

pub(crate) async fn not_found(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let ctx = match context(&sh, &headers, "/") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    error_page(
        &sh,
        &ctx,
        AppError::NotFound {
            what: "page",
            id: "this address".into(),
        },
    )
}

// ---------------------------------------------------------------- sign-in

#[derive(Template)]
#[template(path = "signin.html")]
struct SigninPage {
    nav: Nav,
    next: String,
    error: String,
}

#[derive(Deserialize)]
pub(crate) struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of this site: `/x`, never `//host` or `/\host`.
fn local_path(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\") {
        next.to_string()
    } else {
        "/lists".into()
    }
}

fn anonymous_ctx(sh: &Shared, headers: &HeaderMap) -> Ctx {
    let (nonce_value, new_nonce) = match cookie(headers, CSRF_COOKIE) {
        Some(n) if n.len() == 32 && n.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (n.to_string(), None)
        }
        _ => {
            let n = nonce();
            (n.clone(), Some(n))
        }
    };
    Ctx {
        caller: None,
        open: sh.s.api_keys.is_empty(),
        csrf: sh.s.signer.csrf_token(&nonce_value),
        new_nonce,
    }
}

pub(crate) async fn signin_form(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let ctx = anonymous_ctx(&sh, &headers);
    if ctx.open {
        return Redirect::to(&local_path(&q.next)).into_response();
    }
    render(
        &ctx,
        &SigninPage {
            nav: ctx.nav(&sh),
            next: local_path(&q.next),
            error: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct SigninForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn signin(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<SigninForm>,
) -> Response {
    if let Err(r) = check_csrf(&sh, &headers, &f.csrf) {
        return *r;
    }
    let ctx = anonymous_ctx(&sh, &headers);
    let Some(key) = sh.s.api_keys.verify(f.key.trim()) else {
        // The key itself is never logged, nor echoed.
        tracing::info!("console sign-in refused: unknown key");
        let mut r = render(
            &ctx,
            &SigninPage {
                nav: ctx.nav(&sh),
                next: local_path(&f.next),
                error: "That key is not valid.".into(),
            },
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let caller = Caller {
        name: key.name.clone(),
        role: key.role,
    };
    tracing::info!(caller = %caller.name, role = %caller.role, "console sign-in");
    let value = sh.s.signer.session(&caller, now(&sh));
    let mut r = Redirect::to(&local_path(&f.next)).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, &value, sh.s.signer.ttl())) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn signout(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = check_csrf(&sh, &headers, &f.csrf) {
        return *r;
    }
    let mut r = Redirect::to("/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", std::time::Duration::ZERO))
    {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ---------------------------------------------------------------- search

#[derive(Deserialize)]
pub(crate) struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub(crate) struct AccountHit {
    id: String,
    id_q: String,
    name: String,
    owner: String,
    segment: String,
    arr: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    nav: Nav,
    q: String,
    hits: Vec<AccountHit>,
}

/// Most accounts a search lists.
const MAX_HITS: u32 = 50;

pub(crate) async fn search(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Response {
    let ctx = match context(&sh, &headers, "/search") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let text = q.q.trim();
    if text.is_empty() {
        return render(
            &ctx,
            &SearchPage {
                nav: ctx.nav(&sh),
                q: String::new(),
                hits: Vec::new(),
            },
        );
    }
    if text.chars().count() > 200 {
        return error_page(
            &sh,
            &ctx,
            pulse_core::FieldError::new("q", "is longer than 200 characters").into(),
        );
    }
    let found = match sh.s.store.search_accounts(text, MAX_HITS).await {
        Ok(f) => f,
        Err(e) => return error_page(&sh, &ctx, e.into()),
    };
    // One exact id, or a single match: straight to the account.
    if let Some(a) = found.first()
        && (a.id.eq_ignore_ascii_case(text) || found.len() == 1)
    {
        return Redirect::to(&format!("/accounts/{}", query_value(&a.id))).into_response();
    }
    let hits = found
        .into_iter()
        .map(|a| AccountHit {
            arr: money(&sh.s.currency, 12.0 * a.mrr),
            id_q: query_value(&a.id),
            id: a.id,
            name: a.name,
            owner: a.owner,
            segment: a.segment.to_string(),
        })
        .collect();
    render(
        &ctx,
        &SearchPage {
            nav: ctx.nav(&sh),
            q: text.to_string(),
            hits,
        },
    )
}

// ---------------------------------------------------------------- account

pub(crate) struct DriverView {
    sentence: String,
    comparison: String,
    contribution: String,
    cause: String,
}

pub(crate) struct InteractionRow {
    opened: String,
    channel: String,
    topic: String,
    subject: String,
    sentiment: String,
    sentiment_class: String,
    escalated: bool,
    resolved: String,
}

pub(crate) struct GridCell {
    people: Vec<String>,
}

pub(crate) struct GridRow {
    persona: String,
    cells: Vec<GridCell>,
}

pub(crate) struct PersonRow {
    name: String,
    persona: String,
    strength: i64,
    sentiment: String,
    latest: String,
    active: bool,
}

pub(crate) struct OutreachRow {
    day: String,
    play: String,
    owner: String,
    channel: String,
    outcome: String,
    note: String,
}

pub(crate) struct CurveView {
    d30: String,
    d90: String,
    d180: String,
    d365: String,
    before_renewal: String,
    model: String,
}

pub(crate) struct ScoreView {
    health: String,
    band: String,
    churn: String,
    horizon_days: u32,
    expansion: String,
    quadrant: String,
    outcome: String,
    experience: String,
    arr_at_risk: String,
    source: String,
    models: String,
    play: String,
    /// The urgency, apart from the reasons.
    when: String,
    drivers: Vec<DriverView>,
    curve: Option<CurveView>,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    nav: Nav,
    id: String,
    id_q: String,
    name: String,
    owner: String,
    owner_q: String,
    segment: String,
    plan: String,
    arr: String,
    renewal: String,
    score: Option<ScoreView>,
    trend_chart: String,
    change_summary: String,
    recent: Vec<InteractionRow>,
    open_issues: Vec<InteractionRow>,
    grid_columns: Vec<String>,
    grid: Vec<GridRow>,
    people: Vec<PersonRow>,
    negative_sponsor: bool,
    outreach: Vec<OutreachRow>,
    may_record: bool,
    show_who: bool,
    channels: Vec<String>,
    outcomes: Vec<String>,
    recorded: String,
}

fn interaction_row(i: &pulse_store::InteractionView) -> InteractionRow {
    let sentiment = i.sentiment_label.map(|s| s.to_string()).unwrap_or_default();
    InteractionRow {
        opened: ts_day(i.opened_at),
        channel: i.channel.to_string(),
        topic: i.topic.clone(),
        subject: i.subject.clone(),
        sentiment_class: format!(
            "s-{}",
            if sentiment.is_empty() {
                "none"
            } else {
                &sentiment
            }
        ),
        sentiment: match (i.sentiment_label, i.sentiment_score) {
            (Some(l), Some(s)) => format!("{l} ({s:+.2})"),
            (Some(l), None) => l.to_string(),
            _ => "not scored".into(),
        },
        escalated: i.escalated,
        resolved: i.resolved_at.map_or_else(|| "open".into(), ts_day),
    }
}

/// The urgency in one sentence: the renewal, the probability before it,
/// and what timing and context add to the churn score.
fn when_text(u: &pulse_scoring::Urgency) -> String {
    let mut parts = Vec::new();
    if !u.text.is_empty() {
        parts.push(u.text.clone());
    }
    if let Some(p) = u.churn_before_renewal {
        parts.push(format!("{} chance of churning before the renewal", pct(p)));
    }
    parts.push(format!(
        "timing and context add {:+.2} to the log-odds",
        u.context_contribution
    ));
    parts.join("; ")
}

fn score_view(sh: &Shared, a: &accounts::ScoreAnswer) -> ScoreView {
    let s = &a.score;
    ScoreView {
        health: format!("{:.0}", s.health),
        band: s.band.as_str().to_string(),
        churn: pct(s.churn_probability),
        horizon_days: s.horizon_days,
        expansion: opt_pct(s.expansion_probability),
        quadrant: s.quadrant.as_str().replace('_', " "),
        outcome: s
            .outcome
            .map_or_else(|| "n/a".into(), |v| format!("{v:.0}")),
        experience: s
            .experience
            .map_or_else(|| "n/a".into(), |v| format!("{v:.0}")),
        arr_at_risk: money(&sh.s.currency, s.arr_at_risk),
        source: match a.source {
            ScoreSource::Live => format!("live, features as of {}", day(s.as_of)),
            ScoreSource::Stored => format!("stored run {} as of {}", a.run_id, day(s.as_of)),
        },
        models: format!(
            "churn {}{}",
            s.churn_version,
            s.expansion_version
                .as_deref()
                .map(|v| format!(", expansion {v}"))
                .unwrap_or_default()
        ),
        play: s.suggested_play.clone(),
        when: when_text(&s.urgency),
        drivers: s
            .reasons()
            .map(|d| DriverView {
                sentence: d.sentence.clone(),
                // The sentence usually states its comparison already.
                comparison: d
                    .comparison
                    .as_ref()
                    .map(|c| c.text.clone())
                    .filter(|t| !d.sentence.contains(t.as_str()))
                    .unwrap_or_default(),
                contribution: format!("{:+.2}", d.contribution),
                cause: d.cause.label().to_string(),
            })
            .collect(),
        curve: a.curve.as_ref().map(|(c, v)| CurveView {
            d30: pct(c.within_30d),
            d90: pct(c.within_90d),
            d180: pct(c.within_180d),
            d365: pct(c.within_365d),
            before_renewal: c.before_renewal.map_or_else(|| "n/a".into(), pct),
            model: v.clone(),
        }),
    }
}

#[derive(Deserialize)]
pub(crate) struct AccountQuery {
    #[serde(default)]
    recorded: String,
}

/// Personas of the relationship grid, in its row order.
const PERSONAS: [pulse_core::Persona; 5] = [
    pulse_core::Persona::ExecutiveSponsor,
    pulse_core::Persona::Champion,
    pulse_core::Persona::Admin,
    pulse_core::Persona::Billing,
    pulse_core::Persona::EndUser,
];
/// What an outreach may have come to.
const OUTCOMES: [&str; 6] = [
    "pending",
    "reached",
    "no_answer",
    "saved",
    "churned_anyway",
    "expanded",
];
const SENTIMENTS: [pulse_core::Sentiment; 3] = [
    pulse_core::Sentiment::Positive,
    pulse_core::Sentiment::Neutral,
    pulse_core::Sentiment::Negative,
];

pub(crate) async fn account(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<AccountQuery>,
) -> Response {
    let path = format!("/accounts/{}", query_value(&id));
    let ctx = match context(&sh, &headers, &path) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let p = match accounts::profile(&sh.s.scoring, &sh.s.store, &id, 10).await {
        Ok(p) => p,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let outreach = match sh.s.store.account_outreach(&p.account.id, 20).await {
        Ok(o) => o,
        Err(e) => return error_page(&sh, &ctx, e.into()),
    };
    let cur = &sh.s.currency;
    let points: Vec<(String, f64)> = p
        .trend
        .iter()
        .map(|t| (day(t.run.as_of), t.stored.health))
        .collect();
    let trend_chart = chart::line_chart(
        "chart-account-health",
        "Health score, weekly scoring runs (0-100)",
        &points,
        (0.0, 100.0),
        " points",
        &format!(
            "Health over the last {} weeks of stored scoring runs.",
            accounts::TREND_WEEKS
        ),
    );
    let mut grid: Vec<GridRow> = PERSONAS
        .iter()
        .map(|persona| GridRow {
            persona: persona.to_string().replace('_', " "),
            cells: SENTIMENTS
                .iter()
                .map(|_| GridCell { people: Vec::new() })
                .collect(),
        })
        .collect();
    for r in &p.people {
        let c = &r.contact;
        if !c.active {
            continue;
        }
        let sentiment = r
            .latest_interaction
            .as_ref()
            .map_or(c.sentiment, |i| i.label);
        if let (Some(row), Some(col)) = (
            PERSONAS.iter().position(|x| *x == c.persona),
            SENTIMENTS.iter().position(|x| *x == sentiment),
        ) {
            grid[row].cells[col]
                .people
                .push(format!("{} (strength {})", c.name, c.relationship_strength));
        }
    }
    let people = p
        .people
        .iter()
        .map(|r| PersonRow {
            name: r.contact.name.clone(),
            persona: r.contact.persona.to_string().replace('_', " "),
            strength: r.contact.relationship_strength,
            sentiment: r.contact.sentiment.to_string(),
            latest: r.latest_interaction.as_ref().map_or_else(
                || "no scored interaction".into(),
                |i| format!("{} ({:+.2}) on {}", i.label, i.score, ts_day(i.opened_at)),
            ),
            active: r.contact.active,
        })
        .collect();
    let a = &p.account;
    let page = AccountPage {
        nav: ctx.nav(&sh),
        id: a.id.clone(),
        id_q: query_value(&a.id),
        name: a.name.clone(),
        owner: a.owner.clone(),
        owner_q: query_value(&a.owner),
        segment: a.segment.to_string(),
        plan: a.plan.clone(),
        arr: money(cur, p.arr),
        renewal: match (a.renewal_date, p.days_to_renewal) {
            (Some(d), Some(n)) => format!("{} ({})", day(d), days_from_now(n)),
            _ => "no renewal date recorded".into(),
        },
        score: p.score.as_ref().map(|s| score_view(&sh, s)),
        trend_chart,
        change_summary: p.change_summary.clone(),
        recent: p.recent_interactions.iter().map(interaction_row).collect(),
        open_issues: p.open_issues.iter().map(interaction_row).collect(),
        grid_columns: SENTIMENTS.iter().map(|s| s.to_string()).collect(),
        grid,
        people,
        negative_sponsor: p.negative_executive_sponsor,
        outreach: outreach
            .iter()
            .map(|o| OutreachRow {
                day: format_ts(o.contacted_at),
                play: o.play.clone(),
                owner: o.owner.clone(),
                channel: o.channel.clone(),
                outcome: o.outcome.to_string(),
                note: o.note.clone(),
            })
            .collect(),
        may_record: ctx.may("/pulse.v1.ListService/RecordOutreach"),
        show_who: ctx.caller.as_ref().is_none_or(|c| c.role >= Role::Analyst),
        channels: applists::CHANNELS.iter().map(|c| c.to_string()).collect(),
        outcomes: OUTCOMES.iter().map(|o| o.to_string()).collect(),
        recorded: q.recorded,
    };
    render(&ctx, &page)
}

#[derive(Deserialize)]
pub(crate) struct OutreachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    play: String,
    #[serde(default)]
    who: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

pub(crate) async fn record_outreach(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<OutreachForm>,
) -> Response {
    let path = format!("/accounts/{}", query_value(&id));
    let ctx = match context(&sh, &headers, &path) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Err(r) = check_csrf(&sh, &headers, &f.csrf) {
        return *r;
    }
    if !ctx.may("/pulse.v1.ListService/RecordOutreach") {
        return error_page(
            &sh,
            &ctx,
            AppError::PermissionDenied("your key's role may not record outreach".into()),
        );
    }
    let input = OutreachInput {
        id: String::new(),
        account_id: id.clone(),
        play: f.play,
        who: f.who,
        contacted_at: String::new(),
        channel: f.channel,
        outcome: f.outcome,
        note: f.note,
    };
    match applists::record_outreach(&sh.s.store, ctx.caller.as_ref(), input, now(&sh)).await {
        Ok((rid, _)) => {
            Redirect::to(&format!("{path}?recorded={}#outreach", query_value(&rid))).into_response()
        }
        Err(e) => error_page(&sh, &ctx, e),
    }
}

// ---------------------------------------------------------------- lists

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    #[serde(default)]
    week: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    segment: String,
    #[serde(default)]
    band: String,
    #[serde(default)]
    top: Option<usize>,
    #[serde(default)]
    format: String,
}

pub(crate) struct RiskView {
    rank: u32,
    id: String,
    id_q: String,
    name: String,
    owner: String,
    owner_q: String,
    segment: String,
    band: String,
    health: String,
    churn: String,
    arr: String,
    arr_at_risk: String,
    why: String,
    play: String,
    renewal: String,
    contacted: String,
    in_slice: bool,
}

pub(crate) struct MoverView {
    id: String,
    id_q: String,
    name: String,
    owner: String,
    band: String,
    change: String,
    why: String,
}

pub(crate) struct ExpansionView {
    rank: u32,
    id: String,
    id_q: String,
    name: String,
    owner: String,
    probability: String,
    expected: String,
    next_plan: String,
    signals: String,
}

pub(crate) struct SliceView {
    owner: String,
    owner_q: String,
    in_slice: usize,
    contacted: usize,
    capacity: usize,
}

#[derive(Template)]
#[template(path = "lists.html")]
struct ListsPage {
    nav: Nav,
    week: String,
    weeks: Vec<String>,
    owner: String,
    segment: String,
    band: String,
    as_of: String,
    generated: String,
    models: String,
    total_rows: usize,
    rows: Vec<RiskView>,
    slices: Vec<SliceView>,
    /// What the owners' slices are about (plays and causes), and whether
    /// one reason dominates.
    reasons: String,
    concentrated: bool,
    risers: Vec<MoverView>,
    newly_red: Vec<MoverView>,
    expansion: Vec<ExpansionView>,
    csv_href: String,
    may_generate: bool,
    this_week: String,
}

fn mover_view(m: &pulse_lists::MoverRow) -> MoverView {
    MoverView {
        id: m.account_id.clone(),
        id_q: query_value(&m.account_id),
        name: m.name.clone(),
        owner: m.owner.clone(),
        band: m.band.clone(),
        change: format!(
            "{} to {} ({})",
            pct(m.previous_churn_probability),
            pct(m.churn_probability),
            pts(m.health_change)
        ),
        why: m.drivers.first().cloned().unwrap_or_default(),
    }
}

fn csv_field(s: &str) -> String {
    // Cells a spreadsheet would run as a formula are prefixed with a quote.
    // (A negative number stays a number.)
    let formula = s.starts_with(['=', '+', '@'])
        || (s.starts_with('-') && !s[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.'));
    let s = if formula {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// What the lists page reads for a week and a filter.
pub(crate) struct ListsData {
    all: Vec<pulse_lists::RiskRow>,
    risers: Vec<pulse_lists::MoverRow>,
    newly_red: Vec<pulse_lists::MoverRow>,
    expansion: Vec<pulse_lists::ExpansionRow>,
    /// Every generated week, newest first (the week picker).
    weeks: Vec<String>,
}

/// A week's lists for a filter, from the cache while nothing was written
/// (recording an outreach is a write). A filtered view is cut in memory
/// from the whole week's rows (themselves read once and cached, and
/// precomputed by `pulse serve` for this week), with the store's own
/// test ([`RowFilter::matches`]), so a filter nobody asked for yet costs no
/// query.
async fn lists_data(
    sh: &Shared,
    stored: &applists::StoredLists,
    filter: &RowFilter,
) -> Result<Arc<ListsData>, AppError> {
    let all = week_data(sh, stored).await?;
    if filter.is_empty() {
        return Ok(all);
    }
    Ok(Arc::new(ListsData {
        all: all
            .all
            .iter()
            .filter(|r| filter.matches(&r.owner, &r.segment, &r.band))
            .cloned()
            .collect(),
        risers: all
            .risers
            .iter()
            .filter(|r| filter.matches(&r.owner, &r.segment, &r.band))
            .cloned()
            .collect(),
        newly_red: all
            .newly_red
            .iter()
            .filter(|r| filter.matches(&r.owner, &r.segment, &r.band))
            .cloned()
            .collect(),
        expansion: all
            .expansion
            .iter()
            .filter(|r| filter.matches(&r.owner, &r.segment, applists::EXPANSION_BAND))
            .cloned()
            .collect(),
        weeks: all.weeks.clone(),
    }))
}

/// A week's whole lists (no filter), cached.
async fn week_data(
    sh: &Shared,
    stored: &applists::StoredLists,
) -> Result<Arc<ListsData>, AppError> {
    let key = pulse_app::cache::analyst_key(
        &sh.s.store,
        &sh.s.scoring,
        "web-lists",
        &format!("{}|{}", stored.run.list_run_id, stored.run.generation),
    );
    if let Some(hit) = sh.lists.get(&key) {
        return Ok(hit);
    }
    let filter = RowFilter::new("", "", "", 0)?;
    let all = applists::risk_rows(&sh.s.store, stored, &filter, false).await?;
    let (risers, newly_red) = applists::mover_rows(&sh.s.store, stored, &filter).await?;
    let expansion = applists::expansion_rows(&sh.s.store, stored, &filter).await?;
    let weeks =
        sh.s.store
            .list_runs(104)
            .await?
            .into_iter()
            .map(|r| r.week)
            .collect();
    let data = Arc::new(ListsData {
        all,
        risers,
        newly_red,
        expansion,
        weeks,
    });
    sh.lists.put(key, data.clone());
    Ok(data)
}

pub(crate) async fn lists(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let ctx = match context(&sh, &headers, "/lists") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let top = q.top.unwrap_or(DEFAULT_ROWS).min(MAX_ROWS);
    let filter = match RowFilter::new(&q.owner, &q.segment, &q.band, 0) {
        Ok(f) => f,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let stored = match applists::load(&sh.s.store, "week", &q.week).await {
        Ok(l) => l,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let data = match lists_data(&sh, &stored, &filter).await {
        Ok(d) => d,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let all = &data.all;
    let cur = &sh.s.currency;
    if q.format == "csv" {
        let mut out = pulse_lists::RISK_CSV_HEADER.join(",");
        out.push('\n');
        for r in all.iter().take(top) {
            let line: Vec<String> = pulse_lists::risk_csv_record(&stored.run.week, r)
                .iter()
                .map(|c| csv_field(c))
                .collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
        let name = format!("pulse-at-risk-{}.csv", stored.run.week);
        return with_nonce(
            &ctx,
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"{name}\""),
                    ),
                ],
                out,
            )
                .into_response(),
        );
    }
    let capacity = stored.params.config.capacity_per_owner;
    let mut slices: BTreeMap<String, SliceView> = BTreeMap::new();
    for r in all.iter() {
        let s = slices.entry(r.owner.clone()).or_insert_with(|| SliceView {
            owner: r.owner.clone(),
            owner_q: query_value(&r.owner),
            in_slice: 0,
            contacted: 0,
            capacity,
        });
        if r.in_capacity {
            s.in_slice += 1;
            if r.contacted.is_some() {
                s.contacted += 1;
            }
        }
    }
    let rows = all
        .iter()
        .take(top)
        .map(|r| RiskView {
            rank: r.rank,
            id: r.account_id.clone(),
            id_q: query_value(&r.account_id),
            name: r.name.clone(),
            owner: r.owner.clone(),
            owner_q: query_value(&r.owner),
            segment: r.segment.clone(),
            band: r.band.clone(),
            health: format!("{:.0}", r.health),
            churn: pct(r.churn_probability),
            arr: money(cur, r.arr),
            arr_at_risk: money(cur, r.arr_at_risk),
            why: r.drivers.first().cloned().unwrap_or_default(),
            play: r.suggested_play.clone(),
            renewal: r.days_to_renewal.map_or_else(String::new, days_from_now),
            contacted: r
                .contacted
                .as_ref()
                .map(|c| format!("{} ({}, {})", day(c.day), c.outcome, c.owner))
                .unwrap_or_default(),
            in_slice: r.in_capacity,
        })
        .collect();
    let run = &stored.run;
    let csv_href = format!(
        "/lists?week={}&owner={}&segment={}&band={}&top={top}&format=csv",
        query_value(&run.week),
        query_value(&q.owner),
        query_value(&q.segment),
        query_value(&q.band)
    );
    let page = ListsPage {
        nav: ctx.nav(&sh),
        week: run.week.clone(),
        weeks: data.weeks.clone(),
        owner: q.owner.clone(),
        segment: q.segment.clone(),
        band: q.band.clone(),
        as_of: day(run.as_of),
        generated: format!(
            "{} (generation {}, {})",
            format_ts(run.created_at),
            run.generation,
            run.trigger
        ),
        models: format!(
            "churn {}{}",
            run.churn_version,
            run.expansion_version
                .as_deref()
                .map(|v| format!(", expansion {v}"))
                .unwrap_or_default()
        ),
        total_rows: all.len(),
        rows,
        slices: slices.into_values().collect(),
        reasons: stored.params.summary.reasons.statement.clone(),
        concentrated: stored.params.summary.reasons.concentrated,
        risers: data.risers.iter().map(mover_view).collect(),
        newly_red: data.newly_red.iter().map(mover_view).collect(),
        expansion: data
            .expansion
            .iter()
            .take(top)
            .map(|e| ExpansionView {
                rank: e.rank,
                id: e.account_id.clone(),
                id_q: query_value(&e.account_id),
                name: e.name.clone(),
                owner: e.owner.clone(),
                probability: pct(e.expansion_probability),
                expected: money(cur, e.expected_expansion_arr),
                next_plan: e.next_plan.clone().unwrap_or_default(),
                signals: e.signals.join("; "),
            })
            .collect(),
        csv_href,
        may_generate: ctx.may("/pulse.v1.ListService/GenerateLists"),
        this_week: pulse_lists::Week::of(sh.s.scoring.clock().today()).label,
    };
    render(&ctx, &page)
}

#[derive(Deserialize)]
pub(crate) struct GenerateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    week: String,
}

pub(crate) async fn generate_lists(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<GenerateForm>,
) -> Response {
    let ctx = match context(&sh, &headers, "/lists") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let Err(r) = check_csrf(&sh, &headers, &f.csrf) {
        return *r;
    }
    if !ctx.may("/pulse.v1.ListService/GenerateLists") {
        return error_page(
            &sh,
            &ctx,
            AppError::PermissionDenied("generating a week's lists needs the analyst role".into()),
        );
    }
    let clock = sh.s.scoring.clock().clone();
    let week = match applists::week_or_current("week", &f.week, clock.today()) {
        Ok(w) => w,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    match applists::generate(
        &sh.s.store,
        &sh.s.lists,
        &week,
        pulse_store::ListWrite::Replace,
        "console",
        sh.s.threads,
        &clock,
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("/lists?week={}", query_value(&week.label))).into_response(),
        Err(e) => error_page(&sh, &ctx, e),
    }
}

// ---------------------------------------------------------------- owner

pub(crate) struct BandView {
    band: String,
    accounts: u64,
    arr: String,
}

pub(crate) struct PlayView {
    play: String,
    contacted: u64,
    settled: u64,
    churn_rate: String,
    matched: String,
    holdout: String,
    verdict: String,
}

#[derive(Template)]
#[template(path = "owner.html")]
struct OwnerPage {
    nav: Nav,
    owner: String,
    owner_q: String,
    week: String,
    accounts: u64,
    arr: String,
    arr_at_risk: String,
    in_capacity: u64,
    bands: Vec<BandView>,
    movers: Vec<MoverView>,
    outreach_total: u64,
    outreach: Vec<(String, u64)>,
    plays: Vec<PlayView>,
    method: String,
}

/// What the owner page reads: the owner's portfolio in a week, and the
/// outreach report over the twelve weeks up to it.
pub(crate) struct OwnerData {
    stored: applists::StoredLists,
    portfolio: pulse_lists::Portfolio,
    plays: Arc<Vec<pulse_lists::PlayReport>>,
    from: String,
    to: String,
}

/// The outreach report per play over the twelve weeks up to `stored`'s
/// week (every owner's outreach: one report, shared by the owner pages).
async fn plays(
    sh: &Shared,
    stored: &applists::StoredLists,
) -> Result<(String, String, Arc<Vec<pulse_lists::PlayReport>>), AppError> {
    let to = stored.run.week.clone();
    let from = pulse_lists::Week::of(stored.run.week_start - 7 * 12).label;
    let key = pulse_app::cache::analyst_key(
        &sh.s.store,
        &sh.s.scoring,
        "web-plays",
        &format!("{from}|{to}"),
    );
    if let Some(hit) = sh.plays.get(&key) {
        return Ok((from, to, hit));
    }
    let (_, plays) =
        applists::outreach_report(&sh.s.store, &sh.s.lists, &from, &to, now(sh)).await?;
    let plays = Arc::new(plays);
    sh.plays.put(key, plays.clone());
    Ok((from, to, plays))
}

async fn owner_data(sh: &Shared, owner: &str, week: &str) -> Result<Arc<OwnerData>, AppError> {
    let key = pulse_app::cache::analyst_key(
        &sh.s.store,
        &sh.s.scoring,
        "web-owner",
        &format!("{owner}\u{1f}{week}"),
    );
    if let Some(hit) = sh.owners.get(&key) {
        return Ok(hit);
    }
    let (stored, portfolio) = applists::portfolio(&sh.s.store, owner, week).await?;
    let (from, to, plays) = plays(sh, &stored).await?;
    let data = Arc::new(OwnerData {
        stored,
        portfolio,
        plays,
        from,
        to,
    });
    sh.owners.put(key, data.clone());
    Ok(data)
}

pub(crate) async fn owner(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Path(owner): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    let path = format!("/owners/{}", query_value(&owner));
    let ctx = match context(&sh, &headers, &path) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let data = match owner_data(&sh, &owner, &q.week).await {
        Ok(d) => d,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let (stored, p, plays, from, to) = (
        &data.stored,
        &data.portfolio,
        &data.plays,
        &data.from,
        &data.to,
    );
    let cur = &sh.s.currency;
    let o = &p.outreach;
    let page = OwnerPage {
        nav: ctx.nav(&sh),
        owner_q: query_value(&p.owner),
        owner: p.owner.clone(),
        week: stored.run.week.clone(),
        accounts: p.accounts,
        arr: money(cur, p.arr),
        arr_at_risk: money(cur, p.arr_at_risk),
        in_capacity: p.in_capacity,
        bands: p
            .bands
            .iter()
            .map(|b| BandView {
                band: b.band.clone(),
                accounts: b.accounts,
                arr: money(cur, b.arr),
            })
            .collect(),
        movers: p.movers.iter().map(mover_view).collect(),
        outreach_total: p.outreach_total,
        outreach: vec![
            ("reached".into(), o.reached),
            ("no answer".into(), o.no_answer),
            ("saved".into(), o.saved),
            ("churned anyway".into(), o.churned_anyway),
            ("expanded".into(), o.expanded),
            ("pending".into(), o.pending),
        ],
        plays: plays
            .iter()
            .map(|r| PlayView {
                play: r.play.clone(),
                contacted: r.contacted,
                settled: r.settled,
                churn_rate: opt_pct(r.churn_rate),
                matched: format!(
                    "{} ({} accounts)",
                    opt_pct(r.matched_churn_rate),
                    r.matched_accounts
                ),
                holdout: format!(
                    "{} ({} accounts)",
                    opt_pct(r.holdout_churn_rate),
                    r.holdout_accounts
                ),
                verdict: r.verdict.clone(),
            })
            .collect(),
        method: format!(
            "Weeks {from} to {to}. {}",
            applists::report_method(&sh.s.lists)
        ),
    };
    render(&ctx, &page)
}

// ---------------------------------------------------------------- leadership

#[derive(Deserialize, Default)]
pub(crate) struct LeadershipQuery {
    #[serde(default)]
    horizon: Option<i32>,
    #[serde(default)]
    period: String,
    #[serde(default)]
    download: Option<u8>,
}

pub(crate) struct SegmentView {
    group: String,
    accounts: u32,
    arr: String,
    churned: String,
    churned_i80: String,
    churned_i95: String,
    nrr: String,
    nrr_i80: String,
    nrr_i95: String,
    grr: String,
    last_nrr: String,
    last_grr: String,
}

pub(crate) struct CalibrationView {
    horizon_days: i32,
    window: String,
    rows: usize,
    predicted: String,
    observed: String,
    brier: String,
    ece: String,
    roc_auc: String,
}

/// One horizon of the time-to-churn model's held-out calibration.
fn calibration_view(c: &pulse_forecast::HorizonCalibration) -> CalibrationView {
    CalibrationView {
        horizon_days: c.horizon_days,
        window: format!("{} to {}", c.test_from, c.test_to),
        rows: c.test_rows,
        predicted: pct(c.mean_predicted),
        observed: pct(c.observed_rate),
        brier: format!("{:.4}", c.brier),
        ece: format!("{:.4}", c.ece),
        roc_auc: c
            .roc_auc
            .map_or_else(|| "n/a".into(), |v| format!("{v:.3}")),
    }
}

pub(crate) struct BacktestView {
    quarter: String,
    figure: String,
    predicted: String,
    interval: String,
    actual: String,
    inside: bool,
}

#[derive(Template)]
#[template(path = "leadership.html")]
struct LeadershipPage {
    nav: Nav,
    horizon: i32,
    period: String,
    as_of: String,
    segments: Vec<SegmentView>,
    models: String,
    health_chart: String,
    nrr_chart: String,
    calibration: Vec<CalibrationView>,
    backtest: Vec<BacktestView>,
    report_href: String,
    download_href: String,
    warnings: Vec<String>,
}

/// An analyst result through `cache`: the fresh one under `key`; else,
/// with `Fresh::OrStale`, the latest one for the same call, models, day and
/// parameters (computed before a later write, or expired) while `compute`
/// refreshes it in the background (once per key at a time); else computed
/// now. A page shows the previous answer for the seconds a new one takes,
/// rather than making its reader wait for it.
async fn cached<V, F, Fut>(
    sh: &Shared,
    cache: &Arc<ResultCache<V>>,
    key: String,
    fresh: Fresh,
    compute: F,
) -> Result<V, AppError>
where
    V: Clone + Send + Sync + 'static,
    F: FnOnce(Shared) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<V, AppError>> + Send + 'static,
{
    if let Some(hit) = cache.get(&key) {
        return Ok(hit);
    }
    if fresh == Fresh::OrStale
        && let Some(stale) = cache.get_stale(&key)
    {
        let first = sh
            .refreshing
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone());
        if first {
            let (sh, cache) = (sh.clone(), cache.clone());
            tokio::spawn(async move {
                match compute(sh.clone()).await {
                    Ok(v) => cache.put(key.clone(), v),
                    Err(e) => tracing::debug!(error = %e, "refreshing a console result"),
                }
                sh.refreshing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&key);
            });
        }
        return Ok(stale);
    }
    let v = compute(sh.clone()).await?;
    cache.put(key, v.clone());
    Ok(v)
}

/// Whether a cached result may be an earlier one while a new one computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fresh {
    /// Pages: the previous answer now, the new one on the next view.
    OrStale,
    /// The background warm-up: compute what is missing.
    Only,
}

async fn forecast(
    sh: &Shared,
    horizon: i32,
    fresh: Fresh,
) -> Result<Arc<pulse_app::forecast::ForecastResult>, AppError> {
    let key = pulse_app::cache::analyst_key(
        &sh.s.store,
        &sh.s.scoring,
        "web-forecast",
        &horizon.to_string(),
    );
    cached(sh, &sh.forecasts, key, fresh, move |sh| async move {
        let _slot = sh.s.analyst.slot("a forecast").await?;
        let q = pulse_app::forecast::ForecastQuery {
            horizon_days: horizon,
            as_of: String::new(),
            group_by: "segment".into(),
            monte_carlo: pulse_forecast::MonteCarlo::default(),
        };
        Ok(Arc::new(
            pulse_app::forecast::run(
                &sh.s.store,
                sh.s.registry.clone(),
                sh.s.expansion_horizon_days,
                sh.s.threads,
                &q,
                sh.s.scoring.clock().today(),
            )
            .await?,
        ))
    })
    .await
}

async fn report_of(
    sh: &Shared,
    period: &str,
    fresh: Fresh,
) -> Result<Arc<pulse_app::report::Report>, AppError> {
    // Keyed by the quarter's label, so "" (the next quarter) and its label
    // are one entry.
    let (period, _, _) = pulse_app::report::parse_period(period, sh.s.scoring.clock().today())?;
    let key = pulse_app::cache::analyst_key(&sh.s.store, &sh.s.scoring, "report", &period);
    cached(sh, &sh.reports, key, fresh, move |sh| async move {
        let _slot = sh.s.analyst.slot("a report").await?;
        Ok(Arc::new(
            pulse_app::report::build(
                &sh.s.store,
                sh.s.registry.clone(),
                &sh.s.lists,
                sh.s.expansion_horizon_days,
                sh.s.threads,
                &period,
                sh.s.scoring.clock(),
            )
            .await?,
        ))
    })
    .await
}

/// Computes the leadership page's default forecast and report, the models
/// page's realised performance and this week's lists when they are not
/// cached; false while no model and population are in service yet.
pub(crate) async fn warm(sh: &Shared) -> bool {
    let Some(serving) = sh.s.scoring.current() else {
        return false;
    };
    if serving.scored.is_none() {
        return false;
    }
    if let Err(e) = forecast(sh, pulse_app::forecast::DEFAULT_HORIZON_DAYS, Fresh::Only).await {
        tracing::debug!(error = %e, "warming the leadership forecast");
    }
    if let Err(e) = report_of(sh, "", Fresh::Only).await {
        tracing::debug!(error = %e, "warming the leadership report");
    }
    if let Err(e) = performance(sh, Fresh::Only).await {
        tracing::debug!(error = %e, "warming the models page");
    }
    if let Ok(stored) = applists::load(&sh.s.store, "week", "").await {
        if let Err(e) = week_data(sh, &stored).await {
            tracing::debug!(error = %e, "warming this week's lists");
        }
        if let Err(e) = plays(sh, &stored).await {
            tracing::debug!(error = %e, "warming the outreach report");
        }
    }
    true
}

fn interval(i: pulse_forecast::Interval, f: impl Fn(f64) -> String) -> String {
    format!("{} to {}", f(i.lo), f(i.hi))
}

pub(crate) async fn leadership(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LeadershipQuery>,
) -> Response {
    let ctx = match context(&sh, &headers, "/leadership") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let horizon = q
        .horizon
        .unwrap_or(pulse_app::forecast::DEFAULT_HORIZON_DAYS);
    let f = match forecast(&sh, horizon, Fresh::OrStale).await {
        Ok(f) => f,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let rep = match report_of(&sh, q.period.trim(), Fresh::OrStale).await {
        Ok(r) => r,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let cur = sh.s.currency.clone();
    let m = |v: f64| money(&cur, v);
    let segments = std::iter::once(&f.forecast.total)
        .chain(&f.forecast.groups)
        .map(|g| SegmentView {
            group: g.group.clone(),
            accounts: g.accounts as u32,
            arr: m(g.current_arr),
            churned: m(g.churned_arr.expected),
            churned_i80: interval(g.churned_arr.i80, m),
            churned_i95: interval(g.churned_arr.i95, m),
            nrr: pct(g.nrr.expected),
            nrr_i80: interval(g.nrr.i80, pct),
            nrr_i95: interval(g.nrr.i95, pct),
            grr: pct(g.grr.expected),
            last_nrr: g
                .last_period
                .as_ref()
                .map_or_else(|| "n/a".into(), |a| pct(a.nrr)),
            last_grr: g
                .last_period
                .as_ref()
                .map_or_else(|| "n/a".into(), |a| pct(a.grr)),
        })
        .collect();
    let d = &rep.data;
    let page = LeadershipPage {
        nav: ctx.nav(&sh),
        horizon: f.forecast.horizon_days,
        period: rep.period.clone(),
        as_of: day(f.forecast.as_of),
        segments,
        models: format!(
            "churn {}, time to churn {}{}",
            f.churn_model,
            f.survival_model,
            f.expansion_model
                .as_deref()
                .map(|v| format!(", expansion {v}"))
                .unwrap_or_default()
        ),
        health_chart: chart::health_chart(&d.health),
        nrr_chart: chart::nrr_chart(&d.nrr_by_horizon),
        calibration: d
            .survival_calibration
            .iter()
            .map(calibration_view)
            .collect(),
        backtest: d
            .backtest
            .iter()
            .map(|b| BacktestView {
                quarter: b.quarter.clone(),
                figure: b.figure.clone(),
                predicted: format!("{:.3}", b.expected),
                interval: format!("{:.3} to {:.3}", b.i80.lo, b.i80.hi),
                actual: format!("{:.3}", b.actual),
                inside: b.inside_80(),
            })
            .collect(),
        report_href: format!("/leadership/report?period={}", query_value(&rep.period)),
        download_href: format!(
            "/leadership/report?period={}&download=1",
            query_value(&rep.period)
        ),
        warnings: f.warnings.iter().chain(&rep.warnings).cloned().collect(),
    };
    render(&ctx, &page)
}

/// The board report itself: the same self-contained HTML as `GetReport`,
/// shown in the leadership page's frame or downloaded.
pub(crate) async fn report(
    State(sh): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<LeadershipQuery>,
) -> Response {
    let ctx = match context(&sh, &headers, "/leadership") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let rep = match report_of(&sh, q.period.trim(), Fresh::OrStale).await {
        Ok(r) => r,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            // The report's own inline stylesheet, nothing else.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"
                    .to_string(),
            ),
        ],
        rep.html.clone(),
    )
        .into_response();
    if q.download == Some(1)
        && let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"pulse-report-{}.html\"",
            rep.period
        ))
    {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    with_nonce(&ctx, r)
}

// ---------------------------------------------------------------- models

pub(crate) struct MetricView {
    name: String,
    roc_auc: String,
    pr_auc: String,
    brier: String,
    ece: String,
    lift: String,
    n_test: usize,
}

pub(crate) struct ModelView {
    kind: String,
    version: String,
    algorithm: String,
    created: String,
    calibration: String,
    metrics: Vec<MetricView>,
    /// Why this algorithm is served, when the card records a selection.
    selection: String,
    charts: Vec<String>,
    /// The reason-accuracy summary and rows, when the card has them.
    reasons: String,
    reason_rows: Vec<ReasonView>,
}

pub(crate) struct ReasonView {
    reason: String,
    churners: usize,
    matched: String,
    named: String,
    /// The features behind the causes named, most often first.
    drivers: String,
}

/// One known reason's row of a card's reason-accuracy table.
fn reason_view(x: &pulse_models::ReasonRow, exogenous: bool) -> ReasonView {
    let counts = |v: &[(String, usize)]| {
        v.iter()
            .map(|(c, n)| format!("{} {n}", c.replace('_', " ")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    ReasonView {
        reason: x.reason.replace('_', " "),
        churners: x.churners,
        matched: if exogenous {
            "exogenous: not counted".into()
        } else {
            x.matched.to_string()
        },
        named: counts(&x.named),
        // Feature names stay as the catalogue spells them.
        drivers: x
            .drivers
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub(crate) struct VersionView {
    kind: String,
    version: String,
    created: String,
    promoted: bool,
}

pub(crate) struct DecisionView {
    when: String,
    kind: String,
    challenger: String,
    champion: String,
    outcome: String,
    reason: String,
}

pub(crate) struct PerformanceView {
    as_of: String,
    observed: String,
    n: usize,
    churned: usize,
    base_rate: String,
    top_k: String,
    lift: String,
    roc_auc: String,
}

#[derive(Template)]
#[template(path = "models.html")]
struct ModelsPage {
    nav: Nav,
    serving: Vec<ModelView>,
    versions: Vec<VersionView>,
    survival: Option<SurvivalView>,
    sentiment: SentimentView,
    decisions: Vec<DecisionView>,
    drift: String,
    drift_level: String,
    performance: Vec<PerformanceView>,
}

/// The time-to-churn model's card.
pub(crate) struct SurvivalView {
    version: String,
    created: String,
    data: String,
    calibration: Vec<CalibrationView>,
    charts: Vec<String>,
    notes: Vec<String>,
}

fn survival_view(card: &pulse_forecast::SurvivalCard) -> SurvivalView {
    let n = |v: usize| pulse_core::money::grouped(v as f64);
    SurvivalView {
        version: card.version.clone(),
        created: card.created_at.clone(),
        data: format!(
            "Trained on {} to {}: {} accounts, {} account-periods and {} churn events, in {} intervals of {} days.",
            card.data_start,
            card.data_end,
            n(card.accounts),
            n(card.rows),
            n(card.events),
            card.intervals,
            card.interval_days
        ),
        calibration: card.calibration.iter().map(calibration_view).collect(),
        charts: card
            .calibration
            .iter()
            .map(|c| {
                chart::reliability_chart(
                    &format!("chart-survival-{}", c.horizon_days),
                    &format!("calibration of churn within {} days", c.horizon_days),
                    &format!(
                        "Churn within {} days: observed vs predicted, {} to {}",
                        c.horizon_days, c.test_from, c.test_to
                    ),
                    &c.table,
                    &format!(
                        "Time-to-churn calibration at {} days on held-out as-of days (points on the dashed diagonal are perfectly calibrated).",
                        c.horizon_days
                    ),
                )
            })
            .collect(),
        notes: card.notes.clone(),
    }
}

/// The sentiment model in service and its card.
pub(crate) struct SentimentView {
    title: String,
    about: String,
    held_out: String,
    classes: Vec<ClassView>,
}

pub(crate) struct ClassView {
    class: &'static str,
    precision: String,
    recall: String,
    f1: String,
    support: u32,
    predicted: [u32; 3],
}

const CLASSES: [&str; 3] = ["negative", "neutral", "positive"];

fn sentiment_view(
    served: Option<(Arc<pulse_sentiment::SentimentModel>, Option<String>)>,
    card: Option<&pulse_sentiment::SentimentCard>,
) -> SentimentView {
    let Some((model, registry_version)) = served else {
        return SentimentView {
            title: "none".into(),
            about: "No sentiment model is in service: interaction sentiment is not scored. Train one with pulse sentiment train.".into(),
            held_out: String::new(),
            classes: Vec::new(),
        };
    };
    let summary = model.summary();
    let c = summary.class_counts;
    let about = format!(
        "Trained on {} texts ({} negative, {} neutral, {} positive): {} word and {} character features, temperature {:.3}.",
        pulse_core::money::grouped(c.iter().sum::<usize>() as f64),
        pulse_core::money::grouped(c[0] as f64),
        pulse_core::money::grouped(c[1] as f64),
        pulse_core::money::grouped(c[2] as f64),
        pulse_core::money::grouped(summary.word_features as f64),
        pulse_core::money::grouped(summary.char_features as f64),
        model.temperature()
    );
    let title = match &registry_version {
        Some(v) => format!("{v} (model {})", model.version()),
        None => format!("the default model file (model {})", model.version()),
    };
    let Some(card) = card else {
        return SentimentView {
            title,
            about,
            held_out: "Its card is not available, so its held-out figures are unknown here (for the default model, train_default writes it beside the model file).".into(),
            classes: Vec::new(),
        };
    };
    let h = &card.held_out;
    let e = &h.evaluation;
    let probability = e.probability.map_or_else(String::new, |p| {
        format!(
            ", log-loss {:.3}, Brier {:.3}, top-label ECE {:.3}",
            p.log_loss, p.brier, p.ece
        )
    });
    SentimentView {
        title,
        about,
        held_out: format!(
            "Held out: {} texts ({} of every label, seed {}), trained on the other {} ({}): accuracy {:.3}, macro-F1 {:.3}{probability}. Card dated {}.",
            pulse_core::money::grouped(h.held_out_documents as f64),
            pct(h.held_out_fraction),
            h.seed,
            pulse_core::money::grouped(h.train_documents as f64),
            card.source.as_str().replace('_', " "),
            e.accuracy,
            e.macro_f1,
            card.created_at
        ),
        classes: CLASSES
            .iter()
            .enumerate()
            .map(|(i, class)| ClassView {
                class,
                precision: format!("{:.3}", e.per_class[i].precision),
                recall: format!("{:.3}", e.per_class[i].recall),
                f1: format!("{:.3}", e.per_class[i].f1),
                support: e.per_class[i].support,
                predicted: e.confusion[i],
            })
            .collect(),
    }
}

fn metric_view(name: &str, m: &pulse_models::Metrics) -> MetricView {
    MetricView {
        name: name.to_string(),
        roc_auc: format!("{:.3}", m.roc_auc),
        pr_auc: format!("{:.3}", m.pr_auc),
        brier: format!("{:.4}", m.brier),
        ece: format!("{:.4}", m.ece),
        lift: format!("{:.2}x", m.lift_top_decile),
        n_test: m.n_test,
    }
}

fn model_view(card: &pulse_models::ModelCard) -> ModelView {
    let id = card.kind.as_str();
    let mut metrics = Vec::new();
    if let Some(m) = &card.metrics {
        metrics.push(metric_view("served (held-out test rows)", m));
    }
    let mut charts = vec![chart::reliability_chart(
        &format!("chart-{id}-calibration"),
        &format!("calibration of the {id} model"),
        &format!(
            "Calibration of {} on held-out rows: observed vs predicted rate per bin",
            card.version
        ),
        &card.calibration_table,
        "Points on the dashed diagonal are perfectly calibrated.",
    )];
    if let Some(ev) = &card.evaluation {
        for (name, m) in &ev.models {
            metrics.push(metric_view(&format!("{name} ({})", ev.method), m));
        }
        // The served algorithm's curves (the first when no selection says).
        let served = ev.selection.as_ref().map(|sel| sel.served.as_str());
        let curves = served
            .and_then(|n| ev.curves.get_key_value(n))
            .or_else(|| ev.curves.iter().next());
        if let Some((name, c)) = curves {
            charts.push(chart::curve_chart(
                &format!("chart-{id}-roc"),
                &format!("ROC curve, {name}"),
                &c.roc,
                ("false positive rate", "true positive rate"),
                None,
                "Held-out ROC curve; the dashed diagonal is a random ranking.",
            ));
            charts.push(chart::curve_chart(
                &format!("chart-{id}-pr"),
                &format!("Precision-recall curve, {name}"),
                &c.pr,
                ("recall", "precision"),
                Some(card.label_rate),
                "Held-out precision-recall curve; the dashed line is the base rate.",
            ));
        }
    }
    let accuracy = card.evaluation.as_ref().and_then(|e| e.reasons.as_ref());
    let reasons = accuracy.map_or_else(String::new, |r| {
        format!(
            "The play's cause matches the known churn reason for {} of {} explainable churners on a backtest list ({}); a baseline that always names \"{}\" gets {}.",
            r.matched,
            r.churners,
            pct(r.accuracy),
            r.baseline_reason,
            pct(r.baseline_accuracy)
        ) + &r.probe.as_ref().map_or_else(String::new, |p| {
            format!(
                " A classifier trained on the known reasons of {} earlier churners, on the same features, gets {} ({} of {}): how far the features tell the reasons apart.",
                p.trained_on,
                pct(p.accuracy),
                p.matched,
                r.churners
            )
        })
    });
    let reason_rows = accuracy.map_or_else(Vec::new, |r| {
        r.by_reason
            .iter()
            .map(|x| reason_view(x, false))
            .chain(r.exogenous.iter().map(|x| reason_view(x, true)))
            .collect()
    });
    let selection = card
        .evaluation
        .as_ref()
        .and_then(|e| e.selection.as_ref())
        .map_or_else(String::new, |sel| {
            format!(
                "Served: {}, chosen by {}: {}.",
                sel.served, sel.criterion, sel.reason
            )
        });
    ModelView {
        kind: id.to_string(),
        version: card.version.clone(),
        selection,
        algorithm: format!("{:?}", card.algorithm),
        created: card.created_at.clone(),
        calibration: format!("{:?}", card.calibration),
        metrics,
        charts,
        reasons,
        reason_rows,
    }
}

/// Realised performance of the last 12 scoring runs (top 100), cached.
async fn performance(
    sh: &Shared,
    fresh: Fresh,
) -> Result<Arc<Vec<pulse_app::model_ops::RunPerformance>>, AppError> {
    let key =
        pulse_app::cache::analyst_key(&sh.s.store, &sh.s.scoring, "web-performance", "12|100");
    cached(sh, &sh.performance, key, fresh, |sh| async move {
        let horizon = i32::try_from(sh.s.scoring.settings().horizon_days).unwrap_or(90);
        Ok(Arc::new(
            pulse_app::model_ops::realised_performance(&sh.s.store, horizon, 12, 100, now(&sh))
                .await?,
        ))
    })
    .await
}

pub(crate) async fn models(State(sh): State<Shared>, headers: HeaderMap) -> Response {
    let ctx = match context(&sh, &headers, "/models") {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let registry = sh.s.registry.clone();
    let served = sh.s.sentiment.current();
    let file_card = sh.s.sentiment.file_card();
    let registry_version = served.as_ref().and_then(|(_, v)| v.clone());
    let listed = tokio::task::spawn_blocking(move || {
        let entries = registry.list()?;
        let survival = registry.latest_survival_card()?;
        let card = match registry_version {
            Some(v) => Some(Arc::new(registry.sentiment_card(&v)?)),
            None => file_card,
        };
        Ok::<_, pulse_app::RegistryError>((entries, survival, card))
    })
    .await;
    let (entries, survival, sentiment_card) = match listed {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return error_page(&sh, &ctx, e.into()),
        Err(e) => return error_page(&sh, &ctx, AppError::internal("reading the registry", e)),
    };
    let decisions = match sh.s.store.decisions(None, 20).await {
        Ok(d) => d,
        Err(e) => return error_page(&sh, &ctx, e.into()),
    };
    let drift = match sh.s.store.drift_checks(1).await {
        Ok(d) => d.into_iter().next(),
        Err(e) => return error_page(&sh, &ctx, e.into()),
    };
    let performance = match performance(&sh, Fresh::OrStale).await {
        Ok(p) => p,
        Err(e) => return error_page(&sh, &ctx, e),
    };
    let serving = [ModelKind::Churn, ModelKind::Expansion]
        .iter()
        .filter_map(|k| entries.iter().find(|e| e.card.kind == *k && e.promoted))
        .map(|e| model_view(&e.card))
        .collect();
    let page = ModelsPage {
        nav: ctx.nav(&sh),
        serving,
        versions: entries
            .iter()
            .rev()
            .take(30)
            .map(|e| VersionView {
                kind: e.card.kind.as_str().to_string(),
                version: e.card.version.clone(),
                created: e.card.created_at.clone(),
                promoted: e.promoted,
            })
            .collect(),
        survival: survival.as_ref().map(survival_view),
        sentiment: sentiment_view(served, sentiment_card.as_deref()),
        decisions: decisions
            .iter()
            .map(|d| DecisionView {
                when: format_ts(d.decided_at),
                kind: d.kind.clone(),
                challenger: d.challenger_version.clone(),
                champion: d.champion_version.clone().unwrap_or_else(|| "none".into()),
                outcome: d.outcome.clone(),
                reason: d.reason.clone(),
            })
            .collect(),
        drift: drift.as_ref().map_or_else(
            || "No drift check yet.".into(),
            |c| {
                format!(
                    "{} model {}: largest PSI {:.3} on {} (checked {})",
                    c.kind,
                    c.model_version,
                    c.max_psi,
                    day(c.as_of),
                    format_ts(c.checked_at)
                )
            },
        ),
        drift_level: drift.map(|c| c.level).unwrap_or_default(),
        performance: performance
            .iter()
            .map(|p| PerformanceView {
                as_of: day(p.as_of),
                observed: format!(
                    "{}{}",
                    day(p.observed_through),
                    if p.window_closed {
                        ""
                    } else {
                        " (window still open)"
                    }
                ),
                n: p.n,
                churned: p.churned,
                base_rate: pct(p.base_rate),
                top_k: format!("{} of the top {}", p.top_k_churned, p.top_k),
                lift: format!("{:.2}x", p.top_k_lift),
                roc_auc: p
                    .roc_auc
                    .map_or_else(|| "n/a".into(), |v| format!("{v:.3}")),
            })
            .collect(),
    };
    render(&ctx, &page)
}

#[cfg(test)]
mod tests {
    use super::{Fresh, cached, csv_field, reason_view};
    use pulse_app::cache::ResultCache;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn a_page_gets_the_previous_answer_while_a_new_one_computes() {
        let store = pulse_store::Store::in_memory().await.unwrap();
        let clock = pulse_core::Clock::at_day(20_000);
        let dir = std::env::temp_dir().join(format!("pulse-web-cached-{}", std::process::id()));
        let registry: Arc<dyn pulse_app::ModelRegistry> =
            Arc::new(pulse_app::dir_registry::DirRegistry::open(&dir, clock.clone()).unwrap());
        let scoring = Arc::new(pulse_app::serving::Scoring::new(
            store.clone(),
            registry.clone(),
            pulse_app::serving::ScoringSettings::new(Default::default(), 90, clock),
        ));
        let sh = crate::shared(crate::WebState::new(store, scoring, registry));
        let cache: Arc<ResultCache<u32>> = Arc::new(ResultCache::new(Duration::from_secs(60), 8));
        let answer = |v: u32| move |_| async move { Ok(v) };

        // Nothing cached: computed now.
        let k1 = "t|g1|m|20000|p".to_string();
        assert_eq!(
            cached(&sh, &cache, k1.clone(), Fresh::OrStale, answer(1))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            cached(&sh, &cache, k1, Fresh::OrStale, answer(9))
                .await
                .unwrap(),
            1
        );
        // After a write (another generation): the previous answer at once,
        // the new one computed behind it.
        let k2 = "t|g2|m|20000|p".to_string();
        assert_eq!(
            cached(&sh, &cache, k2.clone(), Fresh::OrStale, answer(2))
                .await
                .unwrap(),
            1
        );
        let mut waited = 0;
        while cache.get(&k2).is_none() && waited < 200 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited += 1;
        }
        assert_eq!(cache.get(&k2), Some(2));
        assert_eq!(
            cached(&sh, &cache, k2, Fresh::OrStale, answer(9))
                .await
                .unwrap(),
            2
        );
        assert!(sh.refreshing.lock().unwrap().is_empty());
        // The warm-up never takes a stale answer.
        let k3 = "t|g3|m|20000|p".to_string();
        assert_eq!(
            cached(&sh, &cache, k3, Fresh::Only, answer(3))
                .await
                .unwrap(),
            3
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_reason_row_shows_the_causes_and_the_features_behind_them() {
        let row = pulse_models::ReasonRow {
            reason: "low_adoption".into(),
            churners: 11,
            matched: 1,
            named: vec![("commercial".into(), 6), ("data_gap".into(), 5)],
            drivers: vec![("mrr_change_90d".into(), 6), ("days_since_nps".into(), 5)],
        };
        let v = reason_view(&row, false);
        assert_eq!(v.reason, "low adoption");
        assert_eq!((v.churners, v.matched.as_str()), (11, "1"));
        assert_eq!(v.named, "commercial 6, data gap 5");
        assert_eq!(v.drivers, "mrr_change_90d 6, days_since_nps 5");
        assert_eq!(reason_view(&row, true).matched, "exogenous: not counted");
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused_but_numbers_kept() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-cmd"), "'-cmd");
        assert_eq!(csv_field("-0.012"), "-0.012");
        assert_eq!(csv_field("-3"), "-3");
    }
}
