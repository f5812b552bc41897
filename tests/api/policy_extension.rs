//! Custom extension attributes: an organisation declares attributes under a URN of its
//! choosing; they show in its own /Schemas and /ResourceTypes, are checked on every write,
//! returned, projected and filterable. Three organisations side by side: a Klue-like one that
//! extends the standard enterprise schema, one with the default Gatehouse URN and typed
//! attributes, and one that declares nothing.

use gatehouse::directory::connections::saml::SamlConnection;
use gatehouse::directory::orgs::{Org, OrgChange};
use gatehouse::directory::Actor;
use gatehouse::sso::saml::metadata::parse_idp_metadata;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::saml_idp::{encode, response, Spec, TestIdp};
use crate::support::scim::{events, Reply, Scim, ENTERPRISE_URN, USER_URN};
use crate::support::TestApp;

const GATEHOUSE_URN: &str = "urn:ietf:params:scim:schemas:extension:gatehouse:2.0:User";

async fn set(app: &TestApp, org: &Org, setting: &str) {
    app.directory
        .update_org(org.id, &[OrgChange::parse(setting).unwrap()], &Actor::Cli)
        .await
        .unwrap();
}

/// Klue: role, visibility group and a required employee id, in the enterprise extension.
async fn klue(app: &TestApp) -> Scim<'_> {
    let scim = Scim::new(app, "klue").await;
    set(app, &scim.org, &format!("extension_urn={ENTERPRISE_URN}")).await;
    let attrs = json!([
        {"name": "klueRole", "canonicalValues": ["admin", "curator", "consumer"]},
        {"name": "visibilityGroup", "type": "string"},
        {"name": "employeeId", "type": "string", "required": true},
    ]);
    set(app, &scim.org, &format!("extension_attributes={attrs}")).await;
    scim
}

/// An organisation on the default URN with typed attributes.
async fn typed(app: &TestApp) -> Scim<'_> {
    let scim = Scim::new(app, "typed").await;
    let attrs = json!([
        {"name": "isContractor", "type": "boolean"},
        {"name": "tags", "type": "string", "multiValued": true},
        {"name": "level", "type": "integer"},
        {"name": "score", "type": "decimal"},
        {"name": "startDate", "type": "dateTime"},
        {"name": "homepage", "type": "reference"},
        {"name": "badge", "type": "string", "canonicalValues": ["Gold", "Silver"], "caseExact": true},
    ]);
    set(app, &scim.org, &format!("extension_attributes={attrs}")).await;
    scim
}

fn klue_path(name: &str) -> String {
    format!("{ENTERPRISE_URN}:{name}")
}

fn typed_path(name: &str) -> String {
    format!("{GATEHOUSE_URN}:{name}")
}

fn klue_user(user_name: &str, enterprise: Value) -> Value {
    json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": user_name, ENTERPRISE_URN: enterprise})
}

fn typed_user(user_name: &str, values: Value) -> Value {
    json!({"schemas": [USER_URN, GATEHOUSE_URN], "userName": user_name, GATEHOUSE_URN: values})
}

async fn created(scim: &Scim<'_>, body: Value) -> (String, Value) {
    let r = scim.post("/Users", body).await;
    assert_eq!(r.status, 201, "{:#}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), r.body)
}

/// Asserts a 400 invalidValue whose detail contains `words`.
#[track_caller]
fn refused(r: &Reply, words: &str) {
    let body = r.assert_error(400);
    assert_eq!(body["scimType"], "invalidValue", "{body:#}");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains(words), "{detail:?} should say {words:?}");
}

fn attribute<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
}

fn schema_ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect()
}

