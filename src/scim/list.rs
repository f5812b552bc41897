//! List and query parameters (RFC 7644 §3.4.2) and the ListResponse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};

use super::attrs::AttrLookup;
use super::error::ScimError;
use super::projection::Projection;
use super::schema::LIST_URN;

/// What a GET on a collection or a POST to `.search` asks for.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub sort_by: Option<String>,
    pub descending: bool,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    /// RFC 9865: present (maybe empty, for the first page) when the client pages by cursor.
    pub cursor: Option<String>,
}

impl ListParams {
    /// From a query string, fully decoded (`%20` and `+` are spaces). Parameter names are
    /// matched case-insensitively: clients differ.
    pub fn from_query(query: Option<&str>) -> Result<Self, ScimError> {
        let mut p = ListParams::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let value = value.into_owned();
            match key.to_ascii_lowercase().as_str() {
                "filter" => p.filter = Some(value),
                "startindex" => p.start_index = Some(number("startIndex", &value)?),
                "count" => p.count = Some(number("count", &value)?),
                "sortby" => p.sort_by = Some(value),
                "sortorder" => p.descending = descending(&value)?,
                "attributes" => p.attributes = Some(value),
                "excludedattributes" => p.excluded_attributes = Some(value),
                "cursor" => p.cursor = Some(value),
                _ => {}
            }
        }
        Ok(p)
    }

    /// From a SearchRequest body (RFC 7644 §3.4.3).
    pub fn from_search(body: &Value) -> Result<Self, ScimError> {
        let obj = body.as_object().ok_or_else(|| {
            ScimError::bad_request("invalidSyntax", "the SearchRequest must be a JSON object")
        })?;
        let get = |k: &str| super::attrs::get_present(obj, k);
        let string = |k: &str| -> Result<Option<String>, ScimError> {
            match get(k) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::bad_request(
                    "invalidValue",
                    format!("{k} must be a string"),
                )),
            }
        };
        let list = |k: &str| -> Result<Option<String>, ScimError> {
            match get(k) {
                None => Ok(None),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .map(|v| Some(v.join(",")))
                    .ok_or_else(|| {
                        ScimError::bad_request(
                            "invalidValue",
                            format!("{k} must be an array of strings"),
                        )
                    }),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::bad_request(
                    "invalidValue",
                    format!("{k} must be an array of strings"),
                )),
            }
        };
        let int = |k: &str| -> Result<Option<i64>, ScimError> {
            match get(k) {
                None => Ok(None),
                Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::bad_request("invalidValue", format!("{k} must be an integer"))
                }),
            }
        };
        Ok(ListParams {
            filter: string("filter")?,
            start_index: int("startIndex")?,
            count: int("count")?,
            sort_by: string("sortBy")?,
            descending: string("sortOrder")?
                .map(|s| descending(&s))
                .transpose()?
                .unwrap_or(false),
            attributes: list("attributes")?,
            excluded_attributes: list("excludedAttributes")?,
            cursor: string("cursor")?,
        })
    }

    /// The RFC 9865 cursor: `None` when paging by index, `Some(None)` for the first page.
    /// Cursors follow the default order, so they do not combine with `sortBy`.
    pub fn cursor(&self) -> Result<Option<Option<Cursor>>, ScimError> {
        if self.cursor.is_some() && self.sort_by.is_some() {
            return Err(ScimError::bad_request(
                "invalidValue",
                "cursor paging follows the default order; leave out sortBy or page with startIndex",
            ));
        }
        self.cursor.as_deref().map(Cursor::decode).transpose()
    }

    /// The projection a write's query string asks for (RFC 7644 §3.9: `attributes` and
    /// `excludedAttributes` apply to the resource POST, PUT and PATCH answer with). Every
    /// other parameter is ignored there, so the query can never refuse a write after it
    /// was made.
    pub fn write_projection(query: Option<&str>, rt: &dyn AttrLookup) -> Projection {
        let mut p = ListParams::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match key.to_ascii_lowercase().as_str() {
                "attributes" => p.attributes = Some(value.into_owned()),
                "excludedattributes" => p.excluded_attributes = Some(value.into_owned()),
                _ => {}
            }
        }
        p.projection(rt)
    }

    /// The projection these parameters ask for.
    pub fn projection(&self, rt: &dyn AttrLookup) -> Projection {
        Projection::parse(
            rt,
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }

    /// 1-based; below 1 counts as 1 (RFC 7644 §3.4.2.4).
    pub fn start(&self) -> i64 {
        self.start_index.unwrap_or(1).max(1)
    }

    /// Negative counts as 0; above the maximum counts as the maximum (RFC 7644 §3.4.2.4).
    pub fn page_size(&self, max: u32) -> i64 {
        self.count
            .unwrap_or(i64::from(max))
            .clamp(0, i64::from(max))
    }
}

