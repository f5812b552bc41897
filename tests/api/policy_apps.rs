//! Four apps with four ideas of what a deactivation, a deletion or a role means, configured
//! as four organisations side by side in one server, each behaving as its own guide says:
//! - Plumm-like: a deactivated user's data is kept; username and email never change;
//! - askSpoke-like: deactivation removes the account; phone numbers are validated;
//! - Klue-like: SCIM DELETE is a deactivation; users arrive by JIT; given name, family name
//!   and work email are required; a role (admin, curator, consumer; consumer by default)
//!   and custom attributes in the enterprise extension;
//! - Appenate-like: first and last name and a unique email are required; an access role
//!   (ReadOnly, User, Admin, EnterpriseAdmin) comes from the app profile.

use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::Actor;
use serde_json::{json, Value};

use crate::sessions::{login, okta};
use crate::support::scim::{Scim, ENTERPRISE_URN, USER_URN};
use crate::support::TestApp;

async fn configure(app: &TestApp, org: &Org, settings: &[&str]) {
    let changes: Vec<OrgChange> = settings
        .iter()
        .map(|s| OrgChange::parse(s).unwrap())
        .collect();
    app.directory
        .update_org(org.id, &changes, &Actor::Cli)
        .await
        .unwrap();
}

fn user(user_name: &str, given: &str, family: &str, email: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

fn active(on: bool) -> Value {
    json!([{"op": "replace", "value": {"active": on}}])
}

async fn auth_check_role(app: &TestApp, cookie: &str) -> (u16, Option<String>) {
    let r = app.auth_check(cookie).await;
    let role = r
        .headers()
        .get("x-gatehouse-role")
        .map(|v| v.to_str().unwrap().to_string());
    (r.status().as_u16(), role)
}

#[tokio::test]
async fn four_apps_four_policies_side_by_side() {
    let app = TestApp::spawn().await;
    let plumm = Scim::new(&app, "plumm").await;
    let spoke = Scim::new(&app, "askspoke").await;
    let klue = Scim::new(&app, "klue").await;
    let appenate = Scim::new(&app, "appenate").await;
    configure(
        &app,
        &plumm.org,
        &[
            "on_deactivate=keep",
            "immutable_user_name=true",
            "immutable_email=true",
        ],
    )
    .await;
    configure(
        &app,
        &spoke.org,
        &["on_deactivate=delete", "phone_numbers=e164"],
    )
    .await;
    configure(
        &app,
        &klue.org,
        &[
            "on_delete=deactivate",
            "jit=true",
            "required_attributes=userName,name.givenName,name.familyName,emails[type eq \"work\"].value",
            "roles=admin,curator,consumer",
            "default_role=consumer",
            &format!("extension_urn={ENTERPRISE_URN}"),
            r#"extension_attributes=[{"name":"klueRole","canonicalValues":["admin","curator","consumer"]},{"name":"visibilityGroup"},{"name":"employeeId"}]"#,
            &format!("role_attribute={ENTERPRISE_URN}:klueRole"),
        ],
    )
    .await;
    configure(
        &app,
        &appenate.org,
        &[
            "required_attributes=userName,name.givenName,name.familyName",
            "unique_email=true",
            "roles=ReadOnly,User,Admin,EnterpriseAdmin",
            "default_role=User",
        ],
    )
    .await;

    // Plumm: the username and email stay as they were; a deactivated user keeps its data.
    let id = plumm
        .post(
            "/Users",
            user("pat@plumm.test", "Pat", "Lee", "pat@plumm.test"),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rename = json!([{"op": "replace", "path": "userName", "value": "pat2@plumm.test"}]);
    let refused = plumm.patch(&format!("/Users/{id}"), rename).await;
    assert_eq!(refused.assert_error(400)["scimType"], "mutability");
    assert!(refused.body["detail"]
        .as_str()
        .unwrap()
        .contains("userName"));
    let reemail = json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "other@plumm.test"}]);
    assert_eq!(
        plumm
            .patch(&format!("/Users/{id}"), reemail)
            .await
            .assert_error(400)["scimType"],
        "mutability"
    );
    assert_eq!(
        plumm
            .patch(&format!("/Users/{id}"), active(false))
            .await
            .status,
        200
    );
    let kept = plumm.get(&format!("/Users/{id}")).await;
    assert_eq!(kept.body["active"], false);
    assert_eq!(kept.body["name"]["familyName"], "Lee", "data kept");
    assert!(login(&app, &plumm.org, &okta("s-pat", "pat@plumm.test"))
        .await
        .is_err());

    // askSpoke: phone numbers are E.164; a deactivation removes the account.
    let mut body = user("sam@spoke.test", "Sam", "Roe", "sam@spoke.test");
    body["phoneNumbers"] = json!([{"value": "+1 (650) 253-0000", "type": "work"}]);
    let made = spoke.post("/Users", body.clone()).await;
    assert_eq!(made.status, 201, "{:#}", made.body);
    assert_eq!(made.body["phoneNumbers"][0]["value"], "+16502530000");
    let sam = made.body["id"].as_str().unwrap().to_string();
    let mut bad = user("bad@spoke.test", "B", "D", "bad@spoke.test");
    bad["phoneNumbers"] = json!([{"value": "12", "type": "work"}]);
    let refused = spoke.post("/Users", bad).await;
    assert_eq!(refused.assert_error(400)["scimType"], "invalidValue");
    assert!(refused.body["detail"].as_str().unwrap().contains("12"));
    spoke.patch(&format!("/Users/{sam}"), active(false)).await;
    assert_eq!(
        spoke.get(&format!("/Users/{sam}")).await.status,
        404,
        "removed"
    );
    let again = spoke.post("/Users", body).await;
    assert_eq!(again.status, 201);
    assert_ne!(again.body["id"].as_str().unwrap(), sam, "a fresh create");

    // Klue: users come by JIT with a default role; a missing family name is named; SCIM
    // DELETE deactivates; the role lives in the enterprise extension.
    let mut a = okta("s-kim", "kim@klue.test");
    a.family_name = None;
    let refused = login(&app, &klue.org, &a).await.unwrap_err();
    assert!(refused.to_string().contains("name.familyName"), "{refused}");
    let cookie = login(&app, &klue.org, &okta("s-kim", "kim@klue.test"))
        .await
        .unwrap();
    assert_eq!(
        auth_check_role(&app, &cookie).await,
        (200, Some("consumer".into()))
    );
    let kim = app
        .directory
        .user_by_user_name(klue.org.id, "kim@klue.test")
        .await
        .unwrap()
        .unwrap();
    let read = klue.get(&format!("/Users/{}", kim.id)).await;
    assert_eq!(read.body[ENTERPRISE_URN]["klueRole"], "consumer");
    let promote =
        json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:klueRole"), "value": "boss"}]);
    let refused = klue.patch(&format!("/Users/{}", kim.id), promote).await;
    assert_eq!(refused.assert_error(400)["scimType"], "invalidValue");
    let promote = json!([{"op": "replace", "path": format!("{ENTERPRISE_URN}:klueRole"), "value": "curator"}]);
    assert_eq!(
        klue.patch(&format!("/Users/{}", kim.id), promote)
            .await
            .status,
        200
    );
    assert_eq!(
        auth_check_role(&app, &cookie).await,
        (200, Some("curator".into()))
    );
    assert_eq!(klue.delete(&format!("/Users/{}", kim.id)).await.status, 204);
    let still = klue.get(&format!("/Users/{}", kim.id)).await;
    assert_eq!(still.body["active"], false, "DELETE deactivated");
    assert_eq!(auth_check_role(&app, &cookie).await.0, 401);
    let schemas = klue.get("/Schemas").await.body.to_string();
    assert!(schemas.contains("klueRole") && schemas.contains("visibilityGroup"));
    assert!(
        !plumm
            .get("/Schemas")
            .await
            .body
            .to_string()
            .contains("klueRole"),
        "Klue's only"
    );

    // Appenate: first and last name required, emails unique, the access role checked.
    let mut nameless = user("ann@app.test", "Ann", "X", "ann@app.test");
    nameless["name"] = json!({"givenName": "Ann"});
    let refused = appenate.post("/Users", nameless).await;
    assert!(refused.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains("name.familyName"));
    let mut ann = user("ann@app.test", "Ann", "Lane", "ann@app.test");
    ann["roles"] = json!([{"value": "Admin", "primary": true}]);
    assert_eq!(appenate.post("/Users", ann).await.status, 201);
    let twin = user("ann2@app.test", "Ann", "Twin", "ANN@app.test");
    assert_eq!(
        appenate.post("/Users", twin).await.assert_error(409)["scimType"],
        "uniqueness"
    );
    let mut owner = user("own@app.test", "O", "W", "own@app.test");
    owner["roles"] = json!([{"value": "Owner"}]);
    let refused = appenate.post("/Users", owner).await;
    assert!(refused.assert_error(400)["detail"]
        .as_str()
        .unwrap()
        .contains("EnterpriseAdmin"));
    let cookie = login(&app, &appenate.org, &okta("s-ann", "ann@app.test"))
        .await
        .unwrap();
    assert_eq!(
        auth_check_role(&app, &cookie).await,
        (200, Some("Admin".into()))
    );
}

#[tokio::test]
async fn policy_settings_that_contradict_each_other_are_refused_together() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    configure(&app, &org, &["roles=admin,curator", "default_role=curator"]).await;
    let refused = app
        .directory
        .update_org(
            org.id,
            &[OrgChange::parse("default_role=boss").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("boss"), "{refused}");
    let refused = app
        .directory
        .update_org(
            org.id,
            &[OrgChange::parse("required_attributes=nmae.givenName").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("nmae"), "{refused}");
    let refused = app
        .directory
        .update_org(
            org.id,
            &[OrgChange::parse("allowed_email_domains=true").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("verified domain"), "{refused}");
    configure(
        &app,
        &org,
        &["domains=acme.test", "allowed_email_domains=true"],
    )
    .await;
    let kept = app.directory.org(org.id).await.unwrap().unwrap();
    assert_eq!(
        kept.settings.policy.default_role.as_deref(),
        Some("curator")
    );
}
