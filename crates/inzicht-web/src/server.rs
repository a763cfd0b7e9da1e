//! The HTTP server: routes, access control, caching, background jobs, audit entries.

use crate::audit::AuditLog;
use crate::auth::{constant_time_eq, hex, random_bytes, Role, SessionInfo, Sessions, Users};
use crate::export::{self, Format};
use crate::html::{self, esc, Lang, Viewer};
use crate::pages::{self, Choices, Ctx, PageError, Params};
use axum::body::Body;
use axum::extract::{Form, Path as UrlPath, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use inzicht_protect::{Policy, Protector};
use inzicht_store::table::{Asker, Session};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct ServeConfig {
    pub store: PathBuf,
    pub key_file: PathBuf,
    pub bind: SocketAddr,
    /// Called once the socket listens (the demo prints the address and a login).
    pub on_ready: Option<Box<dyn FnOnce(SocketAddr) + Send>>,
}

const CSS_UTRECHT: &str = include_str!("../assets/utrecht-component-library.css");
const CSS_INZICHT: &str = include_str!("../assets/inzicht.css");
const JS_INZICHT: &str = include_str!("../assets/inzicht.js");
const SESSION_COOKIE: &str = "inzicht_sessie";
const LOGIN_COOKIE: &str = "inzicht_login";
const LANG_COOKIE: &str = "inzicht_taal";
const MAX_CACHE: usize = 2_000;

enum Job {
    Running { started: Instant },
    Done(Arc<Value>),
    Failed(String),
}

/// A client's months on benefit: (month, duration so far).
type Months = Vec<(String, Option<i64>)>;

struct Handle {
    user: String,
    created: Instant,
    /// Server-side only: the pages never show it.
    pseudonym: String,
    /// Benefit months, read when the handle's page is first opened.
    months: Option<Months>,
    /// Made from a candidate list (the consultant does not know who it is yet).
    candidate: bool,
}

/// The consultant's advice models, fitted in the background once per snapshot.
enum AdviceState {
    None,
    Running { snapshot: String, started: Instant },
    Done(Arc<inzicht_store::advice::AdviceModels>),
    Failed { snapshot: String, message: String },
}

struct App {
    store: PathBuf,
    key_file: PathBuf,
    secrets: PathBuf,
    policy: Policy,
    protector: Protector,
    sessions: Sessions,
    audit: AuditLog,
    db: Mutex<Session>,
    /// The snapshot of `db`, readable without waiting for a computation that holds `db`.
    snapshot: Mutex<String>,
    choices: Mutex<Option<(String, Arc<Choices>)>>,
    /// What `/tabel` can tabulate (`Session::list`), per snapshot.
    table_list: Mutex<Option<(String, Arc<Value>)>>,
    cache: Mutex<HashMap<String, Arc<Value>>>,
    jobs: Mutex<HashMap<String, Job>>,
    handles: Mutex<HashMap<String, Handle>>,
    /// Client–vacancy matching data, per snapshot.
    matching: Mutex<Option<Arc<inzicht_store::matching::MatchData>>>,
    advice: Mutex<AdviceState>,
}

type Shared = Arc<App>;

/// Starts the server and blocks until Ctrl-C.
pub fn serve(cfg: ServeConfig) -> Result<(), String> {
    let secrets = inzicht_store::recordkeys::secrets_dir(&cfg.key_file);
    let policy = Policy::from_dir(&secrets)?;
    let protector = Protector::new(policy.clone())?;
    let session = Session::open(&cfg.store, None, &cfg.key_file).map_err(|e| e.to_string())?;
    let audit = AuditLog::open(&secrets)?;
    let users = Users::load(&secrets)?;
    if users.users.is_empty() {
        return Err(format!(
            "no accounts yet: add one with `inzicht user add --store {} --name NAME --role analist` (roles: analist, data-team, consulent, auditor)",
            cfg.store.display()
        ));
    }
    let app = Arc::new(App {
        store: cfg.store.clone(),
        key_file: cfg.key_file.clone(),
        secrets,
        policy,
        protector,
        sessions: Sessions::default(),
        audit,
        snapshot: Mutex::new(session.snapshot.clone()),
        choices: Mutex::new(None),
        table_list: Mutex::new(None),
        db: Mutex::new(session),
        cache: Mutex::new(HashMap::new()),
        jobs: Mutex::new(HashMap::new()),
        handles: Mutex::new(HashMap::new()),
        matching: Mutex::new(None),
        advice: Mutex::new(AdviceState::None),
    });
    warm_up(app.clone());
    let router = Router::new()
        .route("/assets/{name}", get(asset))
        .route("/login", get(login_form).post(login))
        .route("/uitloggen", axum::routing::post(logout))
        .route("/taal", get(language))
        .route("/", get(home))
        .route("/api/{page}", get(api))
        .route("/export/{page}", get(download))
        .route("/grafiek/{page}/{name}", get(chart))
        .route("/voorzieningen", get(effects_page).post(effects_start))
        .route("/api/voorzieningen", get(effects_api))
        .route("/consulent", get(consultant).post(consultant_lookup))
        .route("/consulent/keuze", axum::routing::post(record_choice))
        .route("/consulent/bsn", axum::routing::post(reveal_bsn))
        .route("/vacatures", get(vacancies_page))
        .route("/audit", get(audit_page))
        .route("/{page}", get(page))
        .fallback(not_found)
        .with_state(app);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.bind)
            .await
            .map_err(|e| format!("cannot listen on {}: {e} (is another inzicht serve running? use --bind 127.0.0.1:PORT)", cfg.bind))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        if let Some(f) = cfg.on_ready {
            f(addr);
        }
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| format!("server: {e}"))
    })
}

// ---------------------------------------------------------------- helpers

/// Locks a mutex even if a thread panicked while holding it: the data behind these locks (a
/// read-only database session, caches) stays valid, and one failed request must not take the
/// server down for everyone.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn lang_of(headers: &HeaderMap) -> Lang {
    match cookie(headers, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::Nl,
    }
}

fn secure_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(h, "content-security-policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "x-frame-options", "DENY");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    r
}

fn html_response(status: StatusCode, body: String) -> Response {
    secure_headers(
        (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    secure_headers(
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string_pretty(v).unwrap_or_default(),
        )
            .into_response(),
    )
}

fn redirect(to: &str) -> Response {
    secure_headers(
        Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, to)
            .body(Body::empty())
            .unwrap_or_default(),
    )
}

/// The session of a request, if any.
fn session_of(app: &App, headers: &HeaderMap) -> Option<SessionInfo> {
    app.sessions.get(cookie(headers, SESSION_COOKIE)?)
}

enum Denied {
    Login,
    Forbidden,
}

fn require(app: &App, headers: &HeaderMap, roles: &[Role]) -> Result<SessionInfo, Denied> {
    let s = session_of(app, headers).ok_or(Denied::Login)?;
    if roles.contains(&s.role) {
        Ok(s)
    } else {
        Err(Denied::Forbidden)
    }
}

fn denied(d: Denied, lang: Lang, api: bool) -> Response {
    match (d, api) {
        (Denied::Login, true) => json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "log in first / eerst inloggen"}),
        ),
        (Denied::Login, false) => redirect("/login"),
        (Denied::Forbidden, true) => json_response(
            StatusCode::FORBIDDEN,
            &json!({"error": "your role may not open this / uw rol mag dit niet openen"}),
        ),
        (Denied::Forbidden, false) => html_response(
            StatusCode::FORBIDDEN,
            html::layout(
                lang,
                lang.t("Geen toegang", "No access"),
                "",
                "/",
                None,
                None,
                &html::alert(
                    "error",
                    lang.t(
                        "Uw rol mag deze pagina niet openen.",
                        "Your role may not open this page.",
                    ),
                ),
            ),
        ),
    }
}

fn roles_of(page: &str) -> Option<&'static [Role]> {
    html::NAV.iter().find(|n| n.path == page).map(|n| n.roles)
}

