//! Filter evaluation (RFC 7644 §3.4.2.2) against resources in SCIM JSON form.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::{AttrPath, CompareOp, Filter};
use crate::scim::attrs::{self, get_ci, AttrInfo, AttrLookup, AttrType};

/// Whether `resource` satisfies `filter`.
pub fn matches(filter: &Filter, resource: &Value, attrs: &dyn AttrLookup) -> bool {
    eval(filter, &Scope::Resource(resource), attrs)
}

/// Whether one element of the multi-valued attribute `parent` satisfies a value filter (the
/// part between '[' and ']').
pub fn matches_element(
    filter: &Filter,
    element: &Value,
    parent: &AttrInfo,
    attrs: &dyn AttrLookup,
) -> bool {
    eval(filter, &Scope::Element(element, Some(parent)), attrs)
}

enum Scope<'a> {
    Resource(&'a Value),
    Element(&'a Value, Option<&'a AttrInfo>),
}

fn eval(filter: &Filter, scope: &Scope<'_>, attrs: &dyn AttrLookup) -> bool {
    match filter {
        Filter::And(a, b) => eval(a, scope, attrs) && eval(b, scope, attrs),
        Filter::Or(a, b) => eval(a, scope, attrs) || eval(b, scope, attrs),
        Filter::Not(inner) => !eval(inner, scope, attrs),
        Filter::Present(path) => {
            let (value, _) = resolve(path, scope, attrs);
            match &path.sub {
                None => value.is_some_and(is_present),
                Some(sub) => sub_values(value, sub).into_iter().any(is_present),
            }
        }
        Filter::Compare(path, op, expected) => compare(path, *op, expected, scope, attrs),
        Filter::ValuePath(path, inner) => {
            let Scope::Resource(_) = scope else {
                return false;
            };
            let (value, info) = resolve(path, scope, attrs);
            let Some(value) = value else { return false };
            let elements: Vec<&Value> = match value {
                Value::Array(items) => items.iter().collect(),
                Value::Object(_) => vec![value],
                _ => return false,
            };
            elements
                .into_iter()
                .any(|e| eval(inner, &Scope::Element(e, info.as_ref()), attrs))
        }
    }
}

/// The value of the path's attribute (before any sub-attribute) and its metadata.
fn resolve<'v>(
    path: &AttrPath,
    scope: &Scope<'v>,
    attrs: &dyn AttrLookup,
) -> (Option<&'v Value>, Option<AttrInfo>) {
    match scope {
        Scope::Resource(resource) => match attrs.attr(path.urn.as_deref(), &path.name) {
            Some(info) => (attrs::lookup(resource, &info), Some(info)),
            None => {
                let Some(root) = resource.as_object() else {
                    return (None, None);
                };
                let core = attrs.schema_urns().into_iter().next();
                let holder = match &path.urn {
                    Some(urn) if !core.is_some_and(|c| c.eq_ignore_ascii_case(urn)) => {
                        get_ci(root, urn).and_then(Value::as_object)
                    }
                    _ => Some(root),
                };
                (holder.and_then(|m| get_ci(m, &path.name)), None)
            }
        },
        Scope::Element(element, parent) => {
            let info = parent.and_then(|p| attrs.sub_attr(p, &path.name));
            let value = element.as_object().and_then(|m| get_ci(m, &path.name));
            (value, info)
        }
    }
}

/// `sub` of the value, or of each element when the value is an array.
fn sub_values<'v>(value: Option<&'v Value>, sub: &str) -> Vec<&'v Value> {
    let field = |v: &'v Value| {
        v.as_object()
            .and_then(|m: &'v Map<String, Value>| get_ci(m, sub))
    };
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(field).collect(),
        Some(v) => field(v).into_iter().collect(),
        None => Vec::new(),
    }
}

/// RFC 7644 §3.4.2.2 "pr": present and not null, not "", not [] and not {}.
fn is_present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(m) => !m.is_empty(),
        _ => true,
    }
}

