//! Webhook endpoints and their delivery state (DESIGN.md, Change feed). The secrets arrive
//! and leave sealed: the directory never sees a signing key. The worker's own operations
//! (what is due, what was delivered) are guarded by the endpoint's `delivered_through` as
//! the worker read it, so an operator's redelivery in between is never overwritten.

use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::FromRow;

use super::changes::ChangeKind;
use super::model::{OrgId, WebhookId};
use super::{parse_id, Actor, Directory, Error, ParseError, Result};
use crate::clock::Millis;

/// How many attempts each endpoint keeps in its history.
const KEPT_ATTEMPTS: i64 = 100;

/// An endpoint as stored.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub url: String,
    pub description: String,
    /// The change types sent; empty for all.
    pub types: Vec<ChangeKind>,
    pub sealed_secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    pub sealed_previous: Option<(String, Millis)>,
    pub paused: bool,
    /// The last change acknowledged, or passed over as not of the endpoint's types.
    pub delivered_through: i64,
    /// Failed attempts at the change after `delivered_through`.
    pub failures: i64,
    pub next_attempt_at: Millis,
    /// Set when the retries were spent; delivery waits for a redelivery.
    pub failing_since: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
}

impl Endpoint {
    /// "active", "paused" or "failing".
    pub fn status(&self) -> &'static str {
        if self.failing_since.is_some() {
            "failing"
        } else if self.paused {
            "paused"
        } else {
            "active"
        }
    }
}

/// What an admin gives for a new endpoint, or changes of one (None keeps the value).
#[derive(Debug, Clone, Default)]
pub struct EndpointSettings {
    pub url: Option<String>,
    pub description: Option<String>,
    pub types: Option<Vec<ChangeKind>>,
    pub paused: Option<bool>,
}

/// One delivery attempt as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub seq: i64,
    /// 1 for the first try of this change, 2 for the first retry...
    pub attempt: i64,
    pub at: Millis,
    /// The receiver's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
}

/// What became of an attempt, for [`Directory::webhook_attempted`].
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry(Millis),
    /// The retries are spent.
    Failing,
}

const COLUMNS: &str = "id, org_id, url, description, types, secret, previous_secret, \
     previous_until, paused, delivered_through, failures, next_attempt_at, failing_since, \
     last_error, created_at";

fn types_text(types: &[ChangeKind]) -> String {
    types
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// A `webhook_endpoints` row as stored (`COLUMNS`).
#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: String,
    org_id: String,
    url: String,
    description: String,
    types: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<Millis>,
    paused: i64,
    delivered_through: i64,
    failures: i64,
    next_attempt_at: Millis,
    failing_since: Option<Millis>,
    last_error: Option<String>,
    created_at: Millis,
}

impl TryFrom<EndpointRow> for Endpoint {
    type Error = Error;

