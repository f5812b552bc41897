//! Answers GET /Groups and the group half of POST /.search.
//!
//! `displayName eq`, `externalId eq`, `id eq` and `members.value eq` are answered from
//! indexes; other filters are checked against every group. Members are loaded only when the
//! response or the filter needs them, so `excludedAttributes=members` costs the same for a
//! group of 50,000 members as for an empty one.

use std::collections::HashMap;

use serde_json::Value;

use super::resource::to_json;
use crate::directory::groups::{Group, GroupLookup, Member};
use crate::directory::{GroupId, UserId};
use crate::scim::auth::ScimAuth;
use crate::scim::discovery::base_url;
use crate::scim::error::ScimError;
use crate::scim::filter::{matches, parse_filter, Filter};
use crate::scim::list::{list_response, page_in_memory, Cursor, ListParams, Paging};
use crate::scim::projection::Projection;
use crate::scim::schema::{GROUP, GROUP_URN};
use crate::state::AppState;

pub async fn run(
    state: &AppState,
    auth: &ScimAuth,
    params: &ListParams,
) -> Result<Value, ScimError> {
    let size = params.page_size(state.config.scim.max_results);
    let projection = params.projection(&GROUP);
    let cursor = params.cursor()?;
    let sort = params.sort_by.as_deref().map(parse_sort).transpose()?;
    let org = auth.org.id;
    let directory = &state.directory;
    let filter = params
        .filter
        .as_deref()
        .map(|text| {
            parse_filter(text).map_err(|e| {
                ScimError::bad_request(
                    "invalidFilter",
                    format!("the filter {text:?} is not valid: {e}"),
                )
            })
        })
        .transpose()?;
    // Positions straight from the store when nothing needs the whole set in memory.
    if filter.is_none() && sort.is_none() && cursor.is_none() {
        let (groups, total) = directory.groups_page(org, params.start() - 1, size).await?;
        let resources = render(state, auth, &groups, &projection, false).await?;
        return Ok(list_response(
            total,
            Paging::Index(params.start()),
            resources,
        ));
    }
    let candidates = match filter.as_ref().map(index_lookup) {
        Some(Some(Some(lookup))) => directory.groups_by_lookup(org, &lookup).await?,
        Some(Some(None)) => vec![],
        _ => directory.all_groups(org).await?,
    };
    let needs_members = filter.is_some() || projection.returns("members");
    let full = render(
        state,
        auth,
        &candidates,
        &Projection::default(),
        !needs_members,
    )
    .await?;
    let mut found: Vec<(Group, Value)> = candidates
        .into_iter()
        .zip(full)
        .filter(|(_, json)| filter.as_ref().is_none_or(|f| matches(f, json, &GROUP)))
        .collect();
    if let Some((key, descending)) = sort.map(|by| (by, params.descending)) {
        found.sort_by(|(a, _), (b, _)| {
            let ord = key(a).cmp(&key(b)).then(a.id.cmp(&b.id));
            if descending {
                ord.reverse()
            } else {
                ord
            }
        });
    }
    let keyed = found
        .into_iter()
        .map(|(g, json)| {
            (
                Cursor {
                    created_at: g.created_at,
                    id: g.id.to_string(),
                },
                json,
            )
        })
        .collect();
    let (page, total, paging) = page_in_memory(keyed, params, size, cursor);
    let resources = page
        .into_iter()
        .map(|json| projection.apply(&GROUP, json))
        .collect();
    Ok(list_response(total, paging, resources))
}

/// Representations of groups; members are loaded (in one query) only when returned.
pub async fn render(
    state: &AppState,
    auth: &ScimAuth,
    groups: &[Group],
    projection: &Projection,
    skip_members: bool,
) -> Result<Vec<Value>, ScimError> {
    let base = base_url(state, auth);
    let with_members = !skip_members && projection.returns("members");
    let mut members: HashMap<GroupId, Vec<Member>> = if with_members && !groups.is_empty() {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id).collect();
        state.directory.members_of_groups(auth.org.id, &ids).await?
    } else {
        HashMap::new()
    };
    Ok(groups
        .iter()
        .map(|g| {
            let m = with_members.then(|| members.remove(&g.id).unwrap_or_default());
            projection.apply(&GROUP, to_json(g, m.as_deref(), &base))
        })
        .collect())
}

type SortKey = fn(&Group) -> (bool, String, i64);

fn parse_sort(by: &str) -> Result<SortKey, ScimError> {
    let name = by
        .strip_prefix(&format!("{GROUP_URN}:"))
        .unwrap_or(by)
        .to_ascii_lowercase();
    Ok(match name.as_str() {
        "displayname" => |g| (false, g.display_name.to_lowercase(), 0),
        "externalid" => |g| (g.external_id.is_none(), g.external_id.clone().unwrap_or_default(), 0),
        "meta.created" => |g| (false, String::new(), g.created_at),
        "meta.lastmodified" => |g| (false, String::new(), g.updated_at),
        _ => {
            return Err(ScimError::bad_request(
                "invalidValue",
                format!("cannot sort groups by {by:?}; sortBy takes displayName, externalId, meta.created or meta.lastModified"),
            ))
        }
    })
}

/// `Some(Some(lookup))` to use an index, `Some(None)` when nothing can match, `None` when
/// no index applies.
fn index_lookup(filter: &Filter) -> Option<Option<GroupLookup>> {
    for (path, value) in filter.required_equalities() {
        if path
            .urn
            .as_deref()
            .is_some_and(|u| !u.eq_ignore_ascii_case(GROUP_URN))
        {
            continue;
        }
        let name = path.name.to_ascii_lowercase();
        let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
        match (name.as_str(), sub.as_deref()) {
            ("displayname", None) => {
                return Some(Some(GroupLookup::DisplayName(value.to_string())))
            }
            ("externalid", None) => return Some(Some(GroupLookup::ExternalId(value.to_string()))),
            ("id", None) => return Some(GroupId::parse(value).map(GroupLookup::Id)),
            ("members", Some("value")) => {
                return Some(UserId::parse(value).map(GroupLookup::Member))
            }
            _ => {}
        }
    }
    None
}
