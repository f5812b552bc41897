//! What a broken IdP or a fuzzer sends a SCIM server, as proptest strategies: filters built
//! from the grammar's own pieces, JSON values of every shape, PATCH bodies in Okta's and
//! Entra's forms and worse. Shared by the library's property tests (`src/props.rs`) and the
//! HTTP ones (`tests/api/props_http.rs`).

use proptest::prelude::*;
use serde_json::{json, Value};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Pieces filters are made of, so random ones reach deep into the grammar.
pub fn filter_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("userName"),
        Just("emails"),
        Just("emails.value"),
        Just("emails[type eq \"work\"]"),
        Just("name.givenName"),
        Just("meta.lastModified"),
        Just("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        Just(" eq "),
        Just(" ne "),
        Just(" co "),
        Just(" sw "),
        Just(" gt "),
        Just(" pr"),
        Just(" and "),
        Just(" or "),
        Just("not "),
        Just("("),
        Just(")"),
        Just("["),
        Just("]"),
        Just("\""),
        Just("\\"),
        Just("\"ada\""),
        Just("true"),
        Just("null"),
        Just("12.5e3"),
        Just("%"),
        Just("\u{0}"),
        Just("é"),
    ]
    .prop_map(str::to_string);
    let piece = prop_oneof![
        piece,
        "[a-z\"\\\\ ()\\[\\].:]{0,6}".prop_map(|s| s),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

/// Any JSON, with the keys and the stringly booleans SCIM bodies carry.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[a-zA-Z@.]{0,12}".prop_map(Value::String),
        Just(json!("False")),
        Just(json!("true")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value".to_string()),
                    Just("type".to_string()),
                    Just("primary".to_string()),
                    Just("active".to_string()),
                    Just("userName".to_string()),
                    Just("members".to_string()),
                    Just("emails".to_string()),
                    "[a-zA-Z]{1,8}".prop_map(|s| s),
                ],
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A PatchOp body of up to four operations, each with a random op, path and value.
pub fn patch_body() -> impl Strategy<Value = Value> {
    let op = (
        prop_oneof![
            Just("add"),
            Just("Replace"),
            Just("remove"),
            Just("Remove"),
            Just("copy"),
            Just("move"),
            Just("")
        ],
        prop::option::of(prop_oneof![
            Just("active".to_string()),
            Just("userName".to_string()),
            Just("externalId".to_string()),
            Just("emails[type eq \"work\"].value".to_string()),
            Just("name.givenName".to_string()),
            Just("name.familyName".to_string()),
            Just("members".to_string()),
            Just("members[value eq \"x\"]".to_string()),
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_string()),
            filter_text(),
        ]),
        prop::option::of(json_value()),
    )
        .prop_map(|(op, path, value)| {
            let mut o = json!({ "op": op });
            if let Some(p) = path {
                o["path"] = json!(p);
            }
            if let Some(v) = value {
                o["value"] = v;
            }
            o
        });
    prop::collection::vec(op, 0..5)
        .prop_map(|ops| json!({"schemas": [PATCH_URN], "Operations": ops}))
}
