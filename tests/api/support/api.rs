//! A client for the admin API (`/api/v1`) in tests: a key, typed calls, JSON error checks.

use gatehouse::directory::api_keys::ApiKeyInfo;
use gatehouse::directory::{Actor, Org};
use reqwest::Method;
use serde_json::Value;

use crate::support::scim::{read, Reply};
use crate::support::TestApp;

pub struct Api<'a> {
    pub app: &'a TestApp,
    pub key: ApiKeyInfo,
    pub secret: String,
}

impl<'a> Api<'a> {
    /// A platform-wide key.
    pub async fn platform(app: &'a TestApp) -> Api<'a> {
        Self::issue(app, None).await
    }

    /// A key scoped to one organisation.
    pub async fn scoped(app: &'a TestApp, org: &Org) -> Api<'a> {
        Self::issue(app, Some(org)).await
    }

    async fn issue(app: &'a TestApp, org: Option<&Org>) -> Api<'a> {
        let (key, secret) = app
            .directory
            .create_api_key(org.map(|o| o.id), "test", None, &Actor::Cli)
            .await
            .unwrap();
        Api {
            app,
            key,
            secret: secret.0,
        }
    }

    /// The actor this key's changes are logged under.
    pub fn actor(&self) -> String {
        format!("api-key:{}", self.key.id)
    }

    /// Calls `/api/v1{path}` with this key and a JSON body.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut req = self
            .app
            .client
            .request(method, self.app.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.secret);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
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

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    /// Sends a raw body with a content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: &str) -> Reply {
        let req = self
            .app
            .client
            .request(method, self.app.url(&format!("/api/v1{path}")))
            .bearer_auth(&self.secret)
            .header("content-type", content_type)
            .body(body.to_string());
        read(req.send().await.unwrap()).await
    }
}

/// Asserts an admin API error: this status, JSON, this code and a detail to act on.
#[track_caller]
pub fn assert_api_error<'r>(r: &'r Reply, status: u16, code: &str) -> &'r str {
    assert_eq!(r.status.as_u16(), status, "{:#}", r.body);
    assert!(
        r.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.body["error"], code, "{:#}", r.body);
    let detail = r.body["detail"].as_str().unwrap_or_default();
    assert!(!detail.is_empty(), "a detail to act on: {:#}", r.body);
    detail
}

/// Every event of an organisation, oldest first: (action, actor, outcome, target).
pub async fn logged(app: &TestApp, org: &Org) -> Vec<(String, String, String, Option<String>)> {
    let q = gatehouse::events::EventQuery {
        limit: 1000,
        ..Default::default()
    };
    let mut list: Vec<_> = gatehouse::events::list(app.directory.db().reads(), org.id, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.action, e.actor, e.outcome, e.target))
        .collect();
    list.reverse();
    list
}
