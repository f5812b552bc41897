//! The directory: organisations, users, groups, identities, tokens and admins. It is the one
//! user model behind both front doors (SCIM and SSO) and the only module that writes SQL,
//! apart from the event log it writes into within its own transactions.
//!
//! Every operation on tenant data takes the organisation first, and every query it runs is
//! scoped by it: no call can reach another organisation's rows.

pub mod api_keys;
pub mod changes;
pub mod connections;
pub mod console;
pub mod groups;
pub mod model;
pub mod orgs;
pub mod policy;
pub mod sessions;
pub mod sign_in;
pub mod snapshot;
pub mod token_keys;
pub mod tokens;
pub mod users;
pub mod webhooks;

use std::fmt;
use std::sync::Arc;

use crate::clock::{Clock, Millis};
use crate::db::{Db, WriteTx};
use crate::events::{self, NewEvent, Outcome};

pub use model::{
    AdminId, Domain, Email, GroupId, OrgId, OrgSlug, ParseError, TokenId, UserId, UserName,
    WebhookId,
};
pub use orgs::Org;

/// Outcomes a caller must handle; each front door maps them to its own wire format.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A unique value is taken. `field` names the attribute as clients know it.
    #[error("{field} {value:?} is already taken")]
    Conflict { field: &'static str, value: String },
    /// The caller's version (`If-Match`) is not the stored one.
    #[error("the resource has changed since version {expected}")]
    PreconditionFailed { expected: String },
    #[error(transparent)]
    Invalid(#[from] ParseError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    /// The organisation's provisioning policy refuses the write.
    #[error(transparent)]
    Policy(#[from] policy::Violation),
    /// Every attempt of a read-modify-write lost its race with another write.
    #[error("the {0} kept changing while the write was applied")]
    Contended(&'static str),
}

impl Error {
    /// Whether the database is away (no connection within the acquire timeout, the
    /// connection broke, or PostgreSQL is shutting down or starting up): the request may
    /// succeed later, so it is answered 503.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Db(sqlx::Error::PoolTimedOut) => true,
            Error::Db(e) => crate::db::connection_lost(e),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Who did something, as the event log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An operator at the command line.
    Cli,
    /// The server itself (schedules, first start).
    System,
    ScimToken(TokenId),
    /// A platform admin, in the console or through an API key of its.
    Admin(AdminId),
    /// A user administering its own organisation in the console.
    OrgAdmin(UserId),
    /// Whoever holds a setup link, by link id.
    SetupLink(String),
    /// An admin API key, by key id.
    ApiKey(String),
    User(UserId),
    /// An identity provider, by connection, asserting a login.
    Idp(String),
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Cli => f.write_str("cli"),
            Actor::System => f.write_str("system"),
            Actor::ScimToken(id) => write!(f, "scim-token:{id}"),
            Actor::Admin(id) => write!(f, "admin:{id}"),
            Actor::OrgAdmin(id) => write!(f, "org-admin:{id}"),
            Actor::SetupLink(id) => write!(f, "setup-link:{id}"),
            Actor::ApiKey(id) => write!(f, "api-key:{id}"),
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Idp(connection) => write!(f, "idp:{connection}"),
        }
    }
}

/// The directory and its store.
#[derive(Clone)]
pub struct Directory {
    db: Db,
    clock: Arc<dyn Clock>,
    /// Where pages of the user list begin. It lives here, shared by every clone (the app
    /// state holds one; the command line and tests theirs), because it is knowledge of the
    /// store that only the directory's own queries read and fill, the same for whichever
    /// front door asks; and it needs no hook in the directory's writes, since the store
    /// itself counts the changes that make a key stale (see [`users::page_keys`]).
    page_keys: Arc<users::page_keys::PageKeys>,
    /// Rung when a transaction that wrote changes has committed: long polls of the change
    /// feed on this instance look again at once (those of other instances poll).
    change_bell: Arc<tokio::sync::Notify>,
}

impl Directory {
    pub fn new(db: Db, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            clock,
            page_keys: Arc::default(),
            change_bell: Arc::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn page_keys(&self) -> &users::page_keys::PageKeys {
        &self.page_keys
    }

    pub fn change_bell(&self) -> Arc<tokio::sync::Notify> {
        self.change_bell.clone()
    }

    pub fn now(&self) -> Millis {
        self.clock.now_ms()
    }

    /// Records a refused or failed operation in its own transaction: the change itself was
    /// rolled back, but the attempt must still be on record.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn record_failure(
        &self,
        org: Option<OrgId>,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        reason: &str,
    ) -> Result<()> {
        let detail = serde_json::json!({ "reason": reason });
        self.record_failure_detail(org, actor, action, target, detail)
            .await
    }

    /// Like [`Directory::record_failure`], with a detail beyond the reason (which it should
    /// still hold, under `reason`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn record_failure_detail(
        &self,
        org: Option<OrgId>,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.db.begin().await?;
        self.record_outcome(
            &mut tx,
            org,
            actor,
            (action, target),
            Outcome::Failure,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a success that changed nothing else (a login), in its own transaction.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn record_success(
        &self,
        org: Option<OrgId>,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let mut tx = self.db().begin().await?;
        self.record(&mut tx, org, actor, action, target, detail)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes a success event inside the caller's transaction.
    async fn record(
        &self,
        tx: &mut WriteTx,
        org: Option<OrgId>,
        actor: &Actor,
        action: &str,
        target: Option<String>,
        detail: serde_json::Value,
    ) -> Result<()> {
        self.record_outcome(tx, org, actor, (action, target), Outcome::Success, detail)
            .await
    }

    /// Writes an event inside the caller's transaction.
    async fn record_outcome(
        &self,
        tx: &mut WriteTx,
        org: Option<OrgId>,
        actor: &Actor,
        (action, target): (&str, Option<String>),
        outcome: Outcome,
        detail: serde_json::Value,
    ) -> Result<()> {
        let event = NewEvent {
            org_id: org,
            actor,
            action,
            target,
            outcome,
            detail,
        };
        events::record(tx.conn(), self.now(), event).await?;
        Ok(())
    }
}

/// Reads a stored UUID column.
fn parse_id<T>(s: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    parse(s).ok_or_else(|| Error::Corrupt(format!("bad id {s:?}")))
}

/// Reads a stored JSON column; `what` names it in the error.
fn stored_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| Error::Corrupt(format!("{what}: {e}")))
}
