//! Getting into the console: the password form for platform admins (rate limited per
//! client address, locked per email after repeated failures), SSO for customer admins,
//! setup links, the first-admin link, and sign-out.
//!
//! Forms shown before sign-in carry a CSRF token that must match the `gatehouse_admin_csrf`
//! cookie (double submit): no other site can make a browser sign in here.

use std::net::SocketAddr;
use std::sync::OnceLock;

use askama::Template;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use serde_json::json;

use super::console::{
    self, clear_session_cookie, cookie_header, csrf_matches, csrf_refused, session_cookie, Console,
    CsrfForm, PRE_CSRF_COOKIE,
};
use crate::directory::console::admin_sessions::{NewPrincipal, Principal};
use crate::directory::{Actor, Domain, Email};
use crate::password;
use crate::session::{cookie, CurrentSession};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    problem: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/first_admin.html")]
struct FirstAdminPage {
    csrf: String,
    token: String,
    email: String,
    problem: Option<String>,
    min_length: usize,
}

#[derive(Template)]
#[template(path = "admin/setup_link.html")]
struct SetupLinkPage {
    csrf: String,
    org_name: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/redirect.html")]
struct RedirectPage {
    url: String,
    org_name: String,
}

/// A page of the console's own look with a title, a message and one link.
#[derive(Template)]
#[template(path = "admin/message.html")]
pub struct ConsoleMessage {
    pub title: String,
    pub message: String,
    pub link_href: String,
    pub link_text: String,
}

fn message(status: StatusCode, title: &str, message: &str) -> Response {
    let m = ConsoleMessage {
        title: title.into(),
        message: message.into(),
        link_href: "/admin/login".into(),
        link_text: "Back to sign-in".into(),
    };
    console_page(status, &m)
}

/// The pre-sign-in CSRF token: the browser's, or a new one with the cookie that sets it.
fn pre_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<(HeaderName, HeaderValue)>) {
    match cookie(headers, PRE_CSRF_COOKIE) {
        Some(token) => (token, None),
        None => {
            let token = crate::random::token(24);
            let set = cookie_header(&state.config, PRE_CSRF_COOKIE, &token, 3600 * 12);
            (token, Some(set))
        }
    }
}

fn check_pre_csrf(headers: &HeaderMap, presented: &str) -> Result<(), PageError> {
    let expected = cookie(headers, PRE_CSRF_COOKIE).unwrap_or_default();
    if csrf_matches(&expected, presented) {
        Ok(())
    } else {
        Err(csrf_refused().back_to("/admin/login", "Back to sign-in"))
    }
}

fn with_cookie(mut response: Response, set: Option<(HeaderName, HeaderValue)>) -> Response {
    if let Some((name, value)) = set {
        response.headers_mut().append(name, value);
    }
    response
}

/// Where a principal starts: every organisation, or its one.
async fn start_page(state: &AppState, principal: &Principal) -> Result<String, PageError> {
    match principal.org_scope() {
        None => Ok("/admin/orgs".into()),
        Some(org) => {
            let org =
                state.directory.org(org).await?.ok_or_else(|| {
                    PageError::new(StatusCode::NOT_FOUND, "Unknown organisation", "")
                })?;
            Ok(format!("/admin/orgs/{}", org.slug))
        }
    }
}

/// `GET /admin`: the start page of whoever is signed in, or the sign-in page.
pub async fn home(
    State(state): State<AppState>,
    console: Result<Console, Response>,
) -> Result<Response, PageError> {
    match console {
        Ok(c) => Ok(Redirect::to(&start_page(&state, c.principal()).await?).into_response()),
        Err(_) => Ok(Redirect::to("/admin/login").into_response()),
    }
}

