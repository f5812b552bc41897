//! `POST /.search` at the root (RFC 7644 §3.4.3): a query over every resource type. Users
//! come first, then groups, and positions run across both.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::auth::ScimAuth;
use super::error::ScimError;
use super::groups::query as group_query;
use super::json::{respond, ScimJson};
use super::list::{list_response, ListParams, Paging};
use super::users::query as user_query;
use crate::state::AppState;

pub async fn root(
    State(state): State<AppState>,
    auth: ScimAuth,
    ScimJson(body): ScimJson,
) -> Result<Response, ScimError> {
    let params = ListParams::from_search(&body)?;
    if params.cursor.is_some() {
        return Err(ScimError::bad_request(
            "invalidValue",
            "cursor paging is per resource type: search /Users/.search or /Groups/.search",
        ));
    }
    let size = params.page_size(state.config.scim.max_results);
    let start = params.start();
    let users = user_query::run(
        &state,
        &auth,
        &ListParams {
            count: Some(size),
            ..params.clone()
        },
    )
    .await?;
    let users_total = users["totalResults"].as_i64().unwrap_or(0);
    let mut resources = resources_of(users);
    // The groups' part of the page starts where the users' positions end.
    let group_params = ListParams {
        start_index: Some((start - users_total).max(1)),
        count: Some(size - resources.len() as i64),
        ..params
    };
    let groups = group_query::run(&state, &auth, &group_params).await?;
    let total = users_total + groups["totalResults"].as_i64().unwrap_or(0);
    resources.extend(resources_of(groups));
    Ok(respond(
        StatusCode::OK,
        &list_response(total, Paging::Index(start), resources),
        &[],
    ))
}

fn resources_of(mut list: Value) -> Vec<Value> {
    match list["Resources"].take() {
        Value::Array(items) => items,
        _ => vec![],
    }
}
