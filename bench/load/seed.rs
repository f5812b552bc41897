//! The store the load runs against, seeded through the library before the server starts,
//! each phase timed.

use std::sync::Arc;
use std::time::Instant;

use gatehouse::clock::SystemClock;
use gatehouse::config::DatabaseUrl;
use gatehouse::directory::groups::members::{MemberOp, MemberRef};
use gatehouse::directory::groups::{GroupUpdate, NewGroup};
use gatehouse::directory::orgs::NewOrg;
use gatehouse::directory::users::{Profile, UserData};
use gatehouse::directory::{Actor, Directory, Org, OrgSlug, UserId, UserName};
use gatehouse::{Application, Config};
use serde_json::json;
use sqlx::Connection;

use crate::saml_idp::TestIdp;
use crate::user_name;

const IMPORT_BATCH: usize = 10_000;
/// Members per membership change while seeding the large group.
const MEMBER_BATCH: usize = 10_000;
/// Users per progress line while importing.
const PROGRESS: usize = 100_000;

/// What to seed.
pub struct Plan {
    pub users: usize,
    pub sessions: usize,
    /// Members of the large group: the last `group_members` users.
    pub group_members: usize,
}

pub struct Seeded {
    pub org: String,
    pub token: String,
    pub ids: Vec<UserId>,
    pub cookies: Vec<String>,
    pub small_org: String,
    pub small_token: String,
    /// An API key of the large organisation (its change feed and webhooks).
    pub api_key: String,
    /// The large organisation's last change when seeding ended.
    pub feed_head: i64,
    /// The large group's id; its members are the last `Plan::group_members` users.
    pub large_group: String,
    /// The large organisation's SAML IdP.
    pub idp: TestIdp,
    /// Each phase and its seconds, in order.
    pub phases: Vec<(String, f64)>,
}

/// Seeds through the library, then closes its pool: the server is another process.
pub async fn seed(url: &str, key_file: &str, plan: &Plan) -> anyhow::Result<Seeded> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let mut config = Config::default();
    config.database.url = DatabaseUrl::new(url);
    config.secrets.key_file = key_file.into();
    config.log.filter = "warn".into();
    let lifetimes = gatehouse::session::lifetimes(&config);
    let app = Application::with_listener(config, listener, Arc::new(SystemClock)).await?;
    let directory = app.state().directory.clone();
    let postgres = !url.starts_with("sqlite:");
    let mut phases = Phases::default();

    // The small organisation first: on PostgreSQL, the statistics taken after it make the
    // large import's foreign-key checks use the (org_id, id) key (see `analyze`).
    let started = Instant::now();
    let (small, small_token) = seed_org(&directory, "load1k").await?;
    seed_users(&directory, &small, 1_000).await?;
    phases.done("second organisation, 1,000 users", started);
    if postgres {
        analyze(url, &mut phases).await?;
    }

    let started = Instant::now();
    let (org, token) = seed_org(&directory, "load").await?;
    let ids = seed_users(&directory, &org, plan.users).await?;
    let seconds = phases.done(&format!("{} users", plan.users), started);
    if plan.users >= 1_000 {
        eprintln!(
            "seed: {:.1} s per 100,000 users",
            seconds * 100_000.0 / plan.users as f64
        );
    }
    if postgres {
        // Statistics that still describe the small organisation alone make PostgreSQL
        // read a user by (org_id, id) through another index, past every user of the large
        // one: each session and group batch below would then scan the organisation.
        analyze(url, &mut phases).await?;
    }

    let started = Instant::now();
    let mut cookies = Vec::with_capacity(plan.sessions);
    for id in &ids[..plan.sessions] {
        let user = directory.user(org.id, *id).await?.expect("just imported");
        let session = directory.create_session(org.id, &user, lifetimes).await?;
        cookies.push(session.cookie);
    }
    phases.done(&format!("{} sessions", plan.sessions), started);

    let started = Instant::now();
    let statistics = postgres.then_some(url);
    let large_group = seed_group(&directory, &org, &ids, plan.group_members, statistics).await?;
    phases.done(&format!("group of {} members", plan.group_members), started);

    let started = Instant::now();
    let idp = TestIdp::new("http://www.okta.com/exk1loadbench");
    gatehouse::admin::ops::import_saml_metadata(
        &directory,
        &org,
        &idp.metadata(&[&idp.cert_b64]),
        None,
        &Actor::Cli,
    )
    .await?;
    phases.done("SAML connection (RSA key and metadata)", started);

    let (_, api_key) = directory
        .create_api_key(Some(org.id), "bench", None, &Actor::Cli)
        .await?;
    let feed_head = directory.last_change(org.id).await?;
    if postgres {
        // As autovacuum would have by the time a directory this size serves traffic.
        analyze(url, &mut phases).await?;
    }
    drop(app);
    Ok(Seeded {
        org: "load".into(),
        token,
        ids,
        cookies,
        small_org: "load1k".into(),
        small_token,
        api_key: api_key.0,
        feed_head,
        large_group,
        idp,
        phases: phases.0,
    })
}

