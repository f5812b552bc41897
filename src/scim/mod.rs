//! SCIM 2.0 service provider (RFC 7643, RFC 7644): the provisioning door. Wire format only:
//! every change goes through the directory.

pub mod attrs;
pub mod audit;
pub mod auth;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod groups;
pub mod json;
pub mod list;
pub mod lookup;
pub mod org_schema;
pub mod patch;
pub mod precondition;
pub mod projection;
pub mod rate_limit;
pub mod received;
pub mod routes;
pub mod schema;
pub mod search;
pub mod users;
