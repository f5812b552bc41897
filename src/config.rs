//! Configuration: built-in defaults, then `config/gatehouse.toml` (or `--config FILE`), then
//! `GATEHOUSE_<SECTION>__<KEY>` environment variables, later ones winning.
//!
//! Secrets never reach logs: types that hold one write a redacted `Debug`.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// The file read when `--config` names none and it exists in the working directory.
pub const DEFAULT_FILE: &str = "config/gatehouse.toml";

/// Every setting of the server and the command line.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub database: DatabaseConfig,
    pub scim: ScimConfig,
    pub session: SessionConfig,
    pub admin: AdminConfig,
    pub saml: SamlConfig,
    pub dns: DnsConfig,
    pub login: LoginConfig,
    pub outbound: OutboundConfig,
    pub secrets: SecretsConfig,
    pub log: LogConfig,
    pub changes: ChangesConfig,
    pub webhooks: WebhooksConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: String,
    pub public_url: String,
    pub max_body_bytes: usize,
    /// Longest request URI (path and query) accepted; longer ones get 414.
    pub max_uri_bytes: usize,
    /// Largest total of request headers accepted; larger ones get 431.
    pub max_header_bytes: usize,
    pub shutdown_grace_seconds: u64,
    /// Origins (scheme://host[:port]) of the apps behind Gatehouse, to which `return_to`
    /// and `RelayState` may lead besides this server's own paths.
    pub app_origins: Vec<String>,
    /// Addresses (or CIDR ranges) of the reverse proxies in front of this server: only a
    /// request from one of them has its client address read from `X-Forwarded-For`.
    pub trusted_proxies: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 16 * 1024,
            max_header_bytes: 64 * 1024,
            shutdown_grace_seconds: 10,
            app_origins: vec![],
            trusted_proxies: vec![],
        }
    }
}

impl ServerConfig {
    /// The public URL without a trailing slash, ready to have a path appended.
    pub fn base_url(&self) -> &str {
        self.public_url.trim_end_matches('/')
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: DatabaseUrl,
    pub max_connections: u32,
    pub busy_timeout_ms: u64,
    /// How long a request waits for a database connection before it is answered 503: a
    /// database that is away makes requests fail fast instead of hanging.
    pub acquire_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: DatabaseUrl("sqlite://data/gatehouse.db".into()),
            max_connections: 16,
            busy_timeout_ms: 5000,
            acquire_timeout_ms: 2000,
        }
    }
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &self.url)
            .field("max_connections", &self.max_connections)
            .field("busy_timeout_ms", &self.busy_timeout_ms)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .finish()
    }
}

/// A database URL. It may carry a password, so `Debug` and `Display` show it redacted;
/// [`DatabaseUrl::expose`] gives the real one to the driver.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                u.to_string()
            }
            Ok(_) => self.0.clone(),
            // Unparseable: it may still hold a secret, so show only the scheme.
            Err(_) => format!("{}://***", self.0.split("://").next().unwrap_or("?")),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimConfig {
    pub max_results: u32,
    /// Requests per second each SCIM token may make, counted once it is accepted; 0 means
    /// no limit.
    pub requests_per_second: f64,
    /// Requests a token may make at once before the rate applies.
    pub burst: u32,
    /// The most members a group PATCH answers with in full (200); a PATCH of a larger
    /// group answers 204 unless it names `attributes` or `excludedAttributes`.
    pub patch_response_max_members: u32,
}

impl Default for ScimConfig {
    fn default() -> Self {
        Self {
            max_results: 1000,
            requests_per_second: 0.0,
            burst: 100,
            patch_response_max_members: 1000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused this long ends.
    pub idle_timeout_minutes: u64,
    /// A session ends this long after sign-in, used or not.
    pub absolute_timeout_hours: u64,
    /// When above 0, `/auth/check` adds `X-Gatehouse-Token`, a JWT of the session signed
    /// with EdDSA that expires after this many seconds (keys at `/.well-known/jwks.json`).
    pub token_seconds: u64,
    /// The signing key is replaced after this many days.
    pub token_key_rotation_days: u64,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_minutes: 480,
            absolute_timeout_hours: 24,
            token_seconds: 0,
            token_key_rotation_days: 30,
        }
    }
}

