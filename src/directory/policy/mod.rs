//! Per-organisation provisioning policies: what a deactivation, a deletion or a role means
//! for the app behind Gatehouse, which attributes a user must have, and how they are
//! checked. The directory applies them on every write, so SCIM, SAML and OIDC logins, the
//! console and the API all behave the same way.
//!
//! Settings live in [`PolicySettings`], flattened into the organisation's settings; each has
//! a `key=value` form for `gatehouse org set`, the console and the API ([`PolicyChange`]).

pub mod attributes;
pub mod check;
pub mod extension;
pub mod identity;
pub mod lifecycle;
pub mod paths;
pub mod phones;
pub mod required;
pub mod roles;
pub mod settings;

pub use settings::{
    ExtensionAttribute, OnDeactivate, OnDelete, PhoneFormat, PolicyChange, PolicySettings,
    POLICY_KEYS,
};

/// A write that a policy refuses, said in the words of SCIM (RFC 7644 §3.12): `mutability`
/// for a change to an attribute the organisation keeps fixed, `invalidValue` for a missing
/// or wrong value, `uniqueness` for a value another user has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Violation {
    pub kind: ViolationKind,
    /// The attribute at fault, as clients name it (`name.givenName`, `phoneNumbers`).
    pub attribute: String,
    /// A sentence a person can act on; it names the attribute.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViolationKind {
    Mutability,
    InvalidValue,
    Uniqueness,
}

impl ViolationKind {
    /// The SCIM `scimType` of the error.
    pub fn scim_type(self) -> &'static str {
        match self {
            Self::Mutability => "mutability",
            Self::InvalidValue => "invalidValue",
            Self::Uniqueness => "uniqueness",
        }
    }
}

impl Violation {
    pub fn new(kind: ViolationKind, attribute: &str, message: impl Into<String>) -> Self {
        Self {
            kind,
            attribute: attribute.into(),
            message: message.into(),
        }
    }

    pub fn invalid(attribute: &str, message: impl Into<String>) -> Self {
        Self::new(ViolationKind::InvalidValue, attribute, message)
    }
}
