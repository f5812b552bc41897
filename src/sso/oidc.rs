//! OpenID Connect single sign-on, Gatehouse as relying party: the authorization code flow
//! with PKCE (S256), `state` and `nonce` kept server-side for one use and bound to the
//! browser, ID tokens verified by openidconnect plus the checks it leaves to callers
//! (`azp`, `iat`, refetching keys for an unknown `kid`), then the gate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenClaims, CoreJwsSigningAlgorithm,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, JsonWebKeySet, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::Deserialize;

use crate::directory::connections::oidc::{OidcConnection, PendingFlow};
use crate::directory::orgs::Org;
use crate::directory::Actor;
use crate::outbound::Outbound;
use crate::sso::return_to::safe_return_to;
use crate::sso::Assertion;
use crate::state::AppState;
use crate::web::pages::{page, Message, PageError};

const FLOW_TTL_MS: i64 = 10 * 60_000;
const FLOW_COOKIE: &str = "gatehouse_oidc";
/// Discovery documents are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Keys are fetched again for an unknown `kid` at most this often.
const KEY_REFETCH_EVERY: Duration = Duration::from_secs(60);
/// How far in the future an `iat` may be (the provider's clock against ours).
const IAT_SKEW_S: i64 = 120;

/// Signature algorithms accepted: public-key ones only (no `none`, no HMAC, whose key a
/// public-key verifier could be tricked into using).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

struct Cached {
    metadata: CoreProviderMetadata,
    fetched: Instant,
    /// The last refetch for an unknown `kid`; discovery itself does not count.
    refetched: Option<Instant>,
}

/// Discovery and keys per issuer, shared by every request of this process.
pub struct Providers {
    http: Outbound,
    cache: Mutex<HashMap<String, Cached>>,
}

impl Providers {
    /// Every fetch goes through `http`, the outbound client with its address checks.
    pub fn new(http: Outbound) -> Self {
        Self {
            http,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's discovery document (with its keys), fetched when missing or stale.
    /// openidconnect refuses a document whose `issuer` is not the one asked for.
    pub async fn metadata(&self, issuer: &str) -> Result<CoreProviderMetadata, String> {
        if let Some(c) = self.cache.lock().expect("cache").get(issuer) {
            if c.fetched.elapsed() < METADATA_TTL {
                return Ok(c.metadata.clone());
            }
        }
        let url = IssuerUrl::new(issuer.to_string())
            .map_err(|e| format!("the issuer is not a URL: {e}"))?;
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| format!("discovery at {issuer} failed: {}", causes(&e)))?;
        let now = Instant::now();
        let cached = Cached {
            metadata: metadata.clone(),
            fetched: now,
            refetched: None,
        };
        self.cache
            .lock()
            .expect("cache")
            .insert(issuer.to_string(), cached);
        Ok(metadata)
    }

    /// Fetches the keys again, unless that was done less than a minute ago; the refreshed
    /// metadata, or None when it is too soon.
    async fn refetch_keys(&self, issuer: &str) -> Result<Option<CoreProviderMetadata>, String> {
        let metadata = {
            let cache = self.cache.lock().expect("cache");
            match cache.get(issuer) {
                Some(c) if c.refetched.is_some_and(|t| t.elapsed() < KEY_REFETCH_EVERY) => {
                    return Ok(None)
                }
                Some(c) => c.metadata.clone(),
                None => return Ok(None),
            }
        };
        let keys = JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| format!("fetching the provider's keys failed: {}", causes(&e)))?;
        let metadata = metadata.set_jwks(keys);
        if let Some(c) = self.cache.lock().expect("cache").get_mut(issuer) {
            c.metadata = metadata.clone();
            c.refetched = Some(Instant::now());
        }
        Ok(Some(metadata))
    }
}

/// An error with the errors that caused it, so the admin reads why ("a link-local
/// address, which is refused"), not only that a request failed.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

pub fn redirect_uri(state: &AppState, slug: &str) -> String {
    format!("{}/oidc/{slug}/callback", state.config.server.base_url())
}

pub fn connection_id(org: &Org) -> String {
    crate::directory::connections::oidc::connection_key(org.id)
}

async fn org_and_connection(
    state: &AppState,
    slug: &str,
) -> Result<(Org, OidcConnection), PageError> {
    let org = crate::sso::org_page(state, slug).await?;
    let connection = state
        .directory
        .oidc_connection(org.id)
        .await?
        .ok_or_else(|| {
            PageError::new(
                StatusCode::NOT_FOUND,
                "OpenID Connect is not set up",
                format!("{} has no OpenID provider connected yet.", org.name),
            )
        })?;
    Ok((org, connection))
}

