//! Bad input never gets a 500 (issue: bad input): a path segment that is not valid UTF-8
//! once percent-decoded is the client's error, answered in the format of its door.

use crate::support::api::Api;
use crate::support::scim::Scim;
use crate::support::TestApp;

const BAD: [&str; 3] = ["%ff%fe", "%C0%AF", "%ff"];

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    auth: Option<&str>,
) -> (u16, String, String) {
    let mut req = app.client.request(method, app.url(path));
    if let Some(token) = auth {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.text().await.unwrap())
}

#[tokio::test]
async fn scim_paths_with_bad_percent_encoding_are_scim_errors_and_change_nothing() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let before = scim.get("/Users").await.body["totalResults"].clone();
    for bad in BAD {
        for (method, path) in [
            (reqwest::Method::GET, format!("/scim/v2/acme/Users/{bad}")),
            (
                reqwest::Method::DELETE,
                format!("/scim/v2/acme/Users/{bad}"),
            ),
            (
                reqwest::Method::PATCH,
                format!("/scim/v2/acme/Groups/{bad}"),
            ),
            (reqwest::Method::PUT, format!("/scim/v2/acme/Users/{bad}")),
            (reqwest::Method::GET, format!("/scim/v2/acme/Schemas/{bad}")),
            (
                reqwest::Method::GET,
                format!("/scim/v2/acme/ResourceTypes/{bad}"),
            ),
            (reqwest::Method::GET, format!("/scim/v2/{bad}/Users")),
        ] {
            let (status, ct, body) = send(&app, method.clone(), &path, Some(&scim.token)).await;
            assert!(
                status == 404 || status == 400,
                "{method} {path}: {status} {body}"
            );
            assert!(
                ct.starts_with("application/scim+json"),
                "{method} {path}: {ct}"
            );
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(json["status"], status.to_string(), "{body}");
            assert!(json["detail"].as_str().is_some_and(|d| !d.is_empty()));
        }
    }
    assert_eq!(scim.get("/Users").await.body["totalResults"], before);
}

#[tokio::test]
async fn other_doors_with_bad_percent_encoding_answer_in_their_own_format() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &org).await;
    for bad in BAD {
        for path in [
            format!("/saml/{bad}/metadata"),
            format!("/saml/{bad}/login"),
            format!("/oidc/{bad}/login"),
            format!("/oidc/{bad}/callback"),
            format!("/admin/orgs/{bad}"),
            format!("/admin/setup/{bad}"),
        ] {
            let (status, ct, body) = send(&app, reqwest::Method::GET, &path, None).await;
            assert!((400..500).contains(&status), "{path}: {status} {body}");
            assert!(ct.starts_with("text/html"), "{path}: {ct} {body}");
        }
        for path in [
            format!("/api/v1/orgs/{bad}"),
            format!("/api/v1/orgs/acme/users/{bad}"),
        ] {
            let (status, ct, body) =
                send(&app, reqwest::Method::GET, &path, Some(&api.secret)).await;
            assert!((400..500).contains(&status), "{path}: {status} {body}");
            assert!(ct.starts_with("application/json"), "{path}: {ct}");
        }
    }
}

/// RFC 6750 §2.1 on the admin API too: a key after a tab is no credential.
#[tokio::test]
async fn an_api_key_after_a_tab_is_refused() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &org).await;
    for header in [
        format!("Bearer \t{}", api.secret),
        format!("Bearer\t{}", api.secret),
    ] {
        let r = app
            .client
            .get(app.url("/api/v1/orgs/acme"))
            .header("authorization", header.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{header:?}");
    }
    assert_eq!(api.get("/orgs/acme").await.status, 200);
}

/// A very long query or very large headers: 414 and 431 in the door's own format, with a
/// detail that names the limit, never an empty body.
#[tokio::test]
async fn a_long_uri_or_large_headers_get_414_and_431_in_the_doors_format() {
    let app = TestApp::spawn_with(|c| {
        c.server.max_uri_bytes = 2048;
        c.server.max_header_bytes = 4096;
    })
    .await;
    let scim = Scim::new(&app, "acme").await;
    let filter = format!("userName eq \"{}\"", "x".repeat(5000));
    let r = app
        .client
        .get(app.url("/scim/v2/acme/Users"))
        .query(&[("filter", filter.as_str())])
        .bearer_auth(&scim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "414");
    assert!(body["detail"].as_str().unwrap().contains("2048"), "{body}");

    let big = "y".repeat(8000);
    let r = app
        .client
        .get(app.url("/scim/v2/acme/Users"))
        .bearer_auth(&scim.token)
        .header("x-padding", big.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 431);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "431");
    assert!(body["detail"].as_str().unwrap().contains("4096"), "{body}");

    let r = app
        .client
        .get(app.url(&format!("/login?return_to=/{}", "z".repeat(5000))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 414);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // Within the limits, the same request is answered as usual.
    assert_eq!(scim.get("/Users").await.status, 200);
}