fn user_extensions(resource_type: &Value) -> Vec<Value> {
    resource_type["schemaExtensions"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn each_organisation_shows_its_own_declared_attributes_in_discovery() {
    let app = TestApp::spawn().await;
    let klue = klue(&app).await;
    let typed = typed(&app).await;
    let plain = Scim::new(&app, "plain").await;

    // Klue: the declared attributes join the enterprise schema beside its standard ones.
    let list = klue.get("/Schemas").await;
    assert_eq!(list.status, 200);
    assert_eq!(
        schema_ids(&list.body),
        [
            USER_URN,
            ENTERPRISE_URN,
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    let enterprise = klue.get(&format!("/Schemas/{ENTERPRISE_URN}")).await;
    assert_eq!(enterprise.status, 200);
    assert!(attribute(&enterprise.body, "department").is_some());
    assert!(attribute(&enterprise.body, "manager").is_some());
    let role = attribute(&enterprise.body, "klueRole").unwrap();
    assert_eq!(role["type"], "string");
    assert_eq!(role["multiValued"], false);
    assert_eq!(role["required"], false);
    assert_eq!(role["caseExact"], false);
    assert_eq!(role["mutability"], "readWrite");
    assert_eq!(role["returned"], "default");
    assert_eq!(role["uniqueness"], "none");
    assert_eq!(
        role["canonicalValues"],
        json!(["admin", "curator", "consumer"])
    );
    assert!(!role["description"].as_str().unwrap().is_empty());
    assert_eq!(
        attribute(&enterprise.body, "employeeId").unwrap()["required"],
        true
    );
    let listed = &list.body["Resources"][1];
    assert_eq!(listed, &enterprise.body, "the list shows the same schema");
    let rt = klue.get("/ResourceTypes/User").await;
    assert_eq!(
        user_extensions(&rt.body),
        [json!({"schema": ENTERPRISE_URN, "required": false})],
        "the enterprise extension is listed once"
    );
    klue.get(&format!("/Schemas/{GATEHOUSE_URN}"))
        .await
        .assert_error(404);

    // The default URN: a schema of its own, listed under the User type's extensions.
    let list = typed.get("/Schemas").await;
    assert_eq!(
        schema_ids(&list.body),
        [
            USER_URN,
            ENTERPRISE_URN,
            GATEHOUSE_URN,
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    let own = typed.get(&format!("/Schemas/{GATEHOUSE_URN}")).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body["id"], GATEHOUSE_URN);
    assert_eq!(
        own.body["meta"]["location"],
        format!("{}/Schemas/{GATEHOUSE_URN}", typed.base())
    );
    assert_eq!(
        attribute(&own.body, "isContractor").unwrap()["type"],
        "boolean"
    );
    assert_eq!(attribute(&own.body, "tags").unwrap()["multiValued"], true);
    assert_eq!(
        attribute(&own.body, "startDate").unwrap()["type"],
        "dateTime"
    );
    assert_eq!(attribute(&own.body, "badge").unwrap()["caseExact"], true);
    let typed_enterprise = typed.get(&format!("/Schemas/{ENTERPRISE_URN}")).await;
    assert!(attribute(&typed_enterprise.body, "isContractor").is_none());
    let rt = typed.get("/ResourceTypes/User").await;
    assert_eq!(
        user_extensions(&rt.body),
        [
            json!({"schema": ENTERPRISE_URN, "required": false}),
            json!({"schema": GATEHOUSE_URN, "required": false})
        ]
    );
    let all = typed.get("/ResourceTypes").await;
    assert_eq!(all.body["Resources"][0], rt.body);

    // An organisation that declares nothing shows none of it.
    let list = plain.get("/Schemas").await;
    assert_eq!(list.body["totalResults"], 3);
    let enterprise = plain.get(&format!("/Schemas/{ENTERPRISE_URN}")).await;
    assert!(attribute(&enterprise.body, "klueRole").is_none());
    plain
        .get(&format!("/Schemas/{GATEHOUSE_URN}"))
        .await
        .assert_error(404);
    let rt = plain.get("/ResourceTypes/User").await;
    assert_eq!(user_extensions(&rt.body).len(), 1);
}

#[tokio::test]
async fn klue_values_are_stored_beside_the_standard_enterprise_ones_and_returned() {
    let app = TestApp::spawn().await;
    let klue = klue(&app).await;
    let (id, body) = created(
        &klue,
        klue_user(
            "ada@klue.test",
            json!({"department": "Research", "employeeNumber": "42",
                   "KLUEROLE": "Curator", "visibilityGroup": "emea", "employeeId": "E-1",
                   "favouriteColour": "green", "schemas": [ENTERPRISE_URN]}),
        ),
    )
    .await;
    let expected = json!({"department": "Research", "employeeNumber": "42",
        "klueRole": "curator", "visibilityGroup": "emea", "employeeId": "E-1"});
    assert_eq!(
        body[ENTERPRISE_URN], expected,
        "declared names, the canonical spelling, undeclared attributes ignored"
    );
    assert_eq!(body["schemas"], json!([USER_URN, ENTERPRISE_URN]));
    let got = klue.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body[ENTERPRISE_URN], expected);
    let listed = klue.get("/Users").await;
    assert_eq!(listed.body["Resources"][0][ENTERPRISE_URN], expected);

    // PUT replaces: what it leaves out is cleared, standard and declared alike.
    let r = klue
        .put(
            &format!("/Users/{id}"),
            klue_user(
                "ada@klue.test",
                json!({"klueRole": "admin", "employeeId": "E-1"}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        r.body[ENTERPRISE_URN],
        json!({"klueRole": "admin", "employeeId": "E-1"})
    );

    // The same body in an organisation that declares nothing keeps only the standard ones.
    let plain = Scim::new(&app, "plain").await;
    let (_, body) = created(
        &plain,
        klue_user(
            "ada@plain.test",
            json!({"department": "Research", "klueRole": "curator", "employeeId": "E-1"}),
        ),
    )
    .await;
    assert_eq!(body[ENTERPRISE_URN], json!({"department": "Research"}));

    // An attribute no longer declared is no longer returned.
    set(
        &app,
        &klue.org,
        r#"extension_attributes=[{"name": "employeeId", "required": true}]"#,
    )
    .await;
    let got = klue.get(&format!("/Users/{id}")).await;
    assert_eq!(got.body[ENTERPRISE_URN], json!({"employeeId": "E-1"}));
}

#[tokio::test]
async fn klue_writes_are_checked_by_every_kind_of_request() {
    let app = TestApp::spawn().await;
    let klue = klue(&app).await;

    // POST
    let r = klue
        .post(
            "/Users",
            klue_user("a@klue.test", json!({"klueRole": "admin"})),
        )
        .await;
    refused(&r, &format!("{} is required", klue_path("employeeId")));
    let r = klue
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "a@klue.test"}),
        )
        .await;
    refused(&r, &format!("{} is required", klue_path("employeeId")));
    let r = klue
        .post(
            "/Users",
            klue_user(
                "a@klue.test",
                json!({"klueRole": "boss", "employeeId": "E-1"}),
            ),
        )
        .await;
    refused(
        &r,
        &format!(
            "{} must be one of admin, curator, consumer, not \"boss\"",
            klue_path("klueRole")
        ),
    );
    let r = klue
        .post(
            "/Users",
            klue_user("a@klue.test", json!({"klueRole": 3, "employeeId": "E-1"})),
        )
        .await;
    refused(&r, &format!("{} must be a string", klue_path("klueRole")));
    let r = klue
        .post(
            "/Users",
            klue_user("a@klue.test", json!({"employeeId": ["E-1"]})),
        )
        .await;
    refused(&r, &format!("{} is single-valued", klue_path("employeeId")));
    assert_eq!(app.directory.count_users(klue.org.id).await.unwrap(), 0);
    let (id, _) = created(
        &klue,
        klue_user(
            "a@klue.test",
            json!({"klueRole": "consumer", "employeeId": "E-1"}),
        ),
    )
    .await;
    let path = format!("/Users/{id}");

    // PUT
    let r = klue
        .put(
            &path,
            klue_user("a@klue.test", json!({"klueRole": "admin"})),
        )
        .await;
    refused(&r, &klue_path("employeeId"));
    let r = klue
        .put(
            &path,
            klue_user(
                "a@klue.test",
                json!({"klueRole": "owner", "employeeId": "E-1"}),
            ),
        )
        .await;
    refused(&r, &klue_path("klueRole"));

    // PATCH with a path
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "path": klue_path("klueRole"), "value": "boss"}]),
        )
        .await;
    refused(&r, &klue_path("klueRole"));
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "path": klue_path("klueRole"), "value": 7}]),
        )
        .await;
    refused(&r, &klue_path("klueRole"));
    let r = klue
        .patch(
            &path,
            json!([{"op": "remove", "path": klue_path("employeeId")}]),
        )
        .await;
    refused(&r, &format!("{} is required", klue_path("employeeId")));
    let r = klue
        .patch(&path, json!([{"op": "remove", "path": ENTERPRISE_URN}]))
        .await;
    refused(&r, &format!("{} is required", klue_path("employeeId")));
    let r = klue
        .patch(
            &path,
            json!([{"op": "add", "path": klue_path("favouriteColour"), "value": "red"}]),
        )
        .await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidPath");
    let unchanged = klue.get(&path).await;
    assert_eq!(
        unchanged.body[ENTERPRISE_URN],
        json!({"klueRole": "consumer", "employeeId": "E-1"}),
        "refused writes change nothing"
    );

    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "path": klue_path("klueRole"), "value": "CURATOR"}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(r.body[ENTERPRISE_URN]["klueRole"], "curator");

    // PATCH without a path: the URN as a key, or URN-qualified keys (Entra).
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "value": {ENTERPRISE_URN: {"klueRole": "boss"}}}]),
        )
        .await;
    refused(&r, &klue_path("klueRole"));
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "value": {klue_path("klueRole"): "boss"}}]),
        )
        .await;
    refused(&r, &klue_path("klueRole"));
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "value": {klue_path("klueRole"): 1}}]),
        )
        .await;
    refused(&r, &klue_path("klueRole"));
    let r = klue
        .patch(
            &path,
            json!([{"op": "add", "value": {ENTERPRISE_URN: {"klueRole": "admin", "department": "Sales"}}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let r = klue
        .patch(
            &path,
            json!([{"op": "replace", "value": {klue_path("visibilityGroup"): "apac"}}]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert_eq!(
        klue.get(&path).await.body[ENTERPRISE_URN],
        json!({"department": "Sales", "klueRole": "admin", "visibilityGroup": "apac", "employeeId": "E-1"})
    );

    // Each refusal is in the event log with its reason.
    let log = events(&app, &klue.org).await;
    let failed = log
        .iter()
        .filter(|(action, outcome, _)| action == "user.patch" && outcome == "failure")
        .count();
    assert!(failed >= 5, "{log:#?}");
}

#[tokio::test]
async fn typed_values_are_checked_for_their_type() {
    let app = TestApp::spawn().await;
    let typed = typed(&app).await;
    let (id, body) = created(
        &typed,
        typed_user(
            "t@typed.test",
            json!({"isContractor": "True", "tags": ["red", "blue"], "level": 3, "score": 4.5,
                   "startDate": "2026-01-31T09:00:00Z", "homepage": "https://t.test/",
                   "badge": "Gold"}),
        ),
    )
    .await;
    assert_eq!(
        body[GATEHOUSE_URN],
        json!({"isContractor": true, "tags": ["red", "blue"], "level": 3, "score": 4.5,
               "startDate": "2026-01-31T09:00:00Z", "homepage": "https://t.test/", "badge": "Gold"})
    );
    assert_eq!(body["schemas"], json!([USER_URN, GATEHOUSE_URN]));

    for (values, words) in [
        (
            json!({"isContractor": "maybe"}),
            "isContractor must be true or false",
        ),
        (
            json!({"isContractor": 1}),
            "isContractor must be true or false",
        ),
        (json!({"tags": "red"}), "tags is multi-valued"),
        (json!({"tags": ["red", 1]}), "tags must be a string, not 1"),
        (json!({"level": 1.5}), "level must be an integer"),
        (json!({"level": "3"}), "level must be an integer"),
        (json!({"score": "high"}), "score must be a number"),
        (
            json!({"startDate": "yesterday"}),
            "startDate must be a dateTime",
        ),
        (
            json!({"startDate": "2026-01-31"}),
            "startDate must be a dateTime",
        ),
        (
            json!({"homepage": "not a link"}),
            "homepage must be a reference",
        ),
        (
            json!({"badge": "gold"}),
            "badge must be one of Gold, Silver",
        ),
    ] {
        let r = typed
            .post("/Users", typed_user("u@typed.test", values))
            .await;
        refused(&r, &format!("{GATEHOUSE_URN}:{words}"));
    }
    let r = typed
        .post(
            "/Users",
            json!({"userName": "u@typed.test", GATEHOUSE_URN: "not an object"}),
        )
        .await;
    refused(&r, GATEHOUSE_URN);

    let path = format!("/Users/{id}");
    let r = typed
        .patch(
            &path,
            json!([{"op": "replace", "path": typed_path("startDate"), "value": "soon"}]),
        )
        .await;
    refused(&r, &typed_path("startDate"));
    let r = typed
        .patch(
            &path,
            json!([{"op": "replace", "path": typed_path("isContractor"), "value": "yes"}]),
        )
        .await;
    refused(&r, &typed_path("isContractor"));
    let r = typed
        .patch(
            &path,
            json!([
                {"op": "add", "path": typed_path("tags"), "value": "green"},
                {"op": "replace", "path": typed_path("isContractor"), "value": "False"},
                {"op": "replace", "value": {typed_path("level"): 4}},
                {"op": "remove", "path": typed_path("badge")},
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    let values = &typed.get(&path).await.body[GATEHOUSE_URN];
    assert_eq!(values["tags"], json!(["red", "blue", "green"]));
    assert_eq!(values["isContractor"], false);
    assert_eq!(values["level"], 4);
    assert!(values.get("badge").is_none());

    // Removing every value removes the extension from the user.
    let r = typed
        .patch(&path, json!([{"op": "remove", "path": GATEHOUSE_URN}]))
        .await;
    assert_eq!(r.status, 200, "{:#}", r.body);
    assert!(r.body.get(GATEHOUSE_URN).is_none());
    assert_eq!(r.body["schemas"], json!([USER_URN]));
}

#[tokio::test]
async fn projection_takes_full_paths_of_declared_attributes() {
    let app = TestApp::spawn().await;
    let klue = klue(&app).await;
    let (id, _) = created(
        &klue,
        klue_user(
            "a@klue.test",
            json!({"department": "Research", "klueRole": "admin", "employeeId": "E-1"}),
        ),
    )
    .await;
    let r = klue
        .list(
            &format!("/Users/{id}"),
            &[("attributes", &klue_path("klueRole"))],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[ENTERPRISE_URN], json!({"klueRole": "admin"}));
    assert!(r.body.get("userName").is_none());
    let r = klue
        .list(
            &format!("/Users/{id}"),
            &[("excludedAttributes", &klue_path("KLUEROLE"))],
        )
        .await;
    assert_eq!(
        r.body[ENTERPRISE_URN],
        json!({"department": "Research", "employeeId": "E-1"})
    );
    assert_eq!(r.body["userName"], "a@klue.test");
    let r = klue
        .list(
            "/Users",
            &[(
                "attributes",
                &format!("userName,{}", klue_path("employeeId")),
            )],
        )
        .await;
    assert_eq!(
        r.body["Resources"][0],
        json!({"schemas": [USER_URN, ENTERPRISE_URN], "id": id, "userName": "a@klue.test",
               ENTERPRISE_URN: {"employeeId": "E-1"}})
    );

    let typed = typed(&app).await;
    let (id, _) = created(
        &typed,
        typed_user("t@typed.test", json!({"tags": ["a"], "level": 2})),
    )
    .await;
    let r = typed
        .list(&format!("/Users/{id}"), &[("attributes", GATEHOUSE_URN)])
        .await;
    assert_eq!(r.body[GATEHOUSE_URN], json!({"tags": ["a"], "level": 2}));
    let r = typed
        .post(
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "excludedAttributes": [typed_path("tags")]}),
        )
        .await;
    assert_eq!(r.body["Resources"][0][GATEHOUSE_URN], json!({"level": 2}));
}

#[tokio::test]
async fn declared_attributes_are_filterable() {
    let app = TestApp::spawn().await;
    let klue = klue(&app).await;
    let mut ids = vec![];
    for (name, role) in [
        ("admin@klue.test", "admin"),
        ("curator@klue.test", "curator"),
        ("consumer@klue.test", "consumer"),
        ("second.admin@klue.test", "Admin"),
    ] {
        let body = klue_user(name, json!({"klueRole": role, "employeeId": name}));
        ids.push(created(&klue, body).await.0);
    }
    let found = |r: Reply| {
        assert_eq!(r.status, 200, "{:#}", r.body);
        let mut ids = r.ids();
        ids.sort();
        ids
    };
    let mut admins = vec![ids[0].clone(), ids[3].clone()];
    admins.sort();
    let filter = format!("{} eq \"admin\"", klue_path("klueRole"));
    assert_eq!(
        found(klue.list("/Users", &[("filter", &filter)]).await),
        admins
    );
    let filter = format!("{} eq \"ADMIN\"", klue_path("klueRole"));
    assert_eq!(
        found(klue.list("/Users", &[("filter", &filter)]).await),
        admins,
        "not case-exact"
    );
    assert_eq!(
        found(
            klue.list("/Users", &[("filter", "klueRole eq \"curator\"")])
                .await
        ),
        [ids[1].clone()]
    );
    let filter = format!(
        "userName eq \"consumer@klue.test\" and {} eq \"consumer\"",
        klue_path("klueRole")
    );
    assert_eq!(
        found(klue.list("/Users", &[("filter", &filter)]).await),
        [ids[2].clone()]
    );
    let filter = format!(
        "userName eq \"consumer@klue.test\" and {} eq \"admin\"",
        klue_path("klueRole")
    );
    assert!(found(klue.list("/Users", &[("filter", &filter)]).await).is_empty());
    let r = klue
        .post(
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": format!("{} sw \"cur\"", klue_path("klueRole"))}),
        )
        .await;
    assert_eq!(found(r), [ids[1].clone()]);

    let typed = typed(&app).await;
    let a = created(
        &typed,
        typed_user(
            "a@typed.test",
            json!({"isContractor": true, "tags": ["x", "y"], "startDate": "2026-03-01T00:00:00Z", "badge": "Gold"}),
        ),
    )
    .await
    .0;
    let b = created(
        &typed,
        typed_user(
            "b@typed.test",
            json!({"isContractor": false, "tags": ["y"], "startDate": "2025-03-01T00:00:00+01:00", "level": 7}),
        ),
    )
    .await
    .0;
    let both = {
        let mut v = vec![a.clone(), b.clone()];
        v.sort();
        v
    };
    for (filter, expected) in [
        (
            format!("{} eq true", typed_path("isContractor")),
            vec![a.clone()],
        ),
        (format!("{} eq \"x\"", typed_path("tags")), vec![a.clone()]),
        (format!("{} eq \"y\"", typed_path("tags")), both.clone()),
        (
            format!("{} gt \"2026-01-01T00:00:00Z\"", typed_path("startDate")),
            vec![a.clone()],
        ),
        (format!("{} ge 7", typed_path("level")), vec![b.clone()]),
        (format!("{} pr", typed_path("level")), vec![b.clone()]),
        (format!("{} eq \"gold\"", typed_path("badge")), vec![]),
        (
            format!("{} eq \"Gold\"", typed_path("badge")),
            vec![a.clone()],
        ),
    ] {
        assert_eq!(
            found(typed.list("/Users", &[("filter", &filter)]).await),
            expected,
            "{filter}"
        );
    }

    // Another organisation's attribute matches nothing here, and is no error.
    let filter = format!("{} eq \"admin\"", klue_path("klueRole"));
    assert!(found(typed.list("/Users", &[("filter", &filter)]).await).is_empty());
}

/// Trusts a test IdP for the organisation's SAML logins (IdP-initiated, as from Okta's tile).
async fn saml_idp(app: &TestApp, org: &Org) -> TestIdp {
    let idp = TestIdp::new("http://www.okta.com/exk1extension");
    let md = parse_idp_metadata(&idp.metadata(&[&idp.cert_b64]), app.directory.now()).unwrap();
    let c = SamlConnection {
        org_id: org.id,
        idp_entity_id: md.entity_id,
        sso_url: md.sso_url,
        certificates: md.certificates,
        retired: Vec::new(),
        metadata_url: None,
        created_at: 0,
        updated_at: 0,
    };
    app.directory
        .set_saml_connection(org.id, &c, &Actor::Cli)
        .await
        .unwrap();
    idp
}

async fn saml_login(app: &TestApp, org: &Org, idp: &TestIdp, name_id: &str) -> reqwest::Response {
    let acs = app.url(&format!("/saml/{}/acs", org.slug));
    let spec = Spec::new(
        idp,
        &app.url(&format!("/saml/{}/metadata", org.slug)),
        &acs,
        name_id,
    );
    app.client
        .post(acs)
        .form(&[("SAMLResponse", encode(&response(idp, &spec)))])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn jit_users_get_no_values_and_a_required_attribute_refuses_the_login() {
    let app = TestApp::spawn().await;
    let typed = typed(&app).await;
    let idp = saml_idp(&app, &typed.org).await;
    let r = saml_login(&app, &typed.org, &idp, "jit@typed.test").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = typed
        .list("/Users", &[("filter", "userName eq \"jit@typed.test\"")])
        .await;
    let user = &r.body["Resources"][0];
    assert_eq!(user["userName"], "jit@typed.test");
    assert!(user.get(GATEHOUSE_URN).is_none(), "{user:#}");
    assert_eq!(user["schemas"], json!([USER_URN]));

    // Klue requires employeeId, which no login carries: JIT is refused, naming it.
    let klue = klue(&app).await;
    let idp = saml_idp(&app, &klue.org).await;
    let r = saml_login(&app, &klue.org, &idp, "jit@klue.test").await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let page = r.text().await.unwrap();
    assert!(page.contains(&klue_path("employeeId")), "{page}");
    let log = events(&app, &klue.org).await;
    let (_, outcome, detail) = log.iter().rev().find(|e| e.0 == "login").unwrap();
    assert_eq!(outcome, "failure");
    assert!(
        detail["reason"]
            .as_str()
            .unwrap()
            .contains(&klue_path("employeeId")),
        "{detail}"
    );
    assert_eq!(app.directory.count_users(klue.org.id).await.unwrap(), 0);

    // A user SCIM provisioned with its values signs in, and keeps them.
    let (id, _) = created(
        &klue,
        klue_user(
            "ada@klue.test",
            json!({"klueRole": "admin", "employeeId": "E-7"}),
        ),
    )
    .await;
    let r = saml_login(&app, &klue.org, &idp, "ada@klue.test").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        klue.get(&format!("/Users/{id}")).await.body[ENTERPRISE_URN],
        json!({"klueRole": "admin", "employeeId": "E-7"})
    );
}

#[tokio::test]
async fn declarations_are_checked_when_set() {
    for bad in [
        r#"extension_attributes=[{"name": "department"}]"#,
        r#"extension_attributes=[{"name": "role", "type": "text"}]"#,
        r#"extension_attributes=[{"name": "a"}, {"name": "A"}]"#,
        r#"extension_attributes=[{"name": "1st"}]"#,
    ] {
        assert!(OrgChange::parse(bad).is_err(), "{bad}");
    }
}
