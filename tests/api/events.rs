//! The event log is append-only and records who did what.

use gatehouse::directory::Actor;
use gatehouse::events::{self, EventQuery};

use crate::support::{user_data, TestApp};

#[tokio::test]
async fn the_event_log_refuses_updates_and_deletes() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let pool = app.directory.db().reads();
    assert!(sqlx::query("update events set action = 'forged'")
        .execute(pool)
        .await
        .is_err());
    assert!(sqlx::query("delete from events")
        .execute(pool)
        .await
        .is_err());
    let count: i64 = sqlx::query_scalar("select count(*) from events")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn failures_are_recorded_with_their_reason_and_filterable() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("h@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.record_failure(
        Some(acme.id),
        &Actor::System,
        "user.create",
        None,
        "userName taken",
    )
    .await
    .unwrap();

    let all = events::list(
        d.db().reads(),
        acme.id,
        &EventQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 3, "newest first: {all:?}");
    assert_eq!(all[1].action, "user.create");
    assert_eq!(all[1].target.as_deref(), Some(user.id.to_string().as_str()));
    assert_eq!(all[1].actor, "cli");
    assert_eq!(all[1].at, d.now());

    let failures = EventQuery {
        failures_only: true,
        limit: 10,
        ..Default::default()
    };
    let failed = events::list(d.db().reads(), acme.id, &failures)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].outcome, "failure");
    assert_eq!(failed[0].detail["reason"], "userName taken");

    let other = events::list(
        d.db().reads(),
        globex.id,
        &EventQuery {
            limit: 10,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(other.len(), 1, "only globex's own creation: {other:?}");

    let page = EventQuery {
        before: Some(all[0].id),
        limit: 1,
        ..Default::default()
    };
    let next = events::list(d.db().reads(), acme.id, &page).await.unwrap();
    assert_eq!(next[0].id, all[1].id, "cursor paging");
}
