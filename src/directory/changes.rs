//! The change feed's outbox (DESIGN.md, Change feed). Every directory change writes its
//! record in the transaction of the change itself, numbered per organisation without gaps
//! (`seq`): a change that rolls back leaves no record and no hole, and a reader never
//! sees a record whose change is not there.
//!
//! The numbers come from the organisation's row of `change_seqs`, taken at the end of the
//! writing transaction. On PostgreSQL that row's lock is held until the commit, so the
//! writers of one organisation (on any instance) commit in the order of their numbers and a
//! reader that sees number N sees every number before it; on SQLite writes take turns.

use serde_json::{json, Value};

use super::groups::Group;
use super::model::{OrgId, UserId};
use super::users::User;
use super::{stored_json, Actor, Directory, Error, Result};
use crate::clock::Millis;
use crate::db::{placeholders, WriteTx};

/// What happened. The names are the feed's `type`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserErased,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    GroupMemberAdded,
    GroupMemberRemoved,
    SessionRevoked,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 12] = [
        ChangeKind::UserCreated,
        ChangeKind::UserUpdated,
        ChangeKind::UserDeactivated,
        ChangeKind::UserReactivated,
        ChangeKind::UserDeleted,
        ChangeKind::UserErased,
        ChangeKind::GroupCreated,
        ChangeKind::GroupUpdated,
        ChangeKind::GroupDeleted,
        ChangeKind::GroupMemberAdded,
        ChangeKind::GroupMemberRemoved,
        ChangeKind::SessionRevoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::UserCreated => "user.created",
            ChangeKind::UserUpdated => "user.updated",
            ChangeKind::UserDeactivated => "user.deactivated",
            ChangeKind::UserReactivated => "user.reactivated",
            ChangeKind::UserDeleted => "user.deleted",
            ChangeKind::UserErased => "user.erased",
            ChangeKind::GroupCreated => "group.created",
            ChangeKind::GroupUpdated => "group.updated",
            ChangeKind::GroupDeleted => "group.deleted",
            ChangeKind::GroupMemberAdded => "group.member_added",
            ChangeKind::GroupMemberRemoved => "group.member_removed",
            ChangeKind::SessionRevoked => "session.revoked",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Types from a comma-separated list (the feed's `types=`, a webhook's types), each
    /// once; empty for all. The error names the unknown type and the known ones.
    pub fn parse_list(raw: &str) -> std::result::Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for t in raw.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let kind = Self::parse(t).ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "{t:?} is not a change type; the types are {}",
                    known.join(", ")
                )
            })?;
            if !out.contains(&kind) {
                out.push(kind);
            }
        }
        Ok(out)
    }

    /// The kind for a user whose `active` went from `was` to `now`, or that changed otherwise.
    pub fn of_user_write(was: bool, now: bool) -> Self {
        match (was, now) {
            (true, false) => ChangeKind::UserDeactivated,
            (false, true) => ChangeKind::UserReactivated,
            _ => ChangeKind::UserUpdated,
        }
    }
}

/// What a change is about, as it is once the change is made.
pub enum Subject<'a> {
    User(&'a User),
    /// A user that is gone for good: only its id is kept.
    UserId(UserId),
    Group(&'a Group),
    /// Members added to or removed from a group, by user id.
    Members(&'a Group, &'a [String]),
    /// A user's sessions.
    Sessions(UserId),
}

impl Subject<'_> {
    fn resource_type(&self) -> &'static str {
        match self {
            Subject::User(_) | Subject::UserId(_) | Subject::Sessions(_) => "User",
            Subject::Group(_) | Subject::Members(..) => "Group",
        }
    }

    fn resource_id(&self) -> String {
        match self {
            Subject::User(u) => u.id.to_string(),
            Subject::UserId(id) | Subject::Sessions(id) => id.to_string(),
            Subject::Group(g) | Subject::Members(g, _) => g.id.to_string(),
        }
    }

    fn body(&self) -> Value {
        match self {
            Subject::User(u) => json!({ "user": u }),
            Subject::UserId(id) | Subject::Sessions(id) => json!({ "id": id }),
            Subject::Group(g) => json!({ "group": g }),
            Subject::Members(g, ids) => json!({ "group": g, "members": ids }),
        }
    }
}

