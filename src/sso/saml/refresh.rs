//! Keeping connections set from a metadata URL up to date: IdPs rotate their signing
//! certificates by publishing new metadata, so it is fetched again on a schedule, and a
//! change is applied and written to the event log. A failed fetch changes nothing and is
//! logged too: the connection keeps working with what it had. A certificate the new
//! metadata drops stays trusted for `[saml] certificate_overlap_hours`, so that a login
//! signed just before the IdP's switch (or by an IdP node not yet switched) still passes,
//! and the change is an event of its own that names both certificates.

use std::time::Duration;

use serde_json::json;

use super::metadata::{fetch, fingerprint, parse_idp_metadata};
use crate::clock::{rfc3339, Millis};
use crate::directory::connections::saml::{RetiredCertificate, SamlConnection};
use crate::directory::{Actor, Directory};
use crate::outbound::Outbound;

/// What one refresh did to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    Unchanged,
    Changed,
    Failed(String),
}

/// Fetches every metadata URL once; a dropped certificate stays trusted for `overlap_ms`.
pub async fn refresh_all(
    directory: &Directory,
    outbound: &Outbound,
    overlap_ms: Millis,
) -> crate::directory::Result<Vec<Refreshed>> {
    let mut results = Vec::new();
    for connection in directory.saml_connections_with_url().await? {
        results.push(refresh_one(directory, outbound, &connection, overlap_ms).await?);
    }
    Ok(results)
}

async fn refresh_one(
    directory: &Directory,
    outbound: &Outbound,
    current: &SamlConnection,
    overlap_ms: Millis,
) -> crate::directory::Result<Refreshed> {
    let url = current.metadata_url.clone().unwrap_or_default();
    let fetched = match fetch(outbound, &url).await {
        Ok(xml) => parse_idp_metadata(&xml, directory.now()),
        Err(e) => Err(e.to_string()),
    };
    let md = match fetched {
        Ok(md) => md,
        Err(reason) => {
            let reason = format!("refreshing the metadata from {url} failed: {reason}");
            directory
                .record_failure(
                    Some(current.org_id),
                    &Actor::System,
                    "saml.metadata.refresh",
                    None,
                    &reason,
                )
                .await?;
            return Ok(Refreshed::Failed(reason));
        }
    };
    let now = directory.now();
    // A retired certificate whose overlap has ended is forgotten at the next refresh.
    if md.entity_id == current.idp_entity_id
        && md.sso_url == current.sso_url
        && md.certificates == current.certificates
        && current.retired.iter().all(|r| r.until > now)
    {
        return Ok(Refreshed::Unchanged);
    }
    let (retired, change) = retire(current, &md.certificates, now, now + overlap_ms);
    let updated = SamlConnection {
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        retired,
        ..current.clone()
    };
    directory
        .refresh_saml_connection(current.org_id, &updated, change)
        .await?;
    Ok(Refreshed::Changed)
}

/// The retired certificates after a refresh that publishes `published`, and the event
/// detail of the change when the certificates changed. Retired certificates whose overlap
/// has ended, or that are published again, are dropped.
fn retire(
    current: &SamlConnection,
    published: &[String],
    now: Millis,
    until: Millis,
) -> (Vec<RetiredCertificate>, Option<serde_json::Value>) {
    let mut retired: Vec<RetiredCertificate> = current
        .retired
        .iter()
        .filter(|r| r.until > now && !published.contains(&r.certificate))
        .cloned()
        .collect();
    let dropped: Vec<&String> = current
        .certificates
        .iter()
        .filter(|c| !published.contains(c))
        .collect();
    let added: Vec<&String> = published
        .iter()
        .filter(|c| !current.certificates.contains(c))
        .collect();
    if until > now {
        retired.extend(dropped.iter().map(|c| RetiredCertificate {
            certificate: (*c).clone(),
            until,
        }));
    }
    let change = (!dropped.is_empty() || !added.is_empty()).then(|| {
        json!({
            "added": added.iter().map(|c| fingerprint(c)).collect::<Vec<_>>(),
            "removed": dropped.iter().map(|c| fingerprint(c)).collect::<Vec<_>>(),
            "removedTrustedUntil": (until > now && !dropped.is_empty()).then(|| rfc3339(until)),
        })
    });
    (retired, change)
}

/// Refreshes every `every` until the process ends.
pub fn spawn(directory: Directory, outbound: Outbound, every: Duration, overlap_ms: Millis) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await; // the first tick is immediate: start after one period
        loop {
            tick.tick().await;
            if let Err(e) = refresh_all(&directory, &outbound, overlap_ms).await {
                tracing::error!(error = %e, "SAML metadata refresh failed");
            }
        }
    });
}
