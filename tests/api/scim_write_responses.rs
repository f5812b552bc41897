//! `attributes` and `excludedAttributes` on writes (RFC 7644 §3.9): the resource that POST,
//! PUT and PATCH answer with shows what they ask for, as a GET would; `id` and `schemas`
//! always stay. Other list parameters mean nothing on a write and never refuse it.

use serde_json::{json, Value};

use crate::support::scim::{Scim, USER_URN};
use crate::support::TestApp;

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn erin() -> Value {
    json!({"schemas": [USER_URN], "userName": "erin@acme.test", "displayName": "Erin K",
        "name": {"givenName": "Erin", "familyName": "K"},
        "emails": [{"value": "erin@acme.test", "primary": true}], "active": true})
}

#[tokio::test]
async fn post_put_and_patch_of_a_user_answer_with_the_attributes_asked_for() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;

    let created = scim.post("/Users?attributes=userName", erin()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert_eq!(keys(&created.body), ["id", "schemas", "userName"]);
    let id = created.body["id"].as_str().unwrap().to_string();
    // The whole user was stored all the same.
    let stored = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(stored.body["displayName"], "Erin K");
    assert_eq!(stored.body["emails"][0]["value"], "erin@acme.test");

    let mut body = erin();
    body["displayName"] = json!("Erin Kay");
    let replaced = scim
        .put(
            &format!("/Users/{id}?excludedAttributes=emails,name,meta"),
            body,
        )
        .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(replaced.body["displayName"], "Erin Kay");
    for gone in ["emails", "name", "meta"] {
        assert!(
            replaced.body.get(gone).is_none(),
            "{gone} excluded: {:#}",
            replaced.body
        );
    }
    assert_eq!(replaced.body["id"], id.as_str());

    let patched = scim
        .patch(
            &format!("/Users/{id}?attributes=active"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(keys(&patched.body), ["active", "id", "schemas"]);
    assert_eq!(patched.body["active"], false);
    assert_eq!(
        scim.get(&format!("/Users/{id}")).await.body["active"],
        false
    );

    // Without the parameters, the whole resource, as before.
    let whole = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .await;
    assert!(whole.body.get("emails").is_some() && whole.body.get("meta").is_some());
}

#[tokio::test]
async fn post_put_and_patch_of_a_group_answer_with_the_attributes_asked_for() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let member = scim.user("erin@acme.test").await;
    let group = json!({"schemas": [GROUP_URN], "displayName": "Staff",
        "members": [{"value": member}]});

    let created = scim
        .post("/Groups?excludedAttributes=members", group.clone())
        .await;
    assert_eq!(created.status, 201, "{:#}", created.body);
    assert!(created.body.get("members").is_none(), "{:#}", created.body);
    assert_eq!(created.body["displayName"], "Staff");
    let id = created.body["id"].as_str().unwrap().to_string();
    let stored = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(stored.body["members"][0]["value"], member.as_str());

    let replaced = scim
        .put(&format!("/Groups/{id}?attributes=displayName"), group)
        .await;
    assert_eq!(replaced.status, 200, "{:#}", replaced.body);
    assert_eq!(keys(&replaced.body), ["displayName", "id", "schemas"]);

    let patched = scim
        .patch(
            &format!("/Groups/{id}?attributes=members"),
            json!([{"op": "replace", "path": "displayName", "value": "Everyone"}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(keys(&patched.body), ["id", "members", "schemas"]);
    assert_eq!(
        scim.get(&format!("/Groups/{id}")).await.body["displayName"],
        "Everyone"
    );
}

#[tokio::test]
async fn list_parameters_on_a_write_never_refuse_it_after_it_was_made() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let group = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Staff"}),
        )
        .await;
    let id = group.body["id"].as_str().unwrap().to_string();
    // `count` means nothing on a PATCH: the change lands and is answered 200, never a 400
    // for a change that was already made.
    let patched = scim
        .patch(
            &format!("/Groups/{id}?count=many&attributes=displayName"),
            json!([{"op": "replace", "path": "displayName", "value": "Everyone"}]),
        )
        .await;
    assert_eq!(patched.status, 200, "{:#}", patched.body);
    assert_eq!(patched.body["displayName"], "Everyone");
    let created = scim.post("/Users?startIndex=x", erin()).await;
    assert_eq!(created.status, 201, "{:#}", created.body);
}

#[tokio::test]
async fn a_member_change_in_a_group_over_the_limit_answers_204_unless_a_projection_is_named() {
    let app = TestApp::spawn_with(|c| c.scim.patch_response_max_members = 2).await;
    let scim = Scim::new(&app, "acme").await;
    let mut members = Vec::new();
    for n in 0..4 {
        members.push(scim.user(&format!("user{n}@acme.test")).await);
    }
    let add = |id: &str| json!([{"op": "add", "path": "members", "value": [{"value": id}]}]);
    let group = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Staff",
                "members": [{"value": members[0]}]}),
        )
        .await;
    let id = group.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{id}");

    // Two members: at the limit, 200 with the whole group.
    let at_limit = scim.patch(&path, add(&members[1])).await;
    assert_eq!(at_limit.status, 200, "{:#}", at_limit.body);
    assert_eq!(at_limit.body["members"].as_array().unwrap().len(), 2);

    // Three: over it, 204 with the new ETag and no body, and the change made.
    let r = scim.patch(&path, add(&members[2])).await;
    assert_eq!(r.status, 204);
    let etag = r.header("etag").unwrap().to_string();
    assert!(r.body.is_null(), "no body: {:#}", r.body);
    let stored = scim.get(&path).await;
    assert_eq!(stored.body["members"].as_array().unwrap().len(), 3);
    assert_eq!(stored.header("etag"), Some(etag.as_str()));

    // Naming a projection asks for the resource: 200 with what it names.
    let named = scim
        .patch(
            &format!("{path}?excludedAttributes=members"),
            add(&members[3]),
        )
        .await;
    assert_eq!(named.status, 200, "{:#}", named.body);
    assert!(named.body.get("members").is_none());
    assert_eq!(named.body["displayName"], "Staff");
    let rename = json!([{"op": "replace", "path": "displayName", "value": "Everyone"}]);
    let all = scim
        .patch(&format!("{path}?attributes=members"), rename)
        .await;
    assert_eq!(all.status, 200, "{:#}", all.body);
    assert_eq!(all.body["members"].as_array().unwrap().len(), 4);
}