/// A change about to be written.
pub struct NewChange<'a> {
    pub kind: ChangeKind,
    pub subject: Subject<'a>,
    /// Why, where the kind alone does not say (a deactivation: which rule or request).
    pub reason: Option<&'a str>,
}

impl<'a> NewChange<'a> {
    pub fn new(kind: ChangeKind, subject: Subject<'a>) -> Self {
        Self {
            kind,
            subject,
            reason: None,
        }
    }

    pub fn because(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }
}

/// The `group.member_removed` of a user (`member`, its id alone) that left `groups`
/// because of its own change `why` (`user.deleted` or `user.erased`).
pub(crate) fn left_groups<'a>(
    groups: &'a [Group],
    member: &'a [String],
    why: ChangeKind,
) -> impl Iterator<Item = NewChange<'a>> {
    let reason = match why {
        ChangeKind::UserDeleted => "the user was deleted",
        _ => "the user was erased",
    };
    groups.iter().map(move |g| {
        NewChange::new(ChangeKind::GroupMemberRemoved, Subject::Members(g, member)).because(reason)
    })
}

/// Through which door a change came, from who made it.
pub fn source(actor: &Actor) -> &'static str {
    match actor {
        Actor::ScimToken(_) => "scim",
        Actor::Admin(_) | Actor::OrgAdmin(_) | Actor::SetupLink(_) => "admin",
        Actor::ApiKey(_) => "api",
        Actor::Idp(_) => "login",
        Actor::Cli => "cli",
        Actor::System => "system",
        Actor::User(_) => "user",
    }
}

/// Rows per insert statement: 9 parameters each, well inside both backends' limits.
const ROWS_PER_INSERT: usize = 100;

/// Raises an organisation's change count by $2 (its first changes create the row).
const SEQ_UPSERT: &str = "insert into change_seqs (org_id, last_seq) values ($1, $2) \
     on conflict (org_id) do update set last_seq = change_seqs.last_seq + $2";

impl Directory {
    /// Writes `changes`, in order, in the caller's transaction, with the organisation's next
    /// numbers. Call it last before the commit: on PostgreSQL it holds the organisation's
    /// numbering until then.
    pub(super) async fn append_changes(
        &self,
        tx: &mut WriteTx,
        org: OrgId,
        actor: &Actor,
        changes: &[NewChange<'_>],
    ) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let count = changes.len() as i64;
        // On SQLite each statement is a round trip to the connection's thread, and the
        // single writer's statements bound every write: the number is raised in the same
        // call as the first insert (SQLite runs several statements in one), each row's seq
        // read back from the count just raised. PostgreSQL takes the number first, with
        // the row lock that orders the organisation's writers (a prepared statement is one
        // statement there).
        let sqlite = self.db().backend() == crate::db::Backend::Sqlite;
        let first = if sqlite {
            None
        } else {
            let last: i64 = sqlx::query_scalar(&format!("{SEQ_UPSERT} returning last_seq"))
                .bind(org.to_string())
                .bind(count)
                .fetch_one(tx.conn())
                .await?;
            Some(last - count + 1)
        };
        let at = self.now();
        let actor_name = actor.to_string();
        let source = source(actor);
        let per_row = if sqlite { 8 } else { 9 };
        for (chunk_no, chunk) in changes.chunks(ROWS_PER_INSERT).enumerate() {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    let p = i * per_row + 1;
                    let k = (chunk_no * ROWS_PER_INSERT + i) as i64;
                    let seq = match first {
                        None => format!(
                            "(select last_seq from change_seqs where org_id = ${p}) - {}",
                            count - 1 - k
                        ),
                        Some(_) => format!("${}", p + 1),
                    };
                    format!("(${p}, {seq}, {})", placeholders(p + per_row - 7, 7))
                })
                .collect();
            // $1 is the first row's org_id; the count is ours, not the caller's.
            let prefix = match sqlite && chunk_no == 0 {
                true => format!("{}; ", SEQ_UPSERT.replace("$2", &count.to_string())),
                false => String::new(),
            };
            let sql = format!(
                "{prefix}insert into changes (org_id, seq, kind, at, actor, source, \
                 resource_type, resource_id, body) values {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for (i, change) in chunk.iter().enumerate() {
                let mut body = change.subject.body();
                if let Some(reason) = change.reason {
                    body["reason"] = reason.into();
                }
                query = query.bind(org.to_string());
                if let Some(first) = first {
                    query = query.bind(first + (chunk_no * ROWS_PER_INSERT + i) as i64);
                }
                query = query
                    .bind(change.kind.as_str())
                    .bind(at)
                    .bind(actor_name.clone())
                    .bind(source)
                    .bind(change.subject.resource_type())
                    .bind(change.subject.resource_id())
                    .bind(body.to_string());
            }
            query.execute(tx.conn()).await?;
        }
        tx.ring_on_commit(self.change_bell());
        Ok(())
    }
}

