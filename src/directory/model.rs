//! The directory's value types. Each is parsed once at the edge and cannot hold a bad value
//! afterwards, so the store never has to check again.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                // v7 ids sort by creation time, which keeps index inserts local.
                Self(Uuid::now_v7())
            }

            pub fn parse(s: &str) -> Option<Self> {
                Uuid::parse_str(s).ok().map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

id_type!(
    /// An organisation's server-assigned id.
    OrgId
);
id_type!(
    /// A user's server-assigned, immutable id (the SCIM `id`).
    UserId
);
id_type!(
    /// A group's server-assigned, immutable id.
    GroupId
);
id_type!(
    /// A SCIM token's id: public, unlike its secret.
    TokenId
);
id_type!(
    /// A platform admin's id.
    AdminId
);
id_type!(
    /// A webhook endpoint's id.
    WebhookId
);

/// Why a value was refused; the message names the value and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// An organisation's URL name: 1 to 63 lowercase letters, digits and `-`, starting and
/// ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(ParseError(format!(
                "{s:?} is not a valid organisation slug: use 1 to 63 lowercase letters, \
                 digits and '-', starting and ending with a letter or digit"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for OrgSlug {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<OrgSlug> for String {
    fn from(s: OrgSlug) -> String {
        s.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email domain (`example.com`), lowercased: at least two labels of letters, digits and
/// `-`, none starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let lower = s.trim().trim_end_matches('.').to_ascii_lowercase();
        let labels: Vec<&str> = lower.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if lower.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) {
            Ok(Self(lower))
        } else {
            Err(ParseError(format!(
                "{s:?} is not a valid email domain (expected something like example.com)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Domain {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> String {
        d.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A user name as the IdP sent it. Kept exactly; compared through [`UserName::key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        if s.trim().is_empty() {
            return Err(ParseError("userName must not be empty".into()));
        }
        if s.len() > 1024 {
            return Err(ParseError("userName is longer than 1024 bytes".into()));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key (RFC 7643 §4.1.1: userName has caseExact false).
    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

impl TryFrom<String> for UserName {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<UserName> for String {
    fn from(u: UserName) -> String {
        u.0
    }
}

/// An email address, loosely checked: IdPs send what they have, so only the shape
/// `local@domain` without spaces is required here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let s = s.trim();
        match s.rsplit_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !s.chars().any(char::is_whitespace) =>
            {
                Ok(Self(s.to_string()))
            }
            _ => Err(ParseError(format!("{s:?} is not an email address"))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn key(&self) -> String {
        fold_case(&self.0)
    }
}

impl TryFrom<String> for Email {
    type Error = ParseError;
    fn try_from(s: String) -> Result<Self, ParseError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// The one case folding used for every case-insensitive key, computed in Rust so that
/// SQLite and PostgreSQL compare the same strings.
pub fn fold_case(s: &str) -> String {
    s.to_lowercase()
}

/// A LIKE pattern (with `escape '\'`) matching values that contain `text`: its `%`, `_`
/// and `\` escaped.
pub(crate) fn like_contains(text: &str) -> String {
    let mut out = String::from("%");
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["acme", "a", "acme-2", "9lives"] {
            assert!(OrgSlug::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Acme",
            "-acme",
            "acme-",
            "ac me",
            "acmé",
            &"a".repeat(64),
        ] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn domains_are_lowercased_and_checked() {
        assert_eq!(Domain::parse("Acme.TEST.").unwrap().as_str(), "acme.test");
        for bad in ["acme", "-a.test", "a..test", "a b.test", "a@b.test", ""] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_names_keep_their_case_and_fold_for_keys() {
        let u = UserName::parse("Ärne.Smith@Example.com").unwrap();
        assert_eq!(u.as_str(), "Ärne.Smith@Example.com");
        assert_eq!(u.key(), "ärne.smith@example.com");
        assert!(UserName::parse("   ").is_err());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("a@b").is_ok());
        assert!(Email::parse("not-an-email").is_err());
        assert!(Email::parse("a b@c.d").is_err());
        assert_eq!(Email::parse("A@B.C").unwrap().key(), "a@b.c");
    }

    #[test]
    fn ids_round_trip() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Some(id));
        assert_eq!(UserId::parse("nope"), None);
    }
}
