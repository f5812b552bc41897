//! `/api/v1/orgs/{slug}/saml` and `/oidc`: an organisation's identity provider, read and set
//! through the same steps as the console and the command line (`admin::ops`).

use axum::extract::{Path, Request, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::ApiCaller;
use super::error::ApiError;
use super::extract::{is_json, media_type, parse_json, read_body, ApiJson};
use crate::admin::ops::{configure_oidc, fetch_saml_metadata, import_saml_metadata, OidcSettings};
use crate::clock::rfc3339;
use crate::directory::Org;
use crate::sso::saml::metadata::certificate_info;
use crate::state::AppState;

/// XML media types a metadata document may be sent as.
const XML_TYPES: &[&str] = &[
    "application/xml",
    "text/xml",
    "application/samlmetadata+xml",
];

/// The SAML side of an organisation: what to enter at the IdP, and the IdP connected.
async fn saml_json(state: &AppState, org: &Org) -> Result<Value, ApiError> {
    let sp = json!({
        "entity_id": crate::sso::saml::sp_entity_id(state, org),
        "acs_url": crate::sso::saml::acs_url(state, org.slug.as_str()),
        "metadata_url": format!("{}/saml/{}/metadata", state.config.server.base_url(), org.slug),
    });
    let Some(c) = state.directory.saml_connection(org.id).await? else {
        return Ok(json!({
            "configured": false, "entity_id": null, "sso_url": null, "metadata_url": null,
            "certificates": [], "updated": null, "sp": sp,
        }));
    };
    let now = state.directory.now();
    let certificates: Vec<Value> = c
        .certificates
        .iter()
        .map(|b64| match certificate_info(b64, now) {
            Ok(info) => json!({
                "subject": info.subject, "not_after": info.not_after, "expired": info.expired,
            }),
            Err(e) => json!({ "subject": null, "not_after": null, "error": e }),
        })
        .collect();
    Ok(json!({
        "configured": true,
        "entity_id": c.idp_entity_id,
        "sso_url": c.sso_url,
        "metadata_url": c.metadata_url,
        "certificates": certificates,
        "updated": rfc3339(c.updated_at),
        "sp": sp,
    }))
}

/// `GET /api/v1/orgs/{slug}/saml`.
pub async fn saml_show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    Ok(Json(saml_json(&state, &org).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlBody {
    #[serde(default)]
    metadata_xml: Option<String>,
    #[serde(default)]
    metadata_url: Option<String>,
}

/// `PUT /api/v1/orgs/{slug}/saml`: `{"metadata_xml": ...}`, `{"metadata_url": ...}`, or the
/// metadata document itself as an XML body.
pub async fn saml_put(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let json = is_json(request.headers());
    let media = media_type(request.headers());
    let bytes = read_body(request, &state).await?;
    let (xml, url) = if json {
        let body: SamlBody = parse_json(&bytes)?;
        match (body.metadata_xml, body.metadata_url) {
            (Some(xml), None) => (xml, None),
            (None, Some(url)) => (
                fetch_saml_metadata(&state.outbound, &url).await?,
                Some(url.trim().to_string()),
            ),
            _ => {
                return Err(ApiError::invalid(
                    "send either metadata_xml (the IdP's metadata document) or metadata_url",
                ))
            }
        }
    } else if XML_TYPES.contains(&media.as_str()) {
        let xml = String::from_utf8(bytes.to_vec())
            .map_err(|_| ApiError::invalid("the metadata document is not UTF-8"))?;
        (xml, None)
    } else {
        return Err(ApiError::unsupported_media_type(
            "send JSON (application/json) or the metadata document itself \
             (application/xml or application/samlmetadata+xml)",
        ));
    };
    import_saml_metadata(&state.directory, &org, &xml, url, &caller.actor()).await?;
    Ok(Json(saml_json(&state, &org).await?))
}

/// The OIDC side of an organisation. The client secret is never shown, only whether one is
/// set.
async fn oidc_json(state: &AppState, org: &Org) -> Result<Value, ApiError> {
    let redirect_uri = crate::sso::oidc::redirect_uri(state, org.slug.as_str());
    Ok(match state.directory.oidc_connection(org.id).await? {
        Some(c) => json!({
            "configured": true,
            "issuer": c.issuer,
            "client_id": c.client_id,
            "client_secret_set": c.sealed_secret.is_some(),
            "scopes": c.scopes,
            "redirect_uri": redirect_uri,
        }),
        None => json!({
            "configured": false, "issuer": null, "client_id": null, "client_secret_set": false,
            "scopes": [], "redirect_uri": redirect_uri,
        }),
    })
}

/// `GET /api/v1/orgs/{slug}/oidc`.
pub async fn oidc_show(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    Ok(Json(oidc_json(&state, &org).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcBody {
    issuer: String,
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `PUT /api/v1/orgs/{slug}/oidc`: replaces the connection (a secret left out is removed).
pub async fn oidc_put(
    State(state): State<AppState>,
    caller: ApiCaller,
    Path(slug): Path<String>,
    ApiJson(body): ApiJson<OidcBody>,
) -> Result<Json<Value>, ApiError> {
    let org = caller.org(&state, &slug).await?;
    let settings = OidcSettings {
        issuer: body.issuer,
        client_id: body.client_id,
        client_secret: body.client_secret,
        scopes: body.scopes,
    };
    configure_oidc(
        &state.directory,
        &state.secrets,
        &state.outbound,
        &org,
        settings,
        &caller.actor(),
    )
    .await?;
    Ok(Json(oidc_json(&state, &org).await?))
}
