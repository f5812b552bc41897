//! `/admin/orgs/{slug}`: the organisation setup page. Everything a customer's IT admin needs
//! to connect an identity provider in one place: the values to copy into the IdP, SCIM
//! tokens, the SAML and OIDC connections, verified domains; for platform and customer
//! admins also who administers the organisation, and for platform admins setup links.
//!
//! The forms post to their own handlers (tokens, SAML, OIDC and setup links each in a file
//! of their own); a refused form shows this page again, with status 400 and the reason in the
//! card it came from, and changes nothing.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::console::{Console, Nav};
use crate::clock::{rfc3339, Millis};
use crate::directory;
use crate::directory::connections::domains::DomainClaim;
use crate::directory::orgs::Org;
use crate::sso::saml::metadata::{certificate_info, fingerprint};
use crate::state::AppState;
use crate::web::pages::{console_page, PageError};

/// A certificate this close to its end is flagged on the page.
const CERT_WARNING_MS: Millis = 30 * 86_400_000;

/// The values an IdP asks for, each shown with a copy button.
pub struct IdpValues {
    pub scim_base_url: String,
    pub sp_entity_id: String,
    pub acs_url: String,
    pub sp_metadata_url: String,
    pub oidc_redirect_uri: String,
}

impl IdpValues {
    fn of(state: &AppState, org: &Org) -> Self {
        let base = state.config.server.base_url();
        let slug = org.slug.as_str();
        Self {
            scim_base_url: format!("{base}/scim/v2/{slug}"),
            sp_entity_id: crate::sso::saml::sp_entity_id(state, org),
            acs_url: crate::sso::saml::acs_url(state, slug),
            sp_metadata_url: format!("{base}/saml/{slug}/metadata"),
            oidc_redirect_uri: crate::sso::oidc::redirect_uri(state, slug),
        }
    }
}

pub struct TokenRow {
    pub id: String,
    pub prefix: String,
    pub description: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    /// "active", "expired" or "revoked".
    pub state: &'static str,
}

pub struct CertRow {
    pub subject: String,
    /// SHA-256, as IdP consoles show it.
    pub fingerprint: String,
    pub valid_until: String,
    /// The badge: "good", "warn" or "bad".
    pub tone: &'static str,
    pub status: String,
}

pub struct SamlView {
    pub entity_id: String,
    pub sso_url: String,
    pub metadata_url: Option<String>,
    pub updated: String,
    pub certificates: Vec<CertRow>,
    /// Whether a certificate has expired or ends within 30 days.
    pub attention: bool,
}

pub struct OidcView {
    pub issuer: String,
    pub client_id: String,
    pub secret_set: bool,
    pub scopes: String,
}

pub struct AdminRow {
    pub user_name: String,
    pub active: bool,
}

pub struct AdminsView {
    pub named: Vec<AdminRow>,
    pub admin_group: Option<String>,
}

pub struct LinkRow {
    pub id: String,
    pub note: String,
    pub created: String,
    pub expires: String,
    /// "unused", "used", "expired" or "revoked".
    pub state: &'static str,
    pub revocable: bool,
}

/// A pending domain on the page.
pub struct ClaimRow {
    pub domain: String,
    pub record_name: String,
    pub record_value: String,
    pub created: String,
    /// What the last DNS check found, and when.
    pub checked: Option<(String, String)>,
}

/// What the forms show: the current values, or after a refusal what was sent.
#[derive(Default)]
pub struct Echo {
    pub token_description: String,
    pub token_days: String,
    pub saml_xml: String,
    pub saml_url: String,
    pub oidc_issuer: String,
    pub oidc_client_id: String,
    pub oidc_scopes: String,
    pub domains: String,
    pub admin_user_name: String,
    pub link_note: String,
    pub link_hours: String,
}

/// Why a form was refused, and which card it belongs to.
pub struct Problem {
    pub section: &'static str,
    pub message: String,
}

#[derive(Template)]
#[template(path = "admin/setup.html")]
pub struct SetupPage {
    pub nav: Nav,
    pub org_name: String,
    pub slug: String,
    pub values: IdpValues,
    pub tokens: Vec<TokenRow>,
    /// A token secret just issued: shown in this response only.
    pub new_token: Option<String>,
    pub saml: Option<SamlView>,
    pub oidc: Option<OidcView>,
    pub domains: Vec<String>,
    /// Domains named and not yet proven, with the TXT record each needs.
    pub claims: Vec<ClaimRow>,
    /// None for setup-link sessions, which do not see who administers the organisation.
    pub admins: Option<AdminsView>,
    /// Setup links: platform admins only.
    pub links: Option<Vec<LinkRow>>,
    /// A setup link just issued: shown in this response only.
    pub new_link: Option<String>,
    pub problem: Option<Problem>,
    pub echo: Echo,
}

