//! How an organisation's people reach sign-in: its SAML and OIDC connections, the keys
//! Gatehouse signs SAML requests with, and the proven domains that route `/login` to it.

pub mod domains;
pub mod oidc;
pub mod saml;
pub mod saml_keys;
