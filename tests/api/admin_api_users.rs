//! The admin API on users, groups and the event log.

use gatehouse::clock::rfc3339;
use gatehouse::directory::groups::members::MemberRef;
use gatehouse::directory::groups::NewGroup;
use gatehouse::directory::users::Profile;
use gatehouse::directory::{Actor, UserId};
use serde_json::{json, Value};

use crate::sessions::{login, okta};
use crate::support::api::{assert_api_error, logged, Api};
use crate::support::{user_data, TestApp, T0};

async fn auth_check(app: &TestApp, cookie: &str) -> u16 {
    app.auth_check(cookie).await.status().as_u16()
}

fn user_names(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn users_are_searched_and_walked_with_a_cursor() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    for i in (1..=7).rev() {
        let mut data = user_data(&format!("User{i:02}@acme.test"));
        data.profile = Profile {
            display_name: Some(format!("Person {i}")),
            emails: vec![
                json!({"value": format!("user{i:02}@acme.test"), "type": "work", "primary": true}),
            ],
            ..Profile::default()
        };
        d.create_user(acme.id, data, &Actor::Cli).await.unwrap();
    }
    let carol = d
        .create_user(acme.id, user_data("carol@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.set_active(acme.id, carol.id, false, &Actor::Cli)
        .await
        .unwrap();
    d.create_user(globex.id, user_data("user99@globex.test"), &Actor::Cli)
        .await
        .unwrap();
    let api = Api::scoped(&app, &acme).await;

    // Pages of three, in userName order, until the cursor runs out.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            None => "/orgs/acme/users?q=user&limit=3".to_string(),
            Some(c) => format!("/orgs/acme/users?q=user&limit=3&cursor={c}"),
        };
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        seen.extend(user_names(&r.body));
        pages += 1;
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let expected: Vec<String> = (1..=7).map(|i| format!("User{i:02}@acme.test")).collect();
    assert_eq!(seen, expected);

    let r = api.get("/orgs/acme/users?status=inactive").await;
    assert_eq!(user_names(&r.body), ["carol@acme.test"]);
    assert_eq!(r.body["users"][0]["active"], false);
    assert_eq!(r.body["next_cursor"], json!(null));
    let r = api.get("/orgs/acme/users?status=active").await;
    assert_eq!(r.body["users"].as_array().unwrap().len(), 7);
    let r = api.get("/orgs/acme/users?q=person%203").await;
    assert_eq!(user_names(&r.body), ["User03@acme.test"]);
    let u = &r.body["users"][0];
    assert_eq!(u["displayName"], "Person 3");
    assert_eq!(u["email"], "user03@acme.test");
    assert_eq!(
        u["emails"][0],
        json!({"value": "user03@acme.test", "type": "work", "primary": true})
    );
    assert_eq!(u["created"], rfc3339(T0));
    assert_eq!(u["externalId"], json!(null));
    let r = api.get("/orgs/acme/users?q=globex").await;
    assert!(
        user_names(&r.body).is_empty(),
        "other organisations stay out"
    );
    let r = api.get("/orgs/acme/users?status=gone").await;
    assert_api_error(&r, 400, "invalid");
    let r = api.get("/orgs/acme/users?limit=0").await;
    assert_api_error(&r, 400, "invalid");
}

#[tokio::test]
async fn a_user_is_read_deactivated_reactivated_and_signed_out() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let mut a = okta("s", "u@x");
    a.groups = Some(vec!["Engineering".into()]);
    let cookie = login(&app, &acme, &a).await.unwrap();
    assert_eq!(auth_check(&app, &cookie).await, 200);
    let user = app
        .directory
        .user_by_user_name(acme.id, "u@x")
        .await
        .unwrap()
        .unwrap();
    let api = Api::scoped(&app, &acme).await;
    let path = format!("/orgs/acme/users/{}", user.id);

    let r = api.get(&path).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["userName"], "u@x");
    assert_eq!(r.body["active"], true);
    assert_eq!(r.body["name"]["familyName"], "Lovelace");
    assert_eq!(r.body["groups"][0]["displayName"], "Engineering");
    assert_eq!(r.body["identities"][0]["connection"], "okta");
    assert_eq!(r.body["identities"][0]["subject"], "s");

    let r = api.post(&format!("{path}/deactivate"), json!({})).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        auth_check(&app, &cookie).await,
        401,
        "its session ended at once"
    );

    let r = api.post(&format!("{path}/reactivate"), json!({})).await;
    assert_eq!(r.body["active"], true);
    let cookie = login(&app, &acme, &a).await.unwrap();
    assert_eq!(auth_check(&app, &cookie).await, 200);
    let r = api.post(&format!("{path}/sign-out"), json!({})).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], true, "signed out, not deactivated");
    assert_eq!(auth_check(&app, &cookie).await, 401);

    let unknown = format!("/orgs/acme/users/{}", UserId::new());
    assert_api_error(&api.get(&unknown).await, 404, "not_found");
    assert_api_error(
        &api.get("/orgs/acme/users/not-an-id").await,
        404,
        "not_found",
    );
    let r = api.post(&format!("{unknown}/deactivate"), json!({})).await;
    assert_api_error(&r, 404, "not_found");

    let by_key: Vec<String> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.1 == api.actor())
        .map(|e| e.0)
        .collect();
    assert_eq!(
        by_key,
        ["user.deactivate", "user.reactivate", "user.sign_out"]
    );
}