fn number(name: &str, value: &str) -> Result<i64, ScimError> {
    value.trim().parse().map_err(|_| {
        ScimError::bad_request(
            "invalidValue",
            format!("{name} must be an integer, not {value:?}"),
        )
    })
}

fn descending(value: &str) -> Result<bool, ScimError> {
    match value.to_ascii_lowercase().as_str() {
        "ascending" => Ok(false),
        "descending" => Ok(true),
        _ => Err(ScimError::bad_request(
            "invalidValue",
            format!("sortOrder must be ascending or descending, not {value:?}"),
        )),
    }
}

/// How a page was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paging {
    /// By position: the 1-based index of the first resource.
    Index(i64),
    /// By cursor (RFC 9865 §3): the cursor of the next page, if there is one.
    Cursor(Option<String>),
}

/// RFC 7644 §3.4.2 ListResponse; `nextCursor` per RFC 9865 §3.
pub fn list_response(total: i64, paging: Paging, resources: Vec<Value>) -> Value {
    let mut body = json!({
        "schemas": [LIST_URN],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    match paging {
        Paging::Index(start) => body["startIndex"] = start.into(),
        Paging::Cursor(Some(next)) => body["nextCursor"] = next.into(),
        Paging::Cursor(None) => {}
    }
    body
}

/// A place in a creation-ordered list (RFC 9865 cursors): opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub created_at: i64,
    pub id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}.{}", self.created_at, self.id))
    }

    /// `Ok(None)` for an empty cursor, which asks for the first page.
    pub fn decode(cursor: &str) -> Result<Option<Self>, ScimError> {
        if cursor.is_empty() {
            return Ok(None);
        }
        let invalid =
            || ScimError::bad_request("invalidCursor", "the cursor is not one this server issued");
        let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (at, id) = text.split_once('.').ok_or_else(invalid)?;
        let id = uuid::Uuid::parse_str(id).map_err(|_| invalid())?;
        Ok(Some(Cursor {
            created_at: at.parse().map_err(|_| invalid())?,
            id: id.to_string(),
        }))
    }
}

/// Pages a list that is already filtered and sorted in memory: by cursor (the list must be
/// in creation order) or by position. Returns the page, the total and how it was paged.
pub fn page_in_memory<T>(
    items: Vec<(Cursor, T)>,
    params: &ListParams,
    size: i64,
    cursor: Option<Option<Cursor>>,
) -> (Vec<T>, i64, Paging) {
    let total = items.len() as i64;
    match cursor {
        Some(after) => {
            let mut rest: Vec<(Cursor, T)> = items
                .into_iter()
                .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
                .collect();
            let more = rest.len() as i64 > size;
            rest.truncate(size as usize);
            let next = if more {
                rest.last().map(|(k, _)| k.encode())
            } else {
                None
            };
            (
                rest.into_iter().map(|(_, t)| t).collect(),
                total,
                Paging::Cursor(next),
            )
        }
        None => {
            let page = items
                .into_iter()
                .skip(params.start() as usize - 1)
                .take(size as usize)
                .map(|(_, t)| t)
                .collect();
            (page, total, Paging::Index(params.start()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_is_fully_decoded_and_bounded() {
        let p = ListParams::from_query(Some(
            "filter=userName+eq+%22a%40b%22&startIndex=0&count=5000&SORTORDER=descending",
        ))
        .unwrap();
        assert_eq!(p.filter.as_deref(), Some("userName eq \"a@b\""));
        assert_eq!(p.start(), 1);
        assert_eq!(p.page_size(1000), 1000);
        assert!(p.descending);
        assert_eq!(
            ListParams::from_query(Some("count=-3"))
                .unwrap()
                .page_size(100),
            0
        );
        assert!(ListParams::from_query(Some("count=ten")).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            created_at: 42,
            id: uuid::Uuid::new_v4().to_string(),
        };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), Some(c));
        assert_eq!(Cursor::decode("").unwrap(), None);
        assert_eq!(
            Cursor::decode("%%%").unwrap_err().scim_type,
            Some("invalidCursor")
        );
    }

    #[test]
    fn search_request_body() {
        let p = ListParams::from_search(
            &json!({"schemas": ["x"], "attributes": ["externalId", "name"], "count": 3}),
        )
        .unwrap();
        assert_eq!(p.attributes.as_deref(), Some("externalId,name"));
        assert_eq!(p.count, Some(3));
        assert!(ListParams::from_search(&json!({"count": "3"})).is_err());
    }
}
