//! RFC 7644 §3.5.2 PATCH: request parsing and application to a resource in SCIM JSON form,
//! including the shapes Okta and Entra ID send that the RFC does not describe (no-path values
//! with dotted or URN keys, string booleans, one-element arrays for `manager`, `remove` with a
//! list of members).

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::scim::attrs::{self, extension_urn, get_ci, AttrInfo, AttrLookup, AttrType, Mutability};
use crate::scim::filter::{self, AttrPath, Filter};

use crate::urn::PATCH_URN;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// "nickName", "name.givenName", "urn:…:User:employeeNumber"
    Attr(AttrPath),
    /// "emails[type eq \"work\"].value", "members[value eq \"id\"]"
    Filtered {
        attr: AttrPath,
        filter: Filter,
        sub: Option<String>,
    },
    /// The whole extension object: a path equal to an extension URN.
    Extension(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{detail}")]
pub struct PatchError {
    /// RFC 7644 §3.12: invalidSyntax | invalidPath | noTarget | invalidValue | mutability
    pub scim_type: &'static str,
    pub detail: String,
}

/// Net effect of a PATCH on a Group's membership: ids (member "value"s) that were not members
/// before and are now, ids that were and no longer are, and whether an operation replaced the
/// whole list.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Changes {
    pub members_added: Vec<String>,
    pub members_removed: Vec<String>,
    pub members_replaced: bool,
}

impl PatchError {
    fn new(scim_type: &'static str, detail: impl Into<String>) -> Self {
        PatchError {
            scim_type,
            detail: detail.into(),
        }
    }

    fn prefixed(self, prefix: impl fmt::Display) -> Self {
        PatchError {
            detail: format!("{prefix}: {}", self.detail),
            ..self
        }
    }
}

fn syntax(detail: impl Into<String>) -> PatchError {
    PatchError::new("invalidSyntax", detail)
}
fn invalid_path(detail: impl Into<String>) -> PatchError {
    PatchError::new("invalidPath", detail)
}
fn no_target(detail: impl Into<String>) -> PatchError {
    PatchError::new("noTarget", detail)
}
fn invalid_value(detail: impl Into<String>) -> PatchError {
    PatchError::new("invalidValue", detail)
}
fn mutability(detail: impl Into<String>) -> PatchError {
    PatchError::new("mutability", detail)
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchPath::Attr(path) => write!(f, "{path}"),
            PatchPath::Filtered { attr, filter, sub } => {
                write!(f, "{attr}[{filter}]")?;
                match sub {
                    Some(sub) => write!(f, ".{sub}"),
                    None => Ok(()),
                }
            }
            PatchPath::Extension(urn) => f.write_str(urn),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parses a PatchOp request body (RFC 7644 §3.5.2) and checks every path against the schema.
pub fn parse_patch(
    body: &Value,
    attrs: &dyn AttrLookup,
) -> Result<Vec<PatchOperation>, PatchError> {
    let obj = body
        .as_object()
        .ok_or_else(|| syntax("the PATCH body must be a JSON object"))?;
    // Some clients leave `schemas` out; accept that, but not a body that claims to be
    // something other than a PatchOp.
    if let Some(schemas) = get_ci(obj, "schemas") {
        let names = schemas
            .as_array()
            .filter(|list| list.iter().all(Value::is_string))
            .ok_or_else(|| syntax("\"schemas\" must be an array of strings"))?;
        let is_patch = names.iter().any(|n| {
            n.as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case(PATCH_URN))
        });
        if !names.is_empty() && !is_patch {
            return Err(syntax(format!("\"schemas\" must contain \"{PATCH_URN}\"")));
        }
    }
    let ops = get_ci(obj, "Operations")
        .ok_or_else(|| syntax("the PATCH body has no \"Operations\""))?
        .as_array()
        .filter(|ops| !ops.is_empty())
        .ok_or_else(|| syntax("\"Operations\" must be a non-empty array"))?;
    ops.iter()
        .enumerate()
        .map(|(i, raw)| {
            parse_operation(raw, attrs).map_err(|e| e.prefixed(format_args!("Operations[{i}]")))
        })
        .collect()
}

