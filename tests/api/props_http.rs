//! Property tests against the running server (issue: bad input): random filters, random
//! path segments and random PATCH documents never get a 5xx, always get SCIM's error format
//! when refused, and a refused request leaves the stored user as it was. 64 cases each by
//! default; `PROPTEST_CASES` (as `make fuzz` sets it) asks for more.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::scim_helpers::{Reply, Scim, USER_URN};

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64)
}

/// Runs `check` on a server of its own, once per generated input.
fn run<S: Strategy>(
    strategy: S,
    check: impl Fn(&tokio::runtime::Runtime, &Scim<'_>, &str, S::Value),
) where
    S::Value: std::fmt::Debug,
{
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::spawn());
    let scim = rt.block_on(Scim::new(&app, "acme"));
    let body = json!({"schemas": [USER_URN], "userName": "ada", "active": true,
                      "emails": [{"value": "ada@acme.test", "type": "work", "primary": true}]});
    let created = rt.block_on(scim.post("/Users", body));
    assert_eq!(created.status, 201);
    let id = created.body["id"].as_str().unwrap().to_string();
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |input| {
            check(&rt, &scim, &id, input);
            Ok(())
        })
        .unwrap();
}

/// A refusal in SCIM's format: status as a string, the Error schema, a detail.
fn assert_scim_answer(r: &Reply, what: &str) {
    let status = r.status.as_u16();
    assert!(status < 500, "{what}: {status} {:#}", r.body);
    if status >= 400 {
        assert_eq!(r.body["status"], status.to_string(), "{what}: {:#}", r.body);
        assert_eq!(
            r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{what}"
        );
        assert!(
            r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{what}"
        );
    }
}

fn filter_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("userName"),
        Just("emails.value"),
        Just("emails[type eq \"work\"]"),
        Just(" eq "),
        Just(" co "),
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
        Just("%"),
        Just("\u{0}"),
        Just("é"),
    ]
    .prop_map(str::to_string);
    prop::collection::vec(prop_oneof![piece, any::<String>()], 0..16).prop_map(|v| v.concat())
}

#[test]
fn random_filters_get_an_answer_or_a_scim_error() {
    run(filter_text(), |rt, scim, _, filter| {
        let path = format!(
            "/Users?filter={}",
            url::form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
        );
        let r = rt.block_on(scim.get(&path));
        assert_scim_answer(&r, &format!("filter {filter:?}"));
    });
}

#[test]
fn random_path_segments_get_a_scim_error_and_delete_nothing() {
    let segment = prop::collection::vec(any::<u8>(), 1..16)
        .prop_map(|b| b.iter().map(|x| format!("%{x:02X}")).collect::<String>());
    run(segment, |rt, scim, id, segment| {
        for r in [
            rt.block_on(scim.get(&format!("/Users/{segment}"))),
            rt.block_on(scim.delete(&format!("/Users/{segment}"))),
            rt.block_on(scim.get(&format!("/Groups/{segment}"))),
        ] {
            assert_scim_answer(&r, &format!("segment {segment}"));
        }
        assert_eq!(rt.block_on(scim.get(&format!("/Users/{id}"))).status, 200);
    });
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z@.]{0,8}".prop_map(Value::String),
        Just(json!("False")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value"),
                    Just("type"),
                    Just("active"),
                    Just("userName"),
                    Just("x")
                ]
                .prop_map(str::to_string),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_body() -> impl Strategy<Value = Value> {
    let op = (
        prop_oneof![
            Just("add"),
            Just("replace"),
            Just("Remove"),
            Just("move"),
            Just("")
        ],
        prop::option::of(prop_oneof![
            Just("active".to_string()),
            Just("userName".to_string()),
            Just("emails[type eq \"work\"].value".to_string()),
            Just("name.givenName".to_string()),
            Just("externalId".to_string()),
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
    prop_oneof![
        prop::collection::vec(op, 0..4).prop_map(|ops| json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops
        })),
        json_value(),
    ]
}

#[test]
fn random_patches_are_applied_whole_or_refused_in_scim_format_changing_nothing() {
    run(patch_body(), |rt, scim, id, body| {
        let before = rt.block_on(scim.get(&format!("/Users/{id}")));
        let r = rt.block_on(scim.call(
            reqwest::Method::PATCH,
            &format!("/Users/{id}"),
            Some(body.clone()),
        ));
        assert_scim_answer(&r, &format!("patch {body}"));
        if r.status.as_u16() >= 400 {
            let after = rt.block_on(scim.get(&format!("/Users/{id}")));
            assert_eq!(
                after.body, before.body,
                "a refused PATCH changed the user: {body}"
            );
        }
    });
}
