//! `gatehouse oidc configure SLUG --issuer URL --client-id ID [--client-secret S]`.

use clap::Subcommand;

use super::find_org;
use crate::config::Config;
use crate::directory::oidc::OidcConnection;
use crate::directory::{Actor, Directory};
use crate::secrets::SecretBox;
use crate::sso::oidc::Providers;
use crate::sso::saml::metadata::idp_url_allowed;

#[derive(Debug, Subcommand)]
pub enum OidcCommand {
    /// Connect the organisation's OpenID provider. Its discovery document is fetched at
    /// once: an issuer that does not answer, or names another issuer, is refused.
    Configure {
        slug: String,
        /// The issuer URL (https://; http:// only on loopback addresses).
        #[arg(long)]
        issuer: String,
        #[arg(long)]
        client_id: String,
        /// For confidential clients; public clients (Okta "Native") use PKCE alone.
        #[arg(long)]
        client_secret: Option<String>,
        /// Scopes besides `openid` (default: email profile).
        #[arg(long, value_delimiter = ' ', default_value = "email profile")]
        scopes: Vec<String>,
    },
}

pub async fn run(directory: &Directory, config: &Config, cmd: OidcCommand) -> anyhow::Result<()> {
    let OidcCommand::Configure {
        slug,
        issuer,
        client_id,
        client_secret,
        scopes,
    } = cmd;
    let org = find_org(directory, &slug).await?;
    let issuer = issuer.trim_end_matches('/').to_string();
    anyhow::ensure!(
        idp_url_allowed(&issuer),
        "the issuer must be https:// (http:// only on loopback addresses): {issuer}"
    );
    let metadata = Providers::default()
        .metadata(&issuer)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
    let sealed = match client_secret {
        Some(s) => Some(SecretBox::load(&config.secrets)?.seal(&s)),
        None => None,
    };
    let mut all = vec!["openid".to_string()];
    all.extend(
        scopes
            .into_iter()
            .filter(|s| !s.is_empty() && s != "openid"),
    );
    let connection = OidcConnection {
        org_id: org.id,
        issuer,
        client_id,
        sealed_secret: sealed,
        scopes: all,
    };
    directory
        .set_oidc_connection(&connection, &Actor::Cli)
        .await?;
    println!(
        "OpenID provider set for {}: {}",
        org.slug,
        metadata.issuer().as_str()
    );
    println!("Enter this sign-in redirect URI at the provider:");
    println!("{}/oidc/{}/callback", config.server.base_url(), org.slug);
    Ok(())
}
