//! Paging the user list by `startIndex` (RFC 7644 §3.4.2.4) at any depth: the stored number
//! of positions, and pages that start from remembered keys, each checked against what
//! counting the rows and reading them by OFFSET say.

use gatehouse::db::Backend;
use gatehouse::directory::users::lists::USERS_AFTER_KEY;
use gatehouse::directory::{Actor, OrgId, UserId};
use serde_json::json;
use sqlx::Row;

use crate::policy_lifecycle::set;
use crate::support::scim::Scim;
use crate::support::{user_data, TestApp, T0};

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
        .fetch_one(app.directory.db().reads())
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

/// A page as OFFSET reads it: the live users among `count` positions from `offset`.
async fn offset_page(app: &TestApp, org: OrgId, offset: i64, count: i64) -> Vec<String> {
    sqlx::query(
        "select id, deleted_at from users where org_id = $1 \
         order by created_at, id limit $2 offset $3",
    )
    .bind(org.to_string())
    .bind(count)
    .bind(offset)
    .fetch_all(app.directory.db().reads())
    .await
    .unwrap()
    .iter()
    .filter(|r| r.get::<Option<i64>, _>(1).is_none())
    .map(|r| r.get::<String, _>(0))
    .collect()
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
        .fetch_one(app.directory.db().reads())
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert_exact(&scim, "another organisation's deletion").await;
}

#[tokio::test]
async fn pages_from_remembered_keys_are_the_pages_offset_gives_whatever_happens_meanwhile() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let org = scim.org.id;
    let ids = import(&scim, 1000, "u").await;
    // Soft-deleted users inside every page: every seventh.
    for id in ids.iter().step_by(7) {
        app.directory
            .delete_user(org, UserId::parse(id).unwrap(), &Actor::Cli)
            .await
            .unwrap();
    }
    let live = |i: usize| {
        assert_ne!(i % 7, 0, "a live user");
        ids[i].clone()
    };
    let mut start = 1;
    let mut pages = 0;
    let mut positions_moved = false;
    loop {
        let before = app.directory.page_keys().stats();
        let s = start.to_string();
        let r = scim
            .list("/Users", &[("startIndex", s.as_str()), ("count", "100")])
            .await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        assert_eq!(
            r.ids(),
            offset_page(&app, org, start - 1, 100).await,
            "page {pages} (startIndex {start})"
        );
        let total = r.body["totalResults"].as_i64().unwrap();
        assert_eq!(total, counted(&app, org).await, "page {pages}");
        let seeked = app.directory.page_keys().stats().seeks > before.seeks;
        assert_eq!(
            seeked,
            pages > 0 && !positions_moved,
            "page {pages} starts from the last one's key unless positions moved"
        );
        pages += 1;
        start += 100;
        positions_moved = match pages {
            // Creations at the end of the list move no position.
            1 => {
                for n in 0..3 {
                    scim.user(&format!("new{n}@acme.test")).await;
                }
                false
            }
            // Nor do soft deletes, behind the walker or ahead of it.
            2 => {
                for i in [10, 250] {
                    let r = scim.delete(&format!("/Users/{}", live(i))).await;
                    assert_eq!(r.status, 204);
                }
                false
            }
            // A hard delete behind the walker moves every later user up one place.
            3 => {
                set(&app, &scim.org, "on_delete=hard").await;
                let r = scim.delete(&format!("/Users/{}", live(20))).await;
                assert_eq!(r.status, 204);
                true
            }
            // So does one by another process, which this one hears nothing of.
            5 => {
                app.sql(&format!("delete from users where id = '{}'", live(300)))
                    .await;
                true
            }
            // And a user created ahead of the others (a clock that is behind) moves them
            // down one.
            7 => {
                app.clock.advance_ms(-60_000);
                scim.user("early@acme.test").await;
                app.clock.advance_ms(60_000);
                true
            }
            _ => false,
        };
        if start > total {
            break;
        }
    }
    assert_eq!(pages, 11, "1,000 positions, 3 more, 2 erased, 1 more ahead");
}

#[tokio::test]
async fn a_walk_seeks_to_every_page_after_the_first_and_a_far_page_is_reached_once() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = import(&scim, 2500, "w").await;
    let keys = app.directory.page_keys();
    let mut seen = Vec::new();
    for start in (1..=2500).step_by(100) {
        let s = start.to_string();
        let r = scim
            .list("/Users", &[("startIndex", s.as_str()), ("count", "100")])
            .await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        seen.extend(r.ids());
    }
    assert_eq!(seen, ids);
    let stats = keys.stats();
    assert_eq!(stats.seeks, 24, "every page after the first");
    assert_eq!(stats.skipped, 0, "no row passed over");

    // A page no walk has reached starts from the nearest position reached (1,100) and
    // passes over the rows between once; asked again, it seeks.
    let page = |start: &'static str| {
        let scim = &scim;
        async move {
            let r = scim
                .list("/Users", &[("startIndex", start), ("count", "100")])
                .await;
            assert_eq!(r.status, 200, "{:#}", r.body);
            r.ids()
        }
    };
    assert_eq!(page("1151").await, ids[1150..1250]);
    assert_eq!(keys.stats().skipped, 49, "positions 1,100 to 1,148");
    assert_eq!(page("1151").await, ids[1150..1250]);
    assert_eq!(keys.stats().seeks, 26, "from 1,100, then from 1,150");
    assert_eq!(keys.stats().skipped, 49, "and no more rows passed over");

    // Another organisation's far page, asked first: OFFSET from the start, once.
    let other = Scim::new(&app, "other").await;
    let other_ids = import(&other, 1000, "o").await;
    let r = other
        .list("/Users", &[("startIndex", "901"), ("count", "100")])
        .await;
    assert_eq!(r.ids(), other_ids[900..]);
    assert_eq!(keys.stats().skipped, 49 + 899);
    let r = other
        .list("/Users", &[("startIndex", "901"), ("count", "100")])
        .await;
    assert_eq!(r.ids(), other_ids[900..]);
    assert_eq!(keys.stats().skipped, 49 + 899, "the last page seeks now");
}

#[tokio::test]
async fn the_seek_after_a_key_is_an_index_range_on_both_backends() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    // One creation time for all: only a bound on (created_at, id) together seeks here.
    let ids = import(&scim, 2000, "p").await;
    app.sql("analyze").await;
    let explain = match app.backend() {
        Backend::Sqlite => "explain query plan",
        Backend::Postgres => "explain",
    };
    let plan: Vec<String> = sqlx::query(&format!("{explain} select * {USERS_AFTER_KEY}"))
        .bind(scim.org.id.to_string())
        .bind(T0)
        .bind(&ids[1500])
        .bind(101_i64)
        .bind(0_i64)
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(r.columns().len() - 1))
        .collect();
    let plan = plan.join("\n");
    match app.backend() {
        Backend::Sqlite => {
            assert!(
                plan.contains(
                    "SEARCH users USING INDEX users_org_created_idx \
                     (org_id=? AND (created_at,id)>(?,?))"
                ),
                "{plan}"
            );
            assert!(!plan.contains("TEMP B-TREE"), "no sort: {plan}");
        }
        Backend::Postgres => {
            assert!(
                plan.contains("Index Scan using users_org_created_idx"),
                "{plan}"
            );
            let cond = plan
                .lines()
                .find(|l| l.contains("Index Cond"))
                .unwrap_or_default();
            assert!(cond.contains("ROW(created_at, id) > ROW("), "{plan}");
            assert!(!plan.contains("Sort"), "no sort: {plan}");
        }
    }
}
