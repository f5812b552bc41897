//! `gatehouse saml import-metadata SLUG FILE_OR_URL`.

use std::time::Duration;

use clap::Subcommand;

use super::find_org;
use crate::config::Config;
use crate::directory::saml::SamlConnection;
use crate::directory::{Actor, Directory};
use crate::sso::saml::metadata::{certificate_info, parse_idp_metadata};

#[derive(Debug, Subcommand)]
pub enum SamlCommand {
    /// Set the organisation's identity provider from its SAML metadata (a file, or an
    /// https:// URL; http:// only on loopback addresses).
    ImportMetadata { slug: String, file_or_url: String },
}

pub async fn run(directory: &Directory, config: &Config, cmd: SamlCommand) -> anyhow::Result<()> {
    let SamlCommand::ImportMetadata { slug, file_or_url } = cmd;
    let org = find_org(directory, &slug).await?;
    let (xml, url) = if file_or_url.starts_with("http://") || file_or_url.starts_with("https://") {
        (fetch(&file_or_url).await?, Some(file_or_url))
    } else {
        (
            std::fs::read_to_string(&file_or_url)
                .map_err(|e| anyhow::anyhow!("cannot read {file_or_url}: {e}"))?,
            None,
        )
    };
    let now = directory.now();
    let md = parse_idp_metadata(&xml, now).map_err(|e| anyhow::anyhow!("{e}"))?;
    let connection = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id.clone(),
        sso_url: md.sso_url.clone(),
        certificates: md.certificates.clone(),
        metadata_url: url,
        created_at: now,
        updated_at: now,
    };
    directory
        .set_saml_connection(org.id, &connection, &Actor::Cli)
        .await?;
    let base = config.server.base_url();
    println!("SAML identity provider set for {}:", org.slug);
    println!("  IdP entity ID:  {}", md.entity_id);
    println!("  IdP SSO URL:    {}", md.sso_url);
    for c in &md.certificates {
        let info = certificate_info(c, now).map_err(|e| anyhow::anyhow!(e))?;
        println!(
            "  certificate:    {} (valid until {})",
            info.subject, info.not_after
        );
    }
    println!("Enter these in the identity provider:");
    println!("  ACS (single sign-on) URL:   {base}/saml/{}/acs", org.slug);
    println!(
        "  Audience / SP entity ID:    {base}/saml/{}/metadata",
        org.slug
    );
    println!("  Name ID format:             EmailAddress");
    Ok(())
}

/// Fetches metadata over https, or over http from a loopback address only.
pub async fn fetch(url: &str) -> anyhow::Result<String> {
    let parsed = url::Url::parse(url)?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    anyhow::ensure!(
        parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback),
        "metadata URLs must be https:// (http:// only on loopback addresses): {url}"
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let response = client.get(url).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(response.text().await?)
}