fn parse_operation(raw: &Value, attrs: &dyn AttrLookup) -> Result<PatchOperation, PatchError> {
    let obj = raw
        .as_object()
        .ok_or_else(|| syntax("an operation must be a JSON object"))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| syntax("\"op\" is missing or not a string"))?;
    let op = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        _ => {
            return Err(syntax(format!(
                "unknown op \"{name}\": expected add, remove or replace"
            )))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_patch_path(s, attrs)?),
        Some(_) => return Err(syntax("\"path\" must be a string")),
    };
    let value = get_ci(obj, "value").cloned();
    if op != OpKind::Remove {
        match (&value, &path) {
            (None, _) => return Err(syntax(format!("\"value\" is required for {name}"))),
            (Some(v), None) if !v.is_object() => {
                return Err(invalid_value(
                    "without a path, \"value\" must be an object of attributes",
                ))
            }
            _ => {}
        }
    }
    Ok(PatchOperation { op, path, value })
}

/// Parses a PATCH `path` and checks that it names a known attribute.
pub fn parse_patch_path(input: &str, attrs: &dyn AttrLookup) -> Result<PatchPath, PatchError> {
    let input = input.trim();
    let not_valid = |reason: &dyn fmt::Display| format!("path \"{input}\" is not valid: {reason}");
    if let Some(urn) = extension_urn(attrs, input) {
        return Ok(PatchPath::Extension(urn));
    }
    let (attr, filter, sub) =
        filter::parse_value_path(input).map_err(|e| invalid_path(not_valid(&e)))?;
    let path = match filter {
        None => PatchPath::Attr(attr),
        Some(filter) => PatchPath::Filtered { attr, filter, sub },
    };
    let resolved = match &path {
        PatchPath::Attr(attr) => resolve(attr, None, attrs),
        PatchPath::Filtered { attr, sub, .. } => resolve_filtered(attr, sub.as_deref(), attrs),
        PatchPath::Extension(_) => return Ok(path),
    };
    resolved.map_err(|e| PatchError::new(e.scim_type, not_valid(&e.detail)))?;
    Ok(path)
}

// ---------------------------------------------------------------------------------------------
// Targets and values

/// A path resolved against the schema.
struct Target {
    attr: AttrInfo,
    sub: Option<SubTarget>,
    label: String,
}

struct SubTarget {
    /// Canonical spelling when declared, else as written.
    name: String,
    /// None for undeclared sub-attributes of multi-valued complex attributes.
    info: Option<AttrInfo>,
}

fn resolve(
    path: &AttrPath,
    sub: Option<&str>,
    attrs: &dyn AttrLookup,
) -> Result<Target, PatchError> {
    let attr = attrs
        .attr(path.urn.as_deref(), &path.name)
        .ok_or_else(|| invalid_path(format!("unknown attribute \"{path}\"")))?;
    let sub = match path.sub.as_deref().or(sub) {
        None => None,
        Some(name) if attr.ty != AttrType::Complex => {
            return Err(invalid_path(format!(
                "\"{}\" has no sub-attribute \"{name}\"",
                attr.name
            )))
        }
        Some(name) => match attrs.sub_attr(&attr, name) {
            Some(info) => Some(SubTarget {
                name: info.name.clone(),
                info: Some(info),
            }),
            None if attr.multi_valued => Some(SubTarget {
                name: name.to_owned(),
                info: None,
            }),
            None => {
                return Err(invalid_path(format!(
                    "unknown attribute \"{}.{name}\"",
                    attr.name
                )))
            }
        },
    };
    // Extension attributes are named with their URN, as clients address them.
    let name = match attr.core {
        true => attr.name.clone(),
        false => format!("{}:{}", attr.schema, attr.name),
    };
    let label = match &sub {
        Some(s) => format!("{name}.{}", s.name),
        None => name,
    };
    Ok(Target { attr, sub, label })
}

