//! End-user and operator endpoints outside the protocol doors.

pub mod client_ip;
pub mod forward_auth;
pub mod health;
pub mod login;
pub mod me;
pub mod pages;
