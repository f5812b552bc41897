//! `/api/v1/orgs/{slug}/domains`: an organisation's verified and pending domains, a DNS
//! check of a pending one, and a platform key's approval. A scoped key's new domains (set
//! through the settings) are pending until proven.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use crate::clock::rfc3339;
use crate::directory::connections::domains::{DomainClaim, Proof};
use crate::directory::model::Domain;
use crate::directory::orgs::Org;
use crate::dns::{self, Check};
use crate::state::AppState;

fn claim_json(c: &DomainClaim) -> Value {
    json!({
        "domain": c.domain,
        "record": {"type": "TXT", "name": c.record_name(), "value": c.record_value()},
        "created": rfc3339(c.created_at),
        "lastChecked": c.checked_at.map(rfc3339),
        "problem": c.problem,
    })
}

async fn domains_json(state: &AppState, org: &Org) -> Result<Value, ApiError> {
    let claims = state.directory.domain_claims(org.id).await?;
    Ok(json!({
        "verified": org.domains,
        "pending": claims.iter().map(claim_json).collect::<Vec<_>>(),
    }))
}

/// The pending domain a path names.
async fn claimed(state: &AppState, org: &Org, domain: &str) -> Result<Domain, ApiError> {
    let missing = || {
        ApiError::not_found(format!(
            "{domain:?} is not a pending domain of this organisation"
        ))
    };
    let domain = Domain::parse(domain).map_err(|_| missing())?;
    match state.directory.domain_claim(org.id, &domain).await {
        Ok(_) => Ok(domain),
        Err(crate::directory::Error::NotFound(_)) => Err(missing()),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/orgs/{slug}/domains`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    Ok(Json(domains_json(&state, &org).await?))
}

/// `POST /api/v1/orgs/{slug}/domains/{domain}/check`: looks the TXT record up; a found
/// record makes the domain verified.
pub async fn check(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, domain)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let domain = claimed(&state, &org, &domain).await?;
    let found = dns::verify_claim(
        &state.directory,
        &state.config.dns,
        org.id,
        &domain,
        &caller.actor(),
    )
    .await?;
    let (verified, problem) = match found {
        Check::Proven => (true, None),
        Check::NotYet(p) => (false, Some(p)),
    };
    Ok(Json(
        json!({"domain": domain, "verified": verified, "problem": problem}),
    ))
}

/// `POST /api/v1/orgs/{slug}/domains/{domain}/approve`: platform keys only.
pub async fn approve(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path((slug, domain)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    caller.require_platform()?;
    let org = caller.org(&state, &slug).await?;
    let domain = claimed(&state, &org, &domain).await?;
    state
        .directory
        .prove_domain(org.id, &domain, Proof::Approval, &caller.actor())
        .await?;
    Ok(Json(json!({"domain": domain, "verified": true})))
}
