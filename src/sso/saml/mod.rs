//! SAML 2.0 single sign-on, Gatehouse as service provider: SP metadata, SP-initiated login
//! (HTTP-Redirect binding) and the assertion consumer service (HTTP-POST binding, SP- and
//! IdP-initiated). Verified assertions go through [`crate::sso::sign_in::respond`].

pub mod metadata;
pub mod refresh;
pub mod sp_key;
pub mod verify;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use samael::schema::Assertion as SamlAssertion;
use samael::service_provider::ServiceProvider;
use serde::Deserialize;

use crate::directory::connections::saml::SamlConnection;
use crate::directory::orgs::Org;
use crate::directory::sign_in::Replay;
use crate::directory::Actor;
use crate::sso::flood;
use crate::sso::return_to::safe_return_to;
use crate::sso::Assertion;
use crate::state::AppState;
use crate::web::pages::{page, Message, PageError};

/// How long an AuthnRequest may wait for its answer.
const REQUEST_TTL_MS: i64 = 10 * 60_000;

pub fn acs_url(state: &AppState, slug: &str) -> String {
    format!("{}/saml/{slug}/acs", state.config.server.base_url())
}

/// The SP entity ID: the organisation's setting, else the metadata URL, as most IdPs expect.
pub fn sp_entity_id(state: &AppState, org: &Org) -> String {
    org.settings.saml_sp_entity_id.clone().unwrap_or_else(|| {
        format!(
            "{}/saml/{}/metadata",
            state.config.server.base_url(),
            org.slug
        )
    })
}

/// The identity links of this connection: one SAML connection per organisation.
pub fn connection_id(org: &Org) -> String {
    format!("saml:{}", org.id)
}

async fn org_and_connection(
    state: &AppState,
    slug: &str,
) -> Result<(Org, SamlConnection), PageError> {
    let org = crate::sso::org_page(state, slug).await?;
    let connection = state
        .directory
        .saml_connection(org.id)
        .await?
        .ok_or_else(|| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "SAML is not set up",
                format!("{} has no SAML identity provider connected yet.", org.name),
            )
        })?;
    Ok((org, connection))
}

