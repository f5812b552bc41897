//! Integration tests: the real server on a real database (a SQLite file per test, or a fresh
//! PostgreSQL database per test when GATEHOUSE_TEST_DATABASE_URL names a server).

mod admin_api;
mod admin_api_connections;
mod admin_api_users;
mod api_helpers;
mod cli;
mod console_api_keys;
mod console_auth;
mod console_browser;
mod console_events;
mod console_helpers;
mod console_settings;
mod console_setup;
mod console_users;
mod deactivation;
mod directory;
mod events;
mod forward_auth_nginx;
mod helpers;
mod http_basics;
mod migrations;
mod oidc;
mod oidc_op;
mod policy_extension;
mod saml;
mod saml_idp;
mod scim_auth;
mod scim_discovery;
mod scim_errors;
mod scim_groups;
mod scim_helpers;
mod scim_lists;
mod scim_patch;
mod scim_users;
mod sessions;
mod tokens;
