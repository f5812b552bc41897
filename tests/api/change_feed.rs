//! The change feed (DESIGN.md, Change feed): each directory change writes its record in its
//! own transaction, numbered per organisation without gaps; a refused write writes none.

use gatehouse::directory::groups::members::{MemberOp, MemberRef};
use gatehouse::directory::groups::{GroupUpdate, NewGroup};
use gatehouse::directory::Actor;
use serde_json::{json, Value};

use crate::policy_lifecycle::set;
use crate::support::api::Api;
use crate::support::scim::{Scim, USER_URN};
use crate::support::{user_data, TestApp};

fn types(page: &Value) -> Vec<String> {
    page["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn changes_come_in_order_without_gaps_and_only_for_writes_that_happened() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let alice = d
        .create_user(acme.id, user_data("alice@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    // A refused write (the userName is taken) leaves no record.
    assert!(d
        .create_user(acme.id, user_data("alice@acme.test"), &Actor::Cli)
        .await
        .is_err());
    d.set_active(acme.id, alice.id, false, &Actor::Cli)
        .await
        .unwrap();
    d.set_active(acme.id, alice.id, true, &Actor::Cli)
        .await
        .unwrap();
    let new = NewGroup {
        display_name: "Engineering".into(),
        external_id: None,
        members: vec![MemberRef {
            id: alice.id.to_string(),
            display: None,
        }],
    };
    d.create_group(acme.id, new, &Actor::Cli).await.unwrap();
    d.sign_out_everywhere(acme.id, alice.id, &Actor::Cli)
        .await
        .unwrap();
    d.delete_user(acme.id, alice.id, &Actor::Cli).await.unwrap();
    d.create_user(globex.id, user_data("bob@globex.test"), &Actor::Cli)
        .await
        .unwrap();

    let api = Api::scoped(&app, &acme).await;
    let page = api.get("/orgs/acme/changes").await;
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(
        types(&page.body),
        [
            "user.created",
            "user.deactivated",
            "user.reactivated",
            "group.created",
            "group.member_added",
            "session.revoked",
            "user.deleted",
            // A deleted user leaves its groups, and the app hears of it.
            "group.member_removed"
        ]
    );
    let seqs: Vec<i64> = page.body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=8).collect::<Vec<_>>());
    assert_eq!(page.body["next"], 8);
    let first = &page.body["changes"][0];
    assert_eq!(first["resource"]["userName"], "alice@acme.test");
    assert_eq!(first["source"], "cli");
    assert_eq!(
        page.body["changes"][4]["members"][0]["value"],
        alice.id.to_string()
    );
    let left = &page.body["changes"][7];
    assert_eq!(left["members"][0]["value"], alice.id.to_string());
    assert_eq!(left["resource"]["displayName"], "Engineering");
    assert_eq!(left["reason"], "the user was deleted");

    // Paging and types.
    let page = api.get("/orgs/acme/changes?after=2&limit=2").await;
    assert_eq!(types(&page.body), ["user.reactivated", "group.created"]);
    assert_eq!(page.body["next"], 4);
    let page = api
        .get("/orgs/acme/changes?types=user.deleted,user.created")
        .await;
    assert_eq!(types(&page.body), ["user.created", "user.deleted"]);
    let bad = api.get("/orgs/acme/changes?types=user.exploded").await;
    assert_eq!(bad.status, 400);

    // Another organisation's feed is its own, and not readable with this key.
    let other = api.get("/orgs/globex/changes").await;
    assert!(
        matches!(other.status.as_u16(), 403 | 404),
        "{}",
        other.status
    );
    let globex_api = Api::scoped(&app, &globex).await;
    let page = globex_api.get("/orgs/globex/changes").await;
    assert_eq!(types(&page.body), ["user.created"]);
    assert_eq!(page.body["changes"][0]["seq"], 1);
}

#[tokio::test]
async fn a_long_poll_answers_when_a_change_commits_and_retention_answers_410() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;
    let empty = api.get("/orgs/acme/changes?wait=0").await;
    assert_eq!(types(&empty.body), Vec::<String>::new());
    assert_eq!(empty.body["next"], 0);
    let d = app.directory.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        d.create_user(acme.id, user_data("late@acme.test"), &Actor::Cli)
            .await
            .unwrap();
    });
    let page = api.get("/orgs/acme/changes?after=0&wait=20").await;
    writer.await.unwrap();
    assert_eq!(types(&page.body), ["user.created"]);

    // Retention removes it; asking after 0 now has missed a change.
    let far = app.directory.now() + 1;
    assert_eq!(app.directory.prune_changes(far).await.unwrap(), 1);
    let gone = api.get("/orgs/acme/changes?after=0").await;
    assert_eq!(gone.status, 410, "{:?}", gone.body);
    let fine = api.get("/orgs/acme/changes?after=1").await;
    assert_eq!(fine.status, 200);
}

