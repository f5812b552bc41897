//! Health, readiness, metrics, request ids and the body limit.

use crate::support::TestApp;

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready\n");
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.directory.db().close().await;
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "liveness does not depend on the database");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_given_one() {
    let app = TestApp::spawn().await;
    let r = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let r = app
        .client
        .get(app.url("/nowhere"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_status() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    app.client
        .get(app.url("/no/such/path"))
        .send()
        .await
        .unwrap();
    let r = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    let healthz = r#"gatehouse_http_requests_total{method="GET",route="/healthz",status="200"} 3"#;
    assert!(text.contains(healthz), "{text}");
    assert!(
        text.contains(r#"route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        !text.contains("/no/such/path"),
        "client paths do not become series"
    );
    assert!(
        text.contains("gatehouse_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.server.max_body_bytes = 1024).await;
    let r = app
        .client
        .post(app.url("/healthz"))
        .body(vec![b'x'; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}
