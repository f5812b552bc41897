//! `gatehouse webhook create|list|show|pause|resume|rotate|test|redeliver|delete`: an
//! organisation's webhook endpoints, as in the console and the API.

use clap::Subcommand;

use super::find_org;
use crate::clock::rfc3339;
use crate::config::Config;
use crate::directory::webhooks::{Endpoint, EndpointSettings};
use crate::directory::{Actor, Directory, WebhookId};
use crate::outbound::Outbound;
use crate::secrets::SecretBox;
use crate::webhooks::endpoints;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint. Its signing secret is printed once, alone on the last line.
    Create {
        slug: String,
        #[arg(long)]
        url: String,
        /// Change types, comma-separated (default: all).
        #[arg(long, default_value = "")]
        types: String,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List an organisation's endpoints (never their secrets).
    List { slug: String },
    /// Show an endpoint and its recent attempts.
    Show { slug: String, id: String },
    /// Stop deliveries to an endpoint; they wait, in order.
    Pause { slug: String, id: String },
    /// Deliver again to a paused endpoint, from where it stopped.
    Resume { slug: String, id: String },
    /// A new signing secret (printed once, on the last line); the old one keeps signing
    /// beside it for the overlap.
    Rotate {
        slug: String,
        id: String,
        /// Hours the old secret keeps signing (default: webhooks.rotation_overlap_hours).
        #[arg(long)]
        overlap_hours: Option<u64>,
    },
    /// Send a webhook.test message now and print what the receiver answered.
    Test { slug: String, id: String },
    /// Deliver again from change SEQ on; a failing endpoint becomes active.
    Redeliver {
        slug: String,
        id: String,
        #[arg(long, value_name = "SEQ")]
        from: i64,
    },
    /// Remove an endpoint.
    Delete { slug: String, id: String },
}

fn describe(e: &Endpoint) -> String {
    let types: Vec<&str> = e.types.iter().map(|k| k.as_str()).collect();
    let types = if types.is_empty() {
        "all".to_string()
    } else {
        types.join(",")
    };
    format!(
        "{}\t{}\t{}\t{types}\tdelivered through {}\t{}",
        e.id,
        e.status(),
        e.url,
        e.delivered_through,
        e.last_error.as_deref().unwrap_or("")
    )
}

pub async fn run(
    directory: &Directory,
    config: &Config,
    cmd: WebhookCommand,
) -> anyhow::Result<()> {
    let secrets = SecretBox::load(&config.secrets)?;
    let outbound = Outbound::new(config);
    let actor = Actor::Cli;
    let endpoint = |slug: String, id: String| async move {
        let org = find_org(directory, &slug).await?;
        let id =
            WebhookId::parse(&id).ok_or_else(|| anyhow::anyhow!("{id:?} is not a webhook id"))?;
        anyhow::Ok(directory.webhook(org.id, id).await?)
    };
    match cmd {
        WebhookCommand::Create {
            slug,
            url,
            types,
            description,
        } => {
            let org = find_org(directory, &slug).await?;
            let settings = EndpointSettings {
                url: Some(url),
                description: Some(description),
                types: Some(endpoints::parse_types(&types)?),
                paused: None,
            };
            let (e, secret) =
                endpoints::create(directory, &secrets, &outbound, org.id, settings, &actor).await?;
            println!("webhook {} for {} sends to {}.", e.id, org.slug, e.url);
            println!("Copy the signing secret now; it is not shown again:");
            println!("{secret}");
        }
        WebhookCommand::List { slug } => {
            let org = find_org(directory, &slug).await?;
            println!("ID\tSTATUS\tURL\tTYPES\tPOSITION\tLAST ERROR");
            for e in directory.list_webhooks(org.id).await? {
                println!("{}", describe(&e));
            }
        }
        WebhookCommand::Show { slug, id } => {
            let e = endpoint(slug, id).await?;
            println!("{}", describe(&e));
            println!("SEQ\tATTEMPT\tTIME\tSTATUS\tERROR");
            for a in directory.webhook_attempts(e.org_id, e.id, 20).await? {
                let status = a.status.map_or("-".to_string(), |s| s.to_string());
                let error = a.error.unwrap_or_default();
                println!(
                    "{}\t{}\t{}\t{status}\t{error}",
                    a.seq,
                    a.attempt,
                    rfc3339(a.at)
                );
            }
        }
        WebhookCommand::Pause { slug, id } => {
            let e = endpoint(slug, id).await?;
            let paused = EndpointSettings {
                paused: Some(true),
                ..Default::default()
            };
            let e = directory
                .update_webhook(e.org_id, e.id, &paused, &actor)
                .await?;
            println!("{}", describe(&e));
        }
        WebhookCommand::Resume { slug, id } => {
            let e = endpoint(slug, id).await?;
            let resumed = EndpointSettings {
                paused: Some(false),
                ..Default::default()
            };
            let e = directory
                .update_webhook(e.org_id, e.id, &resumed, &actor)
                .await?;
            println!("{}", describe(&e));
        }
        WebhookCommand::Rotate {
            slug,
            id,
            overlap_hours,
        } => {
            let e = endpoint(slug, id).await?;
            let hours = overlap_hours.unwrap_or(config.webhooks.rotation_overlap_hours);
            anyhow::ensure!(
                hours <= 720,
                "the overlap can be at most 720 hours (30 days)"
            );
            let overlap = i64::try_from(hours * 3_600_000)?;
            let (e, secret) =
                endpoints::rotate(directory, &secrets, e.org_id, e.id, overlap, &actor).await?;
            let until = e
                .sealed_previous
                .as_ref()
                .map_or("-".into(), |(_, t)| rfc3339(*t));
            println!("webhook {}: the previous secret signs until {until}.", e.id);
            println!("Copy the new signing secret now; it is not shown again:");
            println!("{secret}");
        }
        WebhookCommand::Test { slug, id } => {
            let e = endpoint(slug, id).await?;
            let answer = endpoints::send_test(directory, &secrets, &outbound, &e, &actor).await?;
            match answer.error {
                None => println!(
                    "delivered: {} answered {}",
                    e.url,
                    answer.status.unwrap_or(0)
                ),
                Some(why) => anyhow::bail!("not delivered: {why}"),
            }
        }
        WebhookCommand::Redeliver { slug, id, from } => {
            let e = endpoint(slug, id).await?;
            let e = directory
                .redeliver_webhook(e.org_id, e.id, from, &actor)
                .await?;
            println!("{}", describe(&e));
        }
        WebhookCommand::Delete { slug, id } => {
            let e = endpoint(slug, id).await?;
            directory.delete_webhook(e.org_id, e.id, &actor).await?;
            println!("webhook {} deleted", e.id);
        }
    }
    Ok(())
}