/// After an erase, the user's earlier changes keep only its id: the feed must not hold
/// what the erase removed.
pub(super) async fn redact_user(tx: &mut WriteTx, org: OrgId, id: UserId) -> Result<()> {
    sqlx::query(
        "update changes set body = $3 where org_id = $1 and resource_id = $2 \
         and resource_type = 'User'",
    )
    .bind(org.to_string())
    .bind(id.to_string())
    .bind(json!({ "id": id }).to_string())
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A change as stored.
#[derive(Debug, Clone)]
pub struct Change {
    pub seq: i64,
    pub kind: String,
    pub at: Millis,
    pub actor: String,
    pub source: String,
    pub resource_type: String,
    pub resource_id: String,
    pub body: Value,
}

impl Change {
    /// The user the change shows, when it holds one.
    pub fn user(&self) -> Option<User> {
        serde_json::from_value(self.body.get("user")?.clone()).ok()
    }

    /// The group the change shows, when it holds one.
    pub fn group(&self) -> Option<Group> {
        serde_json::from_value(self.body.get("group")?.clone()).ok()
    }

    /// The member ids of a member change; None for any other change.
    pub fn members(&self) -> Option<Vec<String>> {
        serde_json::from_value(self.body.get("members")?.clone()).ok()
    }

    pub fn reason(&self) -> Option<&str> {
        self.body.get("reason").and_then(Value::as_str)
    }
}

/// A page of the feed.
#[derive(Debug, Clone)]
pub struct ChangePage {
    pub changes: Vec<Change>,
    /// The number to ask after next: the last change returned, or, when fewer than the
    /// limit matched, the last change there was (the types left out need not be read again).
    pub next: i64,
}

/// Why a page of the feed cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The changes after the asked number were removed by the retention.
    #[error("the changes after {after} are no longer kept; the oldest kept follows {pruned}")]
    Gone { after: i64, pruned: i64 },
    #[error(transparent)]
    Directory(#[from] Error),
}

impl Directory {
    /// The changes after `after`, of the given kinds (all when empty), at most `limit`.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn changes_after(
        &self,
        org: OrgId,
        after: i64,
        kinds: &[ChangeKind],
        limit: u32,
    ) -> std::result::Result<ChangePage, FeedError> {
        let reads = self.db().reads();
        // The head first: every change up to it is committed, so a page read up to it can
        // never step over a change that commits while it is read.
        let (last, pruned) = head(reads, org).await?;
        if after < pruned {
            return Err(FeedError::Gone { after, pruned });
        }
        let mut sql = String::from(
            "select seq, kind, at, actor, source, resource_type, resource_id, body from changes \
             where org_id = $1 and seq > $2 and seq <= $3",
        );
        if !kinds.is_empty() {
            sql.push_str(&format!(" and kind in ({})", placeholders(5, kinds.len())));
        }
        sql.push_str(" order by seq limit $4");
        let mut query = sqlx::query_as::<_, ChangeRow>(&sql)
            .bind(org.to_string())
            .bind(after)
            .bind(last)
            .bind(i64::from(limit));
        for k in kinds {
            query = query.bind(k.as_str());
        }
        let rows = query.fetch_all(reads).await.map_err(Error::from)?;
        let changes = rows
            .into_iter()
            .map(Change::try_from)
            .collect::<Result<Vec<_>>>()?;
        let next = if changes.len() < limit as usize {
            last.max(after)
        } else {
            changes.last().map_or(after, |c| c.seq)
        };
        Ok(ChangePage { changes, next })
    }

    /// The organisation's last change number (0 before its first change).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn last_change(&self, org: OrgId) -> Result<i64> {
        let last: Option<i64> =
            sqlx::query_scalar("select last_seq from change_seqs where org_id = $1")
                .bind(org.to_string())
                .fetch_optional(self.db().reads())
                .await?;
        Ok(last.unwrap_or(0))
    }

    /// Removes the change records older than `retention_days` (`changes.retention_days`).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn prune_expired_changes(&self, retention_days: u64) -> Result<u64> {
        let days = i64::try_from(retention_days).unwrap_or(i64::MAX / DAY_MS);
        self.prune_changes(self.now().saturating_sub(days.saturating_mul(DAY_MS)))
            .await
    }

    /// Removes the changes older than `before` (ms), organisation by organisation, and
    /// remembers the last number removed, so that a reader asking for what follows an
    /// older one is told it missed changes. Returns how many went.
    ///
    /// Only the expired records are read, oldest first through `changes_at_idx`, and each
    /// organisation's go by their key range: a prune costs what it removes, not a walk of
    /// every record kept. A long backlog goes in batches, each its own transaction, so
    /// writers never wait for the whole of it.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn prune_changes(&self, before: Millis) -> Result<u64> {
        let mut gone = 0;
        loop {
            let (removed, more) = self.prune_batch(before).await?;
            gone += removed;
            if !more {
                return Ok(gone);
            }
        }
    }

    /// One batch of `prune_changes`: the removed count, and whether more may be expired.
    async fn prune_batch(&self, before: Millis) -> Result<(u64, bool)> {
        let mut tx = self.db().begin().await?;
        let expired: Vec<(String, i64)> =
            sqlx::query_as("select org_id, seq from changes where at < $1 order by at limit $2")
                .bind(before)
                .bind(PRUNE_BATCH)
                .fetch_all(tx.conn())
                .await?;
        let mut through = std::collections::BTreeMap::<&str, i64>::new();
        for (org, seq) in &expired {
            let last = through.entry(org).or_insert(*seq);
            *last = (*last).max(*seq);
        }
        let mut gone = 0;
        for (org, seq) in through {
            sqlx::query(
                "update change_seqs set pruned_through = $2 \
                 where org_id = $1 and pruned_through < $2",
            )
            .bind(org)
            .bind(seq)
            .execute(tx.conn())
            .await?;
            gone += sqlx::query("delete from changes where org_id = $1 and seq <= $2")
                .bind(org)
                .bind(seq)
                .execute(tx.conn())
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok((gone, expired.len() as i64 == PRUNE_BATCH))
    }
}

