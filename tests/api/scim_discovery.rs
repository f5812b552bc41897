//! Discovery endpoints (RFC 7644 §4) say truthfully what is served, and refuse writes.

use reqwest::Method;
use serde_json::json;

use crate::support::scim::{Scim, ENTERPRISE_URN, USER_URN};
use crate::support::TestApp;

#[tokio::test]
async fn service_provider_config_says_what_is_supported() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let r = scim.get("/ServiceProviderConfig").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap()
        .starts_with("application/scim+json"));
    let b = &r.body;
    assert_eq!(b["patch"]["supported"], true);
    assert_eq!(b["filter"], json!({"supported": true, "maxResults": 1000}));
    assert_eq!(b["etag"]["supported"], true);
    assert_eq!(b["sort"]["supported"], true);
    assert_eq!(b["changePassword"]["supported"], false);
    assert_eq!(b["bulk"]["supported"], false);
    assert_eq!(b["pagination"]["cursor"], true);
    assert_eq!(b["pagination"]["index"], true);
    let types: Vec<_> = b["authenticationSchemes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].clone())
        .collect();
    assert_eq!(types, [json!("oauthbearertoken"), json!("httpbasic")]);
    assert_eq!(
        b["meta"]["location"],
        format!("{}/ServiceProviderConfig", scim.base())
    );
}

#[tokio::test]
async fn resource_types_and_schemas_describe_users_groups_and_the_enterprise_extension() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let r = scim.get("/ResourceTypes").await;
    assert_eq!(r.body["totalResults"], 2);
    let user = scim.get("/ResourceTypes/User").await;
    assert_eq!(user.body["schema"], USER_URN);
    assert_eq!(user.body["schemaExtensions"][0]["schema"], ENTERPRISE_URN);
    assert_eq!(scim.get("/ResourceTypes/Group").await.status, 200);

    let r = scim.get("/Schemas").await;
    assert_eq!(r.body["totalResults"], 3);
    let user = scim.get(&format!("/Schemas/{USER_URN}")).await;
    assert_eq!(user.status, 200);
    let names: Vec<&str> = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    for n in [
        "userName",
        "name",
        "emails",
        "active",
        "password",
        "x509Certificates",
        "groups",
    ] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    let password = user.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["returned"], "never");
    assert_eq!(
        scim.get(&format!("/Schemas/{ENTERPRISE_URN}")).await.status,
        200
    );
}

#[tokio::test]
async fn unknown_schemas_and_resource_types_are_404_and_writes_are_405() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    scim.get(&format!("/Schemas/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404);
    scim.get(&format!("/ResourceTypes/{}", uuid::Uuid::new_v4()))
        .await
        .assert_error(404);
    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = scim.call(method.clone(), path, Some(json!({}))).await;
            r.assert_error(405);
            assert!(
                r.header("allow").unwrap().contains("GET"),
                "{method} {path}"
            );
        }
    }
}
