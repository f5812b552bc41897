//! Write transactions on SQLite commit in groups (see `db::Writer`): concurrent writers
//! share one COMMIT, yet each write is whole or absent on its own, and a write given up
//! halfway leaves neither its rows nor an open transaction behind. The same tests hold on
//! PostgreSQL, where each write is a transaction of its own.

use std::time::Duration;

use sqlx::Connection;

use crate::support::TestApp;

/// Far longer than any of these writes takes; reaching it means a writer is stuck.
const WAIT: Duration = Duration::from_secs(5);

async fn insert_org(tx: &mut gatehouse::db::WriteTx, slug: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into orgs (id, slug, name, settings, created_at, updated_at) \
         values ($1, $1, $1, '{}', 0, 0)",
    )
    .bind(slug)
    .execute(tx.conn())
    .await
    .map(drop)
}

async fn slugs(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("select slug from orgs where slug like 'w-%' order by slug")
        .fetch_all(app.directory.db().reads())
        .await
        .unwrap()
}

#[tokio::test]
async fn concurrent_writes_land_whole_or_not_at_all() {
    let app = TestApp::spawn().await;
    let db = app.directory.db().clone();
    let writers = (0..24).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.unwrap();
            insert_org(&mut tx, &format!("w-{i:02}-a")).await.unwrap();
            tokio::task::yield_now().await;
            insert_org(&mut tx, &format!("w-{i:02}-b")).await.unwrap();
            match i % 3 {
                // A duplicate key: the writer's own rows go, the others' stay.
                0 => {
                    let err = insert_org(&mut tx, &format!("w-{i:02}-a"))
                        .await
                        .unwrap_err();
                    tx.fail(err).await;
                }
                // Given up without a word (an early return): rolled back all the same.
                1 => drop(tx),
                _ => tx.commit().await.unwrap(),
            }
        })
    });
    let all = tokio::time::timeout(WAIT, futures_util::future::join_all(writers));
    for w in all.await.expect("every writer finishes") {
        w.unwrap();
    }
    let expected: Vec<String> = (0..24)
        .filter(|i| i % 3 == 2)
        .flat_map(|i| [format!("w-{i:02}-a"), format!("w-{i:02}-b")])
        .collect();
    // Abandoned writes roll back in the background: wait for the writer to be free.
    let free = tokio::time::timeout(WAIT, db.begin()).await;
    drop(free.expect("the writer's turn comes back").unwrap());
    assert_eq!(slugs(&app).await, expected);
}

/// A writer that succeeds leaves its savepoint open for the group's COMMIT; the writer
/// after it that fails must roll back to its own savepoint, not to the one before, and the
/// one after that must still land.
#[tokio::test]
async fn a_failing_writer_between_two_others_takes_only_its_own_rows() {
    let app = TestApp::spawn().await;
    let db = app.directory.db().clone();
    let mut first = db.begin().await.unwrap();
    insert_org(&mut first, "w-a").await.unwrap();
    let failing = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            insert_org(&mut tx, "w-b").await.unwrap();
            // Taken by the first writer, whose work is in the same transaction.
            let err = insert_org(&mut tx, "w-a").await.unwrap_err();
            tx.fail(err).await;
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let last = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            insert_org(&mut tx, "w-c").await.unwrap();
            tx.commit().await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(WAIT, first.commit())
        .await
        .expect("the first writer commits")
        .unwrap();
    tokio::time::timeout(WAIT, failing)
        .await
        .expect("the failing writer finishes")
        .unwrap();
    let committed = tokio::time::timeout(WAIT, last)
        .await
        .expect("the last writer finishes")
        .unwrap();
    assert!(committed.is_ok(), "{committed:?}");
    assert_eq!(
        slugs(&app).await,
        vec!["w-a".to_string(), "w-c".to_string()]
    );
}

#[tokio::test]
async fn a_write_given_up_halfway_leaves_no_lock_behind() {
    let app = TestApp::spawn().await;
    let db = app.directory.db().clone();
    // A request dropped while its transaction is open (a client that went away).
    let task = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            insert_org(&mut tx, "w-gone").await.unwrap();
            std::future::pending::<()>().await;
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    task.abort();
    let _ = task.await;

    // Another process (the CLI) can write at once: nothing holds SQLite's write lock.
    let mut other = sqlx::AnyConnection::connect(&app.database_url())
        .await
        .unwrap();
    let write = sqlx::query(
        "insert into orgs (id, slug, name, settings, created_at, updated_at) \
         values ('w-cli', 'w-cli', 'w-cli', '{}', 0, 0)",
    )
    .execute(&mut other);
    tokio::time::timeout(WAIT, write)
        .await
        .expect("the write lock is free")
        .unwrap();
    assert_eq!(slugs(&app).await, vec!["w-cli".to_string()]);
}

/// SQLite rolls a whole transaction back by itself on some errors (a full disk, an I/O
/// error), the writes grouped with the failing one included. A raw ROLLBACK leaves the
/// connection in that same state. The writer queued behind must then get a transaction of
/// its own, and its commit must say what happened to its row.
#[tokio::test]
async fn a_transaction_the_database_rolled_back_takes_no_later_write_with_it() {
    let app = TestApp::spawn().await;
    let db = app.directory.db().clone();
    let mut first = db.begin().await.unwrap();
    insert_org(&mut first, "w-first").await.unwrap();
    let queued = tokio::spawn({
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            insert_org(&mut tx, "w-queued").await.unwrap();
            tx.commit().await
        }
    });
    // Let the second writer queue for its turn.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let gone = sqlx::query("ROLLBACK").execute(first.conn()).await;
    first.fail(gone.err()).await;
    let committed = tokio::time::timeout(WAIT, queued)
        .await
        .expect("the queued writer finishes")
        .unwrap();
    assert!(committed.is_ok(), "{committed:?}");
    assert_eq!(slugs(&app).await, vec!["w-queued".to_string()]);
}
