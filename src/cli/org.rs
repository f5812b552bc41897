//! `gatehouse org create|show|set|list`.

use clap::Subcommand;

use super::find_org;
use crate::directory::orgs::{NewOrg, OrgChange};
use crate::directory::{Actor, Directory, Domain, Org, OrgSlug};

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation.
    Create {
        slug: String,
        /// Display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
        /// A verified email domain of the organisation; repeat for several.
        #[arg(long = "domain", value_name = "DOMAIN")]
        domains: Vec<String>,
    },
    /// Print an organisation and its settings as JSON.
    Show { slug: String },
    /// Change settings: KEY=VALUE pairs, applied together (the README lists the keys).
    Set {
        slug: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
    /// List organisations.
    List,
}

pub async fn run(directory: &Directory, cmd: OrgCommand) -> anyhow::Result<()> {
    match cmd {
        OrgCommand::Create {
            slug,
            name,
            domains,
        } => {
            let new = NewOrg {
                slug: OrgSlug::parse(&slug)?,
                name,
                domains: domains
                    .iter()
                    .map(|d| Domain::parse(d))
                    .collect::<Result<_, _>>()?,
            };
            let org = directory.create_org(new, &Actor::Cli).await?;
            print_json(&org);
        }
        OrgCommand::Show { slug } => print_json(&find_org(directory, &slug).await?),
        OrgCommand::Set { slug, pairs } => {
            let org = find_org(directory, &slug).await?;
            let changes = pairs
                .iter()
                .map(|p| OrgChange::parse(p))
                .collect::<Result<Vec<_>, _>>()?;
            print_json(&directory.update_org(org.id, &changes, &Actor::Cli).await?);
        }
        OrgCommand::List => {
            for org in directory.list_orgs().await? {
                println!("{}\t{}", org.slug, org.name);
            }
        }
    }
    Ok(())
}

fn print_json(org: &Org) {
    let shown = crate::api::orgs::org_json(org);
    println!("{}", serde_json::to_string_pretty(&shown).expect("JSON"));
}