/// The page a route names (`/{name}`) and the session, if the session's role may open that
/// page; otherwise the answer to send (not found, log in, forbidden). `api` answers in JSON.
fn authorise(
    app: &App,
    headers: &HeaderMap,
    name: &str,
    api: bool,
) -> Result<(String, SessionInfo), Box<Response>> {
    let page = format!("/{name}");
    let Some(roles) = roles_of(&page) else {
        return Err(Box::new(if api {
            json_response(StatusCode::NOT_FOUND, &json!({"error": "unknown page"}))
        } else {
            not_found_page()
        }));
    };
    match require(app, headers, roles) {
        Ok(s) => Ok((page, s)),
        Err(d) => Err(Box::new(denied(d, lang_of(headers), api))),
    }
}

fn check_csrf(s: &SessionInfo, token: Option<&str>) -> bool {
    token.is_some_and(|t| constant_time_eq(t.as_bytes(), s.csrf.as_bytes()))
}

fn viewer(s: &SessionInfo) -> Viewer<'_> {
    Viewer {
        user: &s.user,
        role: s.role,
        csrf: &s.csrf,
    }
}

/// Reopens the session when the store's current snapshot changed (a new load).
fn fresh(app: &App, db: &mut Session) -> Result<(), PageError> {
    let current = inzicht_store::Store::new(&app.store).current();
    if current.as_deref().is_some_and(|c| c != db.snapshot) {
        *db = Session::open(&app.store, None, &app.key_file)?;
        *lock(&app.snapshot) = db.snapshot.clone();
    }
    Ok(())
}

/// The snapshot requests are answered from: the store's `current` (a cheap `readlink`), so that
/// a cache lookup sees a new load at once without waiting for the database session.
fn current_snapshot(app: &App) -> String {
    inzicht_store::Store::new(&app.store)
        .current()
        .unwrap_or_else(|| lock(&app.snapshot).clone())
}

/// The pages most analysts open first, with their default choices: computed in the background
/// when the server starts (and again after a new load), so the first visit is served from the
/// cache too. Computing them is not a query by a user: nothing is written to the audit log until
/// someone asks, and the free table (which spends a user's query budget) is never warmed.
const WARM: &[&str] = &["/monitor", "/overleving", "/beslisboom"];

fn warm_up(app: Shared) {
    std::thread::spawn(move || {
        let mut warmed = String::new();
        loop {
            let snapshot = current_snapshot(&app);
            if snapshot != warmed {
                for page in WARM {
                    if let Err(e) = compute(&app, page, &Params::default(), "") {
                        let (PageError::Input(m) | PageError::Internal(m)) = e;
                        eprintln!("inzicht serve: voorberekenen van {page} mislukt / warming {page} failed: {m}");
                    }
                }
                // The consultant's advice needs the whole panel for a moment (docs/advice.md):
                // prepared ahead only where consultants have accounts; otherwise on first use.
                let consultants = Users::load(&app.secrets)
                    .map(|u| u.users.iter().any(|x| x.role == Role::Consulent))
                    .unwrap_or(false);
                if consultants {
                    let _ = matching_data(&app);
                    fit_advice(&app);
                }
                warmed = snapshot;
            }
            std::thread::sleep(std::time::Duration::from_secs(10));
        }
    });
}

/// The cache key of a page's result. The three pattern pages share one run; the free table is
/// personal (each user's query log decides what is answered).
fn cache_key(page: &str, snapshot: &str, p: &Params, user: &str) -> String {
    match page {
        "/clusters" | "/beslisboom" | "/voorspelmodel" => {
            format!("patterns|{snapshot}|{}", p.query())
        }
        "/tabel" => format!("{page}|{snapshot}|{user}|{}", p.query()),
        _ => format!("{page}|{snapshot}||{}", p.query()),
    }
}

/// The result of a page, from the cache or computed (blocking; call from spawn_blocking).
/// A cache hit takes no database lock, so cached pages never wait behind a computation.
fn compute(app: &App, page: &str, p: &Params, user: &str) -> Result<Arc<Value>, PageError> {
    if let Some(v) = lock(&app.cache)
        .get(&cache_key(page, &current_snapshot(app), p, user))
        .cloned()
    {
        return Ok(v);
    }
    let mut db = lock(&app.db);
    fresh(app, &mut db)?;
    let key = cache_key(page, &db.snapshot, p, user);
    // Another request may have computed it while this one waited for the session.
    if let Some(v) = lock(&app.cache).get(&key).cloned() {
        return Ok(v);
    }
    let log = inzicht_protect::querylog::QueryLog::new(
        &app.secrets.join("query-log"),
        &format!("web-{user}"),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ctx = Ctx {
        session: &db,
        protector: &app.protector,
        asker: (page == "/tabel").then_some(Asker {
            log: &log,
            policy: &app.policy,
            now,
        }),
    };
    let v = match page {
        "/monitor" => pages::monitor(&ctx, p)?,
        "/tabel" => pages::tabel(&ctx, p)?,
        "/datakwaliteit" => pages::quality(&app.store, &ctx, p)?,
        "/clusters" | "/beslisboom" | "/voorspelmodel" => pages::patterns(&ctx, p)?,
        "/overleving" => pages::survival(&ctx, p)?,
        _ => return Err(PageError::Input(format!("unknown page {page}"))),
    };
    let v = Arc::new(v);
    let mut c = lock(&app.cache);
    if c.len() > MAX_CACHE {
        c.clear();
    }
    c.insert(key, v.clone());
    Ok(v)
}

/// The wijken and provision groups to choose from, read once per snapshot.
fn choices(app: &App) -> Arc<Choices> {
    let snapshot = current_snapshot(app);
    if let Some((s, c)) = lock(&app.choices).as_ref() {
        if *s == snapshot {
            return c.clone();
        }
    }
    let db = lock(&app.db);
    let level = |n: &str| -> Vec<String> {
        db.levels(n)
            .unwrap_or_default()
            .into_iter()
            .flatten()
            .filter(|x| x != "none")
            .collect()
    };
    let c = Arc::new(Choices {
        wijken: db
            .wijk_names()
            .unwrap_or_default()
            .into_iter()
            .map(|(code, name)| (code.clone(), name.unwrap_or(code)))
            .collect(),
        groups: level("provision_group"),
    });
    *lock(&app.choices) = Some((db.snapshot.clone(), c.clone()));
    c
}

fn audit(
    app: &App,
    s: &SessionInfo,
    action: &str,
    params: Value,
    result: &[u8],
) -> Result<(), String> {
    app.audit
        .append(&s.user, s.role.name(), action, params, result)
        .map(|_| ())
}

fn error_page(
    lang: Lang,
    title: &str,
    current: &str,
    here: &str,
    s: &SessionInfo,
    e: &PageError,
) -> Response {
    let (status, msg) = match e {
        PageError::Input(m) => (StatusCode::BAD_REQUEST, m.clone()),
        PageError::Internal(m) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "{} {m}",
                lang.t("Er ging iets mis:", "Something went wrong:")
            ),
        ),
    };
    html_response(
        status,
        html::layout(
            lang,
            title,
            current,
            here,
            Some(&viewer(s)),
            None,
            &format!(
                "{}<p class=\"utrecht-paragraph\"><a class=\"utrecht-link\" href=\"{}\">{}</a></p>",
                html::alert("error", &msg),
                esc(current),
                lang.t(
                    "Terug naar de standaardkeuzes",
                    "Back to the default choices"
                )
            ),
        ),
    )
}

/// A page of the navigation for a logged-in user: its title, the language toggle back to
/// `here`, and the body.
fn page_response(
    status: StatusCode,
    lang: Lang,
    page: &str,
    here: &str,
    s: &SessionInfo,
    body: &str,
) -> Response {
    html_response(
        status,
        html::layout(
            lang,
            &page_title(page, lang),
            page,
            here,
            Some(&viewer(s)),
            None,
            body,
        ),
    )
}

fn page_title(page: &str, lang: Lang) -> String {
    html::NAV
        .iter()
        .find(|n| n.path == page)
        .map_or("inzicht".into(), |n| lang.t(n.nl, n.en).to_string())
}

