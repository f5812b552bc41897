//! Paging the user list by `startIndex` (RFC 7644 §3.4.2.4) at any depth: the stored number
//! of positions, checked against a count of the rows.

use gatehouse::directory::{Actor, OrgId, UserId};
use serde_json::json;

use crate::helpers::{user_data, TestApp};
use crate::policy_lifecycle::set;
use crate::scim_helpers::Scim;

/// Imports users straight into the directory, as a bulk import does: one creation time.
async fn import(scim: &Scim<'_>, n: usize, prefix: &str) -> Vec<String> {
    let people = (0..n)
        .map(|i| user_data(&format!("{prefix}{i:05}@{}.test", scim.org.slug)))
        .collect();
    let ids = scim
        .app
        .directory
        .import_users(scim.org.id, people, &Actor::Cli)
        .await
        .unwrap();
    ids.iter().map(ToString::to_string).collect()
}

/// The organisation's rows, soft-deleted ones included: what positions count.
async fn counted(app: &TestApp, org: OrgId) -> i64 {
    sqlx::query_scalar("select count(*) from users where org_id = $1")
        .bind(org.to_string())
        .fetch_one(app.directory.db().pool())
        .await
        .unwrap()
}

/// `totalResults` of the unfiltered list.
async fn total(scim: &Scim<'_>) -> i64 {
    let r = scim.list("/Users", &[("count", "0")]).await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    r.body["totalResults"].as_i64().unwrap()
}

async fn assert_exact(scim: &Scim<'_>, after: &str) {
    assert_eq!(
        total(scim).await,
        counted(scim.app, scim.org.id).await,
        "totalResults is the number of rows after {after}"
    );
}

#[tokio::test]
async fn the_number_of_positions_stays_exact_through_every_kind_of_write() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let other = Scim::new(&app, "other").await;
    assert_exact(&scim, "nothing").await;
    let a = scim.user("a@acme.test").await;
    let b = scim.user("b@acme.test").await;
    let c = scim.user("c@acme.test").await;
    other.user("x@other.test").await;
    assert_exact(&scim, "SCIM creates").await;
    let imported = import(&scim, 250, "i").await;
    assert_exact(&scim, "a bulk import").await;

    assert_eq!(scim.delete(&format!("/Users/{a}")).await.status, 204);
    assert_exact(&scim, "a soft delete").await;
    scim.user("a@acme.test").await;
    assert_exact(&scim, "a restore").await;

    set(&app, &scim.org, "on_delete=hard").await;
    assert_eq!(scim.delete(&format!("/Users/{b}")).await.status, 204);
    assert_exact(&scim, "a hard delete").await;
    set(&app, &scim.org, "on_deactivate=delete").await;
    let r = scim
        .patch(
            &format!("/Users/{c}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_exact(&scim, "an erasing deactivation").await;
    let erased = UserId::parse(&imported[0]).unwrap();
    app.directory
        .erase_user(scim.org.id, erased, &Actor::Cli)
        .await
        .unwrap();
    assert_exact(&scim, "an erase from the console").await;
    app.sql(&format!("delete from users where id = '{}'", imported[1]))
        .await;
    assert_exact(&scim, "a delete by another program").await;

    // 3 created, 250 imported, 1 restored in place; 4 erased.
    assert_eq!(total(&scim).await, 249);
    assert_eq!(total(&other).await, 1, "each organisation counts its own");

    // An organisation that goes takes its count with it (and its users' triggers do not
    // bring the count back).
    app.sql(&format!("delete from orgs where id = '{}'", other.org.id))
        .await;
    let left: i64 = sqlx::query_scalar("select count(*) from org_user_positions where org_id = $1")
        .bind(other.org.id.to_string())
        .fetch_one(app.directory.db().pool())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_exact(&scim, "another organisation's deletion").await;
}
