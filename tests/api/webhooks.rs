//! Webhooks (DESIGN.md, Change feed): each change pushed to an organisation's endpoints in
//! `seq` order, signed as Standard Webhooks asks, retried on a schedule, then failing until
//! an operator redelivers. The receiver is a real HTTP server (`webhook_receiver`).

use gatehouse::directory::Actor;
use serde_json::{json, Value};

use crate::support::api::{assert_api_error, logged, Api};
use crate::support::scim::Scim;
use crate::support::webhook_receiver::Receiver;
use crate::support::{user_data, TestApp};

/// Registers an endpoint for `url`; its id and its secret.
async fn register(api: &Api<'_>, slug: &str, body: Value) -> (String, String) {
    let r = api.post(&format!("/orgs/{slug}/webhooks"), body).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (
        r.body["webhook"]["id"].as_str().unwrap().to_string(),
        secret,
    )
}

/// The endpoint once its recorded position reaches `through`: the worker writes it after
/// a batch of acknowledged deliveries, so it may trail the receiver by a moment.
async fn show_through(api: &Api<'_>, slug: &str, id: &str, through: i64) -> Value {
    for _ in 0..100 {
        let shown = show(api, slug, id).await;
        if shown["webhook"]["delivered_through"] == through {
            return shown;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    show(api, slug, id).await
}

/// The endpoint once it has recorded `n` failed attempts. The receiver has an attempt
/// before the worker has written its outcome, and the next try is scheduled from the
/// clock when it is written: a test that moves the clock must wait for this first.
async fn show_failures(api: &Api<'_>, slug: &str, id: &str, n: i64) -> Value {
    for _ in 0..600 {
        let shown = show(api, slug, id).await;
        if shown["webhook"]["failures"].as_i64() >= Some(n) {
            return shown;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!(
        "{n} failures were never recorded: {:#}",
        show(api, slug, id).await
    );
}

async fn show(api: &Api<'_>, slug: &str, id: &str) -> Value {
    let r = api.get(&format!("/orgs/{slug}/webhooks/{id}")).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    r.body
}

#[tokio::test]
async fn every_change_arrives_in_order_signed_and_as_the_feed_shows_it() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    // A change before the endpoint exists is not pushed: it is in the snapshot.
    app.directory
        .create_user(acme.id, user_data("early@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let (id, secret) = register(&api, "acme", json!({ "url": receiver.url })).await;
    let alice = scim.user("alice@acme.test").await;
    let r = scim
        .patch(
            &format!("/Users/{alice}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .post(
            "/Groups",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                   "displayName": "Eng", "members": [{"value": alice}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let feed = api.get("/orgs/acme/changes?after=1").await;
    let expected = feed.body["changes"].as_array().unwrap().clone();
    assert_eq!(expected.len(), 4, "{:#}", feed.body);
    let got = receiver.wait_for(expected.len()).await;
    assert_eq!(got.len(), expected.len(), "each change once: {got:?}");
    for (delivery, change) in got.iter().zip(&expected) {
        assert!(delivery.signed_by(&secret), "{delivery:?}");
        assert!(!delivery.signed_by(&gatehouse::webhooks::signature::Secret::generate().encode()));
        assert_eq!(&delivery.json(), change, "the body is the feed's record");
        let seq = change["seq"].as_i64().unwrap();
        assert!(delivery.id.ends_with(&format!("_{seq}")), "{}", delivery.id);
        assert_eq!(delivery.timestamp, crate::support::T0 / 1000);
    }
    let types: Vec<Value> = got.iter().map(|d| d.json()["type"].clone()).collect();
    assert_eq!(
        types,
        [
            "user.created",
            "user.deactivated",
            "group.created",
            "group.member_added"
        ]
        .map(Value::from)
    );
    let shown = show_through(&api, "acme", &id, 5).await;
    assert_eq!(shown["webhook"]["delivered_through"], 5, "{shown:#}");
    assert_eq!(shown["webhook"]["status"], "active");
    assert_eq!(shown["attempts"].as_array().unwrap().len(), 4);
    assert_eq!(shown["attempts"][0]["status"], 200);
    assert!(
        !shown.to_string().contains(&secret),
        "the secret is shown once"
    );
    let listed = api.get("/orgs/acme/webhooks").await;
    assert!(!listed.body.to_string().contains(&secret));
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("gatehouse_webhook_attempts_total{result=\"delivered\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("gatehouse_webhook_lag_seconds 0"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_failing_receiver_is_retried_on_the_schedule_then_the_endpoint_fails_until_redelivered() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    let (id, secret) = register(&api, "acme", json!({ "url": receiver.url })).await;
    scim.user("alice@acme.test").await;
    scim.user("bob@acme.test").await;
    receiver.wait_for(1).await;
    let shown = show_failures(&api, "acme", &id, 1).await;
    // The next try is due in 5 s of the server's clock: none before.
    assert_eq!(receiver.settle().await.len(), 1);
    assert_eq!(shown["webhook"]["failures"], 1, "{shown:#}");
    assert_eq!(shown["attempts"][0]["status"], 503);
    assert_eq!(
        shown["webhook"]["last_error"],
        "the receiver answered 503 Service Unavailable"
    );
    // Each retry is due at its time after the first attempt: 24 h for the last.
    let due = gatehouse::webhooks::worker::RETRY_AT_MS;
    assert_eq!(due[due.len() - 1], 86_400_000);
    for (i, at) in due.iter().enumerate() {
        let delay = at - if i == 0 { 0 } else { due[i - 1] };
        app.clock.advance_ms(delay - 1);
        assert_eq!(receiver.settle().await.len(), i + 1, "not before its time");
        app.clock.advance_ms(1);
        receiver.wait_for(i + 2).await;
        show_failures(&api, "acme", &id, i as i64 + 2).await;
    }
    let got = receiver.settle().await;
    assert_eq!(got.len(), 10, "ten attempts in all");
    assert!(
        got.iter().all(|d| d.id == got[0].id),
        "every retry carries the same id"
    );
    assert!(got
        .iter()
        .all(|d| d.json()["resource"]["userName"] == "alice@acme.test"));
    let shown = show(&api, "acme", &id).await;
    assert_eq!(shown["webhook"]["status"], "failing", "{shown:#}");
    assert!(shown["webhook"]["failing_since"].is_string());
    let events = logged(&app, &acme).await;
    assert!(
        events.iter().any(|e| e.0 == "webhook.failing"),
        "{events:?}"
    );
    // A failing endpoint is left alone, however long.
    app.clock.advance_ms(7 * 86_400_000);
    assert_eq!(receiver.settle().await.len(), 10);
    // The receiver is fixed; the operator redelivers from the first change.
    receiver.answer(204);
    let r = api
        .post(
            &format!("/orgs/acme/webhooks/{id}/redeliver"),
            json!({ "from": 1 }),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let got = receiver.wait_for(12).await;
    let users: Vec<Value> = got[10..]
        .iter()
        .map(|d| d.json()["resource"]["userName"].clone())
        .collect();
    assert_eq!(users, [json!("alice@acme.test"), json!("bob@acme.test")]);
    assert!(got[10..].iter().all(|d| d.signed_by(&secret)));
    assert_eq!(got[10].id, got[0].id);
    let shown = show_through(&api, "acme", &id, 2).await;
    assert_eq!(shown["webhook"]["status"], "active");
    assert_eq!(shown["webhook"]["delivered_through"], 2);
    let events = logged(&app, &acme).await;
    assert!(events
        .iter()
        .any(|e| e.0 == "webhook.redeliver" && e.1 == api.actor()));
}

#[tokio::test]
async fn order_holds_through_a_retry_and_a_duplicate_keeps_its_id() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (id, _) = register(&api, "acme", json!({ "url": receiver.url })).await;
    for name in ["a", "b", "c"] {
        scim.user(&format!("{name}@acme.test")).await;
    }
    receiver.wait_for(1).await;
    show_failures(&api, "acme", &id, 1).await;
    receiver.answer(200);
    app.clock.advance_ms(5_000);
    let got = receiver.wait_for(4).await;
    let seqs: Vec<i64> = got
        .iter()
        .map(|d| d.json()["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        [1, 1, 2, 3],
        "the first change again, then the rest in order"
    );
    assert_eq!(got[0].id, got[1].id);
    assert_ne!(got[1].id, got[2].id);
}

#[tokio::test]
async fn an_endpoint_gets_only_its_types_and_nothing_while_paused() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    let (id, _) = register(
        &api,
        "acme",
        json!({ "url": receiver.url, "types": ["user.deactivated"], "description": "offboarding" }),
    )
    .await;
    let d = &app.directory;
    let alice = d
        .create_user(acme.id, user_data("alice@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.set_active(acme.id, alice.id, false, &Actor::Cli)
        .await
        .unwrap();
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "user.deactivated");
    assert_eq!(got[0].json()["seq"], 2);
    let r = api
        .patch(
            &format!("/orgs/acme/webhooks/{id}"),
            json!({ "paused": true }),
        )
        .await;
    assert_eq!(r.body["webhook"]["status"], "paused", "{:#}", r.body);
    d.set_active(acme.id, alice.id, true, &Actor::Cli)
        .await
        .unwrap();
    d.set_active(acme.id, alice.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(receiver.settle().await.len(), 1, "nothing while paused");
    let r = api
        .patch(
            &format!("/orgs/acme/webhooks/{id}"),
            json!({ "paused": false }),
        )
        .await;
    assert_eq!(r.body["webhook"]["status"], "active");
    let got = receiver.wait_for(2).await;
    assert_eq!(
        got[1].json()["seq"],
        4,
        "resumed where it stopped, its types only"
    );
    assert_eq!(receiver.settle().await.len(), 2);
    let shown = show_through(&api, "acme", &id, 4).await;
    assert_eq!(shown["webhook"]["delivered_through"], 4);
    let events: Vec<String> = logged(&app, &acme).await.into_iter().map(|e| e.0).collect();
    for action in ["webhook.create", "webhook.pause", "webhook.resume"] {
        assert!(events.iter().any(|e| e == action), "{action}: {events:?}");
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_until_the_overlap_ends() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    let (id, old) = register(&api, "acme", json!({ "url": receiver.url })).await;
    let r = api
        .post(
            &format!("/orgs/acme/webhooks/{id}/rotate"),
            json!({ "overlap_hours": 1 }),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let new = r.body["secret"].as_str().unwrap().to_string();
    assert_ne!(new, old);
    scim.user("alice@acme.test").await;
    let got = receiver.wait_for(1).await;
    assert!(
        got[0].signed_by(&new) && got[0].signed_by(&old),
        "{:?}",
        got[0]
    );
    assert_eq!(got[0].signature.split(' ').count(), 2);
    app.clock.advance_ms(3_600_000);
    scim.user("bob@acme.test").await;
    let got = receiver.wait_for(2).await;
    assert!(got[1].signed_by(&new));
    assert!(
        !got[1].signed_by(&old),
        "the old secret stops at the overlap's end"
    );
    // Rotating at once (a leaked secret) drops the old one now.
    let r = api
        .post(
            &format!("/orgs/acme/webhooks/{id}/rotate"),
            json!({ "overlap_hours": 0 }),
        )
        .await;
    let newest = r.body["secret"].as_str().unwrap().to_string();
    scim.user("carol@acme.test").await;
    let got = receiver.wait_for(3).await;
    assert!(got[2].signed_by(&newest) && !got[2].signed_by(&new));
    let events: Vec<String> = logged(&app, &acme).await.into_iter().map(|e| e.0).collect();
    assert_eq!(events.iter().filter(|e| *e == "webhook.rotate").count(), 2);
}

#[tokio::test]
async fn send_a_test_reports_what_the_receiver_answered() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    let (id, secret) = register(&api, "acme", json!({ "url": receiver.url })).await;
    let r = api
        .post(&format!("/orgs/acme/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({ "delivered": true, "status": 200, "error": null })
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert!(got[0].signed_by(&secret));
    assert!(got[0].id.starts_with("msg_test_"));
    receiver.answer(410);
    let r = api
        .post(&format!("/orgs/acme/webhooks/{id}/test"), json!({}))
        .await;
    assert_eq!(r.body["delivered"], false, "{:#}", r.body);
    assert_eq!(r.body["status"], 410);
    // A test is outside the sequence: the endpoint's position does not move.
    let shown = show(&api, "acme", &id).await;
    assert_eq!(shown["webhook"]["delivered_through"], 0);
    let events = logged(&app, &acme).await;
    let tests: Vec<&String> = events
        .iter()
        .filter(|e| e.0 == "webhook.test")
        .map(|e| &e.2)
        .collect();
    assert_eq!(tests, ["success", "failure"]);
}

#[tokio::test]
async fn urls_that_lead_inward_or_in_the_clear_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    for (url, why) in [
        ("ftp://hooks.example.com/x", "https://"),
        ("http://hooks.example.com/x", "https://"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://10.0.0.7/hook", "private"),
        ("https://[fd00::1]/hook", "unique-local"),
        ("https://user:pw@hooks.example.com/x", "password"),
        ("not a url", "not a URL"),
    ] {
        let r = api.post("/orgs/acme/webhooks", json!({ "url": url })).await;
        let detail = assert_api_error(&r, 400, "invalid");
        assert!(detail.contains(why), "{url}: {detail}");
    }
    let r = api
        .post(
            "/orgs/acme/webhooks",
            json!({ "url": "https://hooks.example.com/x", "types": ["user.nope"] }),
        )
        .await;
    assert!(assert_api_error(&r, 400, "invalid").contains("user.created"));
    let r = api
        .post("/orgs/acme/webhooks", json!({ "types": [] }))
        .await;
    assert_api_error(&r, 400, "invalid");
    let listed = api.get("/orgs/acme/webhooks").await;
    assert_eq!(listed.body, json!({ "webhooks": [] }));
    // A change of URL passes the same checks.
    let (id, _) = register(
        &api,
        "acme",
        json!({ "url": "https://hooks.example.com/x" }),
    )
    .await;
    let r = api
        .patch(
            &format!("/orgs/acme/webhooks/{id}"),
            json!({ "url": "https://192.168.1.1/" }),
        )
        .await;
    assert_api_error(&r, 400, "invalid");
    assert_eq!(
        show(&api, "acme", &id).await["webhook"]["url"],
        "https://hooks.example.com/x"
    );
    // Redelivery starts at a change that exists (or the next one).
    for from in [0, 2, -1] {
        let r = api
            .post(
                &format!("/orgs/acme/webhooks/{id}/redeliver"),
                json!({ "from": from }),
            )
            .await;
        assert_api_error(&r, 400, "invalid");
    }
}

#[tokio::test]
async fn another_organisations_key_cannot_see_or_touch_an_endpoint() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let api = Api::scoped(&app, &acme).await;
    let (id, _) = register(
        &api,
        "acme",
        json!({ "url": "https://hooks.example.com/x" }),
    )
    .await;
    let other = Api::scoped(&app, &globex).await;
    for path in [
        format!("/orgs/acme/webhooks/{id}"),
        "/orgs/acme/webhooks".to_string(),
    ] {
        assert_api_error(&other.get(&path).await, 404, "not_found");
    }
    // Through its own organisation's URL, the id names nothing.
    let theirs = format!("/orgs/globex/webhooks/{id}");
    assert_api_error(&other.get(&theirs).await, 404, "not_found");
    assert_api_error(
        &other.patch(&theirs, json!({"paused": true})).await,
        404,
        "not_found",
    );
    assert_api_error(&other.delete(&theirs).await, 404, "not_found");
    for action in ["rotate", "test"] {
        let r = other.post(&format!("{theirs}/{action}"), json!({})).await;
        assert_api_error(&r, 404, "not_found");
    }
    let r = other
        .post(&format!("{theirs}/redeliver"), json!({"from": 1}))
        .await;
    assert_api_error(&r, 404, "not_found");
    assert_eq!(show(&api, "acme", &id).await["webhook"]["status"], "active");
    let r = api.delete(&format!("/orgs/acme/webhooks/{id}")).await;
    assert_eq!(r.status, 204);
    assert_api_error(
        &api.get(&format!("/orgs/acme/webhooks/{id}")).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn two_instances_on_one_database_deliver_each_change_once() {
    let app = TestApp::spawn().await;
    let second = app.spawn_beside().await;
    let scim = Scim::new(&app, "acme").await;
    let acme = scim.org.clone();
    let api = Api::scoped(&app, &acme).await;
    let receiver = Receiver::start().await;
    register(&api, "acme", json!({ "url": receiver.url })).await;
    // Writes through both instances, side by side.
    for i in 0..10 {
        let (a, b) = (format!("a{i}@acme.test"), format!("b{i}@acme.test"));
        let there = second
            .directory
            .create_user(acme.id, user_data(&b), &Actor::Cli);
        let (_, there) = tokio::join!(scim.user(&a), there);
        there.unwrap();
    }
    receiver.wait_for(20).await;
    let got = receiver.settle().await;
    let seqs: Vec<i64> = got
        .iter()
        .map(|d| d.json()["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<_>>(), "once each, in order");
}
