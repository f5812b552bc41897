//! The statements every request runs find their rows through an index, whatever the size of
//! the directory: none scans a table. SQLite only, and on purpose without `ANALYZE`, as a
//! server runs: its planner then picks by the indexes alone. (A delete of a user's email keys
//! once chose the organisation's email index and scanned every email on each user write.)

use sqlx::Row;

use crate::support::TestApp;
use gatehouse::db::Backend;

/// Statements on the request paths, with the index each must use.
const HOT: &[(&str, &str)] = &[
    (
        "delete from user_emails where org_id = $1 and user_id = $2",
        "user_emails_user_idx",
    ),
    (
        "select id from users where org_id = $1 and user_name_key = $2",
        "users_org_user_name_key",
    ),
    // Directory::users_by_lookup: a filter on emails or externalId. (With an ORDER BY these
    // once walked the organisation's users in creation order.)
    (
        "select id from users where org_id = $1 and deleted_at is null and \
         id in (select user_id from user_emails where org_id = $1 and value_key = $2)",
        "user_emails_lookup_idx",
    ),
    (
        "select id from users where org_id = $1 and deleted_at is null and external_id = $2",
        "users_org_external_id_idx",
    ),
    // Directory::groups_by_lookup: a user's groups, as a filter on members asks.
    (
        "select id from groups where org_id = $1 and \
         id in (select group_id from group_members where org_id = $1 and user_id = $2)",
        "group_members_user_idx",
    ),
    // A login's candidates (Directory::users_matching): by userName and by every email.
    (
        "select id from users where org_id = $1 and id in ( \
           select id from users where org_id = $1 and user_name_key in ($2) \
           union select user_id from user_emails where org_id = $1 and value_key in ($2))",
        "user_emails_lookup_idx",
    ),
    // What a SCIM create may adopt (adoptable in directory/users/mod.rs): by userName,
    // externalId and every email. (With an ORDER BY it once walked the whole organisation.)
    (
        "select id from users where org_id = $1 and deleted_at is null and id in ( \
           select id from users where org_id = $1 and user_name_key = $2 \
           union select id from users where org_id = $1 and external_id = $3 \
           union select user_id from user_emails where org_id = $1 and value_key in ($2))",
        "users_org_external_id_idx",
    ),
    (
        "select user_id from user_tombstones where org_id = $1 and key_hash in ($2, $3) limit 1",
        "user_tombstones_pkey",
    ),
    (
        "delete from sessions where org_id = $1 and user_id = $2",
        "sessions_user_idx",
    ),
    (
        "select s_epoch, group_names from session_rows where id_hash = $1",
        "group_members_user_idx",
    ),
    (
        "select o.id, o.domain_list, t.id from org_rows o \
         left join scim_tokens t on t.token_hash = $2 where o.slug = $1",
        "scim_tokens_hash_key",
    ),
    (
        "select m.user_id, g.id from group_members m \
         join groups g on g.org_id = m.org_id and g.id = m.group_id \
         where m.org_id = $1 and m.user_id in ($2, $3)",
        "group_members_user_idx",
    ),
    (
        "select group_id, user_id, display from group_members \
         where org_id = $1 and group_id in ($2) order by group_id, created_at, user_id",
        "group_members_group_idx",
    ),
    // The change feed's page (Directory::changes_after).
    (
        "select seq, kind, at, actor, source, resource_type, resource_id, body from changes \
         where org_id = $1 and seq > $2 and seq <= $3 order by seq limit $4",
        "changes_pkey",
    ),
    // The retention's prune (Directory::prune_changes), hourly and at start: it once
    // walked every record kept to find the few expired.
    (
        "select org_id, seq from changes where at < $1 order by at limit $2",
        "changes_at_idx",
    ),
    (
        "delete from changes where org_id = $1 and seq <= $2",
        "changes_pkey",
    ),
];

#[tokio::test]
async fn request_statements_never_scan_a_table() {
    let app = TestApp::spawn().await;
    if app.backend() != Backend::Sqlite {
        return; // PostgreSQL plans by statistics; small test tables are scanned on purpose.
    }
    for (sql, index) in HOT {
        let rows = sqlx::query(&format!("explain query plan {sql}"))
            .bind("x")
            .bind("y")
            .bind("z")
            .fetch_all(app.directory.db().reads())
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let plan: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        let scans: Vec<&String> = plan.iter().filter(|d| d.starts_with("SCAN ")).collect();
        assert!(scans.is_empty(), "{sql} scans: {plan:#?}");
        // A search of users or groups by the organisation alone, in creation order, reads
        // every row the organisation has: a scan by another name.
        let walks: Vec<&String> = plan
            .iter()
            .filter(|d| d.starts_with("SEARCH ") && d.ends_with("_org_created_idx (org_id=?)"))
            .collect();
        assert!(walks.is_empty(), "{sql} walks the organisation: {plan:#?}");
        // SQLite names a unique constraint's index sqlite_autoindex_<table>_N.
        let uses = |name: &str| plan.iter().any(|d| d.contains(name));
        let auto = index.ends_with("_key") || index.ends_with("_pkey");
        assert!(
            uses(index) || (auto && uses("sqlite_autoindex")),
            "{sql} should use {index}: {plan:#?}"
        );
    }
}
