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
    let db = crate::helpers::TestDb::new().await;
    let mut config = gatehouse::config::DatabaseConfig::default();
    config.url = gatehouse::config::DatabaseUrl::new(db.url.clone());
    let conn = gatehouse::db::Db::connect(&config).await.unwrap();
    conn.migrate().await.unwrap();
    conn.migrate().await.unwrap();
}
