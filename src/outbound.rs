//! The one HTTP client for every fetch Gatehouse makes on an IdP's behalf (SAML metadata
//! URLs, OIDC discovery, `jwks_uri`, token endpoints) and for webhook deliveries. A URL
//! comes from an organisation's admin, so a fetch must not become a way into the network
//! Gatehouse runs in (SSRF):
//!
//! - names are resolved here and only public addresses are connected to: private,
//!   loopback, link-local (the cloud metadata service at 169.254.169.254 among them),
//!   carrier-grade NAT, unique-local, multicast and unspecified addresses are refused,
//!   unless `[outbound] allow_private_addresses` is set (tests, local IdPs);
//! - a loopback URL (`127.0.0.1`, `::1`, `localhost`, as DESIGN.md allows over http://) is
//!   fetched only when this server's own public URL is on loopback too (a development
//!   server) or private addresses are allowed;
//! - no redirect is followed; a response is read up to `max_response_bytes` and the whole
//!   exchange ends after `timeout_seconds`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use openidconnect::{HttpRequest, HttpResponse};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::Config;

/// Why a fetch did not happen or was cut short.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}")]
    Refused(String),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Http(#[from] reqwest::Error),
}

/// Which addresses a fetch may reach.
#[derive(Debug, Clone, Copy)]
pub struct AddressPolicy {
    pub allow_private: bool,
    pub allow_loopback: bool,
}

impl AddressPolicy {
    /// Why `ip` may not be connected to, if it may not.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        let ip = match ip {
            // An IPv4-mapped IPv6 address is the IPv4 address it carries.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        if ip.is_loopback() {
            return (!self.allow_loopback && !self.allow_private).then_some("a loopback address");
        }
        if self.allow_private {
            return None;
        }
        match ip {
            IpAddr::V4(v4) => v4_refusal(v4),
            IpAddr::V6(v6) => v6_refusal(v6),
        }
    }
}

fn v4_refusal(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (such as the cloud metadata service)")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_unspecified() || a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn v6_refusal(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if first & 0xfe00 == 0xfc00 {
        Some("a unique-local (private) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else if ip.is_unspecified() || ip.is_multicast() {
        Some("a reserved address")
    } else {
        None
    }
}

/// Resolves names with the system's resolver and keeps only the addresses the policy
/// allows; a name with none left fails, so the connection is never attempted.
struct CheckedResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            // `localhost` is a loopback URL in the user's words; every other name must
            // lead to addresses the policy allows, so DNS cannot point us inward.
            let named_loopback = host.eq_ignore_ascii_case("localhost");
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| {
                    if named_loopback && a.ip().is_loopback() {
                        policy.refusal(a.ip()).is_none()
                    } else if a.ip().is_loopback() {
                        policy.allow_private
                    } else {
                        policy.refusal(a.ip()).is_none()
                    }
                })
                .collect();
            if allowed.is_empty() {
                let why = found
                    .first()
                    .and_then(|a| policy.refusal(a.ip()))
                    .unwrap_or("an address this server does not fetch from");
                return Err(format!("{host} resolves to {why}, which is refused").into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// The client. Cheap to clone.
#[derive(Clone)]
pub struct Outbound {
    client: reqwest::Client,
    policy: AddressPolicy,
    max_bytes: usize,
}

impl Outbound {
    pub fn new(config: &Config) -> Self {
        let o = &config.outbound;
        let policy = AddressPolicy {
            allow_private: o.allow_private_addresses,
            allow_loopback: o.allow_private_addresses || public_url_is_loopback(config),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(o.timeout_seconds.max(1)))
            .connect_timeout(Duration::from_secs(o.timeout_seconds.clamp(1, 10)))
            .dns_resolver(Arc::new(CheckedResolver { policy }))
            .build()
            .expect("an HTTP client");
        Self {
            client,
            policy,
            max_bytes: o.max_response_bytes,
        }
    }

    /// Refuses a URL whose host is an address literal the policy forbids (names are
    /// checked when they are resolved).
    fn check_url(&self, url: &reqwest::Url) -> Result<(), OutboundError> {
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(OutboundError::Refused(format!("{url} names no host"))),
        };
        match self.policy.refusal(ip) {
            Some(why) => Err(OutboundError::Refused(format!(
                "{url} is {why}, which this server does not fetch from"
            ))),
            None => Ok(()),
        }
    }

    /// GETs a URL; the status and the body, read up to the size cap.
    pub async fn get(&self, url: &str) -> Result<(reqwest::StatusCode, Vec<u8>), OutboundError> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| OutboundError::Refused(format!("{url:?} is not a URL: {e}")))?;
        self.check_url(&url)?;
        let response = self.client.get(url).send().await?;
        let status = response.status();
        Ok((status, self.read_capped(response).await?))
    }

    /// POSTs `body` with the given headers (a webhook delivery); the status and the body
    /// the receiver answered, read up to the size cap.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(reqwest::StatusCode, Vec<u8>), OutboundError> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| OutboundError::Refused(format!("{url:?} is not a URL: {e}")))?;
        self.check_url(&url)?;
        let mut request = self.client.post(url).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await?;
        let status = response.status();
        Ok((status, self.read_capped(response).await?))
    }

    /// Refuses a URL this client would not connect to because of its address literal
    /// (a name is judged when it is resolved, at each fetch).
    pub fn refusal(&self, url: &str) -> Option<String> {
        let url = reqwest::Url::parse(url).ok()?;
        self.check_url(&url).err().map(|e| e.to_string())
    }

    async fn read_capped(&self, mut response: reqwest::Response) -> Result<Vec<u8>, OutboundError> {
        if response
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(OutboundError::TooLarge(self.max_bytes));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(OutboundError::TooLarge(self.max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Sends an openidconnect request (discovery, keys, token exchange, userinfo).
    pub async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, OutboundError> {
        let (parts, body) = request.into_parts();
        let url = reqwest::Url::parse(&parts.uri.to_string())
            .map_err(|e| OutboundError::Refused(format!("not a URL: {e}")))?;
        self.check_url(&url)?;
        let mut builder = self.client.request(parts.method, url).body(body);
        for (name, value) in &parts.headers {
            builder = builder.header(name, value);
        }
        let response = builder.send().await?;
        let mut out = openidconnect::http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            out = out.header(name, value);
        }
        let body = self.read_capped(response).await?;
        out.body(body)
            .map_err(|e| OutboundError::Refused(format!("an unreadable response: {e}")))
    }
}

impl<'c> openidconnect::AsyncHttpClient<'c> for Outbound {
    type Error = OutboundError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<HttpResponse, OutboundError>> + Send + 'c>,
    >;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.execute(request))
    }
}

fn public_url_is_loopback(config: &Config) -> bool {
    let Ok(url) = url::Url::parse(&config.server.public_url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_private: false,
        allow_loopback: false,
    };

    #[test]
    fn inward_addresses_are_refused_and_public_ones_pass() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::",
        ] {
            let ip: IpAddr = refused.parse().unwrap();
            assert!(STRICT.refusal(ip).is_some(), "{refused}");
        }
        for public in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            let ip: IpAddr = public.parse().unwrap();
            assert_eq!(STRICT.refusal(ip), None, "{public}");
        }
    }

    #[test]
    fn loopback_alone_can_be_allowed() {
        let dev = AddressPolicy {
            allow_private: false,
            allow_loopback: true,
        };
        assert_eq!(dev.refusal("127.0.0.1".parse().unwrap()), None);
        assert!(dev.refusal("10.0.0.1".parse().unwrap()).is_some());
        assert!(dev.refusal("169.254.169.254".parse().unwrap()).is_some());
    }
}