impl SetupPage {
    /// The page as it stands for this console user.
    pub async fn load(state: &AppState, console: &Console, org: &Org) -> Result<Self, PageError> {
        let directory = &state.directory;
        let now = directory.now();
        let saml = directory.saml_connection(org.id).await?;
        let oidc = directory.oidc_connection(org.id).await?;
        let admins = if console.is_setup() {
            None
        } else {
            Some(admins_view(state, org).await?)
        };
        let links = if console.is_platform() {
            let links = directory.setup_links(org.id).await?;
            Some(links.into_iter().map(|l| link_row(l, now)).collect())
        } else {
            None
        };
        let claims = directory.domain_claims(org.id).await?;
        let echo = Echo {
            oidc_issuer: oidc.as_ref().map(|c| c.issuer.clone()).unwrap_or_default(),
            oidc_client_id: oidc
                .as_ref()
                .map(|c| c.client_id.clone())
                .unwrap_or_default(),
            oidc_scopes: oidc
                .as_ref()
                .map(|c| extra_scopes(&c.scopes))
                .unwrap_or_else(|| super::setup_oidc::DEFAULT_SCOPES.to_string()),
            domains: join_domains(org, &claims),
            link_hours: state.config.admin.setup_link_hours.to_string(),
            ..Echo::default()
        };
        Ok(Self {
            nav: console.nav(Some(org), "setup"),
            org_name: org.name.clone(),
            slug: org.slug.as_str().to_string(),
            values: IdpValues::of(state, org),
            tokens: directory
                .list_tokens(org.id)
                .await?
                .into_iter()
                .map(|t| token_row(t, now))
                .collect(),
            new_token: None,
            saml: saml.map(|c| saml_view(c, now)),
            oidc: oidc.map(|c| OidcView {
                issuer: c.issuer,
                client_id: c.client_id,
                secret_set: c.sealed_secret.is_some(),
                scopes: c.scopes.join(" "),
            }),
            domains: org.domains.iter().map(|d| d.as_str().to_string()).collect(),
            claims: claims.into_iter().map(claim_row).collect(),
            admins,
            links,
            new_link: None,
            problem: None,
            echo,
        })
    }

    /// The problem of one card, if the refused form was that card's.
    pub fn problem_in(&self, section: &str) -> Option<&str> {
        self.problem
            .as_ref()
            .filter(|p| p.section == section)
            .map(|p| p.message.as_str())
    }

    pub fn render(&self) -> Response {
        console_page(StatusCode::OK, self)
    }

    /// The page again with status 400, the reason in the card `section`, and the form
    /// showing what was sent (`echo` puts it back).
    pub async fn refuse(
        state: &AppState,
        console: &Console,
        org: &Org,
        section: &'static str,
        message: impl Into<String>,
        echo: impl FnOnce(&mut Echo),
    ) -> Result<Response, PageError> {
        let mut page = Self::load(state, console, org).await?;
        echo(&mut page.echo);
        page.problem = Some(Problem {
            section,
            message: message.into(),
        });
        Ok(console_page(StatusCode::BAD_REQUEST, &page))
    }
}