#[tokio::test]
async fn erasing_a_user_needs_its_user_name_typed() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let cookie = login(&app, &acme, &okta("s", "Ada@acme.test"))
        .await
        .unwrap();
    let user = app
        .directory
        .user_by_user_name(acme.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    let api = Api::scoped(&app, &acme).await;
    let path = format!("/orgs/acme/users/{}", user.id);

    for query in [
        "",
        "?confirm=",
        "?confirm=ada%40acme.test",
        "?confirm=someone",
    ] {
        let r = api.delete(&format!("{path}{query}")).await;
        let detail = assert_api_error(&r, 400, "invalid");
        assert!(detail.contains("confirm"), "{detail}");
    }
    assert_eq!(api.get(&path).await.status, 200, "still there");

    let r = api.delete(&format!("{path}?confirm=Ada%40acme.test")).await;
    assert_eq!(r.status, 204, "{:#}", r.body);
    assert_api_error(&api.get(&path).await, 404, "not_found");
    assert_eq!(auth_check(&app, &cookie).await, 401);
    let erased: Vec<_> = logged(&app, &acme)
        .await
        .into_iter()
        .filter(|e| e.0 == "user.erase")
        .collect();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].1, api.actor());
    assert_eq!(erased[0].3.as_deref(), Some(user.id.to_string().as_str()));
}