/// `GET /admin/login`.
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Result<Console, Response>,
) -> Result<Response, PageError> {
    if let Ok(c) = console {
        return Ok(Redirect::to(&start_page(&state, c.principal()).await?).into_response());
    }
    let (csrf, set) = pre_csrf(&state, &headers);
    let p = LoginPage {
        csrf,
        email: String::new(),
        problem: None,
    };
    Ok(with_cookie(console_page(StatusCode::OK, &p), set))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// A hash to verify against when no admin has the email, so that an unknown email takes
/// as long to refuse as a wrong password.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(&crate::random::token(24)).expect("a long password hashes"))
}

/// `POST /admin/login`: a platform admin's password sign-in.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    check_pre_csrf(&headers, &form.csrf)?;
    let again = |status: StatusCode, problem: String| {
        let p = LoginPage {
            csrf: form.csrf.clone(),
            email: form.email.clone(),
            problem: Some(problem),
        };
        console_page(status, &p)
    };
    if let Err(wait) = state
        .admin_login_limiter
        .check(state.proxies.client(peer, &headers))
    {
        let mut r = again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many sign-in attempts from your address. Try again in {wait} seconds."),
        );
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(wait));
        return Ok(r);
    }
    let Ok(email) = Email::parse(&form.email) else {
        return Ok(again(
            StatusCode::BAD_REQUEST,
            "That does not look like an email address.".into(),
        ));
    };
    let directory = &state.directory;
    let refuse = |reason: &'static str| {
        directory.record_failure(
            None,
            &Actor::System,
            "admin.login",
            Some(email.as_str().to_string()),
            reason,
        )
    };
    if let Some(until) = directory.login_locked_until(&email.key()).await? {
        refuse("email locked after repeated failures").await?;
        let minutes = ((until - directory.now()) / 60_000).max(1);
        return Ok(again(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many failed sign-ins for this email. Try again in {minutes} minutes."),
        ));
    }
    let stored = directory.admin_password_hash(&email).await?;
    let password = form.password.clone();
    let (admin, hash) = match stored {
        Some((id, hash)) => (Some(id), hash),
        None => (None, dummy_hash().to_string()),
    };
    // argon2 is slow on purpose; keep it off the async workers.
    let verified = tokio::task::spawn_blocking(move || password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    let Some(admin) = admin.filter(|_| verified) else {
        let policy = console::lockout_policy(&state.config);
        let locked = directory.login_failed(&email.key(), policy).await?;
        refuse(if locked.is_some() {
            "wrong email or password; email now locked"
        } else {
            "wrong email or password"
        })
        .await?;
        return Ok(again(
            StatusCode::UNAUTHORIZED,
            "That email and password do not match an admin.".into(),
        ));
    };
    directory.login_succeeded(&email.key()).await?;
    let opened = open_console(&state, NewPrincipal::Platform(admin), "/admin/orgs").await?;
    directory
        .record_success(
            None,
            &Actor::Admin(admin),
            "admin.login",
            Some(admin.to_string()),
            json!({ "method": "password" }),
        )
        .await?;
    Ok(opened)
}