fn here(page: &str, p: &Params) -> String {
    let q = p.query();
    if q.is_empty() {
        page.to_string()
    } else {
        format!("{page}?{q}")
    }
}

// ---------------------------------------------------------------- routes

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    let (body, ty) = match name.as_str() {
        "utrecht-component-library.css" => (CSS_UTRECHT, "text/css; charset=utf-8"),
        "inzicht.css" => (CSS_INZICHT, "text/css; charset=utf-8"),
        "inzicht.js" => (JS_INZICHT, "text/javascript; charset=utf-8"),
        _ => return not_found().await,
    };
    secure_headers(
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, ty),
                (header::CACHE_CONTROL, "public, max-age=3600"),
            ],
            body,
        )
            .into_response(),
    )
}

async fn not_found() -> Response {
    not_found_page()
}

fn not_found_page() -> Response {
    html_response(
        StatusCode::NOT_FOUND,
        html::layout(
            Lang::Nl,
            "Niet gevonden / not found",
            "",
            "/",
            None,
            None,
            &html::p("Deze pagina bestaat niet. / This page does not exist."),
        ),
    )
}

async fn language(Query(q): Query<Vec<(String, String)>>) -> Response {
    let to = q.iter().find(|(k, _)| k == "naar").map(|(_, v)| v.as_str());
    let lang = if to == Some("en") { "en" } else { "nl" };
    let back = q
        .iter()
        .find(|(k, _)| k == "terug")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/");
    // Only a path on this server (no open redirect).
    let back = if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/"
    };
    let mut r = redirect(back);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={lang}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_form(headers: HeaderMap) -> Response {
    login_page(lang_of(&headers), None)
}

fn login_page(lang: Lang, error: Option<&str>) -> Response {
    let Ok(token) = random_bytes().map(|b| hex(&b)) else {
        return html_response(StatusCode::INTERNAL_SERVER_ERROR, "no randomness".into());
    };
    let body = format!(
        "{}<form method=\"post\" action=\"/login\" class=\"inzicht-form inzicht-login\"><input type=\"hidden\" name=\"csrf\" value=\"{token}\">{}{}{}</form>",
        error.map(|e| html::alert("error", e)).unwrap_or_default(),
        html::input("naam", lang.t("Gebruikersnaam", "User name"), "text", "", ""),
        html::input("wachtwoord", lang.t("Wachtwoord", "Password"), "password", "", ""),
        html::submit(lang.t("Inloggen", "Log in"))
    );
    let mut r = html_response(
        if error.is_some() {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::OK
        },
        html::layout(
            lang,
            lang.t("Inloggen", "Log in"),
            "/login",
            "/login",
            None,
            None,
            &body,
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={token}; Path=/login; HttpOnly; Secure; SameSite=Strict"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let lang = lang_of(&headers);
    // Login CSRF: the form's token must equal the cookie set with the form (double submit).
    let ok_token = match (cookie(&headers, LOGIN_COOKIE), f.get("csrf")) {
        (Some(c), Some(t)) => constant_time_eq(c.as_bytes(), t.as_bytes()),
        _ => false,
    };
    if !ok_token {
        return login_page(
            lang,
            Some(lang.t(
                "Het formulier is verlopen; probeer het opnieuw.",
                "The form expired; please try again.",
            )),
        );
    }
    let name = f.get("naam").cloned().unwrap_or_default();
    let password = f.get("wachtwoord").cloned().unwrap_or_default();
    if !app.sessions.may_try(&name) {
        return login_page(
            lang,
            Some(lang.t(
                "Te veel mislukte pogingen; wacht een minuut.",
                "Too many failed attempts; wait a minute.",
            )),
        );
    }
    let app2 = app.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let users = Users::load(&app2.secrets).ok()?;
        users
            .check(&name, &password)
            .map(|u| (u.name.clone(), u.role))
    })
    .await
    .ok()
    .flatten();
    let name = f.get("naam").cloned().unwrap_or_default();
    match checked {
        Some((user, role)) => {
            app.sessions.succeeded(&user);
            let Ok((token, info)) = app.sessions.create(&user, role) else {
                return html_response(StatusCode::INTERNAL_SERVER_ERROR, "session".into());
            };
            let _ = audit(&app, &info, "login", json!({}), b"");
            let mut r = redirect("/");
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}={token}; Path=/; HttpOnly; Secure; SameSite=Strict"
            )) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        None => {
            app.sessions.failed(&name);
            let _ = app
                .audit
                .append(&html::esc(&name), "-", "login-failed", json!({}), b"");
            login_page(
                lang,
                Some(lang.t(
                    "Onbekende gebruikersnaam of verkeerd wachtwoord.",
                    "Unknown user name or wrong password.",
                )),
            )
        }
    }
}

async fn logout(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let Some(s) = session_of(&app, &headers) else {
        return redirect("/login");
    };
    if !check_csrf(&s, f.get("csrf").map(String::as_str)) {
        return html_response(
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong / CSRF-token ontbreekt of klopt niet".into(),
        );
    }
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        app.sessions.remove(t);
    }
    let _ = audit(&app, &s, "logout", json!({}), b"");
    let mut r = redirect("/login");
    r.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "inzicht_sessie=; Path=/; HttpOnly; Secure; SameSite=Strict; Max-Age=0",
        ),
    );
    r
}

async fn home(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let s = match session_of(&app, &headers) {
        Some(s) => s,
        None => return redirect("/login"),
    };
    let t = |a, b| lang.t(a, b).to_string();
    let mut b = html::p(&t(
        "inzicht laat zien welke re-integratievoorzieningen welke mensen helpen aan werk. Werk in deze volgorde: eerst beschrijven (Monitor, Tabel), dan verklaren (Clusters, Beslisboom, Overleving, Voorzieningen), dan pas voorspellen (Voorspelmodel) — met een bias-audit bij elk model.",
        "inzicht shows which re-integration provisions help which people find work. Work in this order: first describe (Monitor, Table), then explain (Clusters, Decision tree, Survival, Provisions), and only then predict (Prediction model) — with a bias audit for every model.",
    ));
    b.push_str(&html::p(&t(
        "Alles wat u ziet is beschermd: groepen kleiner dan de drempel worden afgeschermd en aantallen zijn licht verstoord. Elke vraag en download komt in het auditlog.",
        "Everything you see is protected: groups below the threshold are suppressed and counts are slightly perturbed. Every query and download goes into the audit log.",
    )));
    b.push_str("<ul class=\"inzicht-links\">");
    for n in html::NAV
        .iter()
        .filter(|n| n.path != "/" && n.roles.contains(&s.role))
    {
        b.push_str(&format!(
            "<li><a class=\"utrecht-link\" href=\"{}\">{}</a></li>",
            n.path,
            esc(lang.t(n.nl, n.en))
        ));
    }
    b.push_str("</ul>");
    html_response(
        StatusCode::OK,
        html::layout(lang, "inzicht", "/", "/", Some(&viewer(&s)), None, &b),
    )
}

async fn run_page(
    app: &Shared,
    page: &str,
    p: &Params,
    s: &SessionInfo,
) -> Result<Arc<Value>, PageError> {
    let (app2, page2, p2, s2) = (app.clone(), page.to_string(), p.clone(), s.clone());
    tokio::task::spawn_blocking(move || compute(&app2, &page2, &p2, &s2.user))
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?
}

