//! The `gatehouse` command line. Every command reads the same configuration as the server
//! and works on the same directory; changes are logged with the actor `cli`.

mod admin;
mod api_key;
mod oidc;
mod org;
mod saml;
mod token;
mod webhook;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::db::Db;
use crate::directory::{Directory, Org};
use crate::{telemetry, Application};

#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about = "SSO and SCIM identity bridge")]
pub struct Cli {
    /// Configuration file (default: config/gatehouse.toml when present).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies pending migrations first).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Create, show and change organisations.
    #[command(subcommand)]
    Org(org::OrgCommand),
    /// Issue, list and revoke SCIM tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Connect an organisation's SAML identity provider.
    #[command(subcommand)]
    Saml(saml::SamlCommand),
    /// Connect an organisation's OpenID provider.
    #[command(subcommand)]
    Oidc(oidc::OidcCommand),
    /// Manage platform admins.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Issue, list and revoke admin API keys (for /api/v1).
    #[command(subcommand)]
    ApiKey(api_key::ApiKeyCommand),
    /// Register and manage an organisation's webhook endpoints.
    #[command(subcommand)]
    Webhook(webhook::WebhookCommand),
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let db = Db::connect(&config.database).await?;
            db.migrate().await?;
            println!("migrations applied to {}", config.database.url);
            Ok(())
        }
        Command::Org(cmd) => org::run(&directory(&config).await?, cmd).await,
        Command::Token(cmd) => token::run(&directory(&config).await?, cmd).await,
        Command::Saml(cmd) => saml::run(&directory(&config).await?, &config, cmd).await,
        Command::Oidc(cmd) => oidc::run(&directory(&config).await?, &config, cmd).await,
        Command::Admin(cmd) => admin::run(&directory(&config).await?, cmd).await,
        Command::ApiKey(cmd) => api_key::run(&directory(&config).await?, cmd).await,
        Command::Webhook(cmd) => webhook::run(&directory(&config).await?, &config, cmd).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    telemetry::init(&config.log)?;
    let app = Application::build(config).await?;
    // On stdout too, plainly, for scripts that start the server on port 0.
    println!("gatehouse listening on http://{}", app.local_addr());
    tracing::info!(address = %app.local_addr(), "listening");
    first_admin_link(&app).await?;
    app.run_until_stopped().await
}

/// While no platform admin exists, prints a one-time link (valid for an hour) that lets the
/// first person create one in the browser: `make run` on a fresh machine leads straight
/// into the console.
async fn first_admin_link(app: &Application) -> anyhow::Result<()> {
    let state = app.state();
    let expires = state.directory.now() + 3_600_000;
    if let Some(secret) = state.directory.create_first_admin_link(expires).await? {
        // A closed stdout (`gatehouse serve | head -1`) must not stop the server.
        let _ = writeln!(
            std::io::stdout(),
            "No platform admin exists yet. Create the first one within the hour at:\n  {}/admin/first-admin?token={secret}",
            state.config.server.base_url()
        );
    }
    Ok(())
}

/// Opens the directory for a one-off command, migrating first so that commands work on a
/// fresh database.
async fn directory(config: &Config) -> anyhow::Result<Directory> {
    let db = Db::connect(&config.database).await?;
    db.migrate().await?;
    Ok(Directory::new(db, Arc::new(SystemClock)))
}

/// The organisation a command names, or an error that says none has that slug.
async fn find_org(directory: &Directory, slug: &str) -> anyhow::Result<Org> {
    directory
        .org_by_slug(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no organisation has the slug {slug:?}"))
}
