//! Answers GET /Users and POST /.search: filter, sort, page and project.
//!
//! A filter whose top-level `and` chain pins `userName`, `externalId`, `emails.value` or `id`
//! with `eq` is answered from that index and then checked in full; any other filter is
//! checked against every user of the organisation, so it is slower but still right.
//! Unfiltered lists are paged in SQL, by position or by cursor (RFC 9865).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

use super::auth::ScimAuth;
use super::error::ScimError;
use super::filter::{matches, parse_filter, Filter};
use super::list::{list_response, ListParams, Paging};
use super::projection::Projection;
use super::schema::{USER, USER_URN};
use super::users::render;
use crate::directory::user_lists::{UserKey, UserLookup, UserSort};
use crate::directory::users::User;
use crate::directory::UserId;
use crate::state::AppState;

pub async fn run(
    state: &AppState,
    auth: &ScimAuth,
    params: &ListParams,
) -> Result<Value, ScimError> {
    let size = params.page_size(state.config.scim.max_results);
    let projection = Projection::parse(
        &USER,
        params.attributes.as_deref(),
        params.excluded_attributes.as_deref(),
    );
    let sort = params
        .sort_by
        .as_deref()
        .map(parse_sort)
        .transpose()?
        .map(|by| (by, params.descending));
    let cursor = params.cursor.as_deref().map(decode_cursor).transpose()?;
    if cursor.is_some() && sort.is_some() {
        return Err(ScimError::bad_request(
            "invalidValue",
            "cursor paging follows the default order; leave out sortBy or page with startIndex",
        ));
    }
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
            .filter(|(_, json)| matches(&filter, json, &USER))
            .collect();
        if let Some((by, descending)) = sort {
            sort_in_memory(&mut found, by, descending);
        }
        let total = found.len() as i64;
        let (page, paging) = match cursor {
            Some(after) => {
                let rest: Vec<_> = found
                    .into_iter()
                    .filter(|(u, _)| after.is_none_or(|k| is_after(u, k)))
                    .collect();
                let more = rest.len() as i64 > size;
                let page: Vec<_> = rest.into_iter().take(size as usize).collect();
                let next = more.then(|| encode_cursor(page.last().map(|(u, _)| u.key())));
                (page, Paging::Cursor(next.flatten()))
            }
            None => {
                let page = found
                    .into_iter()
                    .skip(params.start() as usize - 1)
                    .take(size as usize)
                    .collect();
                (page, Paging::Index(params.start()))
            }
        };
        let resources = page
            .into_iter()
            .map(|(_, json)| projection.apply(&USER, json))
            .collect();
        return Ok(list_response(total, paging, resources));
    }
    let (users, total, paging) = match (cursor, sort) {
        (Some(after), _) => {
            let mut users = directory.users_after(org, after, size + 1).await?;
            let more = users.len() as i64 > size;
            users.truncate(size as usize);
            let next = if more {
                encode_cursor(users.last().map(User::key))
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

fn is_after(user: &User, key: UserKey) -> bool {
    (user.created_at, user.id) > (key.created_at, key.id)
}

fn encode_cursor(last: Option<UserKey>) -> Option<String> {
    last.map(|k| URL_SAFE_NO_PAD.encode(format!("{}.{}", k.created_at, k.id)))
}

/// `Some(None)` for the first page (an empty cursor), `Some(key)` to continue after a key.
fn decode_cursor(cursor: &str) -> Result<Option<UserKey>, ScimError> {
    if cursor.is_empty() {
        return Ok(None);
    }
    let invalid =
        || ScimError::bad_request("invalidCursor", "the cursor is not one this server issued");
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?)
        .map_err(|_| invalid())?;
    let (at, id) = text.split_once('.').ok_or_else(invalid)?;
    Ok(Some(UserKey {
        created_at: at.parse().map_err(|_| invalid())?,
        id: UserId::parse(id).ok_or_else(invalid)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = UserKey {
            created_at: 42,
            id: UserId::new(),
        };
        let c = encode_cursor(Some(key)).unwrap();
        assert_eq!(decode_cursor(&c).unwrap(), Some(key));
        assert_eq!(decode_cursor("").unwrap(), None);
        assert_eq!(
            decode_cursor("%%%").unwrap_err().scim_type,
            Some("invalidCursor")
        );
    }

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
