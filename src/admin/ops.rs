//! Connection setup shared by the console, the admin API and the command line: each checks
//! its input the same way and changes the directory through the same steps.

use crate::directory::connections::oidc::OidcConnection;
use crate::directory::connections::saml::SamlConnection;
use crate::directory::orgs::Org;
use crate::directory::{self, Actor, Directory};
use crate::outbound::Outbound;
use crate::secrets::SecretBox;
use crate::sso::oidc::Providers;
use crate::sso::saml::metadata::{fetch, idp_url_allowed, parse_idp_metadata, IdpMetadata};

/// Why a setup step was refused: bad input (said in words a person can act on), or the
/// directory failing.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Directory(#[from] directory::Error),
}

/// Fetches IdP metadata from a URL: https, or http on a loopback address.
pub async fn fetch_saml_metadata(outbound: &Outbound, url: &str) -> Result<String, SetupError> {
    let url = url.trim();
    if !idp_url_allowed(url) {
        return Err(SetupError::Invalid(format!(
            "the metadata URL must be https:// (http:// only on loopback addresses): {url}"
        )));
    }
    fetch(outbound, url)
        .await
        .map_err(|e| SetupError::Invalid(format!("cannot fetch the metadata: {e:#}")))
}

/// Sets an organisation's SAML IdP from metadata XML (and the URL it came from, which the
/// scheduled refresh then follows). The document must name a valid signing certificate.
pub async fn import_saml_metadata(
    directory: &Directory,
    org: &Org,
    xml: &str,
    url: Option<String>,
    actor: &Actor,
) -> Result<IdpMetadata, SetupError> {
    let now = directory.now();
    let md = parse_idp_metadata(xml, now).map_err(SetupError::Invalid)?;
    let connection = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id.clone(),
        sso_url: md.sso_url.clone(),
        certificates: md.certificates.clone(),
        retired: Vec::new(),
        metadata_url: url,
        created_at: now,
        updated_at: now,
    };
    directory
        .set_saml_connection(org.id, &connection, actor)
        .await?;
    Ok(md)
}

/// What an OIDC connection is made of, as an admin enters it.
#[derive(Debug, Clone, Default)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// None: a public client (PKCE only).
    pub client_secret: Option<String>,
    /// Besides `openid`, which is always asked for.
    pub scopes: Vec<String>,
}

/// Sets an organisation's OpenID provider, after checking that its discovery document
/// answers at the issuer. The client secret is sealed before it is stored.
pub async fn configure_oidc(
    directory: &Directory,
    secrets: &SecretBox,
    outbound: &Outbound,
    org: &Org,
    settings: OidcSettings,
    actor: &Actor,
) -> Result<OidcConnection, SetupError> {
    let issuer = settings.issuer.trim().trim_end_matches('/').to_string();
    if !idp_url_allowed(&issuer) {
        return Err(SetupError::Invalid(format!(
            "the issuer must be https:// (http:// only on loopback addresses): {issuer}"
        )));
    }
    let client_id = settings.client_id.trim().to_string();
    if client_id.is_empty() {
        return Err(SetupError::Invalid(
            "the client ID must not be empty".into(),
        ));
    }
    Providers::new(outbound.clone())
        .metadata(&issuer)
        .await
        .map_err(SetupError::Invalid)?;
    let mut scopes = vec!["openid".to_string()];
    scopes.extend(
        settings
            .scopes
            .into_iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "openid"),
    );
    let connection = OidcConnection {
        org_id: org.id,
        issuer,
        client_id,
        sealed_secret: settings
            .client_secret
            .filter(|s| !s.is_empty())
            .map(|s| secrets.seal(&s)),
        scopes,
    };
    directory.set_oidc_connection(&connection, actor).await?;
    Ok(connection)
}
