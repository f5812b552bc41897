//! `gatehouse saml import-metadata SLUG FILE_OR_URL`.

use clap::Subcommand;

use super::find_org;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::directory::connections::saml::SamlConnection;
use crate::directory::{Actor, Directory};
use crate::sso::saml::metadata::{certificate_info, parse_idp_metadata};
use crate::sso::saml::sp_key::generate;

#[derive(Debug, Subcommand)]
pub enum SamlCommand {
    /// Set the organisation's identity provider from its SAML metadata (a file, or an
    /// https:// URL; http:// only on loopback addresses).
    ImportMetadata { slug: String, file_or_url: String },
    /// Set the organisation's identity provider field by field, without metadata.
    Configure {
        slug: String,
        /// The IdP's entity ID (its Issuer).
        #[arg(long)]
        entity_id: String,
        /// The IdP's HTTP-Redirect single sign-on URL.
        #[arg(long)]
        sso_url: String,
        /// A signing certificate file (PEM, or base64 DER); repeat for several.
        #[arg(long = "certificate", required = true, value_name = "FILE")]
        certificates: Vec<String>,
    },
    /// List the SP's key pairs in service (the oldest signs AuthnRequests).
    SpKeys { slug: String },
    /// Add an SP key pair: published in the SP metadata at once, signing once the older
    /// keys are retired.
    AddSpKey { slug: String },
    /// Retire an SP key pair.
    RetireSpKey { slug: String, key_id: String },
}

pub async fn run(directory: &Directory, config: &Config, cmd: SamlCommand) -> anyhow::Result<()> {
    match cmd {
        SamlCommand::ImportMetadata { slug, file_or_url } => {
            import(directory, config, &slug, file_or_url).await
        }
        SamlCommand::Configure {
            slug,
            entity_id,
            sso_url,
            certificates,
        } => {
            let mut certs = Vec::new();
            for file in &certificates {
                let text = std::fs::read_to_string(file)
                    .map_err(|e| anyhow::anyhow!("cannot read {file}: {e}"))?;
                let b64: String = text
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>()
                    .split_whitespace()
                    .collect();
                certs.push(b64);
            }
            // The same checks as imported metadata: a document made of these fields.
            let xml = crate::sso::saml::metadata::idp_metadata_xml(&entity_id, &sso_url, &certs);
            let md =
                parse_idp_metadata(&xml, directory.now()).map_err(|e| anyhow::anyhow!("{e}"))?;
            let org = find_org(directory, &slug).await?;
            let now = directory.now();
            let connection = SamlConnection {
                org_id: org.id,
                idp_entity_id: md.entity_id,
                sso_url: md.sso_url,
                certificates: md.certificates,
                retired: Vec::new(),
                metadata_url: None,
                created_at: now,
                updated_at: now,
            };
            directory
                .set_saml_connection(org.id, &connection, &Actor::Cli)
                .await?;
            println!("SAML identity provider set for {}.", org.slug);
            Ok(())
        }
        SamlCommand::SpKeys { slug } => {
            let org = find_org(directory, &slug).await?;
            println!("ID\tCREATED\tCERTIFICATE");
            for (i, k) in directory.saml_sp_keys(org.id).await?.iter().enumerate() {
                let info = certificate_info(&k.certificate, directory.now())
                    .map_err(|e| anyhow::anyhow!(e))?;
                let role = if i == 0 { " (signs)" } else { "" };
                println!(
                    "{}\t{}\t{} until {}{role}",
                    k.id,
                    rfc3339(k.created_at),
                    info.subject,
                    info.not_after
                );
            }
            Ok(())
        }
        SamlCommand::AddSpKey { slug } => {
            let org = find_org(directory, &slug).await?;
            let entity = format!("{}/saml/{}/metadata", config.server.base_url(), org.slug);
            let (pem, cert) = generate(&entity)?;
            let pem = crate::secrets::SecretBox::load(&config.secrets)?.seal(&pem);
            let key = directory
                .add_saml_sp_key(org.id, &pem, &cert, &Actor::Cli)
                .await?;
            println!("SP key {} added; it is in the SP metadata now.", key.id);
            Ok(())
        }
        SamlCommand::RetireSpKey { slug, key_id } => {
            let org = find_org(directory, &slug).await?;
            directory
                .retire_saml_sp_key(org.id, &key_id, &Actor::Cli)
                .await?;
            println!("SP key {key_id} retired.");
            Ok(())
        }
    }
}

async fn import(
    directory: &Directory,
    config: &Config,
    slug: &str,
    file_or_url: String,
) -> anyhow::Result<()> {
    let org = find_org(directory, slug).await?;
    let (xml, url) = if file_or_url.starts_with("http://") || file_or_url.starts_with("https://") {
        (
            crate::admin::ops::fetch_saml_metadata(
                &crate::outbound::Outbound::new(config),
                &file_or_url,
            )
            .await?,
            Some(file_or_url),
        )
    } else {
        (
            std::fs::read_to_string(&file_or_url)
                .map_err(|e| anyhow::anyhow!("cannot read {file_or_url}: {e}"))?,
            None,
        )
    };
    let now = directory.now();
    let md =
        crate::admin::ops::import_saml_metadata(directory, &org, &xml, url, &Actor::Cli).await?;
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
    let entity = org
        .settings
        .saml_sp_entity_id
        .clone()
        .unwrap_or_else(|| format!("{base}/saml/{}/metadata", org.slug));
    println!("  Audience / SP entity ID:    {entity}");
    println!("  Name ID format:             EmailAddress");
    Ok(())
}
