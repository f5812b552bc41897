//! Proven domains. A domain routes `/login` to an organisation only once it is proven: an
//! operator (CLI) or a platform admin names it, or the organisation publishes the DNS TXT
//! record its claim names. Until then it is a claim, shown in the console with the record
//! to publish; several organisations may claim one domain, and the first proof wins.

use serde::Serialize;

use crate::clock::Millis;
use crate::db::WriteTx;
use crate::directory::model::{Domain, OrgId};
use crate::directory::orgs::conflict;
use crate::directory::{Actor, Directory, Error, Result};

/// The DNS name under a domain whose TXT record proves it.
pub const RECORD_LABEL: &str = "_gatehouse-challenge";
/// What the TXT record's value starts with.
const VALUE_PREFIX: &str = "gatehouse-domain-verification=";

/// A domain an organisation has named and not yet proven.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainClaim {
    pub domain: Domain,
    #[serde(skip)]
    pub token: String,
    pub created_at: Millis,
    /// The last DNS check, and what it found instead of the record.
    pub checked_at: Option<Millis>,
    pub problem: Option<String>,
}

impl DomainClaim {
    /// The name of the TXT record to publish, e.g. `_gatehouse-challenge.acme.com`.
    pub fn record_name(&self) -> String {
        format!("{RECORD_LABEL}.{}", self.domain.as_str())
    }

    /// The value the TXT record must hold.
    pub fn record_value(&self) -> String {
        format!("{VALUE_PREFIX}{}", self.token)
    }
}

/// How a claim was proven, as its event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Dns,
    Approval,
}

impl Proof {
    fn as_str(self) -> &'static str {
        match self {
            Proof::Dns => "dns",
            Proof::Approval => "approval",
        }
    }
}

impl Directory {
    /// An organisation's claims, oldest first.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn domain_claims(&self, org: OrgId) -> Result<Vec<DomainClaim>> {
        let rows = sqlx::query_as::<_, (String, String, Millis, Option<Millis>, Option<String>)>(
            "select domain, token, created_at, checked_at, problem from domain_claims \
             where org_id = $1 order by created_at, domain",
        )
        .bind(org.to_string())
        .fetch_all(self.db().reads())
        .await?;
        rows.into_iter()
            .map(|(domain, token, created_at, checked_at, problem)| {
                Ok(DomainClaim {
                    domain: Domain::parse(&domain).map_err(|e| Error::Corrupt(e.0))?,
                    token,
                    created_at,
                    checked_at,
                    problem,
                })
            })
            .collect()
    }

    /// One claim of an organisation.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn domain_claim(&self, org: OrgId, domain: &Domain) -> Result<DomainClaim> {
        self.domain_claims(org)
            .await?
            .into_iter()
            .find(|c| &c.domain == domain)
            .ok_or(Error::NotFound("domain claim"))
    }

    /// Notes what a DNS check found, so the console can say why a claim is still pending.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn note_domain_check(
        &self,
        org: OrgId,
        domain: &Domain,
        problem: &str,
    ) -> Result<()> {
        sqlx::query(
            "update domain_claims set checked_at = $1, problem = $2 \
             where org_id = $3 and domain = $4",
        )
        .bind(self.now())
        .bind(problem)
        .bind(org.to_string())
        .bind(domain.as_str())
        .execute(self.db().reads())
        .await?;
        Ok(())
    }

    /// Turns a claim into a verified domain of the organisation. A domain another
    /// organisation has proven first is a [`Error::Conflict`], and the claim stays.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn prove_domain(
        &self,
        org: OrgId,
        domain: &Domain,
        proof: Proof,
        actor: &Actor,
    ) -> Result<()> {
        let now = self.now();
        let mut tx = self.db().begin().await?;
        let removed = sqlx::query("delete from domain_claims where org_id = $1 and domain = $2")
            .bind(org.to_string())
            .bind(domain.as_str())
            .execute(tx.conn())
            .await?
            .rows_affected();
        if removed == 0 {
            return Err(Error::NotFound("domain claim"));
        }
        insert_verified(&mut tx, org, domain, now).await?;
        let detail = serde_json::json!({ "domain": domain, "proof": proof.as_str() });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "org.domain.verify",
            Some(org.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Whether a TXT record's value (its character strings joined) proves this claim.
pub fn proves(claim: &DomainClaim, txt: &str) -> bool {
    // The token is no secret: it is published for anyone to read.
    txt.trim() == claim.record_value()
}

/// Adds a verified domain inside a transaction.
pub(in crate::directory) async fn insert_verified(
    tx: &mut WriteTx,
    org: OrgId,
    domain: &Domain,
    now: Millis,
) -> Result<()> {
    sqlx::query("insert into org_domains (domain, org_id, created_at) values ($1, $2, $3)")
        .bind(domain.as_str())
        .bind(org.to_string())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, "org_domains_pkey", "domain", domain.as_str()))?;
    Ok(())
}

/// Sets a platform's list: exactly these domains are verified, and the organisation's
/// claims of them are settled.
pub(in crate::directory) async fn replace_verified(
    tx: &mut WriteTx,
    org: OrgId,
    domains: &[Domain],
    now: Millis,
) -> Result<()> {
    sqlx::query("delete from org_domains where org_id = $1")
        .bind(org.to_string())
        .execute(tx.conn())
        .await?;
    let mut domains = domains.to_vec();
    domains.sort();
    domains.dedup();
    for domain in &domains {
        insert_verified(tx, org, domain, now).await?;
        sqlx::query("delete from domain_claims where org_id = $1 and domain = $2")
            .bind(org.to_string())
            .bind(domain.as_str())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A customer's list: verified domains it leaves out are removed, and the ones it adds
/// become claims (verified only by proof). Claims it leaves out are dropped.
pub(in crate::directory) async fn replace_claimed(
    tx: &mut WriteTx,
    org: OrgId,
    current: &[Domain],
    wanted: &[Domain],
    now: Millis,
) -> Result<()> {
    for gone in current.iter().filter(|d| !wanted.contains(d)) {
        sqlx::query("delete from org_domains where org_id = $1 and domain = $2")
            .bind(org.to_string())
            .bind(gone.as_str())
            .execute(tx.conn())
            .await?;
    }
    let claimed: Vec<String> =
        sqlx::query_scalar("select domain from domain_claims where org_id = $1")
            .bind(org.to_string())
            .fetch_all(tx.conn())
            .await?;
    for old in claimed
        .iter()
        .filter(|c| !wanted.iter().any(|w| w.as_str() == *c))
    {
        sqlx::query("delete from domain_claims where org_id = $1 and domain = $2")
            .bind(org.to_string())
            .bind(old)
            .execute(tx.conn())
            .await?;
    }
    for new in wanted
        .iter()
        .filter(|w| !current.contains(w) && !claimed.iter().any(|c| c == w.as_str()))
    {
        sqlx::query(
            "insert into domain_claims (org_id, domain, token, created_at) values ($1, $2, $3, $4)",
        )
        .bind(org.to_string())
        .bind(new.as_str())
        .bind(crate::random::token(24))
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}