/// The change feed (`/api/v1/orgs/{slug}/changes`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChangesConfig {
    /// Change records older than this are removed; a reader asking from before them gets
    /// 410 and starts again from a snapshot.
    pub retention_days: u64,
}

impl Default for ChangesConfig {
    fn default() -> Self {
        Self { retention_days: 30 }
    }
}

/// Webhook deliveries: one instance at a time delivers (it holds a lease in the database).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// How long the delivering instance holds its lease without renewing it; when it stops
    /// without giving the lease up (a crash), another instance delivers after this long.
    pub lease_seconds: u64,
    /// After a rotation, how long the previous secret keeps signing beside the new one.
    pub rotation_overlap_hours: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            lease_seconds: 30,
            rotation_overlap_hours: 24,
        }
    }
}

/// The admin console: its sessions are apart from end users' and shorter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// A console session unused this long ends.
    pub idle_timeout_minutes: u64,
    /// A console session ends this long after sign-in, used or not.
    pub absolute_timeout_hours: u64,
    /// Failed password sign-ins to one email within `lockout_minutes` that lock it.
    pub max_failed_logins: u32,
    /// How long a locked email stays locked, and the window failures are counted in.
    pub lockout_minutes: u64,
    /// How long a setup link stays valid unless its creator says otherwise.
    pub setup_link_hours: u64,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            idle_timeout_minutes: 30,
            absolute_timeout_hours: 8,
            max_failed_logins: 5,
            lockout_minutes: 15,
            setup_link_hours: 72,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamlConfig {
    /// How often IdP metadata imported from a URL is fetched again; 0 never.
    pub metadata_refresh_minutes: u64,
    /// How long a signing certificate that a metadata refresh dropped is still accepted.
    pub certificate_overlap_hours: u64,
}

impl Default for SamlConfig {
    fn default() -> Self {
        Self {
            metadata_refresh_minutes: 720,
            certificate_overlap_hours: 168,
        }
    }
}

impl SamlConfig {
    pub fn certificate_overlap_ms(&self) -> i64 {
        i64::try_from(self.certificate_overlap_hours.saturating_mul(3_600_000)).unwrap_or(i64::MAX)
    }
}

/// Fetches made for an IdP (SAML metadata, OIDC discovery, keys, tokens): see `outbound`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Reach private, loopback and link-local addresses too (tests, IdPs on a private
    /// network). Off: only public addresses, and loopback on a development server.
    pub allow_private_addresses: bool,
    /// The largest response read.
    pub max_response_bytes: usize,
    /// How long one fetch may take, from connecting to the last byte.
    pub timeout_seconds: u64,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow_private_addresses: false,
            max_response_bytes: 1024 * 1024,
            timeout_seconds: 10,
        }
    }
}

/// Bounds on the sign-in doors anyone can post to (SAML ACS, OIDC callback).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginConfig {
    /// Posts per second one client address may make to one organisation's doors; 0 no limit.
    pub requests_per_second: f64,
    /// Posts a client may make at once before the rate applies.
    pub burst: u32,
    /// Identical refused logins within this many seconds are one event with a count.
    pub fold_seconds: u64,
}

impl Default for LoginConfig {
    fn default() -> Self {
        Self {
            requests_per_second: 1.0,
            burst: 30,
            fold_seconds: 60,
        }
    }
}

/// Where domain proofs (DNS TXT records) are looked up.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// `IP:PORT` of the DNS server to ask; empty: the system's (`/etc/resolv.conf`).
    pub resolver: String,
}

/// Where the key that encrypts stored secrets comes from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// Base64 of 32 random bytes; empty: use (or make) `key_file`.
    pub key: Secret,
    pub key_file: String,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self {
            key: Secret::default(),
            key_file: "data/secret.key".into(),
        }
    }
}