async fn page(
    State(app): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let (page, s) = match authorise(&app, &headers, &name, false) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let p = Params::new(q);
    let title = page_title(&page, lang);
    let here = here(&page, &p);
    if page == "/tabel"
        && p.get("indeling").is_none()
        && p.get("waar").is_none()
        && p.get("maat").is_none()
    {
        // The empty form first: a free table spends query budget only when asked.
        let (dims, measures) = table_choices(&app, lang);
        let body = pages::tabel_form(lang, &p, &dims, &measures);
        return html_response(
            StatusCode::OK,
            html::layout(lang, &title, &page, &here, Some(&viewer(&s)), None, &body),
        );
    }
    let result = run_page(&app, &page, &p, &s).await;
    let env = match result {
        Ok(v) => v,
        Err(e) => return error_page(lang, &title, &page, &here, &s, &e),
    };
    let text = serde_json::to_vec(&*env).unwrap_or_default();
    if let Err(e) = audit(&app, &s, &format!("page:{page}"), p.json(), &text) {
        return error_page(
            lang,
            &title,
            &page,
            &here,
            &s,
            &PageError::Internal(format!("audit log: {e}")),
        );
    }
    let app2 = app.clone();
    let ch = tokio::task::spawn_blocking(move || choices(&app2))
        .await
        .unwrap_or_else(|_| {
            Arc::new(Choices {
                wijken: vec![],
                groups: vec![],
            })
        });
    let body = match page.as_str() {
        "/monitor" => pages::monitor_body(lang, &p, &env),
        "/tabel" => {
            let (dims, measures) = table_choices(&app, lang);
            format!(
                "{}{}",
                pages::tabel_form(lang, &p, &dims, &measures),
                pages::tabel_body(lang, &p, &env)
            )
        }
        "/datakwaliteit" => pages::quality_body(lang, &p, &env),
        "/clusters" => pages::clusters_body(lang, &p, &env),
        "/beslisboom" => pages::tree_body(lang, &p, &env, &ch),
        "/voorspelmodel" => pages::model_body(lang, &p, &env, &ch),
        "/overleving" => pages::survival_body(lang, &p, &env, &ch),
        _ => String::new(),
    };
    html_response(
        StatusCode::OK,
        html::layout(
            lang,
            &title,
            &page,
            &here,
            Some(&viewer(&s)),
            env["meta"]["snapshot"].as_str(),
            &body,
        ),
    )
}

/// (value, label) pairs of a select.
type Options = Vec<(String, String)>;

fn table_choices(app: &App, lang: Lang) -> (Options, Options) {
    let snapshot = current_snapshot(app);
    let cached = lock(&app.table_list)
        .as_ref()
        .filter(|(s, _)| *s == snapshot)
        .map(|(_, l)| l.clone());
    let list = match cached {
        Some(l) => l,
        None => {
            let db = lock(&app.db);
            let l = Arc::new(db.list());
            *lock(&app.table_list) = Some((db.snapshot.clone(), l.clone()));
            l
        }
    };
    let dims = list["dimensions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let n = d["name"].as_str()?;
            let label = if lang == Lang::En {
                d["label_en"].as_str()
            } else {
                d["label"].as_str()
            }
            .unwrap_or(n);
            Some((n.to_string(), format!("{label} ({n})")))
        })
        .collect();
    let measures = list["measures"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some((
                m["name"].as_str()?.to_string(),
                m["label"].as_str()?.to_string(),
            ))
        })
        .collect();
    (dims, measures)
}

async fn api(
    State(app): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (page, s) = match authorise(&app, &headers, &name, true) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    if matches!(page.as_str(), "/consulent" | "/audit" | "/") {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "this page has no JSON twin"}),
        );
    }
    let p = Params::new(q);
    match run_page(&app, &page, &p, &s).await {
        Ok(env) => {
            let text = serde_json::to_vec(&*env).unwrap_or_default();
            if let Err(e) = audit(&app, &s, &format!("api:{page}"), p.json(), &text) {
                return json_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({"error": format!("audit log: {e}")}),
                );
            }
            json_response(StatusCode::OK, &env)
        }
        Err(PageError::Input(m)) => json_response(StatusCode::BAD_REQUEST, &json!({"error": m})),
        Err(PageError::Internal(m)) => {
            json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": m}))
        }
    }
}

/// The result behind an export or chart: a finished effects job, or a computed page.
async fn result_for(
    app: &Shared,
    page: &str,
    p: &Params,
    s: &SessionInfo,
) -> Result<Arc<Value>, PageError> {
    if page == "/voorzieningen" {
        let key = effects_key(app, p);
        return match match lock(&app.jobs).get(&key) {
            Some(Job::Done(v)) => Some(v.clone()),
            _ => None,
        } {
            Some(v) => Ok(v),
            None => Err(PageError::Input(
                "compute the provision effects first (Voorzieningen) / bereken eerst de effecten"
                    .into(),
            )),
        };
    }
    run_page(app, page, p, s).await
}

async fn download(
    State(app): State<Shared>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let (page, s) = match authorise(&app, &headers, &name, true) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let table = q
        .iter()
        .find(|(k, _)| k == "tabel")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let Some(format) = q
        .iter()
        .find(|(k, _)| k == "formaat")
        .and_then(|(_, v)| Format::parse(v))
    else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "formaat: csv-nl, csv or xlsx"}),
        );
    };
    let p = Params::new(q);
    let env = match result_for(&app, &page, &p, &s).await {
        Ok(v) => v,
        Err(PageError::Input(m)) => {
            return json_response(StatusCode::BAD_REQUEST, &json!({"error": m}))
        }
        Err(PageError::Internal(m)) => {
            return json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": m}))
        }
    };
    // The table is chosen by name from the page's own list: nothing from the request reaches
    // a file path, and the file name is built from fixed parts only.
    let Some(tab) = pages::tables(&page, &env)
        .into_iter()
        .find(|t| t.name == table)
    else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": "unknown table for this page"}),
        );
    };
    let snapshot = env["meta"]["snapshot"].as_str().unwrap_or("").to_string();
    let stamp = export::stamp(&snapshot, &env["protection"]);
    let bytes = match format {
        Format::CsvNl => export::csv(&tab, true, &stamp),
        Format::Csv => export::csv(&tab, false, &stamp),
        Format::Xlsx => match export::xlsx(&tab, &stamp) {
            Ok(b) => b,
            Err(e) => {
                return json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": e}))
            }
        },
    };
    if let Err(e) = audit(
        &app,
        &s,
        &format!("export:{page}:{}:{}", tab.name, format.extension()),
        p.json(),
        &bytes,
    ) {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": format!("audit log: {e}")}),
        );
    }
    let file = format!(
        "inzicht-{}-{}-{}.{}",
        name,
        tab.name,
        snapshot
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>(),
        format.extension()
    );
    secure_headers(
        (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, format.content_type().to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            bytes,
        )
            .into_response(),
    )
}

async fn chart(
    State(app): State<Shared>,
    UrlPath((name, file)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let (page, s) = match authorise(&app, &headers, &name, true) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let Some(chart_name) = file.strip_suffix(".svg") else {
        return not_found().await;
    };
    let p = Params::new(q);
    let env = match result_for(&app, &page, &p, &s).await {
        Ok(v) => v,
        Err(PageError::Input(m)) => {
            return json_response(StatusCode::BAD_REQUEST, &json!({"error": m}))
        }
        Err(PageError::Internal(m)) => {
            return json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"error": m}))
        }
    };
    let Some((_, svg)) = pages::charts(&page, &env, lang)
        .into_iter()
        .find(|(n, _)| n == chart_name)
    else {
        return not_found().await;
    };
    if let Err(e) = audit(
        &app,
        &s,
        &format!("chart:{page}:{chart_name}"),
        p.json(),
        svg.as_bytes(),
    ) {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": format!("audit log: {e}")}),
        );
    }
    secure_headers(
        (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "image/svg+xml")],
            svg,
        )
            .into_response(),
    )
}

// ---------------------------------------------------------------- provision effects (background)

fn effects_key(app: &App, p: &Params) -> String {
    let snapshot = current_snapshot(app);
    let keep: Vec<(String, String)> =
        p.0.iter()
            .filter(|(k, _)| matches!(k.as_str(), "leeftijd_min" | "leeftijd_max" | "wijk"))
            .cloned()
            .collect();
    format!("effects|{snapshot}|{}", Params(keep).query())
}

fn effects_params(p: &Params) -> Params {
    Params::new(
        p.0.iter()
            .filter(|(k, _)| matches!(k.as_str(), "leeftijd_min" | "leeftijd_max" | "wijk"))
            .cloned()
            .collect(),
    )
}

