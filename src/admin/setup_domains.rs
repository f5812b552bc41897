//! Domains on the setup page. A platform admin's list is verified as saved; a customer
//! admin's new domains are claims until the DNS TXT record they name is found ("Check DNS")
//! or a platform admin approves them. Only verified domains route `/login`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::Form;
use serde::Deserialize;

use super::console::{Console, CsrfForm};
use super::setup::{back_to, SetupPage};
use crate::directory::connections::domains::Proof;
use crate::directory::model::Domain;
use crate::directory::orgs::{Org, OrgChange};
use crate::directory::{self};
use crate::dns::{self, Check};
use crate::state::AppState;
use crate::web::pages::PageError;

#[derive(Deserialize)]
pub struct DomainsForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domains: String,
}

/// `POST /admin/orgs/{slug}/domains`: replaces the organisation's domains.
pub async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    Form(form): Form<DomainsForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let refuse = |message: String| {
        let sent = form.domains.clone();
        SetupPage::refuse(&state, &console, &org, "domains", message, |e| {
            e.domains = sent
        })
    };
    let change = match OrgChange::parse(&format!("domains={}", form.domains)) {
        Ok(change) if console.is_platform() => change,
        Ok(change) => change.for_customer(),
        Err(e) => return refuse(format!("The domains were not saved: {e}")).await,
    };
    if let OrgChange::Domains(wanted) | OrgChange::ClaimDomains(wanted) = &change {
        let mut wanted = wanted.clone();
        wanted.sort();
        wanted.dedup();
        let claims = state.directory.domain_claims(org.id).await?;
        let mut current: Vec<Domain> = org.domains.clone();
        current.extend(claims.into_iter().map(|c| c.domain));
        current.sort();
        if wanted == current {
            return Ok(back_to(&org, "domains"));
        }
    }
    match state
        .directory
        .update_org(org.id, &[change], &console.actor())
        .await
    {
        Ok(_) => Ok(back_to(&org, "domains")),
        Err(directory::Error::Conflict { value, .. }) => {
            refuse(format!(
                "The domains were not saved: {value} is a verified domain of another \
                 organisation. A domain belongs to one organisation only."
            ))
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// The claim a path names, or the page again saying there is none.
async fn claimed(
    state: &AppState,
    console: &Console,
    org: &Org,
    domain: &str,
) -> Result<Result<Domain, Response>, PageError> {
    let known = match Domain::parse(domain) {
        Ok(d) => state.directory.domain_claim(org.id, &d).await.map(|_| d),
        Err(_) => Err(directory::Error::NotFound("domain claim")),
    };
    match known {
        Ok(d) => Ok(Ok(d)),
        Err(directory::Error::NotFound(_)) => {
            let message = format!("{domain:?} is not a pending domain of this organisation.");
            Ok(Err(SetupPage::refuse(
                state,
                console,
                org,
                "domains",
                message,
                |_| {},
            )
            .await?))
        }
        Err(e) => Err(e.into()),
    }
}

/// The page after a proof that another organisation's verified domain refused.
async fn taken(
    state: &AppState,
    console: &Console,
    org: &Org,
    domain: &Domain,
) -> Result<Response, PageError> {
    let message = format!(
        "{} is already a verified domain of another organisation; a domain belongs to one \
         organisation only. Ask the platform's operator if this is wrong.",
        domain.as_str()
    );
    SetupPage::refuse(state, console, org, "domains", message, |_| {}).await
}

/// `POST /admin/orgs/{slug}/domains/{domain}/check`: looks the claim's TXT record up.
pub async fn check(
    State(state): State<AppState>,
    console: Console,
    Path((slug, domain)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let domain = match claimed(&state, &console, &org, &domain).await? {
        Ok(d) => d,
        Err(page) => return Ok(page),
    };
    let found = dns::verify_claim(
        &state.directory,
        &state.config.dns,
        org.id,
        &domain,
        &console.actor(),
    )
    .await;
    match found {
        Ok(Check::Proven) => Ok(back_to(&org, "domains")),
        Ok(Check::NotYet(problem)) => {
            let message = format!("{} is not verified yet: {problem}.", domain.as_str());
            SetupPage::refuse(&state, &console, &org, "domains", message, |_| {}).await
        }
        Err(directory::Error::Conflict { .. }) => taken(&state, &console, &org, &domain).await,
        Err(e) => Err(e.into()),
    }
}

/// `POST /admin/orgs/{slug}/domains/{domain}/approve`: a platform admin vouches for it.
pub async fn approve(
    State(state): State<AppState>,
    console: Console,
    Path((slug, domain)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    console.check_csrf(&form.csrf)?;
    console.require_platform()?;
    let org = console.org(&state, &slug).await?;
    let domain = match claimed(&state, &console, &org, &domain).await? {
        Ok(d) => d,
        Err(page) => return Ok(page),
    };
    match state
        .directory
        .prove_domain(org.id, &domain, Proof::Approval, &console.actor())
        .await
    {
        Ok(()) => Ok(back_to(&org, "domains")),
        Err(directory::Error::Conflict { .. }) => taken(&state, &console, &org, &domain).await,
        Err(e) => Err(e.into()),
    }
}