type Client = openidconnect::Client<
    openidconnect::EmptyAdditionalClaims,
    openidconnect::core::CoreAuthDisplay,
    openidconnect::core::CoreGenderClaim,
    openidconnect::core::CoreJweContentEncryptionAlgorithm,
    openidconnect::core::CoreJsonWebKey,
    openidconnect::core::CoreAuthPrompt,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
    openidconnect::core::CoreTokenResponse,
    openidconnect::core::CoreTokenIntrospectionResponse,
    openidconnect::core::CoreRevocableToken,
    openidconnect::core::CoreRevocationErrorResponse,
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

fn client(
    state: &AppState,
    slug: &str,
    c: &OidcConnection,
    metadata: CoreProviderMetadata,
) -> Result<Client, String> {
    let secret = match &c.sealed_secret {
        Some(sealed) => Some(ClientSecret::new(
            state.secrets.open(sealed).map_err(|e| e.to_string())?,
        )),
        None => None,
    };
    let redirect = RedirectUrl::new(redirect_uri(state, slug)).map_err(|e| e.to_string())?;
    Ok(
        CoreClient::from_provider_metadata(metadata, ClientId::new(c.client_id.clone()), secret)
            .set_redirect_uri(redirect),
    )
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// `GET /oidc/{org}/login`.
pub async fn login(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(q): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let (org, connection) = org_and_connection(&state, &slug).await?;
    let metadata = state
        .oidc
        .metadata(&connection.issuer)
        .await
        .map_err(unavailable)?;
    let client = client(&state, &slug, &connection, metadata).map_err(unavailable)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for scope in connection.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    let browser = crate::random::token(32);
    let flow = PendingFlow {
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to: safe_return_to(q.return_to.as_deref(), &state.config),
    };
    state
        .directory
        .create_oidc_flow(org.id, csrf.secret(), &browser, &flow, FLOW_TTL_MS)
        .await?;
    let secure = if state.config.server.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{FLOW_COOKIE}={browser}; Path=/oidc/{slug}/; HttpOnly; SameSite=Lax; Max-Age=600{secure}"
    );
    let cookie = HeaderValue::from_str(&cookie).map_err(|_| unavailable("bad cookie".into()))?;
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(url.as_str())).into_response())
}

fn unavailable(reason: String) -> PageError {
    tracing::warn!(reason, "OpenID provider unavailable");
    PageError::new(
        StatusCode::BAD_GATEWAY,
        "Your identity provider did not answer",
        "Gatehouse could not reach your organisation's identity provider. Try again in a moment.",
    )
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /oidc/{org}/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (org, connection) = org_and_connection(&state, &slug).await?;
    // Anyone may call this: bounded per organisation and client before any work is done.
    if let Err(wait) = state
        .floodgate
        .admit(org.id, state.proxies.client(peer, &headers))
    {
        return Ok(super::flood::too_many(wait));
    }
    match finish(&state, &org, &connection, &slug, q, &headers).await {
        Ok((asserted, return_to)) => {
            super::sign_in::respond(&state, &org, &asserted, None, &return_to).await
        }
        Err(Stopped::Failed(e)) => Err(e.into()),
        Err(Stopped::Refused(Refused { reason, message })) => {
            let actor = Actor::Idp(connection_id(&org));
            state
                .floodgate
                .record_refusal(&state.directory, org.id, &actor, &format!("oidc: {reason}"))
                .await?;
            let m =
                Message::new("Sign-in failed", &message).link("/login", "Go to the sign-in page");
            Ok(page(StatusCode::FORBIDDEN, &m))
        }
    }
}

/// Why a callback stopped before the person could be resolved.
enum Stopped {
    /// The callback or the provider's answer is refused: recorded here, then a page.
    Refused(Refused),
    /// Gatehouse itself failed (the database): not the person's doing, not a refusal.
    Failed(crate::directory::Error),
}

impl From<Refused> for Stopped {
    fn from(r: Refused) -> Self {
        Stopped::Refused(r)
    }
}

struct Refused {
    reason: String,
    message: String,
}

fn refused(reason: impl Into<String>) -> Refused {
    Refused {
        reason: reason.into(),
        message: "This sign-in could not be completed. Start again from the sign-in page; if it keeps happening, \
                  your administrator can see why in Gatehouse's event log."
            .into(),
    }
}

