//! The admin console (`/admin`, server-rendered pages) and the JSON admin API (`/api/v1`).
//! Both call the directory; neither writes SQL of its own.
//!
//! Who may do what:
//! - a platform admin (email and password) sees every organisation;
//! - a customer admin (a user of the organisation, named admin or in its `admin_group`,
//!   signed in through its own SSO) sees its own organisation only;
//! - a setup link opens one organisation's connections and tokens, nothing else.

pub mod api_keys;
pub mod assets;
pub mod console;
pub mod login;
pub mod ops;
pub mod orgs;

use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(login::home))
        .route("/admin/", get(login::home))
        .route("/admin/assets/console.css", get(assets::css))
        .route("/admin/assets/console.js", get(assets::js))
        .route("/admin/login", get(login::show).post(login::submit))
        .route("/admin/login/sso", post(login::sso_start))
        .route("/admin/sso", get(login::sso_finish))
        .route("/admin/logout", post(login::logout))
        .route(
            "/admin/first-admin",
            get(login::first_admin_form).post(login::first_admin_submit),
        )
        .route("/admin/setup", post(login::setup_link_use))
        .route("/admin/setup/{token}", get(login::setup_link_show))
        .route("/admin/orgs", get(orgs::list).post(orgs::create))
        .route(
            "/admin/api-keys",
            get(api_keys::platform_page).post(api_keys::platform_create),
        )
        .route("/admin/api-keys/{id}/revoke", post(api_keys::revoke))
        .route(
            "/admin/orgs/{slug}/api-keys",
            get(api_keys::org_page).post(api_keys::org_create),
        )
}