/// Starts a console session: its cookie, and a redirect to where the principal begins.
async fn open_console(
    state: &AppState,
    who: NewPrincipal,
    start: &str,
) -> Result<Response, PageError> {
    let session = state
        .directory
        .create_admin_session(who, console::lifetimes(&state.config))
        .await?;
    Ok((
        [session_cookie(&state.config, &session.cookie)],
        Redirect::to(start),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct SsoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

/// `POST /admin/login/sso`: sends a customer admin to its organisation's IdP, to come back
/// to `/admin/sso`. A page that moves on by itself, not a redirect: a form's CSP
/// `form-action` would stop a redirect to the IdP's origin.
pub async fn sso_start(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SsoForm>,
) -> Result<Response, PageError> {
    check_pre_csrf(&headers, &form.csrf)?;
    let again = |problem: String| {
        let p = LoginPage {
            csrf: form.csrf.clone(),
            email: String::new(),
            problem: Some(problem),
        };
        Ok(console_page(StatusCode::BAD_REQUEST, &p))
    };
    let domain = Email::parse(&form.email)
        .ok()
        .and_then(|e| e.as_str().rsplit_once('@').map(|(_, d)| d.to_string()))
        .and_then(|d| Domain::parse(&d).ok());
    let Some(domain) = domain else {
        return again("That does not look like a work email address.".into());
    };
    let Some(org) = state.directory.org_by_domain(&domain).await? else {
        return again(format!(
            "No organisation signs in with {domain} addresses here."
        ));
    };
    if !org.settings.enabled {
        return again(format!("Sign-in is turned off for {}.", org.name));
    }
    let back = format!("/admin/sso?org={}", org.slug);
    let Some(url) = crate::sso::sign_in_url(&state, &org, &back).await? else {
        return again(format!(
            "{} has no identity provider connected yet. Ask a platform admin for a setup link.",
            org.name
        ));
    };
    let p = RedirectPage {
        url,
        org_name: org.name,
    };
    Ok(console_page(StatusCode::OK, &p))
}

#[derive(Deserialize)]
pub struct SsoBack {
    #[serde(default)]
    org: String,
}

/// `GET /admin/sso?org=`: back from the IdP with an end-user session; a console session
/// for that user when it administers the organisation.
pub async fn sso_finish(
    State(state): State<AppState>,
    Query(q): Query<SsoBack>,
    CurrentSession(session): CurrentSession,
) -> Result<Response, PageError> {
    let session = match session {
        Ok(s) if s.org_slug.as_str() == q.org => s,
        _ => {
            return Ok(message(
                StatusCode::UNAUTHORIZED,
                "Sign-in did not complete",
                "You are not signed in to that organisation. Start again from the console's sign-in page.",
            ))
        }
    };
    let user = &session.user;
    let directory = &state.directory;
    if !directory
        .is_org_admin(user.org_id, &session.org_settings, user.id)
        .await?
    {
        directory
            .record_failure(
                Some(user.org_id),
                &Actor::User(user.id),
                "admin.login",
                Some(user.id.to_string()),
                "not an admin of the organisation",
            )
            .await?;
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Not an admin",
            &format!(
                "You are signed in as {}, but you are not an admin of this organisation.",
                user.user_name.as_str()
            ),
        ));
    }
    let who = NewPrincipal::Customer {
        org_id: user.org_id,
        user_id: user.id,
        epoch: user.session_epoch,
    };
    let start = format!("/admin/orgs/{}", session.org_slug);
    let opened = open_console(&state, who, &start).await?;
    directory
        .record_success(
            Some(user.org_id),
            &Actor::OrgAdmin(user.id),
            "admin.login",
            Some(user.id.to_string()),
            json!({ "method": "sso" }),
        )
        .await?;
    Ok(opened)
}

/// `POST /admin/logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    console: Console,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    if let Some(c) = console::read_cookie(&headers) {
        state.directory.end_admin_session(&c).await?;
    }
    state
        .directory
        .record_success(
            console.principal().org_scope(),
            &console.actor(),
            "admin.logout",
            None,
            json!({}),
        )
        .await?;
    Ok((
        [clear_session_cookie(&state.config)],
        Redirect::to("/admin/login"),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// `GET /admin/first-admin?token=`: the form that creates the first platform admin.
pub async fn first_admin_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    if let Err(refusal) = state.directory.check_first_admin_link(&q.token).await? {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Link not valid",
            refusal.message(),
        ));
    }
    let (csrf, set) = pre_csrf(&state, &headers);
    let p = FirstAdminPage {
        csrf,
        token: q.token,
        email: String::new(),
        problem: None,
        min_length: password::MIN_LENGTH,
    };
    Ok(with_cookie(console_page(StatusCode::OK, &p), set))
}

