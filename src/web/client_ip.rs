//! The client's address. Behind a reverse proxy every connection comes from the proxy, so
//! the client is named in `X-Forwarded-For`; but anyone can send that header, so it is read
//! only on a connection from a configured trusted proxy (`server.trusted_proxies`), and
//! from the right, skipping the trusted proxies' own entries (the first untrusted address
//! is the one the nearest trusted proxy saw).

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The trusted proxies, parsed once from the configuration.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Addresses or CIDR ranges; a bad entry is an error that names it.
    pub fn parse(entries: &[String]) -> Result<Self, String> {
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("server.trusted_proxies: {e:?} is not an address or CIDR range")
                    })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The address the request came from.
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.ip();
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in forwarded.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return ip,
                // A hop that is not an address: nothing left of it can be believed.
                Err(_) => break,
            }
        }
        peer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", xff.parse().unwrap());
        h
    }

    #[test]
    fn the_header_counts_only_from_a_trusted_proxy() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into()]).unwrap();
        let proxy: SocketAddr = "10.1.1.1:5000".parse().unwrap();
        let stranger: SocketAddr = "203.0.113.9:5000".parse().unwrap();
        let forged = headers("198.51.100.1");
        assert_eq!(proxies.client(stranger, &forged), stranger.ip());
        assert_eq!(
            proxies.client(proxy, &forged),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        // A client's own forged entry sits left of what the proxy saw.
        let chain = headers("1.2.3.4, 198.51.100.7, 10.2.2.2");
        assert_eq!(
            proxies.client(proxy, &chain),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(proxies.client(proxy, &headers("garbage")), proxy.ip());
        assert!(TrustedProxies::parse(&["not-an-ip".into()]).is_err());
    }
}
