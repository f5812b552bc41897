//! An OpenID provider served inside the test: discovery, JWKS and a token endpoint that
//! checks PKCE, issuing ID tokens signed (or mis-signed, for negative tests) in the test.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::sign::Signer;
use serde_json::{json, Value};

/// How a token is signed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// RS256 with a key of the JWKS.
    Good,
    /// `alg: none`, no signature.
    None,
    /// HS256 keyed with the provider's public key (the algorithm-confusion attack).
    HmacWithPublicKey,
    /// A valid signature over other claims than the ones sent.
    Tampered,
    /// RS256 with the second key (kid "k2"), which the JWKS lists only once published.
    SecondKey,
}

pub struct Key {
    pub kid: String,
    pkey: PKey<Private>,
}

impl Key {
    fn new(kid: &str) -> Self {
        Key {
            kid: kid.into(),
            pkey: PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap(),
        }
    }

    fn jwk(&self) -> Value {
        let rsa = self.pkey.rsa().unwrap();
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
               "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()), "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec())})
    }
}

/// What the provider has seen and will serve.
#[derive(Default)]
pub struct Seen {
    /// code -> (PKCE challenge, ID token to issue)
    pub grants: HashMap<String, (String, String)>,
    pub token_requests: Vec<(HashMap<String, String>, Option<String>)>,
    pub jwks_fetches: usize,
    pub publish_second_key: bool,
}

pub struct TestOp {
    pub issuer: String,
    pub first: Arc<Key>,
    pub second: Arc<Key>,
    pub seen: Arc<Mutex<Seen>>,
}

#[derive(Clone)]
struct OpState {
    issuer: String,
    first: Arc<Key>,
    second: Arc<Key>,
    seen: Arc<Mutex<Seen>>,
}

impl TestOp {
    pub async fn start() -> TestOp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let op = TestOp {
            issuer: issuer.clone(),
            first: Arc::new(Key::new("k1")),
            second: Arc::new(Key::new("k2")),
            seen: Arc::new(Mutex::new(Seen::default())),
        };
        let state = OpState {
            issuer,
            first: op.first.clone(),
            second: op.second.clone(),
            seen: op.seen.clone(),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        op
    }

    /// Registers a code: the token endpoint will trade it for `id_token` if the verifier
    /// matches `challenge`.
    pub fn grant(&self, code: &str, challenge: &str, id_token: String) {
        self.seen
            .lock()
            .unwrap()
            .grants
            .insert(code.into(), (challenge.into(), id_token));
    }

    /// An ID token with these claims, signed as asked.
    pub fn id_token(&self, claims: &Value, signing: Signing) -> String {
        let (alg, kid) = match signing {
            Signing::None => ("none", "k1"),
            Signing::HmacWithPublicKey => ("HS256", "k1"),
            Signing::SecondKey => ("RS256", "k2"),
            _ => ("RS256", "k1"),
        };
        let header =
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string());
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let input = format!("{header}.{payload}");
        let signature = match signing {
            Signing::None => vec![],
            Signing::HmacWithPublicKey => {
                let public_pem = self.first.pkey.public_key_to_pem().unwrap();
                let key = PKey::hmac(&public_pem).unwrap();
                let mut s = Signer::new(MessageDigest::sha256(), &key).unwrap();
                s.update(input.as_bytes()).unwrap();
                s.sign_to_vec().unwrap()
            }
            Signing::SecondKey => rs256(&self.second.pkey, &input),
            _ => rs256(&self.first.pkey, &input),
        };
        let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
        if signing == Signing::Tampered {
            let mut changed = claims.clone();
            changed["email"] = json!("admin@acme.test");
            let forged = URL_SAFE_NO_PAD.encode(changed.to_string());
            let parts: Vec<&str> = token.split('.').collect();
            return format!("{}.{forged}.{}", parts[0], parts[2]);
        }
        token
    }
}

fn rs256(key: &PKey<Private>, input: &str) -> Vec<u8> {
    let mut s = Signer::new(MessageDigest::sha256(), key).unwrap();
    s.update(input.as_bytes()).unwrap();
    s.sign_to_vec().unwrap()
}

async fn discovery(State(s): State<OpState>) -> Json<Value> {
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "groups"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<OpState>) -> Json<Value> {
    let mut seen = s.seen.lock().unwrap();
    seen.jwks_fetches += 1;
    let mut keys = vec![s.first.jwk()];
    if seen.publish_second_key {
        keys.push(s.second.jwk());
    }
    Json(json!({ "keys": keys }))
}

/// The token endpoint: the code must be known and the PKCE verifier must hash to its
/// challenge (RFC 7636 §4.6).
async fn token(
    State(s): State<OpState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let mut seen = s.seen.lock().unwrap();
    seen.token_requests.push((form.clone(), auth));
    let code = form.get("code").cloned().unwrap_or_default();
    let Some((challenge, id_token)) = seen.grants.remove(&code) else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let hashed = URL_SAFE_NO_PAD.encode(openssl::sha::sha256(verifier.as_bytes()));
    if hashed != challenge {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "PKCE"})),
        )
            .into_response();
    }
    Json(json!({"access_token": "at-1", "token_type": "Bearer", "expires_in": 300, "id_token": id_token})).into_response()
}
