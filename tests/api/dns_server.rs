//! A real DNS server for the domain-proof tests: hickory's authoritative server, on a UDP
//! and a TCP socket of 127.0.0.1, serving one zone whose TXT records a test publishes while
//! the server runs. Gatehouse's resolver is pointed at it with `[dns] resolver`.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hickory_server::Server;

pub struct DnsServer {
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
    serial: std::sync::atomic::AtomicU32,
    _server: Server<Catalog>,
}

impl DnsServer {
    /// Serves the zone `origin` (e.g. `acme.test`), empty but for its SOA record.
    pub async fn start(origin: &str) -> Self {
        let origin = Name::from_str(&format!("{origin}.")).unwrap();
        let zone = InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            Name::from_str("ns.test.").unwrap(),
            Name::from_str("hostmaster.test.").unwrap(),
            1,
            3600,
            600,
            86_400,
            0,
        );
        zone.upsert(Record::from_rdata(origin.clone(), 0, RData::SOA(soa)), 1)
            .await;
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::new(&origin), vec![zone.clone()]);
        // One port for both: the resolver falls back to TCP on the same address. A free UDP
        // port's TCP twin may be some other socket's (a connection's local port): try again.
        let (udp, tcp, addr) = loop {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                break (udp, tcp, addr);
            }
        };
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, std::time::Duration::from_secs(5), 16);
        Self {
            addr,
            zone,
            serial: 1.into(),
            _server: server,
        }
    }

    /// Publishes a TXT record at `name` (fully qualified without the final dot).
    pub async fn publish_txt(&self, name: &str, value: &str) {
        let serial = self
            .serial
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        let name = Name::from_str(&format!("{name}.")).unwrap();
        let record = Record::from_rdata(name, 0, RData::TXT(TXT::new(vec![value.to_string()])));
        assert!(
            self.zone.upsert(record, serial).await,
            "the record is served"
        );
    }
}