#[tokio::test]
async fn a_snapshot_pages_users_then_groups_and_ends_with_the_seq_to_follow() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    for i in 0..3 {
        d.create_user(acme.id, user_data(&format!("u{i}@acme.test")), &Actor::Cli)
            .await
            .unwrap();
    }
    let api = Api::scoped(&app, &acme).await;
    let mut cursor: Option<String> = None;
    let (mut users, mut pages) = (0, 0);
    let mut seq;
    loop {
        let path = match &cursor {
            Some(c) => format!("/orgs/acme/snapshot?limit=2&cursor={c}"),
            None => "/orgs/acme/snapshot?limit=2".to_string(),
        };
        let page = api.get(&path).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        users += page.body["users"].as_array().unwrap().len();
        seq = page.body["seq"].as_i64().unwrap();
        pages += 1;
        if pages == 1 {
            // A change during the walk is after the snapshot's seq.
            d.create_user(acme.id, user_data("during@acme.test"), &Actor::Cli)
                .await
                .unwrap();
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(users >= 3);
    assert_eq!(seq, 3);
    let after = api.get(&format!("/orgs/acme/changes?after={seq}")).await;
    assert_eq!(types(&after.body), ["user.created"]);
    let bad = api.get("/orgs/acme/snapshot?cursor=nonsense").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn updates_renames_removals_deletes_and_erasure_have_their_types() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let ann = d
        .create_user(acme.id, user_data("ann@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let mut data = user_data("ann@acme.test");
    data.profile.display_name = Some("Ann".into());
    d.replace_user(acme.id, ann.id, data, None, &Actor::Cli, "user.replace")
        .await
        .unwrap();
    let new = NewGroup {
        display_name: "Ops".into(),
        external_id: None,
        members: vec![MemberRef {
            id: ann.id.to_string(),
            display: None,
        }],
    };
    let (group, _) = d.create_group(acme.id, new, &Actor::Cli).await.unwrap();
    let rename = GroupUpdate {
        display_name: Some("Operations".into()),
        external_id: None,
        members: vec![MemberOp::Remove(vec![ann.id.to_string()])],
    };
    d.update_group(acme.id, group.id, rename, None, &Actor::Cli)
        .await
        .unwrap();
    // A member change alone is no group.updated.
    let add = GroupUpdate {
        display_name: None,
        external_id: None,
        members: vec![MemberOp::Add(vec![MemberRef {
            id: ann.id.to_string(),
            display: None,
        }])],
    };
    d.update_group(acme.id, group.id, add, None, &Actor::Cli)
        .await
        .unwrap();
    d.delete_group(acme.id, group.id, None, &Actor::Cli)
        .await
        .unwrap();
    d.erase_user(acme.id, ann.id, &Actor::Cli).await.unwrap();

    let api = Api::scoped(&app, &acme).await;
    let page = api.get("/orgs/acme/changes").await;
    assert_eq!(
        types(&page.body),
        [
            "user.created",
            "user.updated",
            "group.created",
            "group.member_added",
            "group.updated",
            "group.member_removed",
            "group.member_added",
            "group.deleted",
            "user.erased"
        ]
    );
    let changes = page.body["changes"].as_array().unwrap();
    assert_eq!(changes[4]["resource"]["displayName"], "Operations");
    // After the erase, the user's earlier changes hold its id alone.
    for c in changes.iter().filter(|c| c["resourceType"] == "User") {
        assert_eq!(c["resource"], json!({ "id": ann.id }), "{c}");
    }
}

#[tokio::test]
async fn retention_removes_only_records_older_than_changes_retention_days() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let api = Api::scoped(&app, &acme).await;
    const DAY: i64 = 86_400_000;
    let d = &app.directory;
    d.create_user(acme.id, user_data("old@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    app.clock.advance_ms(20 * DAY);
    d.create_user(acme.id, user_data("newer@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    app.clock.advance_ms(11 * DAY);

    // 31 days after the first and 11 after the second: only the first is past 30 days.
    assert_eq!(d.prune_expired_changes(30).await.unwrap(), 1);
    assert_eq!(api.get("/orgs/acme/changes?after=0").await.status, 410);
    let kept = api.get("/orgs/acme/changes?after=1").await;
    assert_eq!(types(&kept.body), ["user.created"]);
    assert_eq!(kept.body["changes"][0]["seq"], 2);
    assert_eq!(
        d.prune_expired_changes(30).await.unwrap(),
        0,
        "nothing more is old enough"
    );
    assert_eq!(
        d.prune_expired_changes(u64::MAX).await.unwrap(),
        0,
        "no overflow"
    );
}

#[tokio::test]
async fn a_backlog_longer_than_one_prune_batch_goes_whole_and_only_where_expired() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    const DAY: i64 = 86_400_000;
    let d = &app.directory;
    // More than one batch of expired records (10,000), in two organisations.
    let many = (0..10_050)
        .map(|i| user_data(&format!("u{i}@acme.test")))
        .collect();
    d.import_users(acme.id, many, &Actor::Cli).await.unwrap();
    d.create_user(globex.id, user_data("old@globex.test"), &Actor::Cli)
        .await
        .unwrap();
    app.clock.advance_ms(31 * DAY);
    d.create_user(acme.id, user_data("new@acme.test"), &Actor::Cli)
        .await
        .unwrap();

    assert_eq!(d.prune_expired_changes(30).await.unwrap(), 10_051);
    let acme_api = Api::scoped(&app, &acme).await;
    assert_eq!(
        acme_api.get("/orgs/acme/changes?after=10049").await.status,
        410
    );
    let kept = acme_api.get("/orgs/acme/changes?after=10050").await;
    assert_eq!(kept.status, 200, "{:#}", kept.body);
    assert_eq!(types(&kept.body), ["user.created"]);
    let globex_api = Api::scoped(&app, &globex).await;
    assert_eq!(
        globex_api.get("/orgs/globex/changes?after=0").await.status,
        410
    );
    assert_eq!(
        globex_api.get("/orgs/globex/changes?after=1").await.status,
        200
    );
}

/// The last `n` changes of the organisation.
async fn tail(api: &Api<'_>, n: usize) -> Vec<Value> {
    let page = api.get("/orgs/acme/changes?limit=1000").await;
    let all = page.body["changes"].as_array().unwrap();
    all[all.len().saturating_sub(n)..].to_vec()
}

#[tokio::test]
async fn every_erase_removes_the_user_from_its_groups_in_the_feed_and_moves_their_etag() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let api = Api::scoped(&app, &scim.org).await;
    // Each way a user leaves its groups for good: erased by an admin, deleted by SCIM (soft
    // or hard), and erased by a deactivation with on_deactivate=delete.
    for (setting, erased) in [
        (None, "user.erased"),
        (Some("on_delete=soft"), "user.deleted"),
        (Some("on_delete=hard"), "user.deleted"),
        (Some("on_deactivate=delete"), "user.erased"),
    ] {
        if let Some(setting) = setting {
            set(&app, &scim.org, setting).await;
        }
        let user = scim
            .post(
                "/Users",
                json!({"schemas": [USER_URN], "userName": format!("{erased}{setting:?}@acme.test")}),
            )
            .await;
        assert_eq!(user.status, 201, "{:#}", user.body);
        let id = user.body["id"].as_str().unwrap().to_string();
        let group = scim
            .post(
                "/Groups",
                json!({"displayName": format!("Staff {setting:?}"), "members": [{"value": id}]}),
            )
            .await;
        let gid = group.body["id"].as_str().unwrap().to_string();
        let etag_before = scim.get(&format!("/Groups/{gid}")).await.body["meta"]["version"].clone();
        match setting {
            None => app
                .directory
                .erase_user(
                    scim.org.id,
                    gatehouse::directory::UserId::parse(&id).unwrap(),
                    &Actor::Cli,
                )
                .await
                .unwrap(),
            Some(s) if s.starts_with("on_delete") => {
                assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204)
            }
            Some(_) => {
                let ops = json!([{"op": "replace", "path": "active", "value": false}]);
                let r = scim.patch(&format!("/Users/{id}"), ops).await;
                assert!(r.status.is_success(), "{:#}", r.body);
            }
        }
        let last = tail(&api, 2).await;
        assert_eq!(last[0]["type"], erased, "{setting:?}: {last:#?}");
        assert_eq!(last[1]["type"], "group.member_removed", "{setting:?}");
        assert_eq!(last[1]["resource"]["id"], json!(gid));
        assert_eq!(last[1]["members"][0]["value"], json!(id));
        assert_eq!(
            last[1]["seq"].as_i64(),
            last[0]["seq"].as_i64().map(|s| s + 1)
        );
        let reason = if setting.is_some_and(|s| s.starts_with("on_delete")) {
            "the user was deleted"
        } else {
            "the user was erased"
        };
        assert_eq!(last[1]["reason"], reason);
        let after = scim.get(&format!("/Groups/{gid}")).await;
        assert_eq!(after.body["members"], json!([]), "{:#}", after.body);
        assert_ne!(after.body["meta"]["version"], etag_before, "{setting:?}");
        if let Some(setting) = setting {
            let undo = setting
                .replace("=hard", "=soft")
                .replace("=delete", "=keep");
            set(&app, &scim.org, &undo).await;
        }
    }
}