/// `GET /saml/{org}/metadata`.
pub async fn sp_metadata(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> Result<Response, PageError> {
    let org = crate::sso::org_page(&state, &slug).await?;
    let entity = sp_entity_id(&state, &org);
    // The SP's certificates are published when it signs its requests.
    let published = org.settings.saml_sign_requests || org.settings.saml_encrypted_assertions;
    let certificates: Vec<String> = if published {
        sp_key::keys_in_service(&state.directory, &state.secrets, org.id, &entity)
            .await?
            .into_iter()
            .map(|k| k.certificate)
            .collect()
    } else {
        vec![]
    };
    let key_use = if org.settings.saml_encrypted_assertions {
        None
    } else {
        Some("signing")
    };
    let signs = org.settings.saml_sign_requests;
    let xml = metadata::sp_metadata(
        &entity,
        &acs_url(&state, &slug),
        &certificates,
        key_use,
        signs,
    );
    Ok((
        [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
        xml,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /saml/{org}/login`: an AuthnRequest by HTTP-Redirect (SAML Bindings §3.4), its ID
/// kept server-side for one use, and a RelayState that only refers to `return_to`.
pub async fn login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let (org, connection) = org_and_connection(&state, &slug).await?;
    let return_to = safe_return_to(q.return_to.as_deref(), &state.config);
    let pending = state
        .directory
        .create_saml_request(org.id, &return_to, REQUEST_TTL_MS)
        .await?;
    let idp = metadata::idp_metadata_xml(
        &connection.idp_entity_id,
        &connection.sso_url,
        &connection.certificates,
    )
    .parse()
    .map_err(|_| internal("the stored SAML connection could not be read"))?;
    let sp = ServiceProvider {
        entity_id: Some(sp_entity_id(&state, &org)),
        acs_url: Some(acs_url(&state, &slug)),
        idp_metadata: idp,
        ..ServiceProvider::default()
    };
    let mut request = sp
        .make_authentication_request(&connection.sso_url)
        .map_err(|_| internal("the sign-in request could not be made"))?;
    request.id = pending.id.clone();
    let url = if org.settings.saml_sign_requests {
        // The oldest key in service signs: a newer one may not be known to the IdP yet.
        let keys = sp_key::keys_in_service(
            &state.directory,
            &state.secrets,
            org.id,
            &sp_entity_id(&state, &org),
        )
        .await?;
        let key = sp_key::private_key(&state.secrets, &keys[0])
            .map_err(|_| internal("the SP key could not be read"))?;
        request.signed_redirect(&pending.relay_state, &key)
    } else {
        request.redirect(&pending.relay_state)
    };
    let url = url
        .ok()
        .flatten()
        .ok_or_else(|| internal("the sign-in request could not be encoded"))?;
    Ok(Redirect::to(url.as_str()).into_response())
}

fn internal(message: &str) -> PageError {
    tracing::error!(message, "SAML login failed");
    PageError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        message,
    )
}

#[derive(Deserialize)]
pub struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// `POST /saml/{org}/acs`: checks the response, then signs the person in.
pub async fn acs(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<AcsForm>,
) -> Result<Response, PageError> {
    let (org, connection) = org_and_connection(&state, &slug).await?;
    // Anyone may post here: bounded per organisation and client before any work is done.
    if let Err(wait) = state
        .floodgate
        .admit(org.id, state.proxies.client(peer, &headers))
    {
        return Ok(flood::too_many(wait));
    }
    let actor = Actor::Idp(connection_id(&org));
    let relay = form.relay_state.as_deref().unwrap_or_default();
    // A RelayState we issued names the request this answers, which is used up here.
    let pending = match relay {
        "" => None,
        r => state.directory.take_saml_request(org.id, r).await?,
    };
    let refuse = |reason: String, expired: bool| {
        let state = state.clone();
        let actor = actor.clone();
        async move {
            state
                .floodgate
                .record_refusal(&state.directory, org.id, &actor, &format!("saml: {reason}"))
                .await?;
            Ok::<Response, PageError>(failure_page(expired))
        }
    };
    if pending.is_none() && !org.settings.idp_initiated {
        return refuse(
            "an unsolicited response (IdP-initiated), which this organisation does not accept"
                .into(),
            false,
        )
        .await;
    }
    let return_to = match &pending {
        Some(p) => p.return_to.clone(),
        // Okta's "Default RelayState" may name a page: only our own pages or app origins.
        None => safe_return_to(Some(relay), &state.config),
    };
    let (sp_id, acs) = (sp_entity_id(&state, &org), acs_url(&state, &slug));
    let request_id = pending.as_ref().map(|p| p.id.clone());
    let skew = org.settings.saml_clock_skew;
    let xml = match verify::decode(&form.saml_response) {
        Ok(xml) => xml,
        Err(f) => return refuse(f.reason, f.expired).await,
    };
    // Most IdPs sign without encrypting: their responses need no SP key read or parsed.
    let keys: Vec<_> = if verify::is_encrypted(&xml) {
        state
            .directory
            .saml_sp_keys(org.id)
            .await?
            .iter()
            .filter_map(|k| sp_key::private_key(&state.secrets, k).ok())
            .collect()
    } else {
        Vec::new()
    };
    // A certificate a metadata refresh removed is still trusted for its overlap.
    let connection = SamlConnection {
        certificates: connection.trusted_certificates(state.directory.now()),
        ..connection
    };
    // xmlsec is C and CPU-bound: off the async workers.
    let checked = tokio::task::spawn_blocking(move || {
        let expected = verify::Expected {
            connection: &connection,
            sp_entity_id: &sp_id,
            acs_url: &acs,
            request_id: request_id.as_deref(),
            clock_skew_s: skew,
            decryption_keys: &keys,
        };
        verify::verify_xml(&xml, &expected)
    })
    .await
    .map_err(|_| internal("the response check stopped unexpectedly"))?;
    let assertion = match checked {
        Ok(a) => a,
        Err(f) => return refuse(f.reason, f.expired).await,
    };
    let skew_ms = i64::from(skew) * 1000;
    let keep_until =
        verify::expires_at_ms(&assertion).unwrap_or(state.directory.now() + 3_600_000) + skew_ms;
    let replay = Replay {
        id: &assertion.id,
        keep_until,
    };
    let asserted = to_assertion(&org, &assertion);
    crate::sso::sign_in::respond(&state, &org, &asserted, Some(("saml", replay)), &return_to).await
}

/// What the gate needs from a verified assertion: NameID as user name and subject, and
/// Okta's default attributes.
fn to_assertion(org: &Org, a: &SamlAssertion) -> Assertion {
    let names = &org.settings;
    let name_id = a
        .subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .map(|n| n.value.trim().to_string())
        .unwrap_or_default();
    let values = |name: &str| -> Vec<String> {
        a.attribute_statements
            .iter()
            .flatten()
            .flat_map(|s| s.attributes.iter())
            .filter(|attr| {
                attr.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
                    || attr
                        .friendly_name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .flat_map(|attr| attr.values.iter().filter_map(|v| v.value.clone()))
            .collect()
    };
    let first = |name: &str| values(name).into_iter().next();
    let has_groups = a
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .any(|attr| {
            attr.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&names.saml_attribute_groups))
        });
    Assertion {
        connection: connection_id(org),
        subject: name_id.clone(),
        user_name: Some(name_id.clone()),
        email: first(&names.saml_attribute_email)
            .or_else(|| name_id.contains('@').then(|| name_id.clone())),
        // The organisation's own IdP signed it: what it says about its people stands, unless
        // the organisation says its IdP lets people set their own email.
        email_verified: names.saml_trust_emails,
        trusted_user_name: true,
        given_name: first(&names.saml_attribute_first_name),
        family_name: first(&names.saml_attribute_last_name),
        display_name: None,
        groups: has_groups.then(|| values(&names.saml_attribute_groups)),
        // One role: the attribute's first value.
        role: first(&names.policy.saml_attribute_role),
    }
}

fn failure_page(expired: bool) -> Response {
    let message = if expired {
        "This sign-in link has expired. Start again from your Okta dashboard or from the sign-in page."
    } else {
        "This sign-in could not be completed. Start again from your Okta dashboard or from the sign-in page; \
         if it keeps happening, your administrator can see why in Gatehouse's event log."
    };
    page(
        StatusCode::FORBIDDEN,
        &Message::new("Sign-in failed", message).link("/login", "Go to the sign-in page"),
    )
}
