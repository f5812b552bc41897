//! The two databases' schemas, as built by their migrations, are the same: the same tables
//! with the same columns (type, nullability, primary key), the same indexes (name, table,
//! uniqueness, columns in order, partial or not), the same foreign keys, views and
//! triggers. The file-name check in migrations.rs proves only that both folders have the
//! same steps; this reads what the steps built. It needs both databases, so it runs on the
//! PostgreSQL leg (which also has SQLite, a file), and on the SQLite leg it is skipped.

use std::collections::BTreeSet;

use sqlx::{Connection, Row};

use crate::support::{TestDb, PG_ENV};

/// One fact about a schema, comparable across the two databases.
type Facts = BTreeSet<String>;

/// The differences the dialects require, each on purpose: (SQLite's fact, PostgreSQL's, why).
const DIALECT: &[(&str, &str, &str)] = &[(
    "column events.id integer not null",
    "column events.id bigint not null",
    "SQLite numbers rows itself only for a column declared INTEGER PRIMARY KEY; PostgreSQL's \
     identity column is a bigint, and both hold 64-bit numbers",
)];

async fn migrated(url: &str) {
    let mut config = gatehouse::config::DatabaseConfig::default();
    config.url = gatehouse::config::DatabaseUrl::new(url.to_string());
    let db = gatehouse::db::Db::connect(&config).await.unwrap();
    db.migrate().await.unwrap();
    db.close().await;
}

/// SQLite's declared types and PostgreSQL's names for them, as the migrations write them.
fn pg_type(data_type: &str) -> String {
    match data_type {
        "character varying" => "varchar".into(),
        "double precision" => "double precision".into(),
        other => other.into(),
    }
}

async fn sqlite_facts(url: &str) -> Facts {
    let mut c = sqlx::sqlite::SqliteConnection::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let objects = sqlx::query(
        "select type, name, tbl_name from sqlite_master \
         where name not like 'sqlite_%' and name not like '_sqlx%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for o in &objects {
        let (kind, name, table): (String, String, String) = (o.get(0), o.get(1), o.get(2));
        match kind.as_str() {
            "view" => {
                facts.insert(format!("view {name}"));
            }
            "trigger" => {
                facts.insert(format!("trigger {name} on {table}"));
            }
            _ => {}
        }
        if kind != "table" {
            continue;
        }
        facts.insert(format!("table {name}"));
        let columns =
            sqlx::query("select name, lower(type), \"notnull\", pk from pragma_table_info($1)")
                .bind(&name)
                .fetch_all(&mut c)
                .await
                .unwrap();
        let mut pk = Vec::new();
        for col in &columns {
            let (column, ty, not_null, pk_pos): (String, String, i64, i64) =
                (col.get(0), col.get(1), col.get(2), col.get(3));
            // A primary key's columns are not null on PostgreSQL whatever the declaration.
            let nullable = if not_null == 1 || pk_pos > 0 {
                "not null"
            } else {
                "null"
            };
            facts.insert(format!("column {name}.{column} {ty} {nullable}"));
            if pk_pos > 0 {
                pk.push((pk_pos, column));
            }
        }
        pk.sort();
        if !pk.is_empty() {
            let cols: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
            facts.insert(format!("primary key {name} ({})", cols.join(", ")));
        }
        let indexes =
            sqlx::query("select name, \"unique\", origin, partial from pragma_index_list($1)")
                .bind(&name)
                .fetch_all(&mut c)
                .await
                .unwrap();
        for ix in &indexes {
            let (index, unique, origin, partial): (String, i64, String, i64) =
                (ix.get(0), ix.get(1), ix.get(2), ix.get(3));
            if origin == "pk" {
                continue; // the primary key, above
            }
            let cols: Vec<String> = sqlx::query(
                "select coalesce(name, '<expression>') from pragma_index_info($1) order by seqno",
            )
            .bind(&index)
            .fetch_all(&mut c)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
            let unique = if unique == 1 { "unique " } else { "" };
            let partial = if partial == 1 { " partial" } else { "" };
            // A unique constraint's index is named by SQLite itself: compare it by columns.
            let label = if origin == "u" {
                "constraint".to_string()
            } else {
                index.clone()
            };
            facts.insert(format!(
                "{unique}index {label} on {name} ({}){partial}",
                cols.join(", ")
            ));
        }
        let fks = sqlx::query(
            "select id, \"table\", \"from\", \"to\" from pragma_foreign_key_list($1) order by id, seq",
        )
        .bind(&name)
        .fetch_all(&mut c)
        .await
        .unwrap();
        let mut by_id: std::collections::BTreeMap<i64, (String, Vec<String>, Vec<String>)> =
            Default::default();
        for fk in &fks {
            let id: i64 = fk.get(0);
            let e = by_id
                .entry(id)
                .or_insert_with(|| (fk.get(1), vec![], vec![]));
            e.1.push(fk.get(2));
            e.2.push(fk.get::<Option<String>, _>(3).unwrap_or_default());
        }
        for (_, (target, from, to)) in by_id {
            facts.insert(format!(
                "foreign key {name} ({}) references {target} ({})",
                from.join(", "),
                to.join(", ")
            ));
        }
    }
    facts
}

