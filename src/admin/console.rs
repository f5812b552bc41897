//! What every console page stands on: the `gatehouse_admin` cookie and the [`Console`]
//! extractor that turns it into a principal, the CSRF check every form goes through, the
//! scope checks (which organisations a principal may see), and the page frame ([`Nav`]).

use axum::extract::FromRequestParts;
use axum::http::header::SET_COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::directory::console::admin_lockout::LockoutPolicy;
use crate::directory::console::admin_sessions::{AdminSession, Principal};
use crate::directory::orgs::Org;
use crate::directory::sessions::Lifetimes;
use crate::directory::Actor;
use crate::state::AppState;
use crate::web::pages::PageError;

/// The console session cookie: apart from the end user's `gatehouse_session`.
pub const COOKIE_NAME: &str = "gatehouse_admin";
/// The cookie that pairs with the forms shown before sign-in (double-submit CSRF).
pub const PRE_CSRF_COOKIE: &str = "gatehouse_admin_csrf";

pub fn lifetimes(config: &Config) -> Lifetimes {
    Lifetimes {
        idle_ms: config.admin.idle_timeout_minutes as i64 * 60_000,
        absolute_ms: config.admin.absolute_timeout_hours as i64 * 3_600_000,
    }
}

/// How console password failures are counted.
pub fn lockout_policy(config: &Config) -> LockoutPolicy {
    LockoutPolicy {
        max_failures: config.admin.max_failed_logins,
        window_ms: config.admin.lockout_minutes as i64 * 60_000,
    }
}

/// Sweeps expired console sessions and old sign-in failures every `every` until the process ends.
pub fn spawn_sweeper(
    directory: crate::directory::Directory,
    config: &Config,
    every: std::time::Duration,
) {
    let lifetimes = lifetimes(config);
    let lockout = lockout_policy(config);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = directory.sweep_admin_sessions(lifetimes).await {
                tracing::error!(error = %e, "sweeping expired console sessions failed");
            }
            if let Err(e) = directory.sweep_login_failures(lockout).await {
                tracing::error!(error = %e, "sweeping old sign-in failures failed");
            }
        }
    });
}

/// A console cookie: HttpOnly, SameSite=Lax, only sent to `/admin`, Secure on https.
pub fn cookie_header(
    config: &Config,
    name: &str,
    value: &str,
    max_age: u64,
) -> (HeaderName, HeaderValue) {
    let secure = if config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie =
        format!("{name}={value}; Path=/admin; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}");
    (
        SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("cookie values are base64url"),
    )
}

/// The `Set-Cookie` that starts a console session.
pub fn session_cookie(config: &Config, value: &str) -> (HeaderName, HeaderValue) {
    let max_age = config.admin.absolute_timeout_hours * 3600;
    cookie_header(config, COOKIE_NAME, value, max_age)
}

/// The `Set-Cookie` that ends it.
pub fn clear_session_cookie(config: &Config) -> (HeaderName, HeaderValue) {
    cookie_header(config, COOKIE_NAME, "", 0)
}

/// Compares a form's CSRF token with the expected one, in constant time.
pub fn csrf_matches(expected: &str, presented: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
}

/// The refusal of a form whose CSRF token is missing or wrong.
pub fn csrf_refused() -> PageError {
    PageError::new(
        StatusCode::FORBIDDEN,
        "This form has expired",
        "The form was not sent from this console session (its security token is missing or \
         stale). Go back, reload the page and try again.",
    )
    .back_to("/admin", "Back to the console")
}

/// The signed-in console user.
#[derive(Debug, Clone)]
pub struct Console {
    pub session: AdminSession,
}

impl Console {
    pub fn principal(&self) -> &Principal {
        &self.session.principal
    }

    /// Who this is, as the event log records it.
    pub fn actor(&self) -> Actor {
        match self.principal() {
            Principal::Platform { admin_id, .. } => Actor::Admin(*admin_id),
            Principal::Customer { user_id, .. } => Actor::OrgAdmin(*user_id),
            Principal::Setup { link_id, .. } => Actor::SetupLink(link_id.clone()),
        }
    }