async fn finish(
    state: &AppState,
    org: &Org,
    connection: &OidcConnection,
    slug: &str,
    q: CallbackQuery,
    headers: &HeaderMap,
) -> Result<(Assertion, String), Stopped> {
    let browser = crate::session::cookie(headers, FLOW_COOKIE);
    let flow_state = q
        .state
        .ok_or_else(|| refused("the callback carries no state"))?;
    let flow = state
        .directory
        .take_oidc_flow(org.id, &flow_state, browser.as_deref())
        .await
        .map_err(Stopped::Failed)?
        .ok_or_else(|| {
            refused("the state is unknown, used already, expired, or from another browser")
        })?;
    if let Some(error) = q.error {
        let description = q.error_description.unwrap_or_default();
        return Err(Stopped::Refused(Refused {
            reason: format!("the provider answered error={error} {description}"),
            message: format!(
                "Your identity provider did not complete the sign-in ({error}). {description}"
            ),
        }));
    }
    let code = q
        .code
        .ok_or_else(|| refused("the callback carries no code"))?;
    let metadata = state
        .oidc
        .metadata(&connection.issuer)
        .await
        .map_err(refused)?;
    let client = client(state, slug, connection, metadata).map_err(refused)?;
    let token = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| refused(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.pkce_verifier.clone()))
        .request_async(&state.oidc.http)
        .await
        .map_err(|e| refused(format!("the token endpoint refused the code: {e}")))?;
    let id_token = token
        .id_token()
        .ok_or_else(|| refused("the token response has no ID token"))?;
    let nonce = Nonce::new(flow.nonce.clone());
    let claims = match verify(&client, id_token, &nonce, &connection.client_id) {
        Err(e) if e.contains("no matching key") || e.contains("NoMatchingKey") => {
            // The provider may have rotated its keys: fetch them again (at most once a
            // minute) and try once more.
            match state
                .oidc
                .refetch_keys(&connection.issuer)
                .await
                .map_err(refused)?
            {
                Some(metadata) => {
                    let client =
                        self::client(state, slug, connection, metadata).map_err(refused)?;
                    verify(&client, id_token, &nonce, &connection.client_id)
                }
                None => Err(e),
            }
        }
        other => other,
    }
    .map_err(|e| refused(format!("the ID token was refused: {e}")))?;
    // Names are read from the verified payload, so an organisation can map its own claims.
    let payload = payload(id_token);
    let names = &org.settings;
    let text = |claim: &str| {
        payload
            .get(claim)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let email_verified = claims.email_verified() == Some(true) || names.oidc_trust_emails;
    let email = text(&names.oidc_claim_email);
    let groups = payload
        .get(&names.oidc_claim_groups)
        .and_then(|g| g.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect()
        });
    let asserted = Assertion {
        connection: connection_id(org),
        subject: claims.subject().to_string(),
        user_name: text(&names.oidc_claim_username)
            .or_else(|| email.clone().filter(|_| email_verified)),
        email,
        email_verified,
        // A provider's user name may be chosen by its user: it never matches an existing
        // account; only a verified email does.
        trusted_user_name: false,
        given_name: text(&names.oidc_claim_given_name),
        family_name: text(&names.oidc_claim_family_name),
        display_name: text("name"),
        groups,
        role: role_claim(&payload, &names.policy.oidc_claim_role),
    };
    Ok((asserted, flow.return_to))
}

/// openidconnect checks the signature against the provider's keys with the allowed
/// algorithms, `iss`, `aud`, `exp` and `nonce`; `iat` and `azp` are checked here.
fn verify(
    client: &Client,
    token: &CoreIdToken,
    nonce: &Nonce,
    client_id: &str,
) -> Result<CoreIdTokenClaims, String> {
    let verifier = client
        .id_token_verifier()
        .set_allowed_algs(ALLOWED_ALGS)
        .set_issue_time_verifier_fn(|iat| {
            let ahead = iat.timestamp() - chrono::Utc::now().timestamp();
            if ahead > IAT_SKEW_S {
                Err(format!("iat is {ahead} s in the future"))
            } else {
                Ok(())
            }
        });
    let claims = token
        .claims(&verifier, nonce)
        .map_err(|e| format!("{e} ({e:?})"))?;
    // OpenID Connect Core §3.1.3.7, 4-5: with several audiences, azp must be there and be us.
    let azp = claims.authorized_party().map(|a| a.as_str());
    if claims.audiences().len() > 1 && azp != Some(client_id) || azp.is_some_and(|a| a != client_id)
    {
        return Err(format!("azp {azp:?} is not this client ({client_id})"));
    }
    Ok(claims.clone())
}

/// The role claim: a string, or an array of them (Entra's `roles`), whose first is the role.
fn role_claim(payload: &serde_json::Map<String, serde_json::Value>, claim: &str) -> Option<String> {
    match payload.get(claim)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => {
            items.iter().find_map(|v| v.as_str()).map(str::to_string)
        }
        _ => None,
    }
}

/// The claims of a verified token as JSON, for the ones the organisation maps by name.
fn payload(token: &CoreIdToken) -> serde_json::Map<String, serde_json::Value> {
    let text = token.to_string();
    text.split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}