    fn try_from(row: EndpointRow) -> Result<Endpoint> {
        let types = row
            .types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| {
                ChangeKind::parse(t).ok_or_else(|| Error::Corrupt(format!("change type {t:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Endpoint {
            id: parse_id(&row.id, WebhookId::parse)?,
            org_id: parse_id(&row.org_id, OrgId::parse)?,
            url: row.url,
            description: row.description,
            types,
            sealed_secret: row.secret,
            sealed_previous: row.previous_secret.zip(row.previous_until),
            paused: row.paused != 0,
            delivered_through: row.delivered_through,
            failures: row.failures,
            next_attempt_at: row.next_attempt_at,
            failing_since: row.failing_since,
            last_error: row.last_error,
            created_at: row.created_at,
        })
    }
}

fn endpoint_from_row(row: &AnyRow) -> Result<Endpoint> {
    Endpoint::try_from(EndpointRow::from_row(row)?)
}

fn settings_detail(s: &EndpointSettings) -> serde_json::Value {
    let mut detail = json!({});
    if let Some(url) = &s.url {
        detail["url"] = url.as_str().into();
    }
    if let Some(d) = &s.description {
        detail["description"] = d.as_str().into();
    }
    if let Some(t) = &s.types {
        detail["types"] = types_text(t).into();
    }
    if let Some(p) = s.paused {
        detail["paused"] = p.into();
    }
    detail
}

impl Directory {
    /// Registers an endpoint. It receives the changes after the organisation's last one:
    /// what happened before it existed is in the snapshot and the pull feed.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn create_webhook(
        &self,
        org: OrgId,
        settings: &EndpointSettings,
        sealed_secret: &str,
        actor: &Actor,
    ) -> Result<Endpoint> {
        let url = settings
            .url
            .clone()
            .ok_or_else(|| ParseError("a webhook needs a url".into()))?;
        let id = WebhookId::new();
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let (last, _) = super::changes::head(tx.conn(), org).await?;
        sqlx::query(
            "insert into webhook_endpoints (id, org_id, url, description, types, secret, \
             paused, delivered_through, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(id.to_string())
        .bind(org.to_string())
        .bind(&url)
        .bind(settings.description.clone().unwrap_or_default())
        .bind(types_text(settings.types.as_deref().unwrap_or_default()))
        .bind(sealed_secret)
        .bind(i64::from(settings.paused.unwrap_or(false)))
        .bind(last)
        .bind(now)
        .execute(tx.conn())
        .await?;
        let detail = settings_detail(settings);
        self.record(
            &mut tx,
            Some(org),
            actor,
            "webhook.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        self.webhook(org, id).await
    }

    /// An organisation's endpoints, oldest first.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn list_webhooks(&self, org: OrgId) -> Result<Vec<Endpoint>> {
        let rows = sqlx::query(&format!(
            "select {COLUMNS} from webhook_endpoints where org_id = $1 order by created_at, id"
        ))
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn webhook(&self, org: OrgId, id: WebhookId) -> Result<Endpoint> {
        let row = sqlx::query(&format!(
            "select {COLUMNS} from webhook_endpoints where org_id = $1 and id = $2"
        ))
        .bind(org.to_string())
        .bind(id.to_string())
        .fetch_optional(self.db().reads())
        .await?
        .ok_or(Error::NotFound("webhook"))?;
        endpoint_from_row(&row)
    }

    /// Changes an endpoint's URL, description, types or pause. Resuming continues from
    /// where the endpoint stopped.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn update_webhook(
        &self,
        org: OrgId,
        id: WebhookId,
        settings: &EndpointSettings,
        actor: &Actor,
    ) -> Result<Endpoint> {
        let mut tx = self.db().begin().await?;
        let updated = sqlx::query(
            "update webhook_endpoints set url = coalesce($3, url), \
             description = coalesce($4, description), types = coalesce($5, types), \
             paused = coalesce($6, paused) where org_id = $1 and id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(settings.url.clone())
        .bind(settings.description.clone())
        .bind(settings.types.as_deref().map(types_text))
        .bind(settings.paused.map(i64::from))
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("webhook"));
        }
        let action = match settings.paused {
            Some(true) => "webhook.pause",
            Some(false) => "webhook.resume",
            None => "webhook.update",
        };
        let detail = settings_detail(settings);
        self.record(
            &mut tx,
            Some(org),
            actor,
            action,
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        self.webhook(org, id).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn delete_webhook(&self, org: OrgId, id: WebhookId, actor: &Actor) -> Result<()> {
        let mut tx = self.db().begin().await?;
        let gone = sqlx::query("delete from webhook_endpoints where org_id = $1 and id = $2")
            .bind(org.to_string())
            .bind(id.to_string())
            .execute(tx.conn())
            .await?;
        if gone.rows_affected() == 0 {
            return Err(Error::NotFound("webhook"));
        }
        let detail = json!({});
        self.record(
            &mut tx,
            Some(org),
            actor,
            "webhook.delete",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Puts a new secret in place; the current one keeps signing beside it until `until`.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn rotate_webhook_secret(
        &self,
        org: OrgId,
        id: WebhookId,
        sealed_secret: &str,
        until: Millis,
        actor: &Actor,
    ) -> Result<Endpoint> {
        let mut tx = self.db().begin().await?;
        let updated = sqlx::query(
            "update webhook_endpoints set previous_secret = secret, previous_until = $3, \
             secret = $4 where org_id = $1 and id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(until)
        .bind(sealed_secret)
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("webhook"));
        }
        let detail = json!({ "previousSecretUntil": until });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "webhook.rotate",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        self.webhook(org, id).await
    }

    /// Delivers again from change `from` on: the endpoint's position goes back to just
    /// before it, its retries start afresh, and a failing endpoint is active again.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn redeliver_webhook(
        &self,
        org: OrgId,
        id: WebhookId,
        from: i64,
        actor: &Actor,
    ) -> Result<Endpoint> {
        let mut tx = self.db().begin().await?;
        let (last, pruned) = super::changes::head(tx.conn(), org).await?;
        if from <= pruned || from > last + 1 {
            return Err(ParseError(format!(
                "redelivery can start from change {} to {} (the changes kept, or the next one), not {from}",
                pruned + 1,
                last + 1
            ))
            .into());
        }
        let updated = sqlx::query(
            "update webhook_endpoints set delivered_through = $3, failures = 0, \
             next_attempt_at = 0, failing_since = null, last_error = null \
             where org_id = $1 and id = $2",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(from - 1)
        .execute(tx.conn())
        .await?;
        if updated.rows_affected() == 0 {
            return Err(Error::NotFound("webhook"));
        }
        let detail = json!({ "from": from });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "webhook.redeliver",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        // The worker on this instance looks at once (others within their poll).
        self.change_bell.notify_waiters();
        self.webhook(org, id).await
    }

    /// An endpoint's most recent attempts, newest first.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn webhook_attempts(
        &self,
        org: OrgId,
        id: WebhookId,
        limit: u32,
    ) -> Result<Vec<Attempt>> {
        let rows = sqlx::query_as::<_, (i64, i64, Millis, Option<i64>, Option<String>)>(
            "select a.seq, a.attempt, a.at, a.status, a.error from webhook_attempts a \
             join webhook_endpoints e on e.id = a.endpoint_id \
             where e.org_id = $1 and a.endpoint_id = $2 order by a.n desc limit $3",
        )
        .bind(org.to_string())
        .bind(id.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.db().reads())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, attempt, at, status, error)| Attempt {
                seq,
                attempt,
                at,
                status: status.and_then(|s| u16::try_from(s).ok()),
                error,
            })
            .collect())
    }

