//! The state every handler can reach.

use std::ops::Deref;
use std::sync::Arc;

use crate::config::Config;
use crate::directory::Directory;
use crate::metrics::Metrics;
use crate::outbound::Outbound;
use crate::scim::rate_limit::RateLimiter;
use crate::secrets::SecretBox;
use crate::sso::flood::Floodgate;
use crate::sso::oidc::Providers;
use crate::web::client_ip::TrustedProxies;

#[derive(Clone)]
pub struct AppState(Arc<App>);

pub struct App {
    pub directory: Directory,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    /// SCIM requests, per accepted token.
    pub scim_limiter: RateLimiter<crate::directory::TokenId>,
    /// Console password sign-ins, per client address.
    pub admin_login_limiter: RateLimiter<std::net::IpAddr>,
    pub secrets: SecretBox,
    pub oidc: Providers,
    /// The client for every fetch made for an IdP.
    pub outbound: Outbound,
    /// Rate limits and refusal folding of the sign-in doors.
    pub floodgate: Floodgate,
    /// Whose `X-Forwarded-For` is believed.
    pub proxies: TrustedProxies,
    /// When a request last found the database away.
    pub away: crate::web::db_deadline::AwayWatch,
    /// The keys that sign session tokens for the app.
    pub token_keys: crate::web::session_token::TokenKeys,
}

impl AppState {
    pub fn new(
        directory: Directory,
        config: Arc<Config>,
        secrets: SecretBox,
        proxies: TrustedProxies,
    ) -> Self {
        let scim_limiter = RateLimiter::new(config.scim.requests_per_second, config.scim.burst);
        let outbound = Outbound::new(&config);
        Self(Arc::new(App {
            directory,
            metrics: Metrics::default(),
            scim_limiter,
            // Bursts of a few tries, then one every two seconds: far beyond a person,
            // far below a password sprayer. The per-email lockout is the other half.
            admin_login_limiter: RateLimiter::new(0.5, 20),
            secrets,
            oidc: Providers::new(outbound.clone()),
            outbound,
            floodgate: Floodgate::new(&config.login),
            proxies,
            away: Default::default(),
            token_keys: Default::default(),
            config,
        }))
    }
}

impl Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}
