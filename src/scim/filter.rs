//! SCIM filters (RFC 7644 §3.4.2.2): the grammar is [`crate::grammar`]'s, shared with PATCH
//! paths and the policies' attribute paths; evaluating a filter against a resource, with its
//! schema's types and case rules, is here.

pub use crate::grammar::*;

mod eval;

pub use eval::{matches, matches_element};

#[cfg(test)]
mod tests;
