//! Domain proofs: the TXT record a claim names, looked up with hickory's resolver at the
//! configured DNS server (`[dns] resolver`), or the system's when none is set.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::Resolver;

use crate::config::DnsConfig;
use crate::directory::connections::domains::{proves, DomainClaim, Proof};
use crate::directory::model::{Domain, OrgId};
use crate::directory::{self, Actor, Directory};

/// What a lookup of a claim's record found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    Proven,
    /// Why not, in words for the console.
    NotYet(String),
}

/// Looks the claim's TXT record up and says whether one of its values proves the claim.
pub async fn check(config: &DnsConfig, claim: &DomainClaim) -> Check {
    let resolver = match resolver(config) {
        Ok(r) => r,
        Err(e) => return Check::NotYet(format!("the DNS resolver could not start: {e}")),
    };
    // Fully qualified: no search domain of the host is tried.
    let name = format!("{}.", claim.record_name());
    match resolver.txt_lookup(name.as_str()).await {
        Ok(lookup) => {
            let values: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    // A TXT record's value is its character strings joined (RFC 7208 §3.3
                    // reads long values the same way).
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect();
            if values.iter().any(|v| proves(claim, v)) {
                Check::Proven
            } else {
                Check::NotYet(format!(
                    "{} has TXT records, but none is {:?}",
                    claim.record_name(),
                    claim.record_value()
                ))
            }
        }
        Err(e) if e.is_no_records_found() => Check::NotYet(format!(
            "no TXT record was found at {}",
            claim.record_name()
        )),
        Err(e) => Check::NotYet(format!("the DNS lookup failed: {e}")),
    }
}

/// A fresh resolver without a cache: a record published a moment ago must be seen at the
/// next check, not the answer cached before it.
fn resolver(config: &DnsConfig) -> Result<Resolver<TokioRuntimeProvider>, String> {
    let mut opts = ResolverOpts::default();
    opts.cache_size = 0;
    opts.timeout = Duration::from_secs(3);
    opts.attempts = 2;
    let builder = if config.resolver.trim().is_empty() {
        Resolver::builder_tokio().map_err(|e| e.to_string())?
    } else {
        let addr: SocketAddr = config.resolver.trim().parse().map_err(|_| {
            format!(
                "[dns] resolver must be IP:PORT, not {:?}",
                config.resolver.trim()
            )
        })?;
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for c in &mut server.connections {
            c.port = addr.port();
        }
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        )
    };
    builder
        .with_options(opts)
        .build()
        .map_err(|e| e.to_string())
}

/// Checks a claim's record and, when it proves the claim, makes the domain verified. What a
/// failed check found is kept on the claim for the console.
pub async fn verify_claim(
    directory: &Directory,
    config: &DnsConfig,
    org: OrgId,
    domain: &Domain,
    actor: &Actor,
) -> Result<Check, directory::Error> {
    let claim = directory.domain_claim(org, domain).await?;
    let found = check(config, &claim).await;
    match &found {
        Check::Proven => {
            directory
                .prove_domain(org, domain, Proof::Dns, actor)
                .await?
        }
        Check::NotYet(problem) => directory.note_domain_check(org, domain, problem).await?,
    }
    Ok(found)
}
