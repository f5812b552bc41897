//! `required_attributes` and `phone_numbers`, through SCIM (POST, PUT, PATCH), SAML and
//! OIDC logins, and bulk import.

use gatehouse::directory::policy::ViolationKind;
use gatehouse::directory::users::Profile;
use gatehouse::directory::{Actor, Error};
use serde_json::{json, Value};

use crate::policy_logins::{OidcIdp, SamlIdp};
use crate::policy_roles::{assert_refused, seen_as, session_of, set};
use crate::support::scim::Scim;
use crate::support::{user_data, TestApp};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const WORK_EMAIL: &str = r#"emails[type eq "work"].value"#;

fn klue_user(user_name: &str) -> Value {
    json!({
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"value": user_name, "type": "work", "primary": true}],
    })
}

/// The detail of a 400 invalidValue.
#[track_caller]
fn refused(r: &crate::support::scim::Reply) -> String {
    let body = r.assert_error(400);
    assert_eq!(body["scimType"], "invalidValue", "{body:#}");
    body["detail"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn required_attributes_are_asked_for_by_post_put_and_patch() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "klue").await;
    set(
        &app,
        &scim.org,
        &[&format!(
            "required_attributes=userName,name.givenName,name.familyName,{WORK_EMAIL}"
        )],
    )
    .await;

    // POST without two of them: both named, nothing created.
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@klue.test",
                   "name": {"givenName": "Ada"},
                   "emails": [{"value": "ada@home.test", "type": "home"}]}),
        )
        .await;
    assert_eq!(
        refused(&r),
        format!("name.familyName and {WORK_EMAIL} are required")
    );
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 0);
    // A blank value is no value.
    let mut blank = klue_user("ada@klue.test");
    blank["name"]["familyName"] = json!("  ");
    assert_eq!(
        refused(&scim.post("/Users", blank).await),
        "name.familyName is required"
    );

    let r = scim.post("/Users", klue_user("ada@klue.test")).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let at = format!("/Users/{id}");

    // PUT without the given name.
    let mut put = klue_user("ada@klue.test");
    put["name"] = json!({"familyName": "Lovelace"});
    assert_eq!(
        refused(&scim.put(&at, put).await),
        "name.givenName is required"
    );
    // PATCH removing the family name, or leaving only a home email.
    let r = scim
        .patch(&at, json!([{"op": "remove", "path": "name.familyName"}]))
        .await;
    assert_eq!(refused(&r), "name.familyName is required");
    let r = scim
        .patch(
            &at,
            json!([{"op": "replace", "path": "emails",
                    "value": [{"value": "ada@home.test", "type": "home"}]}]),
        )
        .await;
    assert_eq!(refused(&r), format!("{WORK_EMAIL} is required"));
    let got = scim.get(&at).await;
    assert_eq!(
        got.body["name"]["familyName"], "Lovelace",
        "nothing changed"
    );
    assert_eq!(got.body["emails"][0]["type"], "work");

    // Writes that keep them pass: a deactivation, a new title.
    let r = scim
        .patch(
            &at,
            json!([{"op": "replace", "value": {"active": false, "title": "Countess"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["active"], false);
}

#[tokio::test]
async fn a_user_written_before_an_attribute_was_required_can_still_be_updated() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "klue").await;
    let id = scim.user("old@klue.test").await;
    set(
        &app,
        &scim.org,
        &["required_attributes=userName,name.familyName"],
    )
    .await;
    let at = format!("/Users/{id}");
    let r = scim
        .patch(&at, json!([{"op": "replace", "value": {"active": false}}]))
        .await;
    assert_eq!(
        r.status, 200,
        "a deactivation is never blocked: {:#}",
        r.body
    );
    let r = scim
        .put(
            &at,
            json!({"schemas": [USER_URN], "userName": "old@klue.test", "title": "x"}),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    // Once it has the attribute, removing it is refused.
    let r = scim
        .patch(
            &at,
            json!([{"op": "add", "path": "name.familyName", "value": "Old"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = scim
        .patch(&at, json!([{"op": "remove", "path": "name"}]))
        .await;
    assert_eq!(refused(&r), "name.familyName is required");
    // A new user must have it from the start.
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "new@klue.test"}),
        )
        .await;
    assert_eq!(refused(&r), "name.familyName is required");
}

#[tokio::test]
async fn required_paths_reach_extensions_and_compare_names_case_insensitively() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    set(
        &app,
        &scim.org,
        &[&format!(
            "required_attributes=TITLE,{ENTERPRISE}:employeeNumber,phoneNumbers.value"
        )],
    )
    .await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@acme.test", "Title": "Engineer"}),
        )
        .await;
    assert_eq!(
        refused(&r),
        format!("{ENTERPRISE}:employeeNumber and phoneNumbers.value are required")
    );
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN, ENTERPRISE], "userName": "ada@acme.test",
                   "title": "Engineer", ENTERPRISE: {"employeeNumber": "701984"},
                   "phoneNumbers": [{"value": "555-0100", "type": "work"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
}

#[tokio::test]
async fn jit_without_a_required_attribute_is_refused_with_a_page_naming_it() {
    let app = TestApp::spawn().await;
    let org = app.org("klue", &["klue.test"]).await;
    set(
        &app,
        &org,
        &[&format!(
            "required_attributes=userName,name.givenName,name.familyName,{WORK_EMAIL}"
        )],
    )
    .await;
    let saml = SamlIdp::connect(&app, &org).await;
    let mut spec = saml.spec("ada@klue.test");
    spec.attributes.retain(|(name, _)| name != "lastName");
    let r = saml.post(&spec).await;
    assert_refused(&app, &org, r, "name.familyName is required").await;
    assert_eq!(app.directory.count_users(org.id).await.unwrap(), 0);

    // With every attribute, JIT goes through (the email arrives as the work email).
    let cookie = session_of(&saml.post(&saml.spec("ada@klue.test")).await);
    assert_eq!(seen_as(&app, &cookie).await.0["userName"], "ada@klue.test");

    // Through OIDC as well.
    let oidc_org = app.org("klue-oidc", &[]).await;
    set(
        &app,
        &oidc_org,
        &["required_attributes=userName,name.givenName,name.familyName"],
    )
    .await;
    let oidc = OidcIdp::connect(&app, &oidc_org).await;
    let r = oidc
        .login_raw("00u9", "bob@klue.test", json!({"given_name": null}))
        .await;
    assert_refused(&app, &oidc_org, r, "name.givenName is required").await;
}

#[tokio::test]
async fn e164_phone_numbers_are_normalised_and_invalid_ones_refused() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "spoke").await;
    set(&app, &scim.org, &["phone_numbers=e164"]).await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@spoke.test",
                   "phoneNumbers": [
                       {"value": "+1 (650) 253-0000", "type": "work", "primary": true},
                       {"value": "tel:+44-20-7946-0958", "type": "mobile"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    let expected = json!([
        {"value": "+16502530000", "type": "work", "primary": true},
        {"value": "+442079460958", "type": "mobile"}]);
    assert_eq!(r.body["phoneNumbers"], expected);
    let id = r.body["id"].as_str().unwrap().to_string();
    let at = format!("/Users/{id}");
    assert_eq!(
        scim.get(&at).await.body["phoneNumbers"],
        expected,
        "as stored"
    );

    // Invalid: named, never dropped; nothing written.
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "bob@spoke.test",
                   "phoneNumbers": [{"value": "+16502530000"}, {"value": "12"}]}),
        )
        .await;
    assert!(
        refused(&r).starts_with(r#"phoneNumbers value "12" is not a valid phone number"#),
        "{:#}",
        r.body
    );
    assert_eq!(app.directory.count_users(scim.org.id).await.unwrap(), 1);
    let r = scim
        .put(
            &at,
            json!({"schemas": [USER_URN], "userName": "ada@spoke.test",
                   "phoneNumbers": [{"value": "+1 555", "type": "work"}]}),
        )
        .await;
    assert!(refused(&r).contains(r#""+1 555" is not a valid phone number"#));
    // Without a country code there is nothing to normalise from: refused, saying why.
    let r = scim
        .patch(
            &at,
            json!([{"op": "add", "path": "phoneNumbers",
                    "value": [{"value": "(650) 253-0000", "type": "home"}]}]),
        )
        .await;
    assert!(refused(&r).contains("country code"), "{:#}", r.body);
    let r = scim
        .patch(
            &at,
            json!([{"op": "add", "path": "phoneNumbers",
                    "value": [{"value": "+33 6 12 34 56 78", "type": "home"}]}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["phoneNumbers"][2]["value"], "+33612345678");
    assert_eq!(
        scim.get(&at).await.body["phoneNumbers"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn phone_numbers_are_kept_as_given_by_default_and_old_values_do_not_block_writes() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "plumm").await;
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "ada@plumm.test",
                   "phoneNumbers": [{"value": "ext 12", "type": "work"},
                                    {"value": "+1 650 253 0000", "type": "mobile"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    assert_eq!(r.body["phoneNumbers"][0]["value"], "ext 12", "as given");
    assert_eq!(r.body["phoneNumbers"][1]["value"], "+1 650 253 0000");
    let at = format!("/Users/{}", r.body["id"].as_str().unwrap());

    // Turned on later: a value written before stays as it is, a deactivation passes, and
    // the valid ones take their E.164 form on the next write.
    set(&app, &scim.org, &["phone_numbers=e164"]).await;
    let r = scim
        .patch(&at, json!([{"op": "replace", "value": {"active": false}}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body["phoneNumbers"][0]["value"], "ext 12");
    assert_eq!(r.body["phoneNumbers"][1]["value"], "+16502530000");
    let r = scim
        .patch(
            &at,
            json!([{"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "ext 13"}]),
        )
        .await;
    assert!(refused(&r).contains(r#""ext 13""#));
}

#[tokio::test]
async fn bulk_import_passes_the_same_checks_and_is_whole_or_absent() {
    let app = TestApp::spawn().await;
    let org = app.org("spoke", &[]).await;
    set(
        &app,
        &org,
        &[
            "phone_numbers=e164",
            "roles=admin,member",
            "default_role=member",
            "required_attributes=userName,phoneNumbers.value",
        ],
    )
    .await;
    let with_phone = |name: &str, phone: &str| {
        let mut u = user_data(name);
        u.profile = Profile {
            phone_numbers: vec![json!({"value": phone, "type": "work"})],
            ..Profile::default()
        };
        u
    };
    // One bad user fails the batch, and the refusal names it and the attribute.
    let batch = vec![
        with_phone("ada@spoke.test", "+1 650 253 0000"),
        with_phone("bob@spoke.test", "12"),
        with_phone("cy@spoke.test", "+44 20 7946 0958"),
    ];
    let e = app
        .directory
        .import_users(org.id, batch, &Actor::Cli)
        .await
        .unwrap_err();
    let Error::Policy(v) = e else { panic!("{e:?}") };
    assert_eq!(v.kind, ViolationKind::InvalidValue);
    assert_eq!(v.attribute, "phoneNumbers");
    assert!(
        v.message
            .starts_with(r#"user 2 (bob@spoke.test): phoneNumbers value "12" is not a valid"#),
        "{}",
        v.message
    );
    assert_eq!(
        app.directory.count_users(org.id).await.unwrap(),
        0,
        "none written"
    );
    let e = app
        .directory
        .import_users(org.id, vec![user_data("dee@spoke.test")], &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("phoneNumbers.value is required"),
        "{e}"
    );

    // A good batch is written normalised, with the default role.
    let batch = vec![
        with_phone("ada@spoke.test", "+1 650 253 0000"),
        with_phone("cy@spoke.test", "tel:+44-20-7946-0958"),
    ];
    let ids = app
        .directory
        .import_users(org.id, batch, &Actor::Cli)
        .await
        .unwrap();
    let cy = app.directory.user(org.id, ids[1]).await.unwrap().unwrap();
    assert_eq!(cy.profile.phone_numbers[0]["value"], "+442079460958");
    assert_eq!(cy.profile.role_values(), vec!["member"]);
}
