//! Custom extension attributes: their declarations, and the values users carry for them.
//!
//! An organisation declares attributes under one schema URN (`extension_urn`). A user's
//! values for them live in [`Profile::extensions`] under that URN, as an object keyed by the
//! declared names. That holds for the standard enterprise URN too: there the six attributes
//! RFC 7643 §4.3 defines keep their typed place in [`Profile::enterprise`], the declared ones
//! sit beside them in `extensions`, and SCIM shows both in one object. So the organisation's
//! own values are always in one place, whatever URN it chose.

use serde_json::{Map, Value};

use super::settings::{ExtensionAttribute, PolicySettings};
use super::Violation;
use crate::directory::model::ParseError;
use crate::directory::orgs::Org;
use crate::directory::users::{Profile, UserData};

use crate::urn::ENTERPRISE_URN;

/// The attributes the enterprise extension defines. A declaration may not take one of these
/// names: under the enterprise URN each name must have one meaning, and an organisation that
/// wants one of them required says so in `required_attributes` instead.
pub const ENTERPRISE_NAMES: &[&str] = &[
    "employeeNumber",
    "costCenter",
    "organization",
    "division",
    "department",
    "manager",
];

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
        if let Some(taken) = ENTERPRISE_NAMES
            .iter()
            .chain(&["schemas"])
            .find(|n| n.eq_ignore_ascii_case(&a.name))
        {
            return Err(ParseError(format!(
                "extension attribute name {:?} is taken: {taken} is a standard attribute of the enterprise extension or of every resource",
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

/// The organisation's extension URN in its canonical spelling: the enterprise URN as RFC 7643
/// spells it whatever case the setting uses, any other URN as set.
pub fn urn(policy: &PolicySettings) -> &str {
    if policy.extension_urn.eq_ignore_ascii_case(ENTERPRISE_URN) {
        ENTERPRISE_URN
    } else {
        &policy.extension_urn
    }
}

/// The declaration of `name` (compared case-insensitively, RFC 7643 §2.1).
pub fn declared<'a>(policy: &'a PolicySettings, name: &str) -> Option<&'a ExtensionAttribute> {
    policy
        .extension_attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

/// A user's stored value of the declared attribute `name`, if it has one.
pub fn value<'a>(policy: &PolicySettings, profile: &'a Profile, name: &str) -> Option<&'a Value> {
    let decl = declared(policy, name)?;
    let values = profile
        .extensions
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(urn(policy)))?
        .1
        .as_object()?;
    values.get(&decl.name).filter(|v| !v.is_null())
}

/// Sets a user's value of the declared attribute `name`, for rules that fill one in (a
/// default role kept in an extension attribute); [`check_values`] checks it with the others.
/// False when the organisation declares no such attribute.
pub fn set_value(policy: &PolicySettings, profile: &mut Profile, name: &str, value: Value) -> bool {
    let Some(decl) = declared(policy, name) else {
        return false;
    };
    let slot = profile
        .extensions
        .entry(urn(policy).to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Some(values) = slot.as_object_mut() {
        values.insert(decl.name.clone(), value);
    }
    true
}

/// Checks the values of the organisation's custom attributes in a user about to be written,
/// and keeps them in their canonical form: each under its declared name, canonical values in
/// their declared spelling, `"true"`/`"false"` as booleans. Attributes the organisation has
/// not declared are ignored, as RFC 7644 §3.3 lets a server do with what it does not know,
/// and as it does with any other unknown attribute; `null` and `[]` mean no value.
pub fn check_values(org: &Org, data: &mut UserData) -> Result<(), Violation> {
    let policy = &org.settings.policy;
    let urn = urn(policy).to_string();
    let extensions = &mut data.profile.extensions;
    let sent: Vec<String> = extensions
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(&urn))
        .cloned()
        .collect();
    let mut kept = Map::new();
    for key in sent {
        let object = match extensions.remove(&key) {
            Some(Value::Object(o)) => o,
            Some(Value::Null) | None => continue,
            Some(other) => {
                return Err(Violation::invalid(
                    &urn,
                    format!(
                        "{urn} must be an object of attributes, not {}",
                        kind(&other)
                    ),
                ))
            }
        };
        for (name, value) in object {
            let Some(decl) = declared(policy, &name) else {
                continue;
            };
            let path = format!("{urn}:{}", decl.name);
            match check_value(&path, decl, value)? {
                Some(v) => kept.insert(decl.name.clone(), v),
                None => kept.remove(&decl.name),
            };
        }
    }
    for decl in policy.extension_attributes.iter().filter(|a| a.required) {
        if !kept.get(&decl.name).is_some_and(is_present) {
            let path = format!("{urn}:{}", decl.name);
            return Err(Violation::invalid(&path, format!("{path} is required")));
        }
    }
    if !kept.is_empty() {
        extensions.insert(urn, Value::Object(kept));
    }
    Ok(())
}

