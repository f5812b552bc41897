//! Building and running the server. [`Application::build`] binds the listener before it
//! returns, so a caller (a test) can ask for port 0 and learn the port; tests run exactly the
//! code path that production runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::directory::Directory;
use crate::state::AppState;
use crate::{admin, metrics, scim, sso, web};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects to the database, applies migrations, binds `server.listen`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        Self::with_listener(config, listener, Arc::new(SystemClock)).await
    }

    /// Like [`Application::build`] on a listener the caller bound, with the caller's clock.
    pub async fn with_listener(
        config: Config,
        listener: TcpListener,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database).await?;
        db.migrate().await?;
        let secrets = crate::secrets::SecretBox::load(&config.secrets)?;
        let proxies = web::client_ip::TrustedProxies::parse(&config.server.trusted_proxies)
            .map_err(anyhow::Error::msg)?;
        let state = AppState::new(
            Directory::new(db, clock),
            Arc::new(config),
            secrets,
            proxies,
        );
        Ok(Self {
            listener,
            router: router(state.clone()),
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGTERM or Ctrl-C, then lets in-flight requests finish for up to
    /// `server.shutdown_grace_seconds`.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let grace = Duration::from_secs(self.state.config.server.shutdown_grace_seconds);
        crate::session::spawn_sweeper(
            self.state.directory.clone(),
            crate::session::lifetimes(&self.state.config),
            Duration::from_secs(600),
        );
        crate::directory::changes::spawn_pruner(
            self.state.directory.clone(),
            self.state.config.changes.retention_days,
            Duration::from_secs(3600),
        );
        crate::admin::console::spawn_sweeper(
            self.state.directory.clone(),
            &self.state.config,
            Duration::from_secs(600),
        );
        let refresh = self.state.config.saml.metadata_refresh_minutes;
        if refresh > 0 {
            sso::saml::refresh::spawn(
                self.state.directory.clone(),
                self.state.outbound.clone(),
                Duration::from_secs(refresh * 60),
                self.state.config.saml.certificate_overlap_ms(),
            );
        }
        let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
        crate::webhooks::worker::spawn(self.state.clone(), stopping.clone());
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stopping_tx.send(true);
        });
        let deadline = async move {
            let _ = stopping.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = serve => result.context("serving")?,
            _ = deadline => tracing::warn!("requests still open after {grace:?}: stopping anyway"),
        }
        self.state.directory.db().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    let max_body = state.config.server.max_body_bytes;
    Router::new()
        .route("/healthz", get(web::health::healthz))
        .route("/readyz", get(web::health::readyz))
        .route("/metrics", get(web::health::metrics))
        .route("/login", get(web::login::show).post(web::login::submit))
        .route("/me", get(web::me::show))
        .route("/logout", post(web::me::logout))
        .route("/auth/check", get(web::forward_auth::check))
        .route("/.well-known/jwks.json", get(web::session_token::jwks))
        .route("/saml/{org}/metadata", get(sso::saml::sp_metadata))
        .route("/saml/{org}/login", get(sso::saml::login))
        .route("/saml/{org}/acs", post(sso::saml::acs))
        .route("/oidc/{org}/login", get(sso::oidc::login))
        .route("/oidc/{org}/callback", get(sso::oidc::callback))
        .merge(scim::routes::router())
        .merge(admin::router())
        .merge(crate::api::router())
        .fallback(web::pages::not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(
            // Outermost first: the id is set before the span that logs it is made.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!("request", id = %id, method = %req.method(), path = %logged_path(req.uri().path()))
                }).on_response(DefaultOnResponse::new().level(tracing::Level::INFO)))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                // Inside the request id and the log span, outside everything that can fail:
                // what it rewrites has already been logged with its request id.
                // A path that names nothing (invalid UTF-8) is answered before anything else.
                .layer(axum::middleware::from_fn(web::bad_path::guard))
                .layer(axum::middleware::from_fn_with_state(state.clone(), web::request_limits::guard))
                .layer(axum::middleware::from_fn_with_state(state.clone(), scim::routes::scim_guard))
                .layer(axum::middleware::from_fn(error_shapes))
                .layer(axum::middleware::from_fn_with_state(state.clone(), web::db_deadline::guard))
                .layer(CatchPanicLayer::new())
                .layer(RequestBodyLimitLayer::new(max_body)),
        )
        .with_state(state)
}

/// A request's path as the access log writes it: a setup link's secret (its last
/// segment) never reaches a log line.
pub fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/admin/setup/") {
        Some(secret) if !secret.is_empty() => "/admin/setup/[secret]".into(),
        _ => path.into(),
    }
}

/// What the outer layers answer themselves (a body over the limit, a caught panic) in the
/// format of the path: a page under /admin, JSON under /api/v1. SCIM has its own guard.
async fn error_shapes(
    request: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let path = request.uri().path();
    let api = path == "/api/v1" || path.starts_with("/api/v1/");
    let console = path == "/admin" || path.starts_with("/admin/");
    let method = request.method().clone();
    let response = next.run(request).await;
    if api {
        crate::api::error::as_json_error(&method, response)
    } else if console {
        admin::as_page(response)
    } else {
        response
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

#[cfg(test)]
mod log_tests {
    use super::logged_path;

    #[test]
    fn a_setup_links_secret_never_reaches_the_access_log() {
        assert_eq!(
            logged_path("/admin/setup/gsl_SECRETsecret"),
            "/admin/setup/[secret]"
        );
        assert_eq!(logged_path("/admin/setup"), "/admin/setup");
        assert_eq!(logged_path("/scim/v2/acme/Users"), "/scim/v2/acme/Users");
    }
}