    /// Every organisation's endpoints with a delivery due at `now`: not paused, not
    /// failing, past their next attempt time, and behind their organisation's last change
    /// (an endpoint with nothing to send costs the worker nothing). For the worker.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn webhooks_due(&self, now: Millis) -> Result<Vec<Endpoint>> {
        let rows = sqlx::query(&format!(
            "select {COLUMNS} from webhook_endpoints where paused = 0 and failing_since is null \
             and next_attempt_at <= $1 and delivered_through < coalesce((select s.last_seq \
             from change_seqs s where s.org_id = webhook_endpoints.org_id), 0) order by id"
        ))
        .bind(now)
        .fetch_all(self.db().reads())
        .await?;
        rows.iter().map(endpoint_from_row).collect()
    }

    /// Moves an endpoint past changes it does not take (none of its types), from
    /// `from` (as the worker read it) to `to`. False when the endpoint moved meanwhile.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn webhook_pass_over(&self, id: WebhookId, from: i64, to: i64) -> Result<bool> {
        let mut tx = self.db().begin().await?;
        let moved = sqlx::query(
            "update webhook_endpoints set delivered_through = $3 \
             where id = $1 and delivered_through = $2",
        )
        .bind(id.to_string())
        .bind(from)
        .bind(to)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(moved.rows_affected() == 1)
    }

    /// Records attempts at the changes after the endpoint's position, in order: each but
    /// the last was delivered, and `outcome` is what became of the last. One transaction
    /// for them all, so a worker that delivers many changes in a row writes its progress
    /// once per batch. Returns the endpoint's position after them, or None (and records
    /// nothing) when the endpoint moved meanwhile (an operator's redelivery, another
    /// instance that held the lease before).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn webhook_attempted(
        &self,
        endpoint: &Endpoint,
        attempts: &[Attempt],
        outcome: &Outcome,
    ) -> Result<Option<i64>> {
        let Some((last, delivered)) = attempts.split_last() else {
            return Ok(Some(endpoint.delivered_through));
        };
        let id = endpoint.id.to_string();
        let delivered_through = delivered
            .last()
            .map_or(endpoint.delivered_through, |a| a.seq);
        let (through, failures, next, failing) = match outcome {
            Outcome::Delivered => (last.seq, 0, 0, None),
            Outcome::Retry(at) => (delivered_through, last.attempt, *at, None),
            Outcome::Failing => (delivered_through, last.attempt, 0, Some(last.at)),
        };
        let count = i64::try_from(attempts.len()).unwrap_or(i64::MAX);
        let mut tx = self.db().begin().await?;
        // The compare-and-set: no row when the endpoint moved meanwhile.
        let made: Option<i64> = sqlx::query_scalar(
            "update webhook_endpoints set delivered_through = $3, failures = $4, \
             next_attempt_at = $5, failing_since = $6, last_error = $7, \
             attempts_made = attempts_made + $8 where id = $1 and delivered_through = $2 \
             returning attempts_made",
        )
        .bind(&id)
        .bind(endpoint.delivered_through)
        .bind(through)
        .bind(failures)
        .bind(next)
        .bind(failing)
        .bind(last.error.clone())
        .bind(count)
        .fetch_optional(tx.conn())
        .await?;
        let Some(made) = made else {
            return Ok(None);
        };
        // Only the newest KEPT_ATTEMPTS are kept, so older ones of a long batch are not
        // written at all.
        let kept = attempts.len().min(KEPT_ATTEMPTS as usize);
        let first = made - kept as i64 + 1;
        let rows: Vec<String> = (0..kept)
            .map(|i| {
                let p = 2 + i * 6;
                format!(
                    "($1, ${}, ${}, ${}, ${}, ${}, ${})",
                    p,
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5
                )
            })
            .collect();
        let sql = format!(
            "insert into webhook_attempts (endpoint_id, n, seq, attempt, at, status, error) \
             values {}",
            rows.join(", ")
        );
        let mut insert = sqlx::query(&sql).bind(&id);
        for (i, a) in attempts[attempts.len() - kept..].iter().enumerate() {
            insert = insert
                .bind(first + i as i64)
                .bind(a.seq)
                .bind(a.attempt)
                .bind(a.at)
                .bind(a.status.map(i64::from))
                .bind(a.error.clone());
        }
        insert.execute(tx.conn()).await?;
        sqlx::query("delete from webhook_attempts where endpoint_id = $1 and n <= $2")
            .bind(&id)
            .bind(made - KEPT_ATTEMPTS)
            .execute(tx.conn())
            .await?;
        if let Outcome::Failing = outcome {
            let detail = json!({ "seq": last.seq, "attempts": last.attempt,
                                 "reason": last.error });
            self.record(
                &mut tx,
                Some(endpoint.org_id),
                &Actor::System,
                "webhook.failing",
                Some(id.clone()),
                detail,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Some(through))
    }

    /// Takes or renews the lease `name` for `holder` until `now + ttl`: true when this
    /// holder has it (it held it, or the last holder's time ran out).
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn take_lease(&self, name: &str, holder: &str, ttl: Millis) -> Result<bool> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let taken = sqlx::query(
            "insert into leases (name, holder, until) values ($1, $2, $3) \
             on conflict (name) do update set holder = excluded.holder, until = excluded.until \
             where leases.holder = excluded.holder or leases.until < $4",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl)
        .bind(now)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives the lease up (on shutdown), so another instance takes it without waiting.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn release_lease(&self, name: &str, holder: &str) -> Result<()> {
        let mut tx = self.db().begin().await?;
        sqlx::query("delete from leases where name = $1 and holder = $2")
            .bind(name)
            .bind(holder)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
