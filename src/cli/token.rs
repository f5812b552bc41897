//! `gatehouse token create|list|revoke`.

use clap::Subcommand;

use super::find_org;
use crate::clock::{rfc3339, Millis};
use crate::directory::{Actor, Directory, TokenId};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a SCIM token. The secret is printed once, alone on the last line.
    Create {
        slug: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Lifetime such as 90d, 12h, 30m or 2w (default: no expiry).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// List an organisation's tokens (never their secrets).
    List { slug: String },
    /// Revoke a token: it stops working at once.
    Revoke { slug: String, token_id: String },
}

pub async fn run(directory: &Directory, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            slug,
            description,
            expires_in,
        } => {
            let org = find_org(directory, &slug).await?;
            let expires_at = expires_in
                .map(|d| parse_duration(&d).map(|ms| directory.now() + ms))
                .transpose()?;
            let (info, secret) = directory
                .create_token(org.id, &description, expires_at, &Actor::Cli)
                .await?;
            let expiry = info.expires_at.map_or("never".into(), rfc3339);
            println!(
                "SCIM token {} for {} (expires: {expiry}).",
                info.id, org.slug
            );
            println!("Copy the secret now; it is not shown again:");
            println!("{}", secret.0);
        }
        TokenCommand::List { slug } => {
            let org = find_org(directory, &slug).await?;
            let now = directory.now();
            println!("ID\tPREFIX\tSTATUS\tCREATED\tEXPIRES\tLAST USED\tDESCRIPTION");
            for t in directory.list_tokens(org.id).await? {
                let status = t.status(now);
                println!(
                    "{}\t{}…\t{status}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.prefix,
                    rfc3339(t.created_at),
                    t.expires_at.map_or("never".into(), rfc3339),
                    t.last_used_at.map_or("never".into(), rfc3339),
                    t.description
                );
            }
        }
        TokenCommand::Revoke { slug, token_id } => {
            let org = find_org(directory, &slug).await?;
            let id = TokenId::parse(&token_id)
                .ok_or_else(|| anyhow::anyhow!("{token_id:?} is not a token id"))?;
            directory.revoke_token(org.id, id, &Actor::Cli).await?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

/// Parses `90d`, `12h`, `30m`, `45s`, `2w` into milliseconds.
pub fn parse_duration(s: &str) -> anyhow::Result<Millis> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("{s:?} is not a duration such as 90d, 12h or 30m"))?;
    let unit_ms: i64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => anyhow::bail!("{s:?} has no unit: use s, m, h, d or w, e.g. 90d"),
    };
    anyhow::ensure!(n > 0, "a lifetime must be longer than zero");
    n.checked_mul(unit_ms)
        .ok_or_else(|| anyhow::anyhow!("{s:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d").unwrap(), 90 * 86_400_000);
        assert_eq!(parse_duration("30m").unwrap(), 1_800_000);
        assert_eq!(parse_duration("2w").unwrap(), 14 * 86_400_000);
        for bad in ["", "d", "90", "0d", "9x", "-1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
