//! Every error under /scim/ is SCIM JSON (RFC 7644 §3.12), whatever produced it.

use reqwest::Method;
use serde_json::json;

use crate::support::scim::{read, Scim, USER_URN};
use crate::support::TestApp;

#[tokio::test]
async fn unknown_routes_and_ids_are_404_in_scim_json() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    scim.get(&format!("/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404);
    scim.get("/Users/010101001010101011001010101011")
        .await
        .assert_error(404);
    scim.get("/Users/00919288221112222").await.assert_error(404);
    scim.get(&format!("/Users/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404);
    scim.delete("/Users/nonexistent-id-000000")
        .await
        .assert_error(404);
    let r = read(
        app.client
            .get(app.url("/scim/v2/acme/"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(matches!(r.status.as_u16(), 401 | 404), "{r:?}");
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));
}

#[tokio::test]
async fn wrong_methods_are_405_in_scim_json() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    scim.call(Method::DELETE, "/Users", None)
        .await
        .assert_error(405);
    scim.call(Method::PUT, "/Users", Some(json!({})))
        .await
        .assert_error(405);
}

#[tokio::test]
async fn oversized_bodies_are_413_in_scim_json() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 2048).await;
    let scim = Scim::new(&app, "acme").await;
    let big = json!({"schemas": [USER_URN], "userName": "x".repeat(4096)});
    scim.post("/Users", big).await.assert_error(413);
}

#[tokio::test]
async fn bodies_must_be_json_media_types() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let body = json!({"schemas": [USER_URN], "userName": "a@acme.test"}).to_string();
    let send = |ct: &'static str| {
        let req = app
            .client
            .post(format!("{}/Users", scim.base()))
            .bearer_auth(&scim.token)
            .header("content-type", ct)
            .body(body.clone());
        async move { read(req.send().await.unwrap()).await }
    };
    send("text/xml").await.assert_error(415);
    send("application/x-www-form-urlencoded")
        .await
        .assert_error(415);
    assert_eq!(send("application/json").await.status, 201);
    let again = json!({"schemas": [USER_URN], "userName": "b@acme.test"}).to_string();
    let r = app
        .client
        .post(format!("{}/Users", scim.base()))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json; charset=utf-8")
        .body(again)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_saying_what_and_where() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let r = app
        .client
        .post(format!("{}/Users", scim.base()))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": \"a\",,}")
        .send()
        .await
        .unwrap();
    let r = read(r).await;
    let body = r.assert_error(400);
    assert_eq!(body["scimType"], "invalidSyntax");
    assert!(
        body["detail"].as_str().unwrap().contains("column"),
        "{body}"
    );

    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "a", "active": 7}),
        )
        .await;
    let body = r.assert_error(400);
    assert_eq!(body["scimType"], "invalidValue");
    assert!(
        body["detail"].as_str().unwrap().contains("active"),
        "{body}"
    );

    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "displayName": "no user name"}),
        )
        .await;
    assert!(r.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains("userName"));

    let r = scim.list("/Users", &[("filter", "userName eq")]).await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidFilter");
    let r = scim
        .list("/Users", &[("filter", "userName xx \"a\"")])
        .await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidFilter");
}

#[tokio::test]
async fn conflicts_and_stale_versions_are_409_and_412() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("dup@acme.test").await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "DUP@acme.test"}),
        )
        .await;
    assert_eq!(r.assert_error(409)["scimType"], "uniqueness");

    let stale = "W/\"1\"";
    let first = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "title", "value": "A"}]),
        )
        .await;
    assert_eq!(first.status, 200);
    let r = scim
        .call_with(
            Method::PUT,
            &format!("/Users/{id}"),
            Some(json!({"userName": "dup@acme.test"})),
            &[("if-match", stale)],
        )
        .await;
    r.assert_error(412);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_refused_without_reading_it_all() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 2048).await;
    let scim = Scim::new(&app, "acme").await;
    // A streamed body has no Content-Length: the limit must hold while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..64).map(|_| Ok(vec![b' '; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let r = app
        .client
        .post(format!("{}/Users", scim.base()))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body(body)
        .send()
        .await
        .unwrap();
    read(r).await.assert_error(413);
}

#[tokio::test]
async fn over_the_rate_limit_is_429_with_retry_after_in_seconds() {
    let app = TestApp::spawn_with(|c| {
        c.scim.requests_per_second = 0.1;
        c.scim.burst = 2;
    })
    .await;
    let scim = Scim::new(&app, "acme").await;
    let other = Scim::new(&app, "globex").await;
    assert_eq!(scim.get("/Users").await.status, 200);
    assert_eq!(scim.get("/Users").await.status, 200);
    let r = scim.get("/Users").await;
    r.assert_error(429);
    assert_eq!(
        r.header("retry-after"),
        Some("10"),
        "whole seconds, as Okta reads it"
    );
    assert_eq!(
        other.get("/Users").await.status,
        200,
        "each organisation has its own budget"
    );
}

/// Requests with a bad token are refused without spending the budget of the
/// organisation's own token: a stranger cannot lock its IdP out.
#[tokio::test]
async fn requests_without_a_valid_token_do_not_spend_the_rate_budget() {
    let app = TestApp::spawn_with(|c| {
        c.scim.requests_per_second = 0.1;
        c.scim.burst = 2;
    })
    .await;
    let scim = Scim::new(&app, "acme").await;
    for _ in 0..10 {
        let r = app
            .client
            .get(app.url("/scim/v2/acme/Users"))
            .bearer_auth("ghs_not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    assert_eq!(scim.get("/Users").await.status, 200);
    assert_eq!(scim.get("/Users").await.status, 200);
    scim.get("/Users").await.assert_error(429);
}

#[tokio::test]
async fn a_server_failure_is_500_in_scim_json_and_says_nothing_of_internals() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    // The auth lookup fails once the database is gone.
    app.directory.db().close().await;
    let r = scim.get("/Users").await;
    let body = r.assert_error(500);
    let detail = body["detail"].as_str().unwrap();
    assert!(
        !detail.contains("sqlx") && !detail.contains("pool"),
        "{detail}"
    );
}