#[tokio::test]
async fn groups_are_listed_and_read_with_their_members_in_pages() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let mut ids = Vec::new();
    for name in ["ada@acme.test", "bob@acme.test", "cy@acme.test"] {
        let u = d
            .create_user(acme.id, user_data(name), &Actor::Cli)
            .await
            .unwrap();
        ids.push(u.id);
    }
    let members = ids
        .iter()
        .map(|id| MemberRef {
            id: id.to_string(),
            display: None,
        })
        .collect();
    let eng = d
        .create_group(
            acme.id,
            NewGroup {
                display_name: "Engineering".into(),
                external_id: Some("00g1".into()),
                members,
            },
            &Actor::Cli,
        )
        .await
        .unwrap();
    app.clock.advance_ms(1000);
    d.create_group(
        acme.id,
        NewGroup {
            display_name: "Sales".into(),
            external_id: None,
            members: vec![],
        },
        &Actor::Cli,
    )
    .await
    .unwrap();
    let api = Api::scoped(&app, &acme).await;

    let r = api.get("/orgs/acme/groups?limit=1").await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["total"], 2);
    assert_eq!(r.body["groups"][0]["displayName"], "Engineering");
    assert_eq!(r.body["groups"][0]["memberCount"], 3);
    assert_eq!(r.body["groups"][0]["externalId"], "00g1");
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = api
        .get(&format!("/orgs/acme/groups?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(r.body["groups"][0]["displayName"], "Sales");
    assert_eq!(r.body["next_cursor"], json!(null));

    let path = format!("/orgs/acme/groups/{}", eng.0.id);
    let r = api.get(&format!("{path}?limit=2")).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["memberCount"], 3);
    let mut seen: Vec<String> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(seen.len(), 2);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_string();
    let r = api.get(&format!("{path}?limit=2&cursor={cursor}")).await;
    assert_eq!(r.body["next_cursor"], json!(null));
    seen.extend(
        r.body["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["userName"].as_str().unwrap().to_string()),
    );
    seen.sort();
    assert_eq!(seen, ["ada@acme.test", "bob@acme.test", "cy@acme.test"]);
    let member_ids: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert!(member_ids.iter().all(|id| UserId::parse(id).is_some()));

    let unknown = format!("/orgs/acme/groups/{}", gatehouse::directory::GroupId::new());
    assert_api_error(&api.get(&unknown).await, 404, "not_found");
    assert_api_error(&api.get("/orgs/acme/groups?cursor=x").await, 400, "invalid");
}

#[tokio::test]
async fn events_are_read_newest_first_with_filters_and_a_cursor() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let ada = d
        .create_user(acme.id, user_data("ada@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.create_user(acme.id, user_data("bob@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let api = Api::scoped(&app, &acme).await;
    let hour = 3_600_000;
    app.clock.advance_ms(hour);
    let r = api
        .post(
            &format!("/orgs/acme/users/{}/deactivate", ada.id),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);
    for _ in 0..2 {
        d.record_failure(
            Some(acme.id),
            &Actor::Cli,
            "user.create",
            None,
            "userName taken",
        )
        .await
        .unwrap();
    }
    let all = logged(&app, &acme).await;
    assert_eq!(all.len(), 7, "{all:?}");

    // Pages of two, newest first, until the cursor runs out.
    let mut seen: Vec<Value> = Vec::new();
    let mut path = "/orgs/acme/events?limit=2".to_string();
    loop {
        let r = api.get(&path).await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        seen.extend(r.body["events"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => path = format!("/orgs/acme/events?limit=2&cursor={c}"),
            None => break,
        }
    }
    let actions: Vec<&str> = seen.iter().map(|e| e["action"].as_str().unwrap()).collect();
    let mut expected: Vec<&str> = all.iter().map(|e| e.0.as_str()).collect();
    expected.reverse();
    assert_eq!(actions, expected);
    let ids: Vec<i64> = seen.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    assert_eq!(seen[0]["outcome"], "failure");
    assert_eq!(seen[0]["detail"]["reason"], "userName taken");
    assert_eq!(seen[0]["at"], rfc3339(T0 + hour));

    let r = api.get("/orgs/acme/events?failures=true").await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e["outcome"] == "failure"));

    let r = api.get("/orgs/acme/events?action=user.deactivate").await;
    let events = r.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], api.actor());
    assert_eq!(events[0]["target"], ada.id.to_string());

    for user in [ada.id.to_string(), "ada@acme.test".to_string()] {
        let r = api.get(&format!("/orgs/acme/events?user={user}")).await;
        let actions: Vec<&str> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions, ["user.deactivate", "user.create"], "{user}");
    }
    let r = api.get("/orgs/acme/events?user=nobody@acme.test").await;
    assert_eq!(r.body["events"], json!([]));

    let from = rfc3339(T0 + hour);
    let r = api.get(&format!("/orgs/acme/events?from={from}")).await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 3);
    let r = api.get(&format!("/orgs/acme/events?until={from}")).await;
    assert_eq!(r.body["events"].as_array().unwrap().len(), 4);
    let r = api.get("/orgs/acme/events?from=2026-01-02").await;
    assert_eq!(r.body["events"], json!([]));

    for bad in [
        "from=yesterday",
        "failures=maybe",
        "cursor=abc",
        "limit=5000",
    ] {
        let r = api.get(&format!("/orgs/acme/events?{bad}")).await;
        assert_api_error(&r, 400, "invalid");
    }
}