/// A configured secret: `Debug` and `Display` never show it.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            filter: "info,sqlx=warn".into(),
            format: LogFormat::Text,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl Config {
    /// Loads the configuration: defaults, then `file` (which must exist) or, when none is
    /// named, `config/gatehouse.toml` if present, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_from(file, Env::prefixed("GATEHOUSE_"))
    }

    fn load_from(file: Option<&Path>, env: Env) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                anyhow::ensure!(
                    path.is_file(),
                    "configuration file {} does not exist",
                    path.display()
                );
                figment = figment.merge(Toml::file_exact(path));
            }
            None => {
                let default = PathBuf::from(DEFAULT_FILE);
                if default.is_file() {
                    figment = figment.merge(Toml::file_exact(default));
                }
            }
        }
        // Only GATEHOUSE_<SECTION>__<KEY> names are settings; others with the same prefix
        // (GATEHOUSE_CONFIG, test harness variables) are not ours to read.
        let env = env.filter_map(|key| {
            let key = key.as_str();
            key.contains("__").then(|| key.replace("__", ".").into())
        });
        let config: Config = figment
            .merge(env)
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        let public = url::Url::parse(&self.server.public_url)
            .map_err(|e| anyhow::anyhow!("server.public_url is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(public.scheme(), "http" | "https"),
            "server.public_url must start with http:// or https://"
        );
        let scheme = self.database.url.expose().split(':').next().unwrap_or("");
        anyhow::ensure!(
            matches!(scheme, "sqlite" | "postgres" | "postgresql"),
            "database.url must start with sqlite:// or postgres:// (got {})",
            self.database.url
        );
        anyhow::ensure!(
            self.scim.max_results > 0,
            "scim.max_results must be at least 1"
        );
        Ok(())
    }
}

#[cfg(test)]
// figment's test `Jail` returns its own large error type from every closure.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;
    use figment::Jail;

    #[test]
    fn defaults_match_the_documented_file() {
        let documented: Config = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::string(include_str!("../config/gatehouse.toml")))
            .extract()
            .unwrap();
        let builtin = Config::default();
        assert_eq!(
            serde_json::to_value(&documented).unwrap(),
            serde_json::to_value(&builtin).unwrap(),
            "config/gatehouse.toml must list the built-in defaults"
        );
    }

    #[test]
    fn environment_overrides_file_and_defaults() {
        Jail::expect_with(|jail| {
            jail.create_file("g.toml", "[server]\nlisten = \"127.0.0.1:9000\"\n")?;
            jail.set_env("GATEHOUSE_SERVER__LISTEN", "0.0.0.0:7000");
            jail.set_env("GATEHOUSE_SCIM__MAX_RESULTS", "50");
            jail.set_env("GATEHOUSE_TEST_SOMETHING", "ignored");
            let c = Config::load(Some(Path::new("g.toml"))).unwrap();
            assert_eq!(c.server.listen, "0.0.0.0:7000");
            assert_eq!(c.scim.max_results, 50);
            assert_eq!(c.server.public_url, "http://localhost:8080");
            Ok(())
        });
    }

    #[test]
    fn file_in_working_directory_is_read_without_flag() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(DEFAULT_FILE, "[scim]\nmax_results = 7\n")?;
            assert_eq!(Config::load(None).unwrap().scim.max_results, 7);
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        Jail::expect_with(|jail| {
            jail.create_file("g.toml", "[server]\nlisen = \"x\"\n")?;
            let err = Config::load(Some(Path::new("g.toml"))).unwrap_err();
            assert!(err.to_string().contains("lisen"), "{err}");
            assert!(Config::load(Some(Path::new("missing.toml"))).is_err());
            Ok(())
        });
    }

    #[test]
    fn database_password_never_shows_in_debug_output() {
        Jail::expect_with(|jail| {
            jail.set_env(
                "GATEHOUSE_DATABASE__URL",
                "postgres://gate:s3cr3t-pw@db.internal:5432/gatehouse",
            );
            let c = Config::load(None).unwrap();
            let shown = format!("{c:?} {:#?} {}", c, c.database.url);
            assert!(!shown.contains("s3cr3t-pw"), "{shown}");
            assert!(
                shown.contains("db.internal"),
                "the rest stays readable: {shown}"
            );
            assert!(c.database.url.expose().contains("s3cr3t-pw"));
            jail.set_env(
                "GATEHOUSE_SECRETS__KEY",
                "c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25n",
            );
            let c = Config::load(None).unwrap();
            assert!(
                !format!("{c:?}").contains("c2VjcmV0"),
                "the secrets key is redacted"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_with_the_key_named() {
        Jail::expect_with(|jail| {
            jail.set_env("GATEHOUSE_DATABASE__URL", "mysql://x");
            let err = Config::load(None).unwrap_err().to_string();
            assert!(err.contains("database.url"), "{err}");
            Ok(())
        });
    }
}
