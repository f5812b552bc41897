//! A SCIM client for tests: an organisation, its token, and typed calls.

use gatehouse::directory::{Actor, Org};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::TestApp;

pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

pub struct Scim<'a> {
    pub app: &'a TestApp,
    pub org: Org,
    pub token: String,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a SCIM error with this status, and returns its body.
    #[track_caller]
    pub fn assert_error(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "{:#}", self.body);
        assert!(
            self.header("content-type")
                .unwrap_or_default()
                .starts_with("application/scim+json"),
            "{:?}",
            self.headers
        );
        assert_eq!(self.body["schemas"], json!([ERROR_URN]), "{:#}", self.body);
        assert_eq!(
            self.body["status"],
            json!(status.to_string()),
            "status is a string"
        );
        assert!(
            !self.body["detail"].as_str().unwrap_or_default().is_empty(),
            "a detail to act on"
        );
        &self.body
    }

    pub fn ids(&self) -> Vec<String> {
        self.body["Resources"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|u| u["id"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl<'a> Scim<'a> {
    /// An organisation named `slug` with a fresh token.
    pub async fn new(app: &'a TestApp, slug: &str) -> Scim<'a> {
        let org = app.org(slug, &[]).await;
        let (_, secret) = app
            .directory
            .create_token(org.id, "test", None, &Actor::Cli)
            .await
            .unwrap();
        Scim {
            app,
            org,
            token: secret.0,
        }
    }

    pub fn base(&self) -> String {
        self.app.url(&format!("/scim/v2/{}", self.org.slug))
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call_with(method, path, body, &[]).await
    }

    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .app
            .client
            .request(method, format!("{}{}", self.base(), path))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        read(req.send().await.unwrap()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, ops: Value) -> Reply {
        self.call(
            Method::PATCH,
            path,
            Some(json!({"schemas": [PATCH_URN], "Operations": ops})),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Creates a user with just a userName, and returns its id.
    pub async fn user(&self, user_name: &str) -> String {
        let r = self
            .post(
                "/Users",
                json!({"schemas": [USER_URN], "userName": user_name}),
            )
            .await;
        assert_eq!(r.status, 201, "{:#}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// GET with a query string, encoded as Okta does.
    pub async fn list(&self, path: &str, query: &[(&str, &str)]) -> Reply {
        let req = self
            .app
            .client
            .get(format!("{}{}", self.base(), path))
            .query(query)
            .bearer_auth(&self.token);
        read(req.send().await.unwrap()).await
    }
}

pub async fn read(r: reqwest::Response) -> Reply {
    let status = r.status();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// The actions recorded for an organisation, oldest first, with their outcomes.
pub async fn events(app: &TestApp, org: &Org) -> Vec<(String, String, Value)> {
    let q = gatehouse::events::EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut list: Vec<_> = gatehouse::events::list(app.directory.db().reads(), org.id, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.outcome, e.detail))
        .collect();
    list.reverse();
    list
}
