//! Webhooks (DESIGN.md, Change feed): each organisation's changes pushed, in `seq` order,
//! to the endpoints it registers, signed as Standard Webhooks asks.
//!
//! - [`endpoints`]: registering, changing, rotating and testing an endpoint;
//! - [`worker`]: the delivery loop, on one instance at a time;
//! - [`delivery`]: one signed POST;
//! - [`signature`]: the signing scheme;
//! - [`metrics`]: the feed's and the deliveries' figures.

pub mod delivery;
pub mod endpoints;
pub mod metrics;
pub mod signature;
pub mod worker;
