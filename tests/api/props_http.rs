//! Property tests against the running server (issue: bad input): random filters, random
//! path segments and random PATCH documents never get a 5xx, always get SCIM's error format
//! when refused, and a refused request leaves the stored user as it was. 64 cases each by
//! default; `PROPTEST_CASES` (as `make fuzz` sets it) asks for more.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::json;

use crate::scim_inputs::{filter_text, json_value, patch_body};
use crate::support::scim::{Reply, Scim, USER_URN};
use crate::support::TestApp;

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

#[test]
fn random_patches_are_applied_whole_or_refused_in_scim_format_changing_nothing() {
    // PatchOp bodies, and JSON that is not one at all.
    let body = prop_oneof![patch_body(), json_value()];
    run(body, |rt, scim, id, body| {
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