async fn effects_start(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let s = match require(&app, &headers, &[Role::Analist]) {
        Ok(s) => s,
        Err(d) => return denied(d, lang, false),
    };
    let token = f.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
    if !check_csrf(&s, token) {
        return html_response(StatusCode::FORBIDDEN, html::layout(lang, "CSRF", "", "/", None, None, &html::alert("error", lang.t("Het formulier is verlopen of komt niet van deze site. Laad de pagina opnieuw.", "The form expired or did not come from this site. Reload the page."))));
    }
    let p = effects_params(&Params::new(f));
    let age = |k: &str| {
        p.get(k)
            .map(|v| v.trim().parse::<i32>().map_err(|_| format!("{k} = '{v}'")))
    };
    let (age_min, age_max) = match (
        age("leeftijd_min").transpose(),
        age("leeftijd_max").transpose(),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return error_page(
                lang,
                "Voorzieningen",
                "/voorzieningen",
                "/voorzieningen",
                &s,
                &PageError::Input(format!(
                    "{e}: geef een leeftijd in hele jaren / give an age in whole years"
                )),
            )
        }
    };
    let key = effects_key(&app, &p);
    let start = {
        let mut jobs = lock(&app.jobs);
        match jobs.get(&key) {
            Some(Job::Running { .. }) | Some(Job::Done(_)) => false,
            _ => {
                jobs.insert(
                    key.clone(),
                    Job::Running {
                        started: Instant::now(),
                    },
                );
                true
            }
        }
    };
    let _ = audit(&app, &s, "start:/voorzieningen", p.json(), b"");
    if start {
        let app2 = app.clone();
        let p2 = p.clone();
        std::thread::spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || -> Result<Value, PageError> {
                    let session = Session::open(&app2.store, None, &app2.key_file)?;
                    let opt = inzicht_stats::provision::EffectOptions {
                        focus: inzicht_stats::provision::Focus {
                            age_min,
                            age_max,
                            wijk: None,
                        },
                        ..Default::default()
                    };
                    let mut m = inzicht_store::effects::run(
                        &session,
                        &app2.protector,
                        &opt,
                        p2.get("wijk"),
                    )?;
                    // The target group is described with the wijk's code; the page names it.
                    if let (Some(focus), Some(code)) =
                        (m.get("focus").and_then(|f| f.as_str()), p2.get("wijk"))
                    {
                        let names = session.wijk_names()?;
                        if let Some((_, Some(name))) = names.iter().find(|(c, _)| c == code) {
                            let named = focus
                                .replace(&format!("wijk {code}"), &format!("wijk {name} ({code})"));
                            m.insert("focus".into(), serde_json::json!(named));
                        }
                    }
                    let ctx = Ctx {
                        session: &session,
                        protector: &app2.protector,
                        asker: None,
                    };
                    Ok(pages::envelope(m, &ctx, &p2))
                },
            ))
            .unwrap_or_else(|_| {
                Err(PageError::Internal(
                    "the computation failed (see the server log)".into(),
                ))
            });
            lock(&app2.jobs).insert(
                key,
                match result {
                    Ok(v) => Job::Done(Arc::new(v)),
                    Err(PageError::Input(m) | PageError::Internal(m)) => Job::Failed(m),
                },
            );
        });
    }
    redirect(&here("/voorzieningen", &p))
}

enum JobView {
    None,
    Running(u64),
    Done(Arc<Value>),
    Failed(String),
}

fn job_view(app: &App, p: &Params) -> JobView {
    let key = effects_key(app, p);
    match lock(&app.jobs).get(&key) {
        None => JobView::None,
        Some(Job::Running { started }) => JobView::Running(started.elapsed().as_secs()),
        Some(Job::Done(v)) => JobView::Done(v.clone()),
        Some(Job::Failed(m)) => JobView::Failed(m.clone()),
    }
}

async fn effects_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let s = match require(&app, &headers, &[Role::Analist]) {
        Ok(s) => s,
        Err(d) => return denied(d, lang, false),
    };
    let p = effects_params(&Params::new(q));
    let here = here("/voorzieningen", &p);
    let title = page_title("/voorzieningen", lang);
    let ch = {
        let a = app.clone();
        tokio::task::spawn_blocking(move || choices(&a))
            .await
            .unwrap_or_else(|_| {
                Arc::new(Choices {
                    wijken: vec![],
                    groups: vec![],
                })
            })
    };
    let mut body = html::p(lang.t(
        "Stap 2 — verklaren: helpt een voorziening? Per voorzieningengroep de uitstroom naar werk, school of inkomen van deelnemers tegen vergelijkbare niet-deelnemers, met en zonder matching.",
        "Step 2 — explain: does a provision help? Per provision group the outflow to work, school or income of participants against similar non-participants, with and without matching.",
    ));
    body.push_str(&pages::effects_form(lang, &p, &ch.wijken, &s.csrf));
    let mut status = StatusCode::OK;
    let mut snapshot = None;
    match job_view(&app, &p) {
        JobView::None => body.push_str(&html::p(lang.t(
            "Nog niet berekend voor deze doelgroep: kies en klik op Bereken.",
            "Not computed yet for this target group: choose and click Compute.",
        ))),
        JobView::Running(secs) => {
            body.push_str(&format!("<div class=\"utrecht-alert utrecht-alert--info\" role=\"status\"><p class=\"utrecht-paragraph\">{} {secs} s. {}</p><progress class=\"inzicht-progress\" max=\"40\" value=\"{}\">{secs} s</progress><p class=\"utrecht-paragraph\"><a class=\"utrecht-link\" href=\"{}\">{}</a></p></div>",
                lang.t("Bezig met matchen en bootstrappen:", "Matching and bootstrapping:"), lang.t("De pagina ververst vanzelf.", "The page refreshes by itself."), secs.min(40), esc(&here), lang.t("Ververs nu", "Refresh now")));
            body.push_str("<span id=\"inzicht-refresh\" data-seconds=\"3\" hidden></span>");
        }
        JobView::Failed(m) => {
            status = StatusCode::BAD_REQUEST;
            body.push_str(&html::alert("error", &m));
        }
        JobView::Done(env) => {
            let text = serde_json::to_vec(&*env).unwrap_or_default();
            let _ = audit(&app, &s, "page:/voorzieningen", p.json(), &text);
            snapshot = env["meta"]["snapshot"].as_str().map(str::to_string);
            body.push_str(&pages::effects_body(lang, &p, &env));
        }
    }
    html_response(
        status,
        html::layout(
            lang,
            &title,
            "/voorzieningen",
            &here,
            Some(&viewer(&s)),
            snapshot.as_deref(),
            &body,
        ),
    )
}

async fn effects_api(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let s = match require(&app, &headers, &[Role::Analist]) {
        Ok(s) => s,
        Err(d) => return denied(d, Lang::Nl, true),
    };
    let p = effects_params(&Params::new(q));
    match job_view(&app, &p) {
        JobView::None => json_response(StatusCode::OK, &json!({"status": "not_started"})),
        JobView::Running(secs) => json_response(
            StatusCode::OK,
            &json!({"status": "running", "seconds": secs}),
        ),
        JobView::Failed(m) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"status": "failed", "error": m}),
        ),
        JobView::Done(env) => {
            let text = serde_json::to_vec(&*env).unwrap_or_default();
            let _ = audit(&app, &s, "api:/voorzieningen", p.json(), &text);
            json_response(StatusCode::OK, &env)
        }
    }
}

// ---------------------------------------------------------------- consultant

const HANDLE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);

