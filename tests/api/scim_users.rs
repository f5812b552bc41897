//! /Users as Okta and Entra drive it: lookup, create, read, replace, deactivate,
//! reactivate, delete; values back exactly as sent; every change in the event log.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::scim::{events, Scim, ENTERPRISE_URN, USER_URN};
use crate::support::TestApp;

fn okta_user() -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test]
async fn okta_push_new_user_looks_up_then_creates() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let lookup = [
        ("filter", "userName eq \"test.user@okta.local\""),
        ("startIndex", "1"),
        ("count", "100"),
    ];
    let r = scim.list("/Users", &lookup).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
               "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );

    let r = scim.post("/Users", okta_user()).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&id).is_ok());
    assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
    assert_eq!(
        r.body["meta"]["location"],
        format!("{}/Users/{id}", scim.base())
    );
    assert_eq!(r.header("etag"), r.body["meta"]["version"].as_str());
    assert_eq!(r.body["meta"]["resourceType"], "User");
    assert!(r.body["meta"]["created"].as_str().unwrap().ends_with('Z'));
    // Exactly as sent: no primary:false added, no case change; password never returned.
    assert_eq!(r.body["emails"], okta_user()["emails"]);
    assert_eq!(r.body["name"], okta_user()["name"]);
    assert_eq!(r.body["locale"], "en-US");
    assert!(r.body.get("password").is_none());
    assert!(!r.body.to_string().contains("1mz050nq"));

    let r = scim
        .list(
            "/Users",
            &[("filter", "userName eq \"TEST.USER@okta.local\"")],
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
    assert_eq!(r.ids(), std::slice::from_ref(&id));
    let got = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body["userName"], "test.user@okta.local");
    assert_eq!(got.body["active"], true);
}

#[tokio::test]
async fn the_password_is_neither_stored_nor_returned() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.post("/Users", okta_user()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rows: Vec<String> = sqlx::query_scalar("select profile from users")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap();
    assert!(!rows.concat().contains("1mz050nq"));
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"password": "n3w-secret"}}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(!r.body.to_string().contains("n3w-secret"));
    let r = scim.get(&format!("/Users/{id}?attributes=password")).await;
    assert!(r.body.get("password").is_none());
}

#[tokio::test]
async fn okta_profile_push_is_get_then_put_and_put_replaces() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let created = scim.post("/Users", okta_user()).await.body;
    let id = created["id"].as_str().unwrap();

    let mut body = scim.get(&format!("/Users/{id}")).await.body;
    body["name"] = json!({"givenName": "Another", "middleName": "", "familyName": "User"});
    body.as_object_mut().unwrap().remove("locale");
    body.as_object_mut().unwrap().remove("active");
    let r = scim.put(&format!("/Users/{id}"), body).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["name"]["givenName"], "Another");
    assert_eq!(
        r.body["name"]["middleName"], "",
        "empty strings are accepted and kept"
    );
    assert!(
        r.body.get("locale").is_none(),
        "omitted attributes are cleared"
    );
    assert_eq!(r.body["active"], true, "an omitted active changes nothing");
    assert_eq!(r.body["id"], created["id"]);
    assert_eq!(r.body["meta"]["created"], created["meta"]["created"]);
    assert_ne!(r.body["meta"]["version"], created["meta"]["version"]);
}

#[tokio::test]
async fn deactivation_and_reactivation_by_patch_and_by_put() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.post("/Users", okta_user()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let uid = gatehouse::directory::UserId::parse(&id).unwrap();
    let epoch = |app: &TestApp| {
        let d = app.directory.clone();
        let org = scim.org.id;
        async move { d.user(org, uid).await.unwrap().unwrap().session_epoch }
    };
    let e0 = epoch(&app).await;

    // Okta (OIN): no-path PATCH.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["active"], false);
    assert_eq!(epoch(&app).await, e0 + 1, "sessions end");
    // Inactive users stay readable, by id and by filter.
    assert_eq!(
        scim.get(&format!("/Users/{id}")).await.body["active"],
        false
    );
    let r = scim
        .list(
            "/Users",
            &[("filter", "userName eq \"test.user@okta.local\"")],
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);

    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
    assert_eq!(epoch(&app).await, e0 + 2);

    // Entra: "False" as a string, capitalised op.
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .await;
    assert_eq!(r.body["active"], json!(false), "a real boolean");

    // Okta (AIW): GET then PUT with active true.
    let mut body = scim.get(&format!("/Users/{id}")).await.body;
    body["active"] = json!(true);
    assert_eq!(
        scim.put(&format!("/Users/{id}"), body).await.body["active"],
        true
    );

    let acts: Vec<String> = events(&app, &scim.org)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    for a in [
        "user.create",
        "user.deactivate",
        "user.reactivate",
        "user.patch",
        "user.replace",
    ] {
        assert!(acts.iter().any(|x| x == a), "{a} in {acts:?}");
    }
}

#[tokio::test]
async fn delete_hides_the_user_and_a_new_post_brings_the_same_record_back() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("gone@acme.test").await;
    let r = scim.delete(&format!("/Users/{id}")).await;
    assert_eq!(r.status, 204);
    assert_eq!(r.body, Value::Null, "204 has no body");
    scim.get(&format!("/Users/{id}")).await.assert_error(404);
    scim.delete(&format!("/Users/{id}")).await.assert_error(404);
    let r = scim
        .list("/Users", &[("filter", "userName eq \"gone@acme.test\"")])
        .await;
    assert_eq!(r.body["totalResults"], 0);

    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "Gone@acme.test", "title": "Back"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["id"], id, "the same record, with its id");
    assert_eq!(r.body["userName"], "Gone@acme.test");
    assert_eq!(r.body["title"], "Back");
}

