//! Discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas. Read-only:
//! the router answers other methods with 405. ResourceTypes and Schemas are the
//! organisation's own: they include the attributes it declares ([`UserType`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::auth::ScimAuth;
use super::error::ScimError;
use super::json::respond;
use super::list::{list_response, Paging};
use super::org_schema::UserType;
use super::schema::service_provider_config;
use crate::state::AppState;

/// The SCIM base URL of an organisation, for `meta.location` and `$ref`.
pub fn base_url(state: &AppState, auth: &ScimAuth) -> String {
    format!(
        "{}/scim/v2/{}",
        state.config.server.base_url(),
        auth.org.slug
    )
}

pub async fn service_provider(State(state): State<AppState>, auth: ScimAuth) -> Response {
    let body = service_provider_config(&base_url(&state, &auth), state.config.scim.max_results);
    respond(StatusCode::OK, &body, &[])
}

pub async fn resource_types(State(state): State<AppState>, auth: ScimAuth) -> Response {
    let all = UserType::of(&auth.org).resource_types(&base_url(&state, &auth));
    respond(
        StatusCode::OK,
        &list_response(all.len() as i64, Paging::Index(1), all),
        &[],
    )
}

pub async fn resource_type(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let rt = UserType::of(&auth.org)
        .resource_type(&id, &base_url(&state, &auth))
        .ok_or_else(|| {
            ScimError::not_found(format!("no resource type {id:?}; there are User and Group"))
        })?;
    Ok(respond(StatusCode::OK, &rt, &[]))
}

pub async fn schemas(State(state): State<AppState>, auth: ScimAuth) -> Response {
    let all = UserType::of(&auth.org).schemas(&base_url(&state, &auth));
    respond(
        StatusCode::OK,
        &list_response(all.len() as i64, Paging::Index(1), all),
        &[],
    )
}

pub async fn schema(
    State(state): State<AppState>,
    auth: ScimAuth,
    Path((_, id)): Path<(String, String)>,
) -> Result<Response, ScimError> {
    let schema = UserType::of(&auth.org)
        .schema(&id, &base_url(&state, &auth))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")))?;
    Ok(respond(StatusCode::OK, &schema, &[]))
}
