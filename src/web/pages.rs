//! Rendering pages: every page goes through [`page`], which sets the security headers; every
//! failure on a browser path is a [`PageError`], a page that says what went wrong in plain
//! words and nothing of the internals (those go to the log, under a reference).

use askama::Template;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::directory;

/// No scripts, no external anything; forms post only here; no framing.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The sign-in page: the same, without `form-action`. Its form's answer is a redirect to
/// the organisation's IdP, an origin known only once the email is read, and Chrome applies
/// `form-action` to every redirect that follows a form's submission.
const SIGN_IN_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// The console's pages load their stylesheet and one script from this server, and nothing
/// else: no inline script or style at all.
const CONSOLE_CSP: &str =
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML response with the headers every page carries.
pub fn page(status: StatusCode, template: &impl Template) -> Response {
    render(status, template, CSP)
}

/// The sign-in page (see [`SIGN_IN_CSP`]).
pub fn sign_in_page(status: StatusCode, template: &impl Template) -> Response {
    render(status, template, SIGN_IN_CSP)
}

/// A console page: the same headers, with the console's policy.
pub fn console_page(status: StatusCode, template: &impl Template) -> Response {
    render(status, template, CONSOLE_CSP)
}

fn render(status: StatusCode, template: &impl Template, csp: &'static str) -> Response {
    match template.render() {
        Ok(html) => with_headers(status, html, csp),
        Err(e) => {
            tracing::error!(error = %e, "a page failed to render");
            with_headers(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<h1>Something went wrong</h1>".into(),
                csp,
            )
        }
    }
}

fn with_headers(status: StatusCode, html: String, csp: &'static str) -> Response {
    let headers: [(HeaderName, HeaderValue); 5] = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (status, headers, html).into_response()
}

/// A page with a title, a message and maybe a link.
#[derive(Template)]
#[template(path = "message.html")]
pub struct Message {
    pub title: String,
    pub message: String,
    pub link: Option<(String, String)>,
    pub reference: Option<String>,
}

impl Message {
    pub fn new(title: &str, message: &str) -> Self {
        Self {
            title: title.into(),
            message: message.into(),
            link: None,
            reference: None,
        }
    }

    pub fn link(mut self, href: &str, text: &str) -> Self {
        self.link = Some((href.into(), text.into()));
        self
    }
}

/// A failure on a browser path, shown as a page.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
    /// Where the page's one link leads: (href, text).
    pub back: (&'static str, &'static str),
}

impl PageError {
    pub fn new(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            title,
            message: message.into(),
            back: ("/login", "Back to sign-in"),
        }
    }

    pub fn unavailable() -> Self {
        PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            "The service cannot reach its database right now. Try again in a moment.",
        )
    }

    /// Points the page's link somewhere other than the sign-in page.
    pub fn back_to(mut self, href: &'static str, text: &'static str) -> Self {
        self.back = (href, text);
        self
    }
}

impl From<directory::Error> for PageError {
    fn from(e: directory::Error) -> Self {
        if let directory::Error::Policy(v) = e {
            return PageError::new(
                StatusCode::BAD_REQUEST,
                "Refused by the organisation's policy",
                v.message,
            )
            .back_to("/admin", "Back to the console");
        }
        if e.is_unavailable() {
            tracing::error!(error = %e, "a page request failed: the database is away");
            return PageError::unavailable();
        }
        let reference = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        tracing::error!(error = %e, reference, "a page request failed");
        PageError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Something went wrong",
            message: format!("The server could not finish this request. Try again in a moment. (Reference {reference}.)"),
            back: ("/login", "Back to sign-in"),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        page(
            self.status,
            &Message::new(self.title, &self.message).link(self.back.0, self.back.1),
        )
    }
}

/// The page for any browser path that does not exist.
pub async fn not_found() -> Response {
    PageError::new(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
    )
    .into_response()
}