async fn consultant(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let s = match require(&app, &headers, &[Role::Consulent]) {
        Ok(s) => s,
        Err(d) => return denied(d, lang, false),
    };
    let t = |a, b| lang.t(a, b).to_string();
    let mut body = html::p(&t(
        "Zoek één cliënt op met het BSN. Het BSN wordt op de server omgezet in het pseudoniem en nergens bewaard of gelogd; u krijgt een kortlevende verwijzing (15 minuten). U beslist; inzicht geeft informatie.",
        "Look up one client by BSN. The server turns the BSN into the pseudonym and neither stores nor logs it; you get a short-lived handle (15 minutes). You decide; inzicht informs.",
    ));
    body.push_str(&format!(
        "<form method=\"post\" action=\"/consulent\" class=\"inzicht-form\" autocomplete=\"off\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">{}{}</form>",
        esc(&s.csrf),
        html::input("bsn", &t("BSN", "BSN"), "text", "", &t("9 cijfers; wordt gecontroleerd met de elfproef.", "9 digits; checked with the eleven test.")),
        html::submit(&t("Opzoeken", "Look up"))
    ));
    let here_of_client = q
        .iter()
        .find(|(k, _)| k == "h")
        .map_or("/consulent".to_string(), |(_, h)| {
            format!("/consulent?h={}", html::url_enc(h))
        });
    if let Some(h) = q.iter().find(|(k, _)| k == "h").map(|(_, v)| v.clone()) {
        let recorded = q.iter().any(|(k, _)| k == "vastgelegd");
        let app2 = app.clone();
        let user = s.user.clone();
        let h2 = h.clone();
        let lang2 = lang;
        let csrf = s.csrf.clone();
        let sections = tokio::task::spawn_blocking(move || {
            client_sections(&app2, &user, &h2, lang2, &csrf, recorded)
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()));
        match sections {
            Ok(html) => body.push_str(&html),
            Err(e) => body.push_str(&html::alert("error", &e)),
        }
    }
    page_response(
        StatusCode::OK,
        lang,
        "/consulent",
        &here_of_client,
        &s,
        &body,
    )
}

