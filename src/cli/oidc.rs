//! `gatehouse oidc configure SLUG --issuer URL --client-id ID [--client-secret S]`.

use clap::Subcommand;

use super::find_org;
use crate::admin::ops::{configure_oidc, OidcSettings};
use crate::config::Config;
use crate::directory::{Actor, Directory};
use crate::secrets::SecretBox;

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
    let secrets = SecretBox::load(&config.secrets)?;
    let settings = OidcSettings {
        issuer,
        client_id,
        client_secret,
        scopes,
    };
    let connection = configure_oidc(
        directory,
        &secrets,
        &crate::outbound::Outbound::new(config),
        &org,
        settings,
        &Actor::Cli,
    )
    .await?;
    println!(
        "OpenID provider set for {}: {}",
        org.slug, connection.issuer
    );
    println!("Enter this sign-in redirect URI at the provider:");
    println!("{}/oidc/{}/callback", config.server.base_url(), org.slug);
    Ok(())
}