fn compare(
    path: &AttrPath,
    op: CompareOp,
    expected: &Value,
    scope: &Scope<'_>,
    attrs: &dyn AttrLookup,
) -> bool {
    let (value, info) = resolve(path, scope, attrs);
    // Candidates are the simple values compared; `leaf` describes them.
    let (candidates, leaf): (Vec<&Value>, Option<AttrInfo>) = match &path.sub {
        Some(sub) => (
            sub_values(value, sub),
            info.as_ref().and_then(|i| attrs.sub_attr(i, sub)),
        ),
        None => {
            let complex = info.as_ref().is_some_and(|i| i.ty == AttrType::Complex)
                || value.is_some_and(|v| {
                    v.is_object() || v.as_array().is_some_and(|a| a.iter().any(Value::is_object))
                });
            if complex {
                // A complex attribute compared directly stands for its "value" sub-attribute
                // (RFC 7644 §3.4.2.2 "emails co ..."; Entra's `manager eq "..."`); one
                // without a "value" never matches.
                let leaf = info.as_ref().and_then(|i| attrs.sub_attr(i, "value"));
                (sub_values(value, "value"), leaf)
            } else {
                (value.into_iter().collect(), info)
            }
        }
    };
    let mut flat = Vec::new();
    for c in candidates {
        match c {
            Value::Array(items) => flat.extend(items.iter()),
            other => flat.push(other),
        }
    }
    if expected.is_null() {
        let present = flat.into_iter().any(is_present);
        return match op {
            CompareOp::Eq => !present,
            CompareOp::Ne => present,
            _ => false,
        };
    }
    let leaf = leaf.as_ref();
    match op {
        CompareOp::Ne => !flat
            .iter()
            .any(|c| compare_one(c, CompareOp::Eq, expected, leaf)),
        _ => flat.iter().any(|c| compare_one(c, op, expected, leaf)),
    }
}

fn compare_one(actual: &Value, op: CompareOp, expected: &Value, info: Option<&AttrInfo>) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(b)) => compare_strings(a, op, b, info),
        (Value::Number(a), Value::Number(b)) => {
            let ord = match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => Some(x.cmp(&y)),
                _ => a
                    .as_f64()
                    .zip(b.as_f64())
                    .and_then(|(x, y)| x.partial_cmp(&y)),
            };
            ord.is_some_and(|o| ordering_holds(o, op))
        }
        // RFC 7644 §3.4.2.2: gt/ge/lt/le on booleans are errors; they never match.
        (Value::Bool(a), Value::Bool(b)) => op == CompareOp::Eq && a == b,
        _ => false,
    }
}

fn ordering_holds(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn compare_strings(a: &str, op: CompareOp, b: &str, info: Option<&AttrInfo>) -> bool {
    if info.is_some_and(|i| i.ty == AttrType::Binary)
        && !matches!(op, CompareOp::Eq | CompareOp::Ne)
    {
        return false;
    }
    let datetime = info.is_none_or(|i| i.ty == AttrType::DateTime);
    if datetime && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        if let (Some(x), Some(y)) = (parse_datetime(a), parse_datetime(b)) {
            return ordering_holds(x.cmp(&y), op);
        }
    }
    let case_exact = info.is_some_and(|i| i.case_exact);
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordering_holds(a.cmp(&b), op),
    }
}

/// RFC 3339 / xsd:dateTime as (seconds since 1970 in UTC, nanoseconds). A missing offset is
/// read as UTC.
fn parse_datetime(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let digits = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 2)?, digits(8, 2)?);
    let (hour, minute, second) = (digits(11, 2)?, digits(14, 2)?, digits(17, 2)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() && b[i + 3] == b':' => {
            let minutes = digits(i + 1, 2)? * 60 + digits(i + 4, 2)?;
            if *sign == b'+' {
                minutes * 60
            } else {
                -minutes * 60
            }
        }
        _ => return None,
    };
    // Days from 1970-01-01 (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some((secs, nanos))
}
