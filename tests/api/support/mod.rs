//! Test harness: databases, the running app (built by [`TestApp::builder`]), and the
//! command-line binary; `api`, `scim` and `console` speak each door's protocol, `saml_idp`
//! and `webhook_receiver` stand in for the other side of a connection.

pub mod api;
pub mod console;
pub mod saml_idp;
pub mod scim;
pub mod webhook_receiver;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use gatehouse::clock::ManualClock;
use gatehouse::config::DatabaseUrl;
use gatehouse::db::Backend;
use gatehouse::directory::orgs::NewOrg;
use gatehouse::directory::users::{Profile, UserData};
use gatehouse::directory::{Actor, Directory, Domain, Org, OrgSlug, UserName};
use gatehouse::{Application, Config};
use sqlx::Connection;
use tempfile::TempDir;

/// Set to a PostgreSQL server URL (its maintenance database) to run on PostgreSQL.
pub const PG_ENV: &str = "GATEHOUSE_TEST_DATABASE_URL";

/// A database of its own for one test.
pub struct TestDb {
    pub url: String,
    pub dir: TempDir,
}

impl TestDb {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match std::env::var(PG_ENV) {
            Ok(server) => fresh_pg_database(&server).await,
            Err(_) => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
        };
        Self { url, dir }
    }
}

async fn fresh_pg_database(server: &str) -> String {
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::postgres::PgConnection::connect(server)
        .await
        .expect("connect to the test PostgreSQL server");
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let mut url = url::Url::parse(server).expect("PG URL");
    url.set_path(&name);
    url.to_string()
}

/// The running server, its directory, and a clock the test controls.
pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub directory: Directory,
    pub clock: ManualClock,
    db_url: String,
    secrets_file: String,
    /// Kept so the database (and its temporary folder) lives as long as the app; None for
    /// a second instance on another's database.
    _db: Option<TestDb>,
}

/// 2026-01-01T00:00:00Z: tests start at a fixed, known time.
pub const T0: i64 = 1_767_225_600_000;

/// One change a test makes to the configuration.
type Adjust<'a> = Box<dyn FnOnce(&mut Config) + 'a>;

/// How a test's server starts: on a fresh database, or beside another instance on its
/// database, with the test's changes to the default configuration.
#[must_use = "nothing starts until spawn"]
pub struct Builder<'a> {
    adjust: Vec<Adjust<'a>>,
    beside: Option<(String, String)>,
}

impl<'a> Builder<'a> {
    /// Changes the configuration before the server starts; in the order given.
    pub fn config(mut self, adjust: impl FnOnce(&mut Config) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// Runs on `other`'s database (and secrets key), as a second replica behind a load
    /// balancer would, with a clock of its own.
    pub fn beside(mut self, other: &TestApp) -> Self {
        self.beside = Some((other.db_url.clone(), other.secrets_file.clone()));
        self
    }

    pub async fn spawn(self) -> TestApp {
        let adjust = |config: &mut Config| self.adjust.into_iter().for_each(|f| f(config));
        match self.beside {
            Some((db_url, secrets_file)) => {
                TestApp::start(db_url, secrets_file, None, adjust).await
            }
            None => {
                let db = TestDb::new().await;
                let secrets_file = db.dir.path().join("secret.key").display().to_string();
                TestApp::start(db.url.clone(), secrets_file, Some(db), adjust).await
            }
        }
    }
}

impl TestApp {
    pub fn builder<'a>() -> Builder<'a> {
        Builder {
            adjust: vec![],
            beside: None,
        }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::builder().config(adjust).spawn().await
    }

    /// Another instance of the server on this one's database; see [`Builder::beside`].
    pub async fn spawn_beside(&self) -> Self {
        Self::builder().beside(self).spawn().await
    }

    async fn start(
        db_url: String,
        secrets_file: String,
        db: Option<TestDb>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = Config::default();
        config.database.url = DatabaseUrl::new(db_url.clone());
        config.database.max_connections = 4;
        config.server.public_url = base_url.clone();
        config.secrets.key_file = secrets_file.clone();
        adjust(&mut config);
        let clock = ManualClock::starting_at(T0);
        let app = Application::with_listener(config, listener, Arc::new(clock.clone()))
            .await
            .expect("app builds");
        let directory = app.state().directory.clone();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base_url,
            client,
            directory,
            clock,
            db_url,
            secrets_file,
            _db: db,
        }
    }

    /// The URL of the app's database, for a connection of its own (another process's).
    pub fn database_url(&self) -> String {
        self.db_url.clone()
    }

    /// The file the app's secrets key lives in.
    pub fn secrets_file(&self) -> String {
        self.secrets_file.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `GET /auth/check` with a session cookie, as a proxy asks it.
    pub async fn auth_check(&self, cookie: &str) -> reqwest::Response {
        self.client
            .get(self.url("/auth/check"))
            .header("cookie", format!("gatehouse_session={cookie}"))
            .send()
            .await
            .unwrap()
    }

    pub fn backend(&self) -> Backend {
        self.directory.db().backend()
    }

    /// Runs raw SQL on the app's database (to set up a fault, or to look behind the API).
    pub async fn sql(&self, statement: &str) {
        sqlx::raw_sql(statement)
            .execute(self.directory.db().reads())
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    /// Submits the `/login` form the way a browser does: the page first (its token and
    /// cookie), then the form with `email`.
    pub async fn submit_login(&self, email: &str) -> reqwest::Response {
        let page = self.client.get(self.url("/login")).send().await.unwrap();
        let cookie = page.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        let html = page.text().await.unwrap();
        let csrf = crate::support::console::csrf_of(&html);
        self.client
            .post(self.url("/login"))
            .header("cookie", cookie)
            .form(&[("csrf", csrf.as_str()), ("email", email)])
            .send()
            .await
            .unwrap()
    }

    pub async fn org(&self, slug: &str, domains: &[&str]) -> Org {
        let new = NewOrg {
            slug: OrgSlug::parse(slug).unwrap(),
            name: None,
            domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
        };
        self.directory.create_org(new, &Actor::Cli).await.unwrap()
    }
}

/// An outbound client for calls a test makes itself (a metadata refresh), allowed to
/// reach the test's local IdPs.
pub fn outbound() -> gatehouse::outbound::Outbound {
    let mut config = Config::default();
    config.outbound.allow_private_addresses = true;
    gatehouse::outbound::Outbound::new(&config)
}

/// A minimal user.
pub fn user_data(user_name: &str) -> UserData {
    UserData {
        user_name: UserName::parse(user_name).unwrap(),
        external_id: None,
        active: true,
        profile: Profile::default(),
    }
}

/// Runs the `gatehouse` binary in `cwd` on the given database.
pub fn gatehouse(cwd: &Path, db_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(cwd)
        .env("GATEHOUSE_DATABASE__URL", db_url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run gatehouse");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A browser door's answer while the database is away: 503, a page that says so, and no
/// session cookie.
pub fn assert_unavailable_page(r: &reqwest::Response) {
    assert_eq!(r.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.headers().get("set-cookie").is_none());
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}