async fn postgres_facts(url: &str) -> Facts {
    let mut c = sqlx::postgres::PgConnection::connect(url).await.unwrap();
    let mut facts = Facts::new();
    let rows = sqlx::query(
        "select c.relname::text, c.relkind::text from pg_class c \
         join pg_namespace n on n.oid = c.relnamespace \
         where n.nspname = 'public' and c.relkind in ('r', 'v') and c.relname not like '_sqlx%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    for r in &rows {
        let (name, kind): (String, String) = (r.get(0), r.get(1));
        facts.insert(match kind.as_str() {
            "v" => format!("view {name}"),
            _ => format!("table {name}"),
        });
    }
    for r in sqlx::query(
        "select table_name::text, column_name::text, data_type::text, is_nullable::text \
         from information_schema.columns c where table_schema = 'public' \
         and table_name not like '_sqlx%' \
         and table_name in (select table_name from information_schema.tables \
                            where table_schema = 'public' and table_type = 'BASE TABLE')",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    {
        let (table, column, ty, nullable): (String, String, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let nullable = if nullable == "NO" { "not null" } else { "null" };
        facts.insert(format!(
            "column {table}.{column} {} {nullable}",
            pg_type(&ty)
        ));
    }
    // Indexes, each with its columns in order ('<expression>' for an expression), whether
    // it backs the primary key or a unique constraint, and whether it is partial.
    for r in sqlx::query(
        "select i.relname::text, t.relname::text, x.indisunique, x.indisprimary, \
           x.indpred is not null, \
           exists (select 1 from pg_constraint k where k.conindid = x.indexrelid \
                   and k.contype in ('u', 'p')), \
           array(select coalesce(a.attname::text, '<expression>') \
                 from unnest(x.indkey::int2[]) with ordinality as k(attnum, ord) \
                 left join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum \
                 order by k.ord) \
         from pg_index x join pg_class i on i.oid = x.indexrelid \
         join pg_class t on t.oid = x.indrelid join pg_namespace n on n.oid = t.relnamespace \
         where n.nspname = 'public' and t.relname not like '_sqlx%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    {
        let (index, table, unique, primary, partial, constraint, cols): (
            String,
            String,
            bool,
            bool,
            bool,
            bool,
            Vec<String>,
        ) = (
            r.get(0),
            r.get(1),
            r.get(2),
            r.get(3),
            r.get(4),
            r.get(5),
            r.get(6),
        );
        if primary {
            facts.insert(format!("primary key {table} ({})", cols.join(", ")));
            continue;
        }
        let unique = if unique { "unique " } else { "" };
        let partial = if partial { " partial" } else { "" };
        let label = if constraint {
            "constraint".to_string()
        } else {
            index
        };
        facts.insert(format!(
            "{unique}index {label} on {table} ({}){partial}",
            cols.join(", ")
        ));
    }
    for r in sqlx::query(
        "select t.relname::text, f.relname::text, \
           array(select a.attname::text from unnest(k.conkey) with ordinality as u(attnum, ord) \
                 join pg_attribute a on a.attrelid = k.conrelid and a.attnum = u.attnum \
                 order by u.ord), \
           array(select a.attname::text from unnest(k.confkey) with ordinality as u(attnum, ord) \
                 join pg_attribute a on a.attrelid = k.confrelid and a.attnum = u.attnum \
                 order by u.ord) \
         from pg_constraint k join pg_class t on t.oid = k.conrelid \
         join pg_class f on f.oid = k.confrelid \
         join pg_namespace n on n.oid = t.relnamespace \
         where k.contype = 'f' and n.nspname = 'public'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    {
        let (table, target, from, to): (String, String, Vec<String>, Vec<String>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        facts.insert(format!(
            "foreign key {table} ({}) references {target} ({})",
            from.join(", "),
            to.join(", ")
        ));
    }
    for r in sqlx::query(
        "select g.tgname::text, t.relname::text from pg_trigger g \
         join pg_class t on t.oid = g.tgrelid join pg_namespace n on n.oid = t.relnamespace \
         where not g.tgisinternal and n.nspname = 'public'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap()
    {
        let (name, table): (String, String) = (r.get(0), r.get(1));
        facts.insert(format!("trigger {name} on {table}"));
    }
    facts
}

#[tokio::test]
async fn both_databases_build_the_same_schema() {
    if std::env::var(PG_ENV).is_err() {
        return; // needs PostgreSQL beside SQLite: the PostgreSQL leg runs it
    }
    let postgres = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("parity.db").display());
    migrated(&postgres.url).await;
    migrated(&sqlite).await;
    let (mut s, mut p) = (
        sqlite_facts(&sqlite).await,
        postgres_facts(&postgres.url).await,
    );
    for (kind, example) in [("table ", "table users"), ("view ", "view session_rows")] {
        assert!(s.contains(example) && p.contains(example), "{kind}: {s:#?}");
    }
    for facts in [&s, &p] {
        for kind in [
            "trigger ",
            "foreign key ",
            "unique index constraint ",
            "primary key ",
        ] {
            assert!(
                facts.iter().any(|f| f.starts_with(kind)),
                "no {kind}: {facts:#?}"
            );
        }
    }
    for (on_sqlite, on_postgres, why) in DIALECT {
        assert!(
            s.remove(*on_sqlite) && p.remove(*on_postgres),
            "a listed dialect difference is gone, remove it from DIALECT: {why}"
        );
    }
    let only_sqlite: Vec<&String> = s.difference(&p).collect();
    let only_postgres: Vec<&String> = p.difference(&s).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only on SQLite: {only_sqlite:#?}\nonly on PostgreSQL: {only_postgres:#?}"
    );
}
