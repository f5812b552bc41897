//! Keeping connections set from a metadata URL up to date: IdPs rotate their signing
//! certificates by publishing new metadata, so it is fetched again on a schedule, and a
//! change is applied and written to the event log. A failed fetch changes nothing and is
//! logged too: the connection keeps working with what it had.

use std::time::Duration;

use super::metadata::{fetch, parse_idp_metadata};
use crate::directory::saml::SamlConnection;
use crate::directory::{Actor, Directory};

/// What one refresh did to one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    Unchanged,
    Changed,
    Failed(String),
}

/// Fetches every metadata URL once.
pub async fn refresh_all(directory: &Directory) -> crate::directory::Result<Vec<Refreshed>> {
    let mut results = Vec::new();
    for connection in directory.saml_connections_with_url().await? {
        results.push(refresh_one(directory, &connection).await?);
    }
    Ok(results)
}

async fn refresh_one(
    directory: &Directory,
    current: &SamlConnection,
) -> crate::directory::Result<Refreshed> {
    let url = current.metadata_url.clone().unwrap_or_default();
    let fetched = match fetch(&url).await {
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
    if md.entity_id == current.idp_entity_id
        && md.sso_url == current.sso_url
        && md.certificates == current.certificates
    {
        return Ok(Refreshed::Unchanged);
    }
    let updated = SamlConnection {
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        ..current.clone()
    };
    directory
        .set_saml_connection(current.org_id, &updated, &Actor::System)
        .await?;
    Ok(Refreshed::Changed)
}

/// Refreshes every `every` until the process ends.
pub fn spawn(directory: Directory, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await; // the first tick is immediate: start after one period
        loop {
            tick.tick().await;
            if let Err(e) = refresh_all(&directory).await {
                tracing::error!(error = %e, "SAML metadata refresh failed");
            }
        }
    });
}
