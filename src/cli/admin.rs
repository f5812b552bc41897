//! `gatehouse admin create`.

use std::io::Read;

use clap::Subcommand;

use crate::directory::{Actor, Directory, Email};
use crate::password;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a platform admin. Without --password-stdin a strong password is generated
    /// and printed once.
    Create {
        email: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
}

pub async fn run(directory: &Directory, cmd: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Create {
        email,
        password_stdin,
    } = cmd;
    let email = Email::parse(&email)?;
    let (password, generated) = if password_stdin {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        (input.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (crate::random::token(18), true)
    };
    // argon2 is slow on purpose; keep it off the async workers.
    let hash =
        tokio::task::spawn_blocking(move || password::hash(&password).map(|h| (h, password)))
            .await??;
    let id = directory.create_admin(&email, &hash.0, &Actor::Cli).await?;
    println!("platform admin {} created ({id})", email.as_str());
    if generated {
        println!("Password (shown once):");
        println!("{}", hash.1);
    }
    Ok(())
}