/// One attribute's value, checked; None when it holds no value.
fn check_value(
    path: &str,
    decl: &ExtensionAttribute,
    value: Value,
) -> Result<Option<Value>, Violation> {
    match (decl.multi_valued, value) {
        (_, Value::Null) => Ok(None),
        (true, Value::Array(items)) => {
            let items = items
                .into_iter()
                .filter(|v| !v.is_null())
                .map(|v| check_one(path, decl, v))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((!items.is_empty()).then_some(Value::Array(items)))
        }
        (true, other) => Err(Violation::invalid(
            path,
            format!(
                "{path} is multi-valued: it takes an array of {}, not {}",
                plural(&decl.kind),
                kind(&other)
            ),
        )),
        (false, Value::Array(_)) => Err(Violation::invalid(
            path,
            format!(
                "{path} is single-valued: it takes {}, not an array",
                expected(&decl.kind)
            ),
        )),
        (false, v) => check_one(path, decl, v).map(Some),
    }
}

/// One simple value: its type, then its canonical values.
fn check_one(path: &str, decl: &ExtensionAttribute, v: Value) -> Result<Value, Violation> {
    let ok = match (decl.kind.as_str(), &v) {
        ("boolean", Value::Bool(_)) => Some(v.clone()),
        // Entra sends booleans as "True" and "False", as it does for `active`.
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(Value::Bool(true)),
        ("boolean", Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Some(Value::Bool(false))
        }
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => Some(v.clone()),
        ("decimal", Value::Number(_)) => Some(v.clone()),
        ("dateTime", Value::String(s)) if is_date_time(s) => Some(v.clone()),
        ("reference", Value::String(s)) if !s.is_empty() && !s.contains(char::is_whitespace) => {
            Some(v.clone())
        }
        ("string", Value::String(_)) => Some(v.clone()),
        _ => None,
    };
    let Some(v) = ok else {
        return Err(Violation::invalid(
            path,
            format!("{path} must be {}, not {}", expected(&decl.kind), shown(&v)),
        ));
    };
    canonical(path, decl, v)
}

/// A value of an attribute with canonical values must be one of them: compared exactly when
/// the attribute is case-exact, else ignoring case and then kept in the declared spelling.
fn canonical(path: &str, decl: &ExtensionAttribute, v: Value) -> Result<Value, Violation> {
    if decl.canonical_values.is_empty() {
        return Ok(v);
    }
    let text = match &v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let found = decl.canonical_values.iter().find(|c| {
        if decl.case_exact {
            **c == text
        } else {
            c.to_lowercase() == text.to_lowercase()
        }
    });
    match (found, &v) {
        (Some(c), Value::String(_)) => Ok(Value::String(c.clone())),
        (Some(_), _) => Ok(v),
        (None, _) => Err(Violation::invalid(
            path,
            format!(
                "{path} must be one of {}, not {}",
                decl.canonical_values.join(", "),
                shown(&v)
            ),
        )),
    }
}

/// RFC 3339 date and time with an offset, as SCIM's dateTime is (RFC 7643 §2.3.5).
fn is_date_time(s: &str) -> bool {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

fn expected(kind: &str) -> &'static str {
    match kind {
        "boolean" => "true or false",
        "integer" => "an integer",
        "decimal" => "a number",
        "dateTime" => "a dateTime in RFC 3339 form (such as 2026-01-31T09:00:00Z)",
        "reference" => "a reference (a URI)",
        _ => "a string",
    }
}