/// The scopes asked for besides `openid`, which is always asked for.
fn extra_scopes(scopes: &[String]) -> String {
    scopes
        .iter()
        .filter(|s| s.as_str() != "openid")
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The domains form's value: verified and pending domains, so saving it keeps both.
fn join_domains(org: &Org, claims: &[DomainClaim]) -> String {
    org.domains
        .iter()
        .chain(claims.iter().map(|c| &c.domain))
        .map(|d| d.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn claim_row(c: DomainClaim) -> ClaimRow {
    ClaimRow {
        domain: c.domain.as_str().to_string(),
        record_name: c.record_name(),
        record_value: c.record_value(),
        created: rfc3339(c.created_at),
        checked: c
            .checked_at
            .map(|at| (rfc3339(at), c.problem.clone().unwrap_or_default())),
    }
}

fn time_or(ms: Option<Millis>, none: &str) -> String {
    ms.map(rfc3339).unwrap_or_else(|| none.to_string())
}

fn token_row(t: directory::tokens::TokenInfo, now: Millis) -> TokenRow {
    let state = t.status(now);
    TokenRow {
        id: t.id.to_string(),
        prefix: t.prefix,
        description: t.description,
        created: rfc3339(t.created_at),
        expires: time_or(t.expires_at, "never"),
        last_used: time_or(t.last_used_at, "never"),
        state,
    }
}

fn saml_view(c: directory::connections::saml::SamlConnection, now: Millis) -> SamlView {
    let mut certificates: Vec<CertRow> = c
        .certificates
        .iter()
        .map(|b64| cert_row(b64, now))
        .collect();
    let attention = certificates.iter().any(|c| c.tone != "good");
    // Certificates a refresh removed, still accepted for their overlap.
    certificates.extend(c.retired.iter().filter(|r| r.until > now).map(|r| CertRow {
        tone: "warn",
        status: format!(
            "retired by the IdP's metadata; still accepted until {}",
            rfc3339(r.until)
        ),
        ..cert_row(&r.certificate, now)
    }));
    SamlView {
        attention,
        entity_id: c.idp_entity_id,
        sso_url: c.sso_url,
        metadata_url: c.metadata_url,
        updated: rfc3339(c.updated_at),
        certificates,
    }
}

fn cert_row(b64: &str, now: Millis) -> CertRow {
    let info = match certificate_info(b64, now) {
        Ok(info) => info,
        Err(reason) => {
            return CertRow {
                subject: format!("unreadable certificate ({reason})"),
                fingerprint: fingerprint(b64),
                valid_until: String::new(),
                tone: "bad",
                status: "unreadable".into(),
            }
        }
    };
    let left = info.not_after_ms - now;
    let (tone, status) = if info.expired {
        ("bad", "expired".to_string())
    } else if left <= CERT_WARNING_MS {
        let days = left / 86_400_000;
        let when = match days {
            0 => "expires within a day".to_string(),
            1 => "expires in 1 day".to_string(),
            d => format!("expires in {d} days"),
        };
        ("warn", when)
    } else {
        ("good", "valid".to_string())
    };
    CertRow {
        subject: info.subject,
        fingerprint: fingerprint(b64),
        valid_until: rfc3339(info.not_after_ms),
        tone,
        status,
    }
}

fn link_row(l: directory::console::admin_links::SetupLink, now: Millis) -> LinkRow {
    let state = l.state(now);
    LinkRow {
        // Revoking a used link still ends the session it opened.
        revocable: matches!(state, "unused" | "used"),
        id: l.id,
        note: l.note,
        created: rfc3339(l.created_at),
        expires: rfc3339(l.expires_at),
        state,
    }
}

async fn admins_view(state: &AppState, org: &Org) -> Result<AdminsView, PageError> {
    let mut named = Vec::new();
    for id in state.directory.named_org_admins(org.id).await? {
        if let Some(user) = state.directory.user(org.id, id).await? {
            named.push(AdminRow {
                user_name: user.user_name.as_str().to_string(),
                active: user.can_sign_in(),
            });
        }
    }
    Ok(AdminsView {
        named,
        admin_group: org.settings.admin_group.clone(),
    })
}

/// Back to the setup page, at one card.
pub fn back_to(org: &Org, section: &str) -> Response {
    Redirect::to(&format!("/admin/orgs/{}#{section}", org.slug)).into_response()
}

/// `GET /admin/orgs/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let org = console.org(&state, &slug).await?;
    Ok(SetupPage::load(&state, &console, &org).await?.render())
}

#[derive(Deserialize)]
pub struct AdminForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_name: String,
    #[serde(default)]
    admin: String,
}

/// `POST /admin/orgs/{slug}/admins`: a platform admin names a user admin of its
/// organisation (`admin=true`) or takes that away (`admin=false`).
pub async fn admins(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<AdminForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    console.require_platform()?;
    let refuse = |message: String| {
        let sent = form.user_name.clone();
        SetupPage::refuse(&state, &console, &org, "admins", message, |e| {
            e.admin_user_name = sent
        })
    };
    let admin = match form.admin.as_str() {
        "true" => true,
        "false" => false,
        other => return refuse(format!("admin must be true or false, not {other:?}.")).await,
    };
    let user_name = form.user_name.trim();
    let user = state
        .directory
        .user_by_user_name(org.id, user_name)
        .await?
        .filter(|u| !u.deleted);
    let Some(user) = user else {
        return refuse(format!(
            "No user called {user_name:?} in {}. Users arrive by SCIM or at their first \
             sign-in; name one after that.",
            org.name
        ))
        .await;
    };
    state
        .directory
        .set_org_admin(org.id, user.id, admin, &console.actor())
        .await?;
    Ok(back_to(&org, "admins"))
}
