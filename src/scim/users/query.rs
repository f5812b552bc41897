//! Answers GET /Users and POST /.search: filter, sort, page and project.
//!
//! A filter whose top-level `and` chain pins `userName`, `externalId`, `emails.value` or `id`
//! with `eq` is answered from that index and then checked in full; any other filter (one on
//! an extension attribute, say) is checked against every user of the organisation, so it is
//! slower but still right. Attributes resolve in the organisation's own User type, so its
//! declared attributes filter with their declared types and case exactness.
//! Unfiltered lists are paged in SQL, by position or by cursor (RFC 9865).

use serde_json::Value;

use super::render;
use crate::directory::users::lists::{UserKey, UserLookup, UserSort};
use crate::directory::users::User;
use crate::directory::UserId;
use crate::scim::auth::ScimAuth;
use crate::scim::error::ScimError;
use crate::scim::filter::{matches, parse_filter, Filter};
use crate::scim::list::{list_response, page_in_memory, Cursor, ListParams, Paging};
use crate::scim::org_schema::UserType;
use crate::scim::projection::Projection;
use crate::scim::schema::USER_URN;
use crate::state::AppState;

pub async fn run(
    state: &AppState,
    auth: &ScimAuth,
    params: &ListParams,
) -> Result<Value, ScimError> {
    let size = params.page_size(state.config.scim.max_results);
    let user_type = UserType::of(&auth.org);
    let projection = params.projection(&user_type);
    let sort = params
        .sort_by
        .as_deref()
        .map(parse_sort)
        .transpose()?
        .map(|by| (by, params.descending));
    let cursor = params.cursor()?;
    let directory = &state.directory;
    let org = auth.org.id;
    if let Some(text) = params.filter.as_deref() {
        let filter = parse_filter(text).map_err(|e| {
            ScimError::bad_request(
                "invalidFilter",
                format!("the filter {text:?} is not valid: {e}"),
            )
        })?;
        let candidates = match index_lookup(&filter) {
            Some(Some(lookup)) => directory.users_by_lookup(org, &lookup).await?,
            Some(None) => vec![],
            None => directory.all_users(org).await?,
        };
        let rendered = render(state, auth, &candidates, &Projection::default()).await?;
        let mut found: Vec<(User, Value)> = candidates
            .into_iter()
            .zip(rendered)
            .filter(|(_, json)| matches(&filter, json, &user_type))
            .collect();
        if let Some((by, descending)) = sort {
            sort_in_memory(&mut found, by, descending);
        }
        let keyed = found
            .into_iter()
            .map(|(u, json)| (cursor_of(&u), json))
            .collect();
        let (page, total, paging) = page_in_memory(keyed, params, size, cursor);
        let resources = page
            .into_iter()
            .map(|json| projection.apply(&user_type, json))
            .collect();
        return Ok(list_response(total, paging, resources));
    }
    let (users, total, paging) = match (cursor, sort) {
        (Some(after), _) => {
            let after = after.map(|c| UserKey {
                created_at: c.created_at,
                id: UserId::parse(&c.id).expect("a decoded cursor holds a UUID"),
            });
            let mut users = directory.users_after(org, after, size + 1).await?;
            let more = users.len() as i64 > size;
            users.truncate(size as usize);
            let next = if more {
                users.last().map(|u| cursor_of(u).encode())
            } else {
                None
            };
            (
                users,
                directory.count_users(org).await?,
                Paging::Cursor(next),
            )
        }
        (None, Some((by, descending))) => {
            let (users, total) = directory
                .users_sorted(org, by, descending, params.start() - 1, size)
                .await?;
            (users, total, Paging::Index(params.start()))
        }
        (None, None) => {
            let page = directory.users_page(org, params.start() - 1, size).await?;
            (page.users, page.positions, Paging::Index(params.start()))
        }
    };
    let resources = render(state, auth, &users, &projection).await?;
    Ok(list_response(total, paging, resources))
}

/// The index that answers a filter: `Some(Some(lookup))` to use it, `Some(None)` when the
/// filter can match nothing (an `id` that is not a UUID), `None` when no index applies.
fn index_lookup(filter: &Filter) -> Option<Option<UserLookup>> {
    for (path, value) in filter.required_equalities() {
        let core = path
            .urn
            .as_deref()
            .is_none_or(|u| u.eq_ignore_ascii_case(USER_URN));
        if !core {
            continue;
        }
        let name = path.name.to_ascii_lowercase();
        let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
        let lookup = match (name.as_str(), sub.as_deref()) {
            ("username", None) => Some(UserLookup::UserName(value.to_string())),
            ("externalid", None) => Some(UserLookup::ExternalId(value.to_string())),
            ("emails", Some("value")) => Some(UserLookup::Email(value.to_string())),
            ("id", None) => return Some(UserId::parse(value).map(UserLookup::Id)),
            _ => None,
        };
        if lookup.is_some() {
            return Some(lookup);
        }
    }
    None
}

/// `sortBy` (RFC 7644 §3.4.2.3) for the attributes the store keeps in columns.
fn parse_sort(by: &str) -> Result<UserSort, ScimError> {
    let name = by
        .strip_prefix(&format!("{USER_URN}:"))
        .unwrap_or(by)
        .to_ascii_lowercase();
    let sort = match name.as_str() {
        "username" => UserSort::UserName,
        "displayname" => UserSort::DisplayName,
        "externalid" => UserSort::ExternalId,
        "meta.created" => UserSort::Created,
        "meta.lastmodified" => UserSort::LastModified,
        _ => {
            return Err(ScimError::bad_request(
                "invalidValue",
                format!("cannot sort by {by:?}; sortBy takes userName, displayName, externalId, meta.created or meta.lastModified"),
            ))
        }
    };
    Ok(sort)
}

fn sort_in_memory(found: &mut [(User, Value)], by: UserSort, descending: bool) {
    let key = |u: &User| -> (bool, String, i64) {
        let text = match by {
            UserSort::UserName => Some(u.user_name.key()),
            UserSort::DisplayName => u.profile.display_name.clone(),
            UserSort::ExternalId => u.external_id.clone(),
            UserSort::Created | UserSort::LastModified => Some(String::new()),
        };
        let number = match by {
            UserSort::Created => u.created_at,
            UserSort::LastModified => u.updated_at,
            _ => 0,
        };
        (text.is_none(), text.unwrap_or_default(), number)
    };
    found.sort_by(|(a, _), (b, _)| {
        let (ka, kb) = (key(a), key(b));
        // Missing values last in either direction (RFC 7644 §3.4.2.3).
        ka.0.cmp(&kb.0).then_with(|| {
            let ord = (ka.1, ka.2, a.id).cmp(&(kb.1, kb.2, b.id));
            if descending {
                ord.reverse()
            } else {
                ord
            }
        })
    });
}

fn cursor_of(user: &User) -> Cursor {
    Cursor {
        created_at: user.created_at,
        id: user.id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_names() {
        assert_eq!(
            parse_sort("meta.lastModified").unwrap(),
            UserSort::LastModified
        );
        assert_eq!(
            parse_sort(&format!("{USER_URN}:userName")).unwrap(),
            UserSort::UserName
        );
        assert!(parse_sort("title").is_err());
    }
}
