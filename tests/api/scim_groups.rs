//! /Groups as Okta's Push Groups and Entra drive it (reference notes §3.7 and §6.2).

use std::collections::HashSet;

use gatehouse::directory::{Actor, UserId};
use serde_json::{json, Value};

use crate::support::scim::{events, Scim, USER_URN};
use crate::support::{user_data, TestApp};

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

async fn group(scim: &Scim<'_>, name: &str, members: Value) -> String {
    let r = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": name, "members": members}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn member_ids(body: &Value) -> Vec<String> {
    let mut ids: Vec<String> = body["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn okta_push_groups_lookup_create_rename_and_membership() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let (a, b) = (
        scim.user("a@acme.test").await,
        scim.user("b@acme.test").await,
    );

    let r = scim
        .list(
            "/Groups",
            &[
                ("filter", "displayName eq \"Test SCIMv2\""),
                ("startIndex", "1"),
                ("count", "100"),
            ],
        )
        .await;
    assert_eq!(r.body["totalResults"], 0);
    let r = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["members"], json!([]));
    assert_eq!(r.header("location"), r.body["meta"]["location"].as_str());
    let gid = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");

    // Rename, with the read-only id inside the value object.
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv2 renamed"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["displayName"], "Test SCIMv2 renamed");

    // Add, then remove one and add another in one request.
    let r = scim.patch(&path, json!([{"op": "add", "path": "members", "value": [{"value": a, "display": "a@acme.test"}]}])).await;
    assert_eq!(member_ids(&r.body), std::slice::from_ref(&a));
    assert_eq!(r.body["members"][0]["display"], "a@acme.test");
    assert_eq!(
        r.body["members"][0]["$ref"],
        format!("{}/Users/{a}", scim.base())
    );
    let r = scim
        .patch(
            &path,
            json!([
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")},
            {"op": "add", "path": "members", "value": [{"value": b, "display": "b@acme.test"}]}]),
        )
        .await;
    assert_eq!(member_ids(&r.body), std::slice::from_ref(&b));

    // Push Now: replace the whole list.
    let r = scim
        .patch(
            &path,
            json!([{"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]}]),
        )
        .await;
    assert_eq!(member_ids(&r.body), sorted(&[&a, &b]));

    // AIW: PUT with the full list.
    let r = scim.put(&path, json!({"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": [{"value": a, "display": "a"}]})).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(member_ids(&r.body), std::slice::from_ref(&a));

    let r = scim
        .list("/Groups", &[("filter", "displayName eq \"test scimv2\"")])
        .await;
    assert_eq!(
        r.ids(),
        std::slice::from_ref(&gid),
        "displayName compares case-insensitively"
    );
    let r = scim.delete(&path).await;
    assert_eq!(r.status, 204);
    scim.get(&path).await.assert_error(404);
    assert_eq!(
        scim.get(&format!("/Users/{a}")).await.status,
        200,
        "members stay"
    );
}

#[tokio::test]
async fn entra_group_shapes() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let (a, b, c) = (
        scim.user("a@acme.test").await,
        scim.user("b@acme.test").await,
        scim.user("c@acme.test").await,
    );
    // E17: an unknown schema URI is accepted.
    let r = scim
        .post("/Groups", json!({"schemas": [GROUP_URN, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                                "externalId": "8aa1a0c0", "displayName": "displayName", "meta": {"resourceType": "Group"}}))
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{gid}");
    // E18, E19: excludedAttributes=members leaves the key out.
    let r = scim
        .get(&format!("{path}?excludedAttributes=members"))
        .await;
    assert!(r.body.get("members").is_none());
    let r = scim
        .list(
            "/Groups",
            &[
                ("excludedAttributes", "members"),
                ("filter", "displayName eq \"displayName\""),
            ],
        )
        .await;
    assert_eq!(r.ids(), std::slice::from_ref(&gid));
    assert!(r.body["Resources"][0].get("members").is_none());
    // E21: several members, "$ref": null.
    let r = scim
        .patch(&path, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}, {"$ref": null, "value": b}, {"$ref": null, "value": c}]}]))
        .await;
    assert_eq!(member_ids(&r.body), sorted(&[&a, &b, &c]));
    // E22: remove with a value array removes only those listed.
    let r = scim
        .patch(
            &path,
            json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": a}]}]),
        )
        .await;
    assert_eq!(member_ids(&r.body), sorted(&[&b, &c]));
    // E23
    let r = scim
        .patch(
            &path,
            json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}]),
        )
        .await;
    assert_eq!(member_ids(&r.body), std::slice::from_ref(&c));
    // E20
    let r = scim
        .patch(
            &path,
            json!([{"op": "Replace", "path": "displayName", "value": "updatedDisplayName"}]),
        )
        .await;
    assert_eq!(r.body["displayName"], "updatedDisplayName");
    // Remove of members with no value clears them all.
    let r = scim
        .patch(&path, json!([{"op": "remove", "path": "members"}]))
        .await;
    assert_eq!(r.body["members"], json!([]));
    // Filters on externalId and on a member.
    let r = scim
        .list("/Groups", &[("filter", "externalId eq \"8aa1a0c0\"")])
        .await;
    assert_eq!(r.ids(), std::slice::from_ref(&gid));
}

