//! The server's own connections (`src/db/reads.rs`): leased and taken back without sqlx's
//! pings, so these tests check what the pings were there for. A write transaction given up
//! at any point leaves nothing behind, and no connection goes back to the others inside a
//! transaction; a connection broken while idle is not handed out.

use std::time::Duration;

use gatehouse::db::{Backend, Db, UNCHECKED_IDLE};

use crate::support::TestApp;

async fn count(db: &Db) -> i64 {
    sqlx::query_scalar("select count(*) from scratch")
        .fetch_one(db.reads())
        .await
        .unwrap()
}

/// A dropped transaction's rollback runs in a task of its own: wait for it to be done.
async fn settled(db: &Db) {
    for _ in 0..100 {
        if db.backend() == Backend::Sqlite || in_transaction(db).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("a connection stayed inside a transaction");
}

/// PostgreSQL's count of this database's connections inside a transaction (this one's own
/// statement runs outside any).
async fn in_transaction(db: &Db) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity \
         where datname = current_database() and state like 'idle in transaction%'",
    )
    .fetch_one(db.reads())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_write_given_up_at_any_point_leaves_nothing_and_no_connection_inside_a_transaction() {
    let app = TestApp::spawn().await;
    let db = app.directory.db();
    sqlx::query("create table scratch (n bigint not null)")
        .execute(db.reads())
        .await
        .unwrap();

    let mut tx = db.begin().await.unwrap();
    sqlx::query("insert into scratch (n) values (1)")
        .execute(tx.conn())
        .await
        .unwrap();
    drop(tx);
    settled(db).await;
    assert_eq!(count(db).await, 0, "a dropped transaction is rolled back");

    // Given up at every moment: before its BEGIN, inside it, or during its statement.
    // None commits, so none may leave a row, whichever connection reads afterwards.
    for micros in (0..400).step_by(7) {
        let _ = tokio::time::timeout(Duration::from_micros(micros), async {
            let mut tx = db.begin().await.unwrap();
            sqlx::query("insert into scratch (n) values (2)")
                .execute(tx.conn())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            tx.commit().await.unwrap();
        })
        .await;
    }
    settled(db).await;
    let reads = futures_util::future::join_all((0..32).map(|_| count(db))).await;
    assert!(reads.iter().all(|n| *n == 0), "{reads:?}");

    let mut tx = db.begin().await.unwrap();
    sqlx::query("insert into scratch (n) values (3)")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(db).await, 1, "and the next write commits");
}

#[tokio::test]
async fn connections_broken_while_idle_are_replaced_without_failing_a_read() {
    let app = TestApp::spawn().await;
    let db = app.directory.db();
    if db.backend() == Backend::Sqlite {
        return; // SQLite's connections are files of the server's own process.
    }
    // Several connections in use at once, then all idle.
    let warm = futures_util::future::join_all((0..8).map(|_| async {
        sqlx::query_scalar::<_, i64>("select 1 from pg_sleep(0.05)")
            .fetch_one(db.reads())
            .await
    }))
    .await;
    assert!(warm.iter().all(Result::is_ok));
    // PostgreSQL ends every one of them, as a restart would (from the migrations' pool).
    let ended: Vec<bool> = sqlx::query_scalar(
        "select pg_terminate_backend(pid) from pg_stat_activity \
         where datname = current_database() and pid <> pg_backend_pid()",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert!(ended.len() >= 2, "{ended:?}");
    tokio::time::sleep(UNCHECKED_IDLE * 2).await;
    for _ in 0..16 {
        let one: i64 = sqlx::query_scalar("select 1")
            .fetch_one(db.reads())
            .await
            .expect("a broken idle connection is checked and replaced, not handed out");
        assert_eq!(one, 1);
    }
}