fn plural(kind: &str) -> &'static str {
    match kind {
        "boolean" => "booleans",
        "integer" => "integers",
        "decimal" => "numbers",
        "dateTime" => "dateTimes",
        "reference" => "references",
        _ => "strings",
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A value as an error message shows it: strings quoted, others by their kind.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decl(name: &str, kind: &str) -> ExtensionAttribute {
        ExtensionAttribute {
            name: name.into(),
            kind: kind.into(),
            multi_valued: false,
            required: false,
            canonical_values: vec![],
            case_exact: false,
        }
    }

    fn check(d: &ExtensionAttribute, v: Value) -> Result<Option<Value>, Violation> {
        check_value("urn:x:User:a", d, v)
    }

    #[test]
    fn types_are_checked_and_named() {
        assert_eq!(
            check(&decl("a", "string"), json!("x")).unwrap(),
            Some(json!("x"))
        );
        let e = check(&decl("a", "string"), json!(5)).unwrap_err();
        assert_eq!(e.attribute, "urn:x:User:a");
        assert_eq!(e.message, "urn:x:User:a must be a string, not 5");
        assert_eq!(
            check(&decl("a", "boolean"), json!("False")).unwrap(),
            Some(json!(false))
        );
        assert!(check(&decl("a", "boolean"), json!("yes")).is_err());
        assert!(check(&decl("a", "integer"), json!(1.5)).is_err());
        assert!(check(&decl("a", "integer"), json!("7")).is_err());
        assert!(check(&decl("a", "integer"), json!(-7)).is_ok());
        assert!(check(&decl("a", "decimal"), json!(1.5)).is_ok());
        assert!(check(&decl("a", "dateTime"), json!("2026-01-31T09:00:00Z")).is_ok());
        assert!(check(&decl("a", "dateTime"), json!("2026-01-31T09:00:00.5+02:00")).is_ok());
        assert!(check(&decl("a", "dateTime"), json!("2026-01-31")).is_err());
        assert!(check(&decl("a", "dateTime"), json!("2026-02-30T09:00:00Z")).is_err());
        assert!(check(&decl("a", "reference"), json!("https://x.test/a")).is_ok());
        assert!(check(&decl("a", "reference"), json!("not a uri")).is_err());
        assert_eq!(check(&decl("a", "string"), json!(null)).unwrap(), None);
    }

    #[test]
    fn multi_valued_takes_arrays_and_single_valued_does_not() {
        let mut d = decl("a", "string");
        assert!(check(&d, json!(["x"]))
            .unwrap_err()
            .message
            .contains("single-valued"));
        d.multi_valued = true;
        assert_eq!(
            check(&d, json!(["x", "y"])).unwrap(),
            Some(json!(["x", "y"]))
        );
        assert_eq!(check(&d, json!([])).unwrap(), None);
        assert!(check(&d, json!("x"))
            .unwrap_err()
            .message
            .contains("multi-valued"));
        assert!(check(&d, json!(["x", 1])).is_err());
    }

    #[test]
    fn canonical_values_ignore_case_unless_case_exact_and_keep_the_declared_spelling() {
        let mut d = decl("a", "string");
        d.canonical_values = vec!["admin".into(), "curator".into()];
        assert_eq!(check(&d, json!("ADMIN")).unwrap(), Some(json!("admin")));
        let e = check(&d, json!("boss")).unwrap_err();
        assert_eq!(
            e.message,
            "urn:x:User:a must be one of admin, curator, not \"boss\""
        );
        d.case_exact = true;
        assert!(check(&d, json!("ADMIN")).is_err());
        assert!(check(&d, json!("admin")).is_ok());
    }

    fn org(attrs: Vec<ExtensionAttribute>) -> Org {
        let mut settings = crate::directory::orgs::OrgSettings::default();
        settings.policy.extension_urn = ENTERPRISE_URN.to_lowercase();
        settings.policy.extension_attributes = attrs;
        Org {
            id: crate::directory::OrgId::new(),
            slug: crate::directory::OrgSlug::parse("klue").unwrap(),
            name: "Klue".into(),
            domains: vec![],
            settings,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn values_are_kept_under_the_canonical_urn_and_declared_names() {
        let mut role = decl("klueRole", "string");
        role.canonical_values = vec!["admin".into()];
        let mut id = decl("employeeId", "string");
        id.required = true;
        let org = org(vec![role, id]);
        let mut data = UserData {
            user_name: crate::directory::UserName::parse("a").unwrap(),
            external_id: None,
            active: true,
            profile: Profile::default(),
        };
        let e = check_values(&org, &mut data).unwrap_err();
        assert_eq!(e.attribute, format!("{ENTERPRISE_URN}:employeeId"));
        assert_eq!(
            e.message,
            format!("{ENTERPRISE_URN}:employeeId is required")
        );
        data.profile.extensions.insert(
            ENTERPRISE_URN.to_uppercase(),
            json!({"KLUEROLE": "Admin", "employeeid": "E-1", "other": 1}),
        );
        check_values(&org, &mut data).unwrap();
        assert_eq!(
            data.profile.extensions,
            [(
                ENTERPRISE_URN.to_string(),
                json!({"klueRole": "admin", "employeeId": "E-1"})
            )]
            .into()
        );
        let policy = &org.settings.policy;
        assert_eq!(
            value(policy, &data.profile, "klueROLE"),
            Some(&json!("admin"))
        );
        assert!(set_value(
            policy,
            &mut data.profile,
            "klueRole",
            json!("boss")
        ));
        assert!(!set_value(policy, &mut data.profile, "nothing", json!(1)));
        assert!(check_values(&org, &mut data).is_err());
    }

    #[test]
    fn declarations_may_not_take_enterprise_names() {
        assert!(check_declarations(&[decl("Department", "string")]).is_err());
        assert!(check_declarations(&[decl("schemas", "string")]).is_err());
        assert!(check_declarations(&[decl("klueRole", "string")]).is_ok());
    }
}