async fn consultant_lookup(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (lang, s) = match consultant_post(&app, &headers, &f) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let bsn: String = f
        .get("bsn")
        .map(|b| {
            b.chars()
                .filter(|c| !c.is_whitespace() && *c != '.')
                .collect()
        })
        .unwrap_or_default();
    if !inzicht_domain::bsn::is_valid(&bsn) {
        let _ = audit(&app, &s, "consulent:lookup-invalid", json!({}), b"");
        let body = format!(
            "{}<p class=\"utrecht-paragraph\"><a class=\"utrecht-link\" href=\"/consulent\">{}</a></p>",
            html::alert("error", lang.t("Dit is geen geldig BSN (9 cijfers, elfproef).", "This is not a valid BSN (9 digits, eleven test).")),
            lang.t("Opnieuw", "Again")
        );
        return page_response(
            StatusCode::BAD_REQUEST,
            lang,
            "/consulent",
            "/consulent",
            &s,
            &body,
        );
    }
    let bsn = format!("{bsn:0>9}");
    let app2 = app.clone();
    let bsn2 = bsn.clone();
    let looked_up = tokio::task::spawn_blocking(move || -> Result<(String, Months), String> {
        let key = inzicht_store::KeyFile::load(&app2.key_file)?;
        let pseudonym = key.pseudonym(&bsn2);
        let db = lock(&app2.db);
        let months = db.client_months(&pseudonym).map_err(|e| e.to_string())?;
        Ok((pseudonym, months))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let (pseudonym, months) = match looked_up {
        Ok(m) => m,
        Err(e) => {
            return error_page(
                lang,
                "Cliënt",
                "/consulent",
                "/consulent",
                &s,
                &PageError::Internal(e),
            )
        }
    };
    let handle = match random_bytes() {
        Ok(b) => hex(&b[..12]),
        Err(e) => {
            return error_page(
                lang,
                "Cliënt",
                "/consulent",
                "/consulent",
                &s,
                &PageError::Internal(e),
            )
        }
    };
    let summary = serde_json::to_vec(&months).unwrap_or_default();
    let _ = audit(
        &app,
        &s,
        "consulent:lookup",
        json!({"bsn_hmac": app.audit.identifier_mac(&bsn), "handle": handle}),
        &summary,
    );
    lock(&app.handles).insert(
        handle.clone(),
        Handle {
            user: s.user.clone(),
            created: Instant::now(),
            pseudonym,
            months: Some(months),
            candidate: false,
        },
    );
    redirect(&format!("/consulent?h={handle}"))
}

// ---------------------------------------------------------------- auditor

async fn audit_page(State(app): State<Shared>, headers: HeaderMap) -> Response {
    let lang = lang_of(&headers);
    let s = match require(&app, &headers, &[Role::Auditor]) {
        Ok(s) => s,
        Err(d) => return denied(d, lang, false),
    };
    let t = |a, b| lang.t(a, b).to_string();
    let _ = audit(&app, &s, "page:/audit", json!({}), b"");
    let verified = crate::audit::verify(&app.secrets, None);
    let mut body = match &verified {
        Ok(h) => html::alert(
            "ok",
            &format!(
                "{} {} {}; {}: {}",
                t("De keten klopt:", "The chain verifies:"),
                h.count,
                t("regels", "entries"),
                t("kop", "head"),
                h.mac
            ),
        ),
        Err(e) => html::alert(
            "error",
            &format!(
                "{} {e}",
                t("De keten klopt niet:", "The chain does not verify:")
            ),
        ),
    };
    body.push_str(&html::p(&t("Bewaar de kop (inzicht audit head) ook buiten deze server: alleen zo is het afknippen van het eind te zien.", "Keep the head (inzicht audit head) outside this server as well: only then can cutting off the end be detected.")));
    let rows: Vec<Vec<String>> = app
        .audit
        .tail(200)
        .unwrap_or_default()
        .into_iter()
        .rev()
        .map(|e| {
            vec![
                e.seq.to_string(),
                e.time,
                e.user,
                e.role,
                e.action,
                e.params.to_string(),
                e.result.chars().take(16).collect(),
            ]
        })
        .collect();
    body.push_str(&html::table(
        &t("De laatste 200 regels", "The last 200 entries"),
        &[
            "#".into(),
            t("tijd", "time"),
            t("gebruiker", "user"),
            t("rol", "role"),
            t("actie", "action"),
            t("parameters", "parameters"),
            t("vingerafdruk", "fingerprint"),
        ],
        &rows,
    ));
    page_response(StatusCode::OK, lang, "/audit", "/audit", &s, &body)
}

// ---------------------------------------------------------------- consultant advice (issue 8)

/// The matching data of the current snapshot (read on first use, well under a second).
fn matching_data(app: &App) -> Result<Arc<inzicht_store::matching::MatchData>, String> {
    let snapshot = current_snapshot(app);
    if let Some(m) = lock(&app.matching).as_ref() {
        if m.snapshot == snapshot {
            return Ok(m.clone());
        }
    }
    let mut db = lock(&app.db);
    fresh(app, &mut db).map_err(|e| {
        let (PageError::Input(m) | PageError::Internal(m)) = e;
        m
    })?;
    let cols =
        inzicht_store::matching::MatchColumns::from_dir(&app.secrets).map_err(|e| e.to_string())?;
    let m = Arc::new(inzicht_store::matching::load(&db, &cols, None).map_err(|e| e.to_string())?);
    *lock(&app.matching) = Some(m.clone());
    Ok(m)
}

/// Fits the advice models of the current snapshot unless they are there or being fitted
/// (blocking; the warm-up thread calls it). The session is held only while reading.
fn fit_advice(app: &App) {
    let snapshot = current_snapshot(app);
    {
        // Check and claim under one lock, so that two requests never fit the same snapshot.
        let mut st = lock(&app.advice);
        match &*st {
            AdviceState::Done(m) if m.snapshot == snapshot => return,
            AdviceState::Running { snapshot: s, .. } | AdviceState::Failed { snapshot: s, .. }
                if *s == snapshot =>
            {
                return
            }
            _ => {}
        }
        *st = AdviceState::Running {
            snapshot: snapshot.clone(),
            started: Instant::now(),
        };
    }
    let inputs = {
        let mut db = lock(&app.db);
        match fresh(app, &mut db) {
            Ok(()) => inzicht_store::advice::load_inputs(&db),
            Err(PageError::Input(m) | PageError::Internal(m)) => {
                Err(inzicht_store::StoreError::Internal(m))
            }
        }
    };
    let result = inputs.and_then(|i| {
        inzicht_store::advice::fit_inputs(
            i,
            &app.protector,
            &inzicht_stats::provision::EffectOptions::default(),
        )
    });
    *lock(&app.advice) = match result {
        Ok(m) => AdviceState::Done(Arc::new(m)),
        Err(e) => {
            eprintln!("inzicht serve: advies-modellen / advice models: {e}");
            AdviceState::Failed {
                snapshot,
                message: e.to_string(),
            }
        }
    };
}

/// A consultant's POSTed form: the session and language, or the answer to send (log in,
/// forbidden, or a form that expired or did not come from this site).
fn consultant_post(
    app: &App,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<(Lang, SessionInfo), Box<Response>> {
    let lang = lang_of(headers);
    let s =
        require(app, headers, &[Role::Consulent]).map_err(|d| Box::new(denied(d, lang, false)))?;
    if !check_csrf(&s, f.get("csrf").map(String::as_str)) {
        return Err(Box::new(html_response(
            StatusCode::FORBIDDEN,
            html::layout(
                lang,
                "CSRF",
                "",
                "/",
                None,
                None,
                &html::alert(
                    "error",
                    lang.t(
                        "Het formulier is verlopen of komt niet van deze site.",
                        "The form expired or did not come from this site.",
                    ),
                ),
            ),
        )));
    }
    Ok((lang, s))
}

/// The pseudonym behind a handle of this user that has not expired (server-side only).
fn handle_pseudonym(app: &App, user: &str, h: &str) -> Option<String> {
    lock(&app.handles)
        .get(h)
        .filter(|x| x.user == user && x.created.elapsed() < HANDLE_LIFETIME)
        .map(|x| x.pseudonym.clone())
}

/// A new short-lived handle for a client (by pseudonym), for this user.
fn new_handle(app: &App, user: &str, pseudonym: &str) -> Result<String, String> {
    let handle = hex(&random_bytes()?[..12]);
    lock(&app.handles).insert(
        handle.clone(),
        Handle {
            user: user.to_string(),
            created: Instant::now(),
            pseudonym: pseudonym.to_string(),
            months: None,
            candidate: true,
        },
    );
    Ok(handle)
}

/// The client page below the lookup form: history, advice, vacancies, the choice form
/// (blocking).
fn client_sections(
    app: &Shared,
    user: &str,
    h: &str,
    lang: Lang,
    csrf: &str,
    recorded: bool,
) -> Result<String, String> {
    let t = |a, b| lang.t(a, b).to_string();
    let found = {
        let mut m = lock(&app.handles);
        m.retain(|_, x| x.created.elapsed() < HANDLE_LIFETIME);
        m.get(h)
            .filter(|x| x.user == user)
            .map(|x| (x.pseudonym.clone(), x.months.clone(), x.candidate))
    };
    let Some((pseudonym, months, candidate)) = found else {
        return Ok(html::alert(
            "warning",
            &t(
                "Deze verwijzing is verlopen of niet van u. Zoek de cliënt opnieuw op.",
                "This handle expired or is not yours. Look the client up again.",
            ),
        ));
    };
    let months = match months {
        Some(m) => m,
        None => {
            let m = lock(&app.db)
                .client_months(&pseudonym)
                .map_err(|e| e.to_string())?;
            if let Some(x) = lock(&app.handles).get_mut(h) {
                x.months = Some(m.clone());
            }
            m
        }
    };
    let mut body = String::new();
    if months.is_empty() {
        body.push_str(&html::alert(
            "info",
            &t(
                "Geen uitkeringsmaanden van deze cliënt in de gegevens.",
                "No benefit months of this client in the data.",
            ),
        ));
        return Ok(body);
    }
    let last = months.last().cloned().unwrap_or_default();
    let rows = vec![
        vec![
            t("Eerste maand met uitkering", "First month on benefit"),
            months[0].0.clone(),
        ],
        vec![
            t("Laatste maand met uitkering", "Last month on benefit"),
            last.0.clone(),
        ],
        vec![
            t("Maanden met uitkering", "Months on benefit"),
            months.len().to_string(),
        ],
        vec![
            t(
                "Duur van de laatste uitkering (maanden)",
                "Duration of the latest spell (months)",
            ),
            last.1.map(|d| (d + 1).to_string()).unwrap_or_default(),
        ],
    ];
    body.push_str(&html::table(
        &format!("{} {}", t("Cliënt", "Client"), &h[..8.min(h.len())]),
        &[t("gegeven", "item"), t("waarde", "value")],
        &rows,
    ));
    // Advice per provision group.
    let mut groups: Vec<(String, String)> = Vec::new();
    let snapshot = current_snapshot(app);
    let advice = match &*lock(&app.advice) {
        AdviceState::Done(m) if m.snapshot == snapshot => Ok(m.clone()),
        AdviceState::Failed { message, .. } => Err(Some(message.clone())),
        AdviceState::Running { started, .. } => Err(Some(format!(
            "{} ({} s)",
            t(
                "Het advies wordt berekend (eenmalig per gegevenslevering, ongeveer een halve minuut); de pagina ververst vanzelf.",
                "The advice is being computed (once per data load, about half a minute); the page refreshes by itself."
            ),
            started.elapsed().as_secs()
        ))),
        _ => Err(None),
    };
    if matches!(advice, Err(None)) {
        // Not prepared yet (no consultant account when the server started, or a new load):
        // fit in the background now; this page refreshes until the advice is there.
        let app = app.clone();
        std::thread::spawn(move || fit_advice(&app));
    }
    match advice {
        Ok(m) => match m.client(&pseudonym, &app.protector) {
            Some(r) => {
                for g in r["groups"].as_array().into_iter().flatten() {
                    groups.push((
                        g["group"].as_str().unwrap_or("").to_string(),
                        g["name"].as_str().unwrap_or("").to_string(),
                    ));
                }
                let v = Value::Object(r);
                let _ = app.audit.append(
                    user,
                    "consulent",
                    "consulent:advies",
                    json!({"handle": h}),
                    &serde_json::to_vec(&v).unwrap_or_default(),
                );
                body.push_str(&crate::consult::advice(lang, &v));
            }
            None => body.push_str(&html::alert(
                "info",
                &t(
                    "Voor deze cliënt is geen advies te berekenen (geen maand in het panel).",
                    "No advice can be computed for this client (no month in the panel).",
                ),
            )),
        },
        Err(Some(msg)) if msg.contains(" s)") => {
            body.push_str(&html::h2(&t(
                "Voorzieningen: wat zegt de data?",
                "Provisions: what do the data say?",
            )));
            body.push_str(&html::alert("info", &msg));
            body.push_str("<span id=\"inzicht-refresh\" data-seconds=\"5\" hidden></span>");
        }
        Err(Some(msg)) => body.push_str(&html::alert("error", &msg)),
        Err(None) => {
            body.push_str(&html::alert(
                "info",
                &t(
                    "Het advies wordt voorbereid; de pagina ververst vanzelf.",
                    "The advice is being prepared; the page refreshes by itself.",
                ),
            ));
            body.push_str("<span id=\"inzicht-refresh\" data-seconds=\"5\" hidden></span>");
        }
    }
    // Vacancies.
    match matching_data(app) {
        Ok(data) => match data.client_of(&pseudonym) {
            Some(i) => {
                if groups.is_empty() {
                    let mut g: Vec<String> =
                        data.catalogue.iter().map(|p| p.group.clone()).collect();
                    g.sort();
                    g.dedup();
                    groups = g.into_iter().map(|c| (c.clone(), c)).collect();
                }
                let r = Value::Object(inzicht_store::matching::client_vacancies(&data, i, 10));
                body.push_str(&crate::consult::vacancies(lang, &r));
            }
            None => body.push_str(&html::alert(
                "info",
                &t(
                    "Deze cliënt is niet in de matchinggegevens.",
                    "This client is not in the matching data.",
                ),
            )),
        },
        Err(e) => body.push_str(&html::alert("error", &e)),
    }
    body.push_str(&crate::consult::choice_form(
        lang, csrf, h, &groups, recorded,
    ));
    if candidate {
        body.push_str(&crate::consult::reveal_form(lang, csrf, h));
    }
    Ok(body)
}

/// Records the consultant's choice: keyed MAC of the pseudonym, no BSN, no free text.
async fn record_choice(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (lang, s) = match consultant_post(&app, &headers, &f) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let h = f.get("h").cloned().unwrap_or_default();
    let pseudonym = handle_pseudonym(&app, &s.user, &h);
    let Some(pseudonym) = pseudonym else {
        return redirect(&format!("/consulent?h={}", html::url_enc(&h)));
    };
    let choice = f.get("keuze").cloned().unwrap_or_default();
    let reason = f.get("reden").cloned().unwrap_or_default();
    let valid_choice = choice.len() <= 40
        && choice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let valid_reason = matches!(reason.as_str(), "past" | "wens" | "beschikbaar" | "oordeel");
    if !valid_choice || !valid_reason || choice.is_empty() {
        return html_response(
            StatusCode::BAD_REQUEST,
            html::layout(
                lang,
                &page_title("/consulent", lang),
                "/consulent",
                "/consulent",
                Some(&viewer(&s)),
                None,
                &html::alert(
                    "error",
                    lang.t(
                        "Kies een voorziening en een reden uit de lijsten.",
                        "Choose a provision and a reason from the lists.",
                    ),
                ),
            ),
        );
    }
    let entry = json!({
        "time": inzicht_store::now_utc(),
        "user": s.user,
        "client": app.audit.identifier_mac(&pseudonym),
        "snapshot": current_snapshot(&app),
        "choice": choice,
        "reason": reason,
    });
    let path = app.secrets.join("advice-choices.jsonl");
    let written = (|| -> std::io::Result<()> {
        use std::io::Write;
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut file = opts.open(&path)?;
        writeln!(file, "{entry}")?;
        file.sync_data()
    })();
    if let Err(e) = written {
        return error_page(
            lang,
            "Cliënt",
            "/consulent",
            "/consulent",
            &s,
            &PageError::Internal(format!("{}: {e}", path.display())),
        );
    }
    let _ = audit(
        &app,
        &s,
        "consulent:keuze",
        json!({"handle": h, "choice": choice, "reason": reason}),
        entry.to_string().as_bytes(),
    );
    redirect(&format!("/consulent?h={}&vastgelegd=1", html::url_enc(&h)))
}

/// `/vacatures`: find a vacancy; for one vacancy, the best-fitting clients on benefit.
async fn vacancies_page(
    State(app): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&headers);
    let s = match require(&app, &headers, &[Role::Consulent]) {
        Ok(s) => s,
        Err(d) => return denied(d, lang, false),
    };
    let get = |k: &str| {
        q.iter()
            .find(|(a, _)| a == k)
            .map(|(_, v)| v.trim().to_string())
    };
    let text = get("q").unwrap_or_default();
    let id = get("id");
    // The language toggle returns here, with the same vacancy or search.
    let here_of_vacancies = match (&id, text.is_empty()) {
        (Some(i), _) => format!("/vacatures?id={}", html::url_enc(i)),
        (None, false) => format!("/vacatures?q={}", html::url_enc(&text)),
        (None, true) => "/vacatures".to_string(),
    };
    let app2 = app.clone();
    let user = s.user.clone();
    let text2 = text.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(String, Value), String> {
        let data = matching_data(&app2)?;
        let mut body = String::new();
        let mut audit_params = json!({"q": text2});
        match id.as_deref().and_then(|i| data.vacancy_of(i)) {
            Some(v) => {
                let current = data.current_clients();
                let profiles: Vec<inzicht_advice::ClientProfile> =
                    current.iter().map(|&i| data.clients[i].clone()).collect();
                let m = data.matcher();
                let ranked = m.rank_clients(&data.vacancies[v], &profiles, 20);
                let mut list = Vec::new();
                for sc in &ranked {
                    let i = current[sc.index as usize];
                    let Some(ps) = data.pseudonym_at(i) else { continue };
                    let handle = new_handle(&app2, &user, ps)?;
                    let e = m.explain(&data.clients[i], &data.vacancies[v], &data.catalogue);
                    list.push((
                        handle,
                        json!({"p_match": sc.p_match, "coverage": sc.coverage, "distance_km": sc.distance_km, "explanation": e}),
                    ));
                }
                body.push_str(&crate::consult::vacancy_search(lang, &text2, &[]));
                body.push_str(&crate::consult::candidates(
                    lang,
                    &data.vacancies[v].id,
                    &data.vacancies[v].title,
                    &list,
                ));
                audit_params = json!({"vacancy": data.vacancies[v].id, "candidates": list.len()});
            }
            None => {
                if let Some(i) = &id {
                    body.push_str(&html::alert("warning", &format!("{} {i}", lang.t("Onbekende vacature:", "Unknown vacancy:"))));
                }
                let needle = text2.to_lowercase();
                let hits: Vec<(String, String)> = if needle.is_empty() {
                    Vec::new()
                } else {
                    data.vacancies
                        .iter()
                        .filter(|v| v.id.to_lowercase().contains(&needle) || v.title.to_lowercase().contains(&needle))
                        .take(50)
                        .map(|v| (v.id.clone(), v.title.clone()))
                        .collect()
                };
                body.push_str(&crate::consult::vacancy_search(lang, &text2, &hits));
            }
        }
        Ok((body, audit_params))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let body = match result {
        Ok((b, params)) => {
            let _ = audit(&app, &s, "consulent:vacatures", params, b.as_bytes());
            b
        }
        Err(e) => html::alert("error", &e),
    };
    page_response(
        StatusCode::OK,
        lang,
        "/vacatures",
        &here_of_vacancies,
        &s,
        &body,
    )
}

/// Shows a candidate's BSN (from the ODS) to the consultant who asked, once, on the page
/// itself (never in a URL), and records that they did in the audit log.
async fn reveal_bsn(
    State(app): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let (lang, s) = match consultant_post(&app, &headers, &f) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let h = f.get("h").cloned().unwrap_or_default();
    let app2 = app.clone();
    let user = s.user.clone();
    let csrf = s.csrf.clone();
    let h2 = h.clone();
    let result = tokio::task::spawn_blocking(move || -> Result<(String, String), String> {
        let pseudonym = handle_pseudonym(&app2, &user, &h2).ok_or_else(|| {
            lang.t(
                "Deze verwijzing is verlopen of niet van u.",
                "This handle expired or is not yours.",
            )
            .to_string()
        })?;
        let key = inzicht_store::matching::person_keys(&app2.store, None, &[pseudonym.as_str()])
            .map_err(|e| e.to_string())?
            .pop()
            .flatten()
            .ok_or_else(|| {
                lang.t("Geen BSN bekend in de ODS.", "No BSN known in the ODS.")
                    .to_string()
            })?;
        let sections = client_sections(&app2, &user, &h2, lang, &csrf, false)?;
        Ok((key, sections))
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let body = match result {
        Ok((key, sections)) => {
            let _ = audit(
                &app,
                &s,
                "consulent:bsn-getoond",
                json!({"handle": h, "bsn_hmac": app.audit.identifier_mac(&key)}),
                b"",
            );
            format!(
                "{}{}",
                html::alert(
                    "warning",
                    &format!(
                        "{} {key}. {}",
                        lang.t("BSN van deze kandidaat:", "BSN of this candidate:"),
                        lang.t(
                            "Dat u dit opvroeg, staat in het auditlog.",
                            "That you asked is in the audit log."
                        )
                    )
                ),
                sections
            )
        }
        Err(e) => html::alert("error", &e),
    };
    page_response(StatusCode::OK, lang, "/consulent", "/consulent", &s, &body)
}