#[derive(Deserialize)]
pub struct FirstAdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// `POST /admin/first-admin`.
pub async fn first_admin_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<FirstAdminForm>,
) -> Result<Response, PageError> {
    check_pre_csrf(&headers, &form.csrf)?;
    let again = |problem: String| {
        let p = FirstAdminPage {
            csrf: form.csrf.clone(),
            token: form.token.clone(),
            email: form.email.clone(),
            problem: Some(problem),
            min_length: password::MIN_LENGTH,
        };
        Ok(console_page(StatusCode::BAD_REQUEST, &p))
    };
    let Ok(email) = Email::parse(&form.email) else {
        return again("That does not look like an email address.".into());
    };
    if form.password != form.confirm {
        return again("The two passwords differ.".into());
    }
    let password = form.password.clone();
    let hashed = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|_| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "",
            )
        })?;
    let hash = match hashed {
        Ok(h) => h,
        Err(e) => return again(format!("{e}.")),
    };
    let admin = match state
        .directory
        .use_first_admin_link(&form.token, &email, &hash)
        .await?
    {
        Ok(id) => id,
        Err(refusal) => {
            return Ok(message(
                StatusCode::FORBIDDEN,
                "Link not valid",
                refusal.message(),
            ))
        }
    };
    open_console(&state, NewPrincipal::Platform(admin), "/admin/orgs").await
}

/// The cookie a setup link's secret is kept in between its first visit and its use.
const SETUP_COOKIE: &str = "gatehouse_setup_link";

/// `GET /admin/setup/{token}`: the link as sent by email. Its secret leaves the URL at
/// once: it goes into a short-lived cookie and the browser is sent to `/admin/setup`, so
/// the secret is not kept in the browser's history, sent on in a Referer, or shown by the
/// page (and the access log never writes this path's last segment, see `app`).
pub async fn setup_link_show(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    if let Err(refusal) = state.directory.peek_setup_link(&token).await? {
        return Ok(message(
            StatusCode::FORBIDDEN,
            "Link not valid",
            refusal.message(),
        ));
    }
    let (name, value) = cookie_header(&state.config, SETUP_COOKIE, &token, 900);
    let mut r = Redirect::to("/admin/setup").into_response();
    r.headers_mut().insert(name, value);
    r.headers_mut()
        .insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    Ok(r)
}

/// `GET /admin/setup`: what the link opens, and the button that uses it.
pub async fn setup_link_page(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let token = cookie(&headers, SETUP_COOKIE).unwrap_or_default();
    let link = match state.directory.peek_setup_link(&token).await? {
        Ok(link) => link,
        Err(refusal) => {
            return Ok(message(
                StatusCode::FORBIDDEN,
                "Link not valid",
                refusal.message(),
            ))
        }
    };
    let Some(org) = state.directory.org(link.org_id).await? else {
        return Ok(message(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "Its organisation is gone.",
        ));
    };
    let (csrf, set) = pre_csrf(&state, &headers);
    let p = SetupLinkPage {
        csrf,
        org_name: org.name,
        note: link.note,
    };
    Ok(with_cookie(console_page(StatusCode::OK, &p), set))
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

/// `POST /admin/setup`: uses the link up and opens a setup session for its organisation.
pub async fn setup_link_use(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<SetupForm>,
) -> Result<Response, PageError> {
    check_pre_csrf(&headers, &form.csrf)?;
    // The secret from the cookie its first visit set (or, from an older page, the form).
    let token = match form.token.as_str() {
        "" => cookie(&headers, SETUP_COOKIE).unwrap_or_default(),
        t => t.to_string(),
    };
    let link = match state.directory.use_setup_link(&token).await? {
        Ok(link) => link,
        Err(refusal) => {
            return Ok(message(
                StatusCode::FORBIDDEN,
                "Link not valid",
                refusal.message(),
            ))
        }
    };
    let who = NewPrincipal::Setup {
        org_id: link.org_id,
        link_id: link.id.clone(),
        link_expires_at: link.expires_at,
    };
    let principal = Principal::Setup {
        org_id: link.org_id,
        link_id: link.id,
    };
    let start = start_page(&state, &principal).await?;
    let mut r = open_console(&state, who, &start).await?;
    let (name, value) = cookie_header(&state.config, SETUP_COOKIE, "", 0);
    r.headers_mut().append(name, value);
    Ok(r)
}