#[tokio::test]
async fn unknown_member_ids_are_ignored_and_recorded() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let other = Scim::new(&app, "globex").await;
    let a = scim.user("a@acme.test").await;
    let foreign = other.user("f@globex.test").await;
    let stranger = UserId::new().to_string();
    let gid = group(&scim, "G", json!([])).await;
    let r = scim
        .patch(
            &format!("/Groups/{gid}"),
            json!([{"op": "add", "path": "members", "value": [
            {"value": a}, {"value": foreign}, {"value": stranger}, {"value": "not-a-uuid"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        member_ids(&r.body),
        std::slice::from_ref(&a),
        "another organisation's user never joins"
    );
    let (_, _, detail) = events(&app, &scim.org)
        .await
        .into_iter()
        .rev()
        .find(|e| e.0 == "group.update")
        .unwrap();
    assert_eq!(detail["membersAdded"], json!([a]));
    let ignored: HashSet<String> =
        serde_json::from_value(detail["membersIgnored"].clone()).unwrap();
    assert_eq!(
        ignored,
        [foreign, stranger, "not-a-uuid".to_string()]
            .into_iter()
            .collect()
    );
}

#[tokio::test]
async fn display_names_are_unique_per_organisation_whatever_the_case() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let other = Scim::new(&app, "globex").await;
    let first = group(&scim, "Engineering", json!([])).await;
    let r = scim
        .post("/Groups", json!({"displayName": "ENGINEERING"}))
        .await;
    assert_eq!(r.assert_error(409)["scimType"], "uniqueness");
    group(&other, "Engineering", json!([])).await;
    let second = group(&scim, "Sales", json!([])).await;
    let r = scim
        .patch(
            &format!("/Groups/{second}"),
            json!([{"op": "replace", "path": "displayName", "value": "engineering"}]),
        )
        .await;
    r.assert_error(409);
    other
        .get(&format!("/Groups/{first}"))
        .await
        .assert_error(404);
}

#[tokio::test]
async fn users_list_their_groups_and_keep_them_through_deactivation() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let a = scim.user("a@acme.test").await;
    let gid = group(&scim, "Admins", json!([{"value": a}])).await;
    let r = scim.get(&format!("/Users/{a}")).await;
    assert_eq!(
        r.body["groups"],
        json!([{"value": gid, "display": "Admins", "$ref": format!("{}/Groups/{gid}", scim.base()), "type": "direct"}])
    );
    let r = scim
        .list(
            "/Groups",
            &[("filter", format!("members.value eq \"{a}\"").as_str())],
        )
        .await;
    assert_eq!(r.ids(), std::slice::from_ref(&gid));
    // A user's groups are read-only through /Users.
    let r = scim
        .put(
            &format!("/Users/{a}"),
            json!({"schemas": [USER_URN], "userName": "a@acme.test", "groups": []}),
        )
        .await;
    assert_eq!(r.body["groups"][0]["value"], json!(gid));

    scim.patch(
        &format!("/Users/{a}"),
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    scim.patch(
        &format!("/Users/{a}"),
        json!([{"op": "replace", "value": {"active": true}}]),
    )
    .await;
    assert_eq!(
        member_ids(&scim.get(&format!("/Groups/{gid}")).await.body),
        std::slice::from_ref(&a),
        "intact after reactivation"
    );

    assert_eq!(scim.delete(&format!("/Users/{a}")).await.status, 204);
    assert_eq!(
        scim.get(&format!("/Groups/{gid}")).await.body["members"],
        json!([]),
        "a deleted user leaves"
    );
}

#[tokio::test]
async fn ten_thousand_members_in_one_patch() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let people = (0..10_000)
        .map(|i| user_data(&format!("m{i}@acme.test")))
        .collect();
    let created = app
        .directory
        .import_users(scim.org.id, people, &Actor::Cli)
        .await
        .unwrap();
    let ids: Vec<Value> = created.iter().map(|id| json!({"value": id})).collect();
    let gid = group(&scim, "Everyone", json!([])).await;
    let r = scim
        .call(
            reqwest::Method::PATCH,
            &format!("/Groups/{gid}?excludedAttributes=members"),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": ids}]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert!(r.body.get("members").is_none());
    let gid = gatehouse::directory::GroupId::parse(&gid).unwrap();
    assert_eq!(
        app.directory
            .group_member_ids(scim.org.id, gid)
            .await
            .unwrap()
            .len(),
        10_000
    );
    // One change, one event.
    let updates: Vec<_> = events(&app, &scim.org)
        .await
        .into_iter()
        .filter(|e| e.0 == "group.update")
        .collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].2["membersAdded"].as_array().unwrap().len(),
        10_000
    );
}

#[tokio::test]
async fn twenty_concurrent_member_additions_all_land() {
    let app = TestApp::spawn_with(|c| c.database.max_connections = 8).await;
    let scim = Scim::new(&app, "acme").await;
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(scim.user(&format!("c{i}@acme.test")).await);
    }
    let gid = group(&scim, "Crowd", json!([])).await;
    let path = format!("/Groups/{gid}");
    let calls = users.iter().map(|u| {
        scim.patch(
            &path,
            json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
        )
    });
    for r in futures_util::future::join_all(calls).await {
        assert_eq!(r.status, 200, "{:#}", r.body);
    }
    let got = member_ids(&scim.get(&path).await.body);
    let mut want = users.clone();
    want.sort();
    assert_eq!(got, want, "no lost update");

    // A stale If-Match still gets 412.
    let r = scim
        .call_with(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]})),
            &[("if-match", "W/\"1\"")],
        )
        .await;
    r.assert_error(412);
}
