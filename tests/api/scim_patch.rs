//! PATCH over HTTP in the shapes Okta and Entra send (reference notes §3 and §6.2).

use serde_json::json;

use crate::support::scim::{Scim, ENTERPRISE_URN, USER_URN};
use crate::support::TestApp;

async fn entra_user(scim: &Scim<'_>) -> String {
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "pat@acme.test", "externalId": "x1",
                   "name": {"givenName": "Pat", "familyName": "Old"},
                   "emails": [{"primary": true, "type": "work", "value": "pat@acme.test"},
                              {"type": "home", "value": "pat@home.test"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn entra_value_path_and_sub_attribute_replacements_apply_in_place() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    let path = format!("/Users/{id}");
    // E7
    let r = scim
        .patch(&path, json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        r.body["emails"],
        json!([{"primary": true, "type": "work", "value": "updatedEmail@microsoft.com"},
               {"type": "home", "value": "pat@home.test"}])
    );
    assert_eq!(
        r.body["name"],
        json!({"givenName": "Pat", "familyName": "updatedFamilyName"})
    );
    // The new work email is found by the index.
    let found = scim
        .list(
            "/Users",
            &[("filter", "emails.value eq \"UPDATEDEMAIL@microsoft.com\"")],
        )
        .await;
    assert_eq!(found.ids(), std::slice::from_ref(&id));

    // E8, E11, E12
    let r = scim
        .patch(&path, json!([
            {"op": "Replace", "path": "userName", "value": "renamed@acme.test"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": format!("{ENTERPRISE_URN}:employeeNumber"), "value": "Eqpj"}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["userName"], "renamed@acme.test");
    assert_eq!(r.body["nickName"], "Babs");
    assert_eq!(r.body["externalId"], "Eqpj");
    assert_eq!(r.body[ENTERPRISE_URN]["employeeNumber"], "Eqpj");
    assert_eq!(
        scim.list("/Users", &[("filter", "userName eq \"pat@acme.test\"")])
            .await
            .body["totalResults"],
        0
    );
}

#[tokio::test]
async fn entra_no_path_replace_resolves_dotted_and_urn_keys() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    // E13
    let r = scim
        .patch(&format!("/Users/{id}"), json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@acme.test"},
            {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
                                        format!("{ENTERPRISE_URN}:employeeNumber"): "Aklq"}}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["displayName"], "Bjfe");
    assert_eq!(r.body["name"]["givenName"], "Kkom");
    assert_eq!(r.body[ENTERPRISE_URN]["employeeNumber"], "Aklq");
    assert!(
        r.body.get("name.givenName").is_none(),
        "dotted keys are paths, not attributes"
    );
}

#[tokio::test]
async fn entra_manager_forms_add_replace_and_remove() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    let path = format!("/Users/{id}");
    let manager = format!("{ENTERPRISE_URN}:manager");
    // E14: bare "manager" with a one-element array.
    let r = scim.patch(&path, json!([{"op": "Add", "path": "manager", "value": [{"$ref": "http://x/Users/00aa", "value": "00aa"}]}])).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body[ENTERPRISE_URN]["manager"]["value"], "00aa");
    // E15
    let r = scim
        .patch(
            &path,
            json!([{"op": "add", "path": manager, "value": {"value": "AXTKDLNRKMKT"}}]),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE_URN]["manager"]["value"], "AXTKDLNRKMKT");
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": manager, "value": {"value": "CBEQ"}}]),
        )
        .await;
    assert_eq!(r.body[ENTERPRISE_URN]["manager"]["value"], "CBEQ");
    let r = scim
        .patch(&path, json!([{"op": "remove", "path": manager}]))
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .get(ENTERPRISE_URN)
            .and_then(|e| e.get("manager"))
            .is_none(),
        "{:#}",
        r.body
    );
}

#[tokio::test]
async fn a_patch_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    let before = scim.get(&format!("/Users/{id}")).await.body;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([
            {"op": "replace", "path": "title", "value": "Applied?"},
            {"op": "replace", "path": "active", "value": "perhaps"}]),
        )
        .await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidValue");
    let after = scim.get(&format!("/Users/{id}")).await.body;
    assert_eq!(before, after, "the first operation did not apply either");

    let r = scim
        .patch(&format!("/Users/{id}"), json!([{"op": "remove"}]))
        .await;
    r.assert_error(400);
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "jump", "path": "title", "value": "x"}]),
        )
        .await;
    r.assert_error(400);
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        )
        .await;
    r.assert_error(400);
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "emails[type eq \"other\"].display", "value": "x"}]),
        )
        .await;
    assert!(matches!(r.status.as_u16(), 200 | 400), "{:#}", r.body);
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "replace", "path": "userName", "value": 42}]),
        )
        .await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidValue");
}

#[tokio::test]
async fn removing_active_leaves_it_absent_and_the_user_in_its_state() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "remove", "path": "active"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert!(r.body.get("active").is_none());
    let uid = gatehouse::directory::UserId::parse(&id).unwrap();
    let stored = app.directory.user(scim.org.id, uid).await.unwrap().unwrap();
    assert!(stored.active, "removing the attribute deactivates nobody");
    let r = scim
        .patch(
            &format!("/Users/{id}"),
            json!([{"op": "add", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(r.body["active"], true);
}

#[tokio::test]
async fn multi_valued_add_merges_and_remove_by_filter() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = entra_user(&scim).await;
    let path = format!("/Users/{id}");
    let r = scim
        .patch(
            &path,
            json!([{"op": "add", "path": "emails", "value": [
            {"type": "other", "value": "third@acme.test"},
            {"type": "home", "value": "pat@home.test"}]}]),
        )
        .await;
    assert_eq!(
        r.body["emails"].as_array().unwrap().len(),
        3,
        "{:#}",
        r.body
    );
    let r = scim
        .patch(
            &path,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .await;
    let types: Vec<_> = r.body["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("work"), json!("other")]);
    let r = scim
        .patch(&path, json!([{"op": "remove", "path": "emails"}]))
        .await;
    assert!(r.body.get("emails").is_none());
}

/// PATCHes without If-Match ask for their operations on the latest state: four that run at
/// once each add an email, and all four land (on PostgreSQL the losers of a race read the
/// user again and apply their operations on what the winner left).
#[tokio::test]
async fn patches_that_race_without_if_match_all_land() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("ada@acme.test").await;
    let at = format!("/Users/{id}");
    let patches = (0..4).map(|i| {
        let ops = json!([{"op": "add", "path": "emails",
                          "value": [{"value": format!("ada{i}@acme.test"), "type": "other"}]}]);
        let (scim, at) = (&scim, &at);
        async move { scim.patch(at, ops).await }
    });
    for r in futures_util::future::join_all(patches).await {
        assert_eq!(r.status, 200, "{:#}", r.body);
    }
    let emails = scim.get(&at).await.body["emails"].clone();
    let mut values: Vec<&str> = emails
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    values.sort();
    assert_eq!(
        values,
        [
            "ada0@acme.test",
            "ada1@acme.test",
            "ada2@acme.test",
            "ada3@acme.test"
        ]
    );
}