/// An organisation's last change number and the last one the retention removed (0, 0
/// before its first change).
pub(super) async fn head<'c>(
    db: impl sqlx::Executor<'c, Database = sqlx::Any>,
    org: OrgId,
) -> Result<(i64, i64)> {
    let row = sqlx::query_as::<_, (i64, i64)>(
        "select last_seq, pruned_through from change_seqs where org_id = $1",
    )
    .bind(org.to_string())
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or((0, 0)))
}

/// A `changes` row as the feed reads it.
#[derive(sqlx::FromRow)]
struct ChangeRow {
    seq: i64,
    kind: String,
    at: Millis,
    actor: String,
    source: String,
    resource_type: String,
    resource_id: String,
    body: String,
}

impl TryFrom<ChangeRow> for Change {
    type Error = Error;

    fn try_from(row: ChangeRow) -> Result<Change> {
        Ok(Change {
            seq: row.seq,
            kind: row.kind,
            at: row.at,
            actor: row.actor,
            source: row.source,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            body: stored_json("change body", &row.body)?,
        })
    }
}

const DAY_MS: i64 = 86_400_000;
/// Expired change records removed per transaction.
const PRUNE_BATCH: i64 = 10_000;

/// Removes expired change records every `every` until the process ends.
pub fn spawn_pruner(directory: Directory, retention_days: u64, every: std::time::Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match directory.prune_expired_changes(retention_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(changes = n, "expired change records removed"),
                Err(e) => tracing::error!(error = %e, "removing expired change records failed"),
            }
        }
    });
}
