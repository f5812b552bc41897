//! Webhooks (DESIGN.md, Change feed): each organisation's changes pushed, in `seq` order,
//! to the endpoints it registers, signed as Standard Webhooks asks.

pub mod signature;