#[derive(Default)]
struct Phases(Vec<(String, f64)>);

impl Phases {
    /// Records a phase that began at `started`; its seconds.
    fn done(&mut self, name: &str, started: Instant) -> f64 {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("seed: {name}: {seconds:.1} s");
        self.0.push((name.to_string(), seconds));
        seconds
    }
}

/// Takes PostgreSQL's planner statistics. Without them, a plan made while `users` is still
/// empty (the foreign-key check of each `user_emails` row is planned once per connection)
/// may look rows up by `org_id` alone and filter the rest: each check then reads every
/// user of the organisation, and an import slows down with every row it adds.
async fn analyze(url: &str, phases: &mut Phases) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
    sqlx::query("analyze").execute(&mut conn).await?;
    phases.done("statistics (PostgreSQL analyze)", started);
    Ok(())
}

async fn seed_org(directory: &Directory, slug: &str) -> anyhow::Result<(Org, String)> {
    let new = NewOrg {
        slug: OrgSlug::parse(slug)?,
        name: None,
        domains: vec![],
    };
    let org = directory.create_org(new, &Actor::Cli).await?;
    let (_, secret) = directory
        .create_token(org.id, "bench", None, &Actor::Cli)
        .await?;
    Ok((org, secret.0))
}

/// `Directory::import_users` in batches of 10,000, with a line per 100,000 users.
async fn seed_users(directory: &Directory, org: &Org, users: usize) -> anyhow::Result<Vec<UserId>> {
    let mut ids = Vec::with_capacity(users);
    let mut next = 0;
    let mut lap = Instant::now();
    while next < users {
        let end = (next + IMPORT_BATCH).min(users);
        let batch = (next..end)
            .map(|i| UserData {
                user_name: UserName::parse(&user_name(i)).expect("valid"),
                external_id: Some(format!("ext-{i}")),
                active: true,
                profile: Profile {
                    emails: vec![json!({"value": user_name(i), "type": "work", "primary": true})],
                    ..Profile::default()
                },
            })
            .collect();
        ids.extend(directory.import_users(org.id, batch, &Actor::Cli).await?);
        if end.is_multiple_of(PROGRESS) && end < users {
            eprintln!(
                "seed: users {}–{end}: {:.1} s",
                end - PROGRESS,
                lap.elapsed().as_secs_f64()
            );
            lap = Instant::now();
        }
        next = end;
    }
    Ok(ids)
}

/// A group whose members are the last `members` users, added through
/// `Directory::update_group` in batches (each one transaction). On PostgreSQL (`statistics`
/// names the database), statistics are taken after the first batch: planned on an empty
/// `group_members`, the check for members already present reads every member so far.
async fn seed_group(
    directory: &Directory,
    org: &Org,
    ids: &[UserId],
    members: usize,
    statistics: Option<&str>,
) -> anyhow::Result<String> {
    let new = NewGroup {
        display_name: "Load group (large)".into(),
        external_id: None,
        members: vec![],
    };
    let (group, _) = directory.create_group(org.id, new, &Actor::Cli).await?;
    let first = ids.len() - members;
    for start in (first..ids.len()).step_by(MEMBER_BATCH) {
        let end = (start + MEMBER_BATCH).min(ids.len());
        let refs = (start..end)
            .map(|i| MemberRef {
                id: ids[i].to_string(),
                display: Some(user_name(i)),
            })
            .collect();
        let update = GroupUpdate {
            members: vec![MemberOp::Add(refs)],
            ..GroupUpdate::default()
        };
        let (_, changes) = directory
            .update_group(org.id, group.id, update, None, &Actor::Cli)
            .await?;
        anyhow::ensure!(
            changes.added.len() == end - start,
            "the large group took {} of {} members",
            changes.added.len(),
            end - start
        );
        if let Some(url) = statistics.filter(|_| start == first) {
            let mut conn = sqlx::postgres::PgConnection::connect(url).await?;
            sqlx::query("analyze group_members")
                .execute(&mut conn)
                .await?;
        }
    }
    Ok(group.id.to_string())
}