#[tokio::test]
async fn entra_create_with_nulls_unknown_schemas_and_the_enterprise_extension() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let body = json!({
        "schemas": [USER_URN, ENTERPRISE_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@testuser.com",
        "active": true,
        "addresses": null, "phoneNumbers": null, "title": null,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_11bb@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE_URN: {"department": "R&D", "manager": {"value": "boss"}}
    });
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body[ENTERPRISE_URN]["department"], "R&D");
    assert_eq!(r.body[ENTERPRISE_URN]["manager"]["value"], "boss");
    assert!(r.body["schemas"]
        .as_array()
        .unwrap()
        .contains(&json!(ENTERPRISE_URN)));
    assert!(r.body.get("title").is_none());
    let r = scim
        .list(
            "/Users",
            &[(
                "filter",
                "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
            )],
        )
        .await;
    assert_eq!(r.body["totalResults"], 1);
}

#[tokio::test]
async fn etags_on_reads_and_conditional_requests() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("e@acme.test").await;
    let r = scim.get(&format!("/Users/{id}")).await;
    let tag = r.header("etag").unwrap().to_string();
    assert!(tag.starts_with("W/\""), "{tag}");
    let r = scim
        .call_with(
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &tag)],
        )
        .await;
    assert_eq!(r.status, 304);

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "add", "path": "nickName", "value": "E"}]});
    let r = scim
        .call_with(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch.clone()),
            &[("if-match", &tag)],
        )
        .await;
    assert_eq!(r.status, 200);
    let r = scim
        .call_with(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch),
            &[("if-match", &tag)],
        )
        .await;
    r.assert_error(412);
    let r = scim
        .call_with(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", &tag)],
        )
        .await;
    r.assert_error(412);
    assert_eq!(
        scim.get(&format!("/Users/{id}")).await.body["nickName"],
        "E"
    );
}

#[tokio::test]
async fn failures_are_in_the_event_log_with_their_reason() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    scim.user("x@acme.test").await;
    scim.post(
        "/Users",
        json!({"schemas": [USER_URN], "userName": "X@acme.test"}),
    )
    .await
    .assert_error(409);
    let log = events(&app, &scim.org).await;
    let (action, outcome, detail) = log.last().unwrap();
    assert_eq!(
        (action.as_str(), outcome.as_str()),
        ("user.create", "failure")
    );
    assert!(
        detail["reason"].as_str().unwrap().contains("409"),
        "{detail}"
    );
    let created = log
        .iter()
        .find(|e| e.0 == "user.create" && e.1 == "success")
        .unwrap();
    assert_eq!(created.2["userName"], "x@acme.test");
}

#[tokio::test]
async fn tenants_never_see_each_others_users() {
    let app = TestApp::spawn().await;
    let acme = Scim::new(&app, "acme").await;
    let globex = Scim::new(&app, "globex").await;
    let id = acme.user("private@acme.test").await;
    globex.get(&format!("/Users/{id}")).await.assert_error(404);
    globex
        .put(&format!("/Users/{id}"), json!({"userName": "stolen"}))
        .await
        .assert_error(404);
    globex
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await
        .assert_error(404);
    globex
        .delete(&format!("/Users/{id}"))
        .await
        .assert_error(404);
    assert_eq!(globex.get("/Users").await.body["totalResults"], 0);
    let r = globex
        .list("/Users", &[("filter", "userName eq \"private@acme.test\"")])
        .await;
    assert_eq!(r.body["totalResults"], 0);
    assert_eq!(acme.get(&format!("/Users/{id}")).await.body["active"], true);
}

#[tokio::test]
async fn okta_test_api_credentials_and_entra_test_connection() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    scim.user("someone@acme.test").await;
    // Okta §3.1: fixed parameters, any list is fine, any non-2xx fails the test.
    let r = scim
        .list("/Users", &[("startIndex", "1"), ("count", "2")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["itemsPerPage"], 1);
    let r = scim
        .list("/Groups", &[("startIndex", "1"), ("count", "100")])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["totalResults"], 0);
    // Entra E1, E2: a random GUID as the matching attribute finds nothing, with 200.
    let guid = uuid::Uuid::new_v4().to_string();
    let r = scim
        .list(
            "/Users",
            &[("filter", format!("userName eq \"{guid}\"").as_str())],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["totalResults"].as_i64()),
        (200, Some(0))
    );
    let r = scim
        .list(
            "/Groups",
            &[
                ("excludedAttributes", "members"),
                ("filter", format!("displayName eq \"{guid}\"").as_str()),
            ],
        )
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["totalResults"].as_i64()),
        (200, Some(0))
    );
    // Entra's older form: an unquoted externalId.
    let r = scim
        .list("/Users", &[("filter", "externalId eq jyoung")])
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn okta_sync_password_in_both_forms_is_accepted_and_discarded() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("pw@acme.test").await;
    let before = scim.get(&format!("/Users/{id}")).await.body;
    for ops in [
        json!([{"op": "replace", "value": {"password": "s3cret-one"}}]),
        json!([{"op": "replace", "path": "password", "value": "s3cret-two"}]),
    ] {
        let r = scim.patch(&format!("/Users/{id}"), ops).await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        assert!(r.body.get("password").is_none());
        assert_eq!(r.body["userName"], before["userName"]);
    }
    let mut body = before.clone();
    body["password"] = json!("s3cret-three");
    assert_eq!(scim.put(&format!("/Users/{id}"), body).await.status, 200);
    let stored: Vec<String> = sqlx::query_scalar("select profile from users")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap();
    assert!(!stored.concat().contains("s3cret"));
}
