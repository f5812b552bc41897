//! `gatehouse api-key create|list|revoke`: admin API keys for `/api/v1`.

use clap::Subcommand;

use super::find_org;
use super::token::parse_duration;
use crate::clock::rfc3339;
use crate::directory::api_keys::KeyScope;
use crate::directory::{Actor, Directory};

#[derive(Debug, Subcommand)]
pub enum ApiKeyCommand {
    /// Issue an admin API key: for one organisation with --org, else platform-wide. The
    /// secret is printed once, alone on the last line.
    Create {
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime such as 90d, 12h, 30m or 2w (default: no expiry).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List keys (never their secrets): every key, or one organisation's with --org.
    List {
        #[arg(long, value_name = "SLUG")]
        org: Option<String>,
    },
    /// Revoke a key: it stops working at once.
    Revoke { key_id: String },
}

pub async fn run(directory: &Directory, cmd: ApiKeyCommand) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCommand::Create {
            org,
            description,
            expires_in,
        } => {
            let org = match org {
                Some(slug) => Some(find_org(directory, &slug).await?),
                None => None,
            };
            let expires_at = expires_in
                .map(|d| parse_duration(&d).map(|ms| directory.now() + ms))
                .transpose()?;
            let (info, secret) = directory
                .create_api_key(
                    org.as_ref().map(|o| o.id),
                    &description,
                    expires_at,
                    &Actor::Cli,
                )
                .await?;
            let scope = org.map_or("every organisation (platform-wide)".to_string(), |o| {
                format!("organisation {}", o.slug)
            });
            let expiry = info.expires_at.map_or("never".into(), rfc3339);
            println!("Admin API key {} for {scope} (expires: {expiry}).", info.id);
            println!("Copy the secret now; it is not shown again:");
            println!("{}", secret.0);
        }
        ApiKeyCommand::List { org } => {
            let scope = match org {
                Some(slug) => KeyScope::Org(find_org(directory, &slug).await?.id),
                None => KeyScope::All,
            };
            let slugs: std::collections::HashMap<_, _> = directory
                .list_orgs()
                .await?
                .into_iter()
                .map(|o| (o.id, o.slug.to_string()))
                .collect();
            let now = directory.now();
            println!("ID\tORG\tPREFIX\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION");
            for k in directory.list_api_keys(scope).await? {
                let org = k
                    .org_id
                    .and_then(|o| slugs.get(&o).cloned())
                    .unwrap_or_else(|| "(platform)".into());
                println!(
                    "{}\t{org}\t{}…\t{}\t{}\t{}\t{}\t{}",
                    k.id,
                    k.prefix,
                    k.status(now),
                    rfc3339(k.created_at),
                    k.expires_at.map_or("never".into(), rfc3339),
                    k.last_used_at.map_or("never".into(), rfc3339),
                    k.description
                );
            }
        }
        ApiKeyCommand::Revoke { key_id } => {
            directory
                .revoke_api_key(KeyScope::All, key_id.trim(), &Actor::Cli)
                .await
                .map_err(|e| match e {
                    crate::directory::Error::NotFound(_) => {
                        anyhow::anyhow!("no API key has the id {key_id:?}")
                    }
                    e => e.into(),
                })?;
            println!("API key {} revoked", key_id.trim());
        }
    }
    Ok(())
}
