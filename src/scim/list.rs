//! List and query parameters (RFC 7644 §3.4.2) and the ListResponse.

use serde_json::{json, Value};

use super::error::ScimError;
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
        let get = |k: &str| super::user::get_ci(obj, k);
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
