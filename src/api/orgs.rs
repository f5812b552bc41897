//! `/api/v1/orgs`: list and create organisations (platform keys), read one, change its
//! settings.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::ApiJson;
use crate::clock::rfc3339;
use crate::directory::orgs::{NewOrg, Org, OrgChange};
use crate::directory::{Domain, OrgSlug};
use crate::state::AppState;

/// An organisation as the API shows it.
pub fn org_json(org: &Org) -> Value {
    json!({
        "id": org.id,
        "slug": org.slug,
        "name": org.name,
        "domains": org.domains,
        "settings": org.settings,
        "created": rfc3339(org.created_at),
        "lastModified": rfc3339(org.updated_at),
    })
}

/// `GET /api/v1/orgs`.
pub async fn list(
    State(state): State<AppState>,
    caller: ApiCaller,
) -> Result<Json<Value>, ApiError> {
    caller.require_platform()?;
    let orgs: Vec<Value> = state
        .directory
        .list_orgs()
        .await?
        .iter()
        .map(org_json)
        .collect();
    Ok(Json(json!({ "orgs": orgs })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrgBody {
    slug: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domains: Vec<String>,
}

/// `POST /api/v1/orgs`.
pub async fn create(
    State(state): State<AppState>,
    caller: ApiCaller,
    ApiJson(body): ApiJson<NewOrgBody>,
) -> Result<Response, ApiError> {
    caller.require_platform()?;
    let slug = OrgSlug::parse(body.slug.trim()).map_err(|e| ApiError::invalid(e.0))?;
    let domains = body
        .domains
        .iter()
        .map(|d| Domain::parse(d.trim()).map_err(|e| ApiError::invalid(e.0)))
        .collect::<Result<Vec<_>, _>>()?;
    let name = body
        .name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty());
    let new = NewOrg {
        slug,
        name,
        domains,
    };
    let org = state.directory.create_org(new, &caller.actor()).await?;
    Ok((StatusCode::CREATED, Json(org_json(&org))).into_response())
}

/// `GET /api/v1/orgs/{slug}`.
pub async fn show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    Ok(Json(org_json(&org)))
}

/// `PATCH /api/v1/orgs/{slug}/settings`: `{"key": value, ...}`, applied all together or
/// not at all.
pub async fn patch_settings(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<serde_json::Map<String, Value>>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let mut changes = changes(&body)?;
    if !caller.is_platform() {
        // A key of the organisation itself names domains; only proof verifies them.
        changes = changes.into_iter().map(OrgChange::for_customer).collect();
    }
    let org = state
        .directory
        .update_org(org.id, &changes, &caller.actor())
        .await?;
    Ok(Json(org_json(&org)))
}

/// Reads `{"key": value}` as `KEY=VALUE` changes; the first bad one refuses them all.
fn changes(body: &serde_json::Map<String, Value>) -> Result<Vec<OrgChange>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::invalid(
            "name at least one setting to change, e.g. {\"jit\": false}",
        ));
    }
    body.iter()
        .map(|(key, value)| {
            let text = setting_text(key, value)?;
            OrgChange::parse(&format!("{key}={text}"))
                .map_err(|e| ApiError::invalid(format!("setting {key:?}: {e}")))
        })
        .collect()
}

/// A JSON value as `OrgChange::parse` reads it: strings as they are, booleans and numbers
/// in words, a list of strings (domains) comma-separated, null as empty (which clears the
/// settings that can be cleared).
fn setting_text(key: &str, value: &Value) -> Result<String, ApiError> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Null => Ok(String::new()),
        // A list of declarations (extension_attributes) goes as the JSON it is.
        Value::Array(items) if items.iter().any(Value::is_object) => Ok(value.to_string()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::invalid(format!("setting {key:?}: a list must hold strings only"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        Value::Object(_) => Err(ApiError::invalid(format!(
            "setting {key:?}: takes a string, a boolean, a number or a list of strings"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_read_as_settings() {
        let body = json!({"jit": false, "saml_clock_skew": 30, "domains": ["a.test", "b.test"], "admin_group": null});
        let read = changes(body.as_object().unwrap()).unwrap();
        assert_eq!(read.len(), 4);
        assert!(read.contains(&OrgChange::Jit(false)));
        assert!(read.contains(&OrgChange::SamlClockSkew(30)));
        assert!(read.contains(&OrgChange::AdminGroup(None)));
        let err = changes(json!({"jit": true, "colour": "blue"}).as_object().unwrap()).unwrap_err();
        assert!(err.detail.contains("colour"), "{}", err.detail);
        assert!(changes(json!({"jit": {"x": 1}}).as_object().unwrap()).is_err());
        assert!(changes(json!({}).as_object().unwrap()).is_err());
    }
}
