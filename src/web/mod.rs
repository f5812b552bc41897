//! End-user and operator endpoints outside the protocol doors.

pub mod bad_path;
pub mod client_ip;
pub mod credentials;
pub mod db_deadline;
pub mod forward_auth;
pub mod health;
pub mod login;
pub mod me;
pub mod pages;
pub mod request_limits;
pub mod session_token;