    /// Who this is, in words, for the page header.
    pub fn who(&self) -> String {
        match self.principal() {
            Principal::Platform { email, .. } => email.clone(),
            Principal::Customer { user_name, .. } => user_name.clone(),
            Principal::Setup { .. } => "setup link".into(),
        }
    }

    pub fn is_platform(&self) -> bool {
        matches!(self.principal(), Principal::Platform { .. })
    }

    /// A setup link covers an organisation's connections and tokens, nothing else.
    pub fn is_setup(&self) -> bool {
        matches!(self.principal(), Principal::Setup { .. })
    }

    /// Refuses a form whose CSRF token is not this session's.
    pub fn check_csrf(&self, presented: &str) -> Result<(), PageError> {
        if csrf_matches(&self.session.csrf_token, presented) {
            Ok(())
        } else {
            Err(csrf_refused())
        }
    }

    /// Refuses anyone but a platform admin.
    pub fn require_platform(&self) -> Result<(), PageError> {
        if self.is_platform() {
            Ok(())
        } else {
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Platform admins only",
                "Only a platform admin can do this.",
            )
            .back_to("/admin", "Back to the console"))
        }
    }

    /// The organisation a console path names, if this principal may manage it. Another
    /// organisation's slug gets the same answer as an unknown one: nothing tells it exists.
    pub async fn org(&self, state: &AppState, slug: &str) -> Result<Org, PageError> {
        let org = state.directory.org_by_slug(slug).await?;
        match org {
            Some(org) if self.principal().can_manage(org.id) => Ok(org),
            _ => Err(PageError::new(
                StatusCode::NOT_FOUND,
                "Unknown organisation",
                format!("No organisation called {slug:?} is yours to manage."),
            )
            .back_to("/admin", "Back to the console")),
        }
    }

    /// Like [`Console::org`], for pages a setup link does not open (users, groups,
    /// events, settings).
    pub async fn full_org(&self, state: &AppState, slug: &str) -> Result<Org, PageError> {
        let org = self.org(state, slug).await?;
        if self.is_setup() {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "Not covered by a setup link",
                "A setup link lets you configure connections and SCIM tokens only. Ask a \
                 platform admin for more.",
            )
            .back_to("/admin", "Back to the console"));
        }
        Ok(org)
    }

    /// The frame of a page in the console: who is signed in, and the navigation.
    pub fn nav(&self, org: Option<&Org>, section: &'static str) -> Nav {
        Nav {
            who: self.who(),
            csrf: self.session.csrf_token.clone(),
            platform: self.is_platform(),
            full: !self.is_setup(),
            org: org.map(|o| OrgRef {
                slug: o.slug.as_str().to_string(),
                name: o.name.clone(),
            }),
            section,
        }
    }
}

/// Page frame data every console template reads as `nav`.
#[derive(Debug, Clone)]
pub struct Nav {
    pub who: String,
    /// The session's CSRF token, for the sign-out form and every other form.
    pub csrf: String,
    pub platform: bool,
    /// Whether users, groups, events and settings are open to this principal.
    pub full: bool,
    /// The organisation the page is about.
    pub org: Option<OrgRef>,
    /// Which navigation entry is current.
    pub section: &'static str,
}

/// An organisation as the page frame names it.
#[derive(Debug, Clone)]
pub struct OrgRef {
    pub slug: String,
    pub name: String,
}

/// Without a live console session, a page answers with a redirect to the sign-in page.
pub struct SignInFirst;

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        let mut r = Redirect::to("/admin/login").into_response();
        r.headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
        r
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(cookie) = read_cookie(&parts.headers) else {
            return Err(SignInFirst.into_response());
        };
        let found = state
            .directory
            .admin_session(&cookie, lifetimes(&state.config))
            .await
            .map_err(|e| PageError::from(e).into_response())?;
        match found {
            Some(session) => Ok(Console { session }),
            None => Err(SignInFirst.into_response()),
        }
    }
}

/// The console cookie's value, if the request carries one.
pub fn read_cookie(headers: &HeaderMap) -> Option<String> {
    crate::session::cookie(headers, COOKIE_NAME)
}

/// A form that carries nothing but its CSRF token (revoke, sign out): see
/// [`Console::check_csrf`].
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}
