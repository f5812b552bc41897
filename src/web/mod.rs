//! End-user and operator endpoints outside the protocol doors.

pub mod health;
