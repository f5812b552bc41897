//! Gatehouse: SSO (SAML 2.0, OpenID Connect) and SCIM 2.0 provisioning in front of a B2B
//! SaaS application, on one user model.
//!
//! [`app::Application`] builds the server for `main` and for the integration tests alike.

pub mod admin;
pub mod api;
pub mod app;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod directory;
pub mod dns;
pub mod events;
pub mod grammar;
pub mod metrics;
pub mod outbound;
pub mod password;
#[cfg(test)]
mod props;
pub mod random;
pub mod scim;
pub mod secrets;
pub mod session;
pub mod sso;
pub mod state;
pub mod telemetry;
pub mod urn;
pub mod web;
pub mod webhooks;

pub use app::Application;
pub use config::Config;
