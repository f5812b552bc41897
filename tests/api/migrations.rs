//! Both migration folders list the same numbered steps.

use std::collections::BTreeSet;
use std::path::Path;

fn names(folder: &str) -> BTreeSet<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn both_migration_folders_list_the_same_steps() {
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must match"
    );
    for (i, name) in sqlite.iter().enumerate() {
        let expected = format!("{:04}_", i + 1);
        assert!(
            name.starts_with(&expected),
            "{name} should start with {expected}: no gaps"
        );
        assert!(name.ends_with(".sql"), "{name}");
    }
}

#[tokio::test]
async fn migrating_twice_changes_nothing() {
    let db = crate::support::TestDb::new().await;
    let mut config = gatehouse::config::DatabaseConfig::default();
    config.url = gatehouse::config::DatabaseUrl::new(db.url.clone());
    let conn = gatehouse::db::Db::connect(&config).await.unwrap();
    conn.migrate().await.unwrap();
    conn.migrate().await.unwrap();
}

/// The positions table starts from the users already stored when it is added, and its
/// triggers carry on from there.
#[tokio::test]
async fn user_positions_start_from_the_users_already_stored() {
    use gatehouse::db::Backend;
    use sqlx::Row;

    let db = crate::support::TestDb::new().await;
    let mut config = gatehouse::config::DatabaseConfig::default();
    config.url = gatehouse::config::DatabaseUrl::new(db.url.clone());
    let conn = gatehouse::db::Db::connect(&config).await.unwrap();
    let folder = match conn.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let earlier = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for name in names(folder).iter().filter(|n| n.as_str() < "0017") {
        std::fs::copy(source.join(name), earlier.path().join(name)).unwrap();
    }
    sqlx::migrate::Migrator::new(earlier.path())
        .await
        .unwrap()
        .run(conn.pool())
        .await
        .unwrap();
    let insert_user = |org: &str, id: &str, created_at: i64| {
        format!(
            "insert into users (id, org_id, user_name, user_name_key, created_at, updated_at, \
             version) values ('{id}', '{org}', '{id}', '{id}', {created_at}, {created_at}, 1)"
        )
    };
    for statement in [
        "insert into orgs (id, slug, name, created_at, updated_at) values ('o1', 'one', 'One', 1, 1)".to_string(),
        "insert into orgs (id, slug, name, created_at, updated_at) values ('o2', 'two', 'Two', 1, 1)".to_string(),
        "insert into orgs (id, slug, name, created_at, updated_at) values ('o3', 'three', 'Three', 1, 1)".to_string(),
        insert_user("o1", "a", 20),
        insert_user("o1", "c", 30),
        insert_user("o1", "b", 30),
        insert_user("o2", "d", 5),
    ] {
        sqlx::query(&statement).execute(conn.pool()).await.unwrap();
    }
    conn.migrate().await.unwrap();
    let read = || async {
        sqlx::query(
            "select org_id, positions, renumbered, last_created_at, last_id \
             from org_user_positions order by org_id",
        )
        .fetch_all(conn.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<String, _>(0),
                r.get::<i64, _>(1),
                r.get::<i64, _>(2),
                r.get::<i64, _>(3),
                r.get::<String, _>(4),
            )
        })
        .collect::<Vec<_>>()
    };
    let row = |org: &str, positions, renumbered, at, id: &str| {
        (org.to_string(), positions, renumbered, at, id.to_string())
    };
    assert_eq!(
        read().await,
        [row("o1", 3, 0, 30, "c"), row("o2", 1, 0, 5, "d")],
        "no row for an organisation without users"
    );
    for statement in [
        insert_user("o1", "e", 31), // at the end
        insert_user("o2", "f", 4),  // ahead of d
        insert_user("o3", "g", 1),  // the organisation's first
    ] {
        sqlx::query(&statement).execute(conn.pool()).await.unwrap();
    }
    assert_eq!(
        read().await,
        [
            row("o1", 4, 0, 31, "e"),
            row("o2", 2, 1, 5, "d"),
            row("o3", 1, 0, 1, "g")
        ]
    );
}