fn resolve_filtered(
    attr: &AttrPath,
    sub: Option<&str>,
    attrs: &dyn AttrLookup,
) -> Result<Target, PatchError> {
    let target = resolve(attr, sub, attrs)?;
    if !target.attr.multi_valued {
        return Err(invalid_path(format!(
            "a value filter needs a multi-valued attribute; \"{}\" is single-valued",
            target.attr.name
        )));
    }
    Ok(target)
}

fn is_read_only(t: &Target) -> bool {
    t.attr.mutability == Mutability::ReadOnly
        || t.sub
            .as_ref()
            .and_then(|s| s.info.as_ref())
            .is_some_and(|i| i.mutability == Mutability::ReadOnly)
}

/// Explicit paths to readOnly attributes are refused (RFC 7644 §3.5.2).
fn check_explicit(t: &Target) -> Result<(), PatchError> {
    if is_read_only(t) {
        return Err(mutability(format!(
            "attribute \"{}\" is read-only",
            t.label
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Application

/// Applies the operations in order (RFC 7644 §3.5.2). On error the resource may hold the
/// operations before the failing one, so the caller must discard it; the failing operation
/// itself leaves nothing half-written.
pub fn apply(
    resource: &mut Value,
    ops: &[PatchOperation],
    attrs: &dyn AttrLookup,
) -> Result<Changes, PatchError> {
    if !resource.is_object() {
        return Err(invalid_value("the resource is not a JSON object"));
    }
    let members = attrs.attr(None, "members").filter(is_members);
    let before = members
        .as_ref()
        .map(|info| member_ids(resource, info))
        .unwrap_or_default();
    let mut replaced = false;
    for (i, op) in ops.iter().enumerate() {
        apply_op(resource, op, attrs, &mut replaced).map_err(|e| match &op.path {
            Some(path) => e.prefixed(format_args!("Operations[{i}]: path \"{path}\"")),
            None => e.prefixed(format_args!("Operations[{i}]")),
        })?;
    }
    let after = members
        .as_ref()
        .map(|info| member_ids(resource, info))
        .unwrap_or_default();
    let difference = |a: &[String], b: &[String]| {
        let b: HashSet<&String> = b.iter().collect();
        a.iter().filter(|id| !b.contains(id)).cloned().collect()
    };
    Ok(Changes {
        members_added: difference(&after, &before),
        members_removed: difference(&before, &after),
        members_replaced: replaced,
    })
}

fn is_members(info: &AttrInfo) -> bool {
    info.core && info.multi_valued && info.name.eq_ignore_ascii_case("members")
}

fn member_id(element: &Value) -> Option<&str> {
    element
        .as_object()
        .and_then(|m| get_ci(m, "value"))?
        .as_str()
}

/// Member ids in order, without repeats.
fn member_ids(resource: &Value, info: &AttrInfo) -> Vec<String> {
    let mut seen = HashSet::new();
    attrs::lookup(resource, info)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(member_id)
        .filter(|id| seen.insert(*id))
        .map(str::to_owned)
        .collect()
}

fn apply_op(
    resource: &mut Value,
    op: &PatchOperation,
    attrs: &dyn AttrLookup,
    replaced: &mut bool,
) -> Result<(), PatchError> {
    let kind = op.op;
    let value = op.value.as_ref();
    let required = || syntax("\"value\" is required for add and replace");
    let writes = match &op.path {
        None if kind == OpKind::Remove => return Err(no_target("remove requires a path")),
        None => {
            let obj = value.ok_or_else(required)?.as_object().ok_or_else(|| {
                invalid_value("without a path, \"value\" must be an object of attributes")
            })?;
            let mut writes = Vec::new();
            plan(None, obj, attrs, &mut writes)?;
            writes
        }
        Some(PatchPath::Extension(urn)) => match (kind, value) {
            (OpKind::Remove, _) | (OpKind::Replace, Some(Value::Null)) => {
                remove_extension(resource, urn);
                return Ok(());
            }
            (OpKind::Add, Some(Value::Null)) => return Ok(()),
            (_, Some(Value::Object(obj))) => {
                let mut writes = Vec::new();
                plan(Some(urn), obj, attrs, &mut writes)?;
                writes
            }
            (_, Some(other)) => {
                return Err(invalid_value(format!(
                    "the value for an extension must be an object, not {}",
                    json_kind(other)
                )))
            }
            (_, None) => return Err(required()),
        },
        Some(PatchPath::Attr(path)) => {
            let t = resolve(path, None, attrs)?;
            check_explicit(&t)?;
            let whole_list = t.sub.is_none() && t.attr.multi_valued;
            let p = match (kind, value) {
                // Entra removes members by listing them in "value" (not in RFC 7644).
                (OpKind::Remove, Some(v)) if whole_list && !v.is_null() => {
                    prepare(&t, false, v, attrs)?
                }
                (OpKind::Remove, _) => Prepared::Null,
                (_, Some(v)) => prepare(&t, false, v, attrs)?,
                (_, None) => return Err(required()),
            };
            vec![(t, p)]
        }
        Some(PatchPath::Filtered { attr, filter, sub }) => {
            let t = resolve_filtered(attr, sub.as_deref(), attrs)?;
            check_explicit(&t)?;
            let p = match (kind, value) {
                (OpKind::Remove, _) => Prepared::Null,
                (_, Some(v)) => prepare(&t, true, v, attrs)?,
                (_, None) => return Err(required()),
            };
            return write_filtered(resource, kind, &t, filter, p, attrs);
        }
    };
    // Values and paths were all checked by now; only immutability depends on the resource,
    // so only then is a copy needed to undo the writes that came before the failing one.
    let can_fail = writes.len() > 1 && writes.iter().any(|(t, _)| is_immutable(t));
    let snapshot = can_fail.then(|| resource.clone());
    for (t, p) in writes {
        if kind == OpKind::Replace && t.sub.is_none() && is_members(&t.attr) {
            *replaced = true;
        }
        let written = match t.sub {
            Some(_) => write_sub(resource, kind, &t, p, attrs),
            None => write_whole(resource, kind, &t, p, attrs),
        };
        if let Err(e) = written {
            if let Some(snapshot) = snapshot {
                *resource = snapshot;
            }
            return Err(e);
        }
    }
    Ok(())
}

fn is_immutable(t: &Target) -> bool {
    t.attr.mutability == Mutability::Immutable
        || t.sub
            .as_ref()
            .and_then(|s| s.info.as_ref())
            .is_some_and(|i| i.mutability == Mutability::Immutable)
}

/// Resolves and checks every key of a no-path value (or of an extension object) before
/// anything is written. Keys may be dotted or URN-qualified paths (Entra); readOnly
/// attributes are skipped because clients echo them (Okta's group rename sends `id`).
fn plan(
    urn: Option<&str>,
    obj: &Map<String, Value>,
    attrs: &dyn AttrLookup,
    writes: &mut Vec<(Target, Prepared)>,
) -> Result<(), PatchError> {
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if urn.is_none() {
            if let Some(ext) = extension_urn(attrs, key) {
                match value {
                    Value::Object(inner) => plan(Some(&ext), inner, attrs, writes)?,
                    Value::Null => {}
                    other => {
                        return Err(invalid_value(format!(
                            "\"{key}\" must be an object, not {}",
                            json_kind(other)
                        )))
                    }
                }
                continue;
            }
        }
        let mut path = filter::parse_attr_path(key)
            .map_err(|e| invalid_path(format!("\"{key}\" is not a valid attribute path: {e}")))?;
        if let Some(ext) = urn {
            if path
                .urn
                .as_deref()
                .is_some_and(|u| !u.eq_ignore_ascii_case(ext))
            {
                return Err(invalid_path(format!(
                    "\"{key}\" does not belong to \"{ext}\""
                )));
            }
            path.urn = Some(ext.to_owned());
        }
        let t = resolve(&path, None, attrs)?;
        if is_read_only(&t) {
            continue;
        }
        let p = prepare(&t, false, value, attrs)?;
        writes.push((t, p));
    }
    Ok(())
}

mod value;
mod write;

use value::{json_kind, prepare, Prepared};
use write::{remove_extension, write_filtered, write_sub, write_whole};

#[cfg(test)]
mod tests;
