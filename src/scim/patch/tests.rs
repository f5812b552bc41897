use serde_json::{json, Value};

use super::*;
use crate::scim::attrs::test_schema::{group, user, TestSchema, ENTERPRISE, GROUP, USER};

fn body(ops: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": ops})
}

fn try_patch(
    resource: &Value,
    ops: Value,
    attrs: &dyn AttrLookup,
) -> Result<(Value, Changes), PatchError> {
    let ops = parse_patch(&body(ops), attrs)?;
    let mut out = resource.clone();
    let changes = apply(&mut out, &ops, attrs)?;
    Ok((out, changes))
}

fn patch(resource: &Value, ops: Value, attrs: &dyn AttrLookup) -> (Value, Changes) {
    try_patch(resource, ops, attrs).unwrap_or_else(|e| panic!("{}: {}", e.scim_type, e.detail))
}

fn patch_user(resource: &Value, ops: Value) -> Value {
    patch(resource, ops, &user()).0
}

fn user_error(resource: &Value, ops: Value) -> PatchError {
    match try_patch(resource, ops, &user()) {
        Ok((r, _)) => panic!("expected an error, got {r}"),
        Err(e) => e,
    }
}

fn test_user() -> Value {
    json!({
        "schemas": [USER],
        "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
        "userName": "test.user@okta.local",
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
        "displayName": "Test User",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "active": true,
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
    })
}

fn test_group() -> Value {
    json!({
        "schemas": [GROUP],
        "id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
        "displayName": "Test SCIMv2",
        "members": [
            {"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "old@okta.local"},
            {"value": "f648f8d5ea4e4cd38e9c", "display": "other"}
        ]
    })
}

fn ext(resource: &Value) -> &Value {
    &resource[ENTERPRISE]
}

fn schemas_of(resource: &Value) -> Vec<&str> {
    resource["schemas"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

// --- parse_patch ----------------------------------------------------------------------------

#[test]
fn ops_and_the_operations_key_are_read_in_any_case() {
    let b = json!({"schemas": [PATCH_URN.to_uppercase()], "operations": [
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "REPLACE", "path": "title", "value": "x"},
        {"op": "remove", "path": "locale"}
    ]});
    let ops = parse_patch(&b, &user()).unwrap();
    let kinds: Vec<OpKind> = ops.iter().map(|o| o.op).collect();
    assert_eq!(kinds, [OpKind::Add, OpKind::Replace, OpKind::Remove]);
    assert_eq!(
        ops[0].path,
        Some(PatchPath::Attr(
            filter::parse_attr_path("nickName").unwrap()
        ))
    );
}

#[test]
fn a_missing_schemas_list_is_accepted_but_a_foreign_one_is_not() {
    let ops = json!([{"op": "replace", "value": {"active": false}}]);
    assert!(parse_patch(&json!({"Operations": ops}), &user()).is_ok());
    let e = parse_patch(
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "Operations": ops}),
        &user(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "invalidSyntax");
    assert!(e.detail.contains(PATCH_URN), "{}", e.detail);
    let e = parse_patch(&json!({"schemas": PATCH_URN, "Operations": ops}), &user()).unwrap_err();
    assert_eq!(e.scim_type, "invalidSyntax");
}

#[test]
fn malformed_bodies_are_invalid_syntax() {
    for b in [
        json!([]),
        json!("x"),
        json!({"schemas": [PATCH_URN]}),
        json!({"schemas": [PATCH_URN], "Operations": []}),
        json!({"schemas": [PATCH_URN], "Operations": {"op": "add"}}),
        json!({"schemas": [PATCH_URN], "Operations": ["add"]}),
        json!({"schemas": [PATCH_URN], "Operations": [{"path": "title", "value": "x"}]}),
        json!({"schemas": [PATCH_URN], "Operations": [{"op": 1, "path": "title"}]}),
        json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": 7, "value": 1}]}),
    ] {
        let e = parse_patch(&b, &user()).unwrap_err();
        assert_eq!(e.scim_type, "invalidSyntax", "{b}: {}", e.detail);
    }
}

#[test]
fn an_unknown_op_or_a_missing_value_names_the_operation() {
    let e = parse_patch(
        &body(
            json!([{"op": "add", "path": "title", "value": "x"}, {"op": "move", "path": "title"}]),
        ),
        &user(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "invalidSyntax");
    assert_eq!(
        e.detail,
        "Operations[1]: unknown op \"move\": expected add, remove or replace"
    );
    let e = parse_patch(&body(json!([{"op": "Replace", "path": "title"}])), &user()).unwrap_err();
    assert_eq!(
        (e.scim_type, e.detail.as_str()),
        (
            "invalidSyntax",
            "Operations[0]: \"value\" is required for Replace"
        )
    );
    let e = parse_patch(&body(json!([{"op": "add", "value": "x"}])), &user()).unwrap_err();
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn unparseable_paths_are_invalid_path_with_the_position() {
    let e = parse_patch(
        &body(
            json!([{"op": "remove", "path": "title"}, {"op": "remove", "path": "emails[type eq"}]),
        ),
        &user(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "invalidPath");
    assert_eq!(
        e.detail,
        "Operations[1]: path \"emails[type eq\" is not valid: expected a value (a quoted string, \
         number, true, false or null), found the end of the input at 14"
    );
    let e = parse_patch(
        &body(json!([{"op": "remove", "path": "emails[type eq \"work\""}])),
        &user(),
    )
    .unwrap_err();
    assert!(e.detail.contains("expected ']'"), "{}", e.detail);
}

#[test]
fn unknown_attributes_in_paths_are_invalid_path_naming_them() {
    for (path, named) in [
        ("favouriteColour", "favouriteColour"),
        ("name.nickname", "name.nickname"),
        ("userName.value", "userName"),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName",
            "userName",
        ),
        ("urn:example:unknown:2.0:User:thing", "thing"),
        ("manager.phone", "manager.phone"),
    ] {
        let e = parse_patch(&body(json!([{"op": "remove", "path": path}])), &user()).unwrap_err();
        assert_eq!(e.scim_type, "invalidPath", "{path}");
        assert!(e.detail.contains(named), "{path}: {}", e.detail);
        assert!(
            e.detail.starts_with("Operations[0]: path \""),
            "{}",
            e.detail
        );
    }
    let e = parse_patch(
        &body(json!([{"op": "remove", "path": "name[givenName eq \"x\"]"}])),
        &user(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "invalidPath");
}

#[test]
fn a_path_equal_to_an_extension_urn_names_the_whole_extension() {
    let ops = parse_patch(
        &body(
            json!([{"op": "remove", "path": ENTERPRISE.to_lowercase()}, {"op": "remove", "path": ""}]),
        ),
        &user(),
    );
    let ops = ops.unwrap();
    assert_eq!(
        ops[0].path,
        Some(PatchPath::Extension(ENTERPRISE.to_owned()))
    );
    assert_eq!(ops[1].path, None);
    let ops = parse_patch(
        &body(json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}])),
        &user(),
    )
    .unwrap();
    assert_eq!(
        ops[0].path.as_ref().unwrap().to_string(),
        "emails[type eq \"work\"].value"
    );
}

// --- Okta (scim-clients.md §3) ---------------------------------------------------------------

#[test]
fn okta_deactivates_and_reactivates_with_a_no_path_replace() {
    let off = patch_user(
        &test_user(),
        json!([{"op": "replace", "value": {"active": false}}]),
    );
    assert_eq!(off["active"], json!(false));
    let on = patch_user(&off, json!([{"op": "replace", "value": {"active": true}}]));
    assert_eq!(on, test_user());
}

#[test]
fn okta_password_sync_is_accepted_with_and_without_a_path() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "value": {"password": "n3w-Secret"}}]),
    );
    assert_eq!(r["password"], json!("n3w-Secret"));
    let r = patch_user(
        &r,
        json!([{"op": "replace", "path": "password", "value": "again"}]),
    );
    assert_eq!(r["password"], json!("again"));
}

#[test]
fn a_put_shaped_no_path_replace_ignores_read_only_keys_and_keeps_empty_strings() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "value": {
            "schemas": [USER],
            "id": "someone-else",
            "userName": "test.user@okta.local",
            "name": {"givenName": "Another", "middleName": "", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}],
            "active": true,
            "groups": [],
            "meta": {"resourceType": "User"}
        }}]),
    );
    assert_eq!(r["id"], test_user()["id"]);
    assert_eq!(r["meta"], test_user()["meta"]);
    assert!(r.get("groups").is_none());
    assert_eq!(
        r["name"],
        json!({"givenName": "Another", "middleName": "", "familyName": "User"})
    );
    assert_eq!(
        r["emails"],
        json!([{"primary": true, "value": "test.user@okta.local", "type": "work", "display": "test.user@okta.local"}])
    );
}

#[test]
fn okta_renames_a_group_with_its_own_id_in_the_value() {
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "replace", "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Renamed"}}]),
        &group(),
    );
    assert_eq!(g["displayName"], json!("Renamed"));
    assert_eq!(g["id"], test_group()["id"]);
    assert_eq!(changes, Changes::default());
}

#[test]
fn okta_membership_update_removes_by_filter_and_adds_in_one_request() {
    let (g, changes) = patch(
        &test_group(),
        json!([
            {"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
            {"op": "add", "path": "members", "value": [{"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}]}
        ]),
        &group(),
    );
    assert_eq!(
        g["members"],
        json!([
            {"value": "f648f8d5ea4e4cd38e9c", "display": "other"},
            {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173", "display": "test.user@okta.local"}
        ])
    );
    assert_eq!(
        changes,
        Changes {
            members_added: vec!["23a35c27-23d3-4c03-b4c5-6443c09e7173".to_owned()],
            members_removed: vec!["89bb1940-b905-4575-9e7f-6f887cfb368e".to_owned()],
            members_replaced: false
        }
    );
}

#[test]
fn okta_push_now_replaces_the_whole_member_list() {
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "replace", "path": "members", "value": [
            {"value": "f648f8d5ea4e4cd38e9c", "display": "other"},
            {"value": "new-1", "display": "n"}
        ]}]),
        &group(),
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    assert_eq!(
        changes,
        Changes {
            members_added: vec!["new-1".to_owned()],
            members_removed: vec!["89bb1940-b905-4575-9e7f-6f887cfb368e".to_owned()],
            members_replaced: true
        }
    );
}

// --- Entra ID (scim-clients.md §6.2) ---------------------------------------------------------

#[test]
fn e7_replaces_the_work_email_in_place_and_the_family_name() {
    let r = patch_user(
        &test_user(),
        json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]),
    );
    assert_eq!(
        r["emails"],
        json!([{"primary": true, "value": "updatedEmail@microsoft.com", "type": "work"}])
    );
    assert_eq!(
        r["name"],
        json!({"givenName": "Test", "familyName": "updatedFamilyName"})
    );
}

#[test]
fn e8_replaces_the_user_name() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "Replace", "path": "userName", "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}]),
    );
    assert_eq!(
        r["userName"],
        json!("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com")
    );
}

#[test]
fn e9_and_e10_disable_with_a_string_or_a_real_boolean() {
    for (value, expected) in [
        (json!("False"), false),
        (json!("false"), false),
        (json!("TRUE"), true),
        (json!(false), false),
        (json!(true), true),
    ] {
        let r = patch_user(
            &test_user(),
            json!([{"op": "Replace", "path": "active", "value": value}]),
        );
        assert_eq!(r["active"], json!(expected), "{value}");
    }
    let r = patch_user(
        &test_user(),
        json!([{"op": "Replace", "value": {"active": "False"}}]),
    );
    assert_eq!(r["active"], json!(false));
}

#[test]
fn e11_adds_a_single_value_with_either_capitalisation() {
    for op in ["Add", "add"] {
        let r = patch_user(
            &test_user(),
            json!([{"op": op, "path": "nickName", "value": "Babs"}]),
        );
        assert_eq!(r["nickName"], json!("Babs"));
    }
}

#[test]
fn e12_replaces_several_attributes_including_an_extension_attribute() {
    let r = patch_user(
        &test_user(),
        json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "x@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "Eqpj"}
        ]),
    );
    assert_eq!(r["displayName"], json!("Pvlo"));
    assert_eq!(r["emails"][0]["value"], json!("x@test.microsoft.com"));
    assert_eq!(
        r["name"],
        json!({"givenName": "Gtfd", "familyName": "Pkqf"})
    );
    assert_eq!(r["externalId"], json!("Eqpj"));
    assert_eq!(ext(&r), &json!({"employeeNumber": "Eqpj"}));
    assert_eq!(schemas_of(&r), [USER, ENTERPRISE]);
}

#[test]
fn e13_no_path_keys_may_be_dotted_or_urn_qualified_paths() {
    let r = patch_user(
        &test_user(),
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "k@x.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
            }}
        ]),
    );
    assert_eq!(r["displayName"], json!("Bjfe"));
    assert_eq!(
        r["name"],
        json!({"givenName": "Kkom", "familyName": "Unua"})
    );
    assert_eq!(ext(&r), &json!({"employeeNumber": "Aklq"}));
    assert!(r.get("name.givenName").is_none());
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert!(keys
        .iter()
        .all(|k| !k.contains('.') || k.as_str() == ENTERPRISE));
}

#[test]
fn e14_manager_as_a_one_element_array_sets_the_enterprise_manager() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "Add", "path": "manager", "value": [
            {"$ref": "http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}
        ]}]),
    );
    assert_eq!(
        ext(&r)["manager"],
        json!({"$ref": "http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"})
    );
    assert!(r.get("manager").is_none());
    let e = user_error(
        &test_user(),
        json!([{"op": "Add", "path": "manager", "value": [{"value": "a"}, {"value": "b"}]}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn e15_manager_is_added_replaced_and_removed_by_urn_path() {
    let path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    let r = patch_user(
        &test_user(),
        json!([{"op": "add", "path": path, "value": {"value": "AXTKDLNRKMKT"}}]),
    );
    assert_eq!(ext(&r), &json!({"manager": {"value": "AXTKDLNRKMKT"}}));
    assert_eq!(schemas_of(&r), [USER, ENTERPRISE]);
    let r = patch_user(
        &r,
        json!([{"op": "replace", "path": path, "value": {"value": "CBEQ"}}]),
    );
    assert_eq!(ext(&r), &json!({"manager": {"value": "CBEQ"}}));
    let r = patch_user(&r, json!([{"op": "remove", "path": path}]));
    assert!(r.get(ENTERPRISE).is_none());
    assert_eq!(schemas_of(&r), [USER]);
}

#[test]
fn a_bare_string_manager_is_stored_as_its_value() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "path": "manager", "value": "boss-id"}]),
    );
    assert_eq!(ext(&r)["manager"], json!({"value": "boss-id"}));
    let r = patch_user(
        &r,
        json!([{"op": "replace", "path": "manager.value", "value": "new-boss"}]),
    );
    assert_eq!(ext(&r)["manager"], json!({"value": "new-boss"}));
}

#[test]
fn e20_replaces_a_group_display_name() {
    let (g, _) = patch(
        &test_group(),
        json!([{"op": "Replace", "path": "displayName", "value": "Test SCIMv2 updatedDisplayName"}]),
        &group(),
    );
    assert_eq!(g["displayName"], json!("Test SCIMv2 updatedDisplayName"));
}

#[test]
fn e21_adds_members_with_null_refs_and_skips_existing_ones() {
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": "new-a"},
            {"$ref": null, "value": "f648f8d5ea4e4cd38e9c"},
            {"$ref": null, "value": "new-b"},
            {"value": "new-a", "display": "again"}
        ]}]),
        &group(),
    );
    let ids: Vec<&str> = g["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "89bb1940-b905-4575-9e7f-6f887cfb368e",
            "f648f8d5ea4e4cd38e9c",
            "new-a",
            "new-b"
        ]
    );
    assert_eq!(
        g["members"][1],
        json!({"value": "f648f8d5ea4e4cd38e9c", "display": "other"})
    );
    assert_eq!(changes.members_added, ["new-a", "new-b"]);
    assert!(changes.members_removed.is_empty());
}

#[test]
fn e22_remove_with_a_value_list_removes_only_the_listed_members() {
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}, {"value": "not-a-member"}]}]),
        &group(),
    );
    assert_eq!(
        g["members"],
        json!([{"value": "89bb1940-b905-4575-9e7f-6f887cfb368e", "display": "old@okta.local"}])
    );
    assert_eq!(changes.members_removed, ["f648f8d5ea4e4cd38e9c"]);
}

#[test]
fn e23_removes_a_member_by_filter_and_a_bare_remove_clears_all() {
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "remove", "path": "members[value eq \"f648f8d5ea4e4cd38e9c\"]"}]),
        &group(),
    );
    assert_eq!(g["members"].as_array().unwrap().len(), 1);
    assert_eq!(changes.members_removed, ["f648f8d5ea4e4cd38e9c"]);
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "remove", "path": "members"}]),
        &group(),
    );
    assert!(g.get("members").is_none());
    assert_eq!(changes.members_removed.len(), 2);
    assert!(!changes.members_replaced);
}

#[test]
fn replacing_a_work_email_that_does_not_exist_adds_it() {
    let mut u = test_user();
    u.as_object_mut().unwrap().remove("emails");
    let r = patch_user(
        &u,
        json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"}]),
    );
    assert_eq!(
        r["emails"],
        json!([{"type": "work", "value": "new@contoso.com"}])
    );
    let r = patch_user(
        &r,
        json!([{"op": "Add", "path": "emails[type eq \"home\" and primary eq true].value", "value": "h@x.org"}]),
    );
    assert_eq!(
        r["emails"],
        json!([{"type": "work", "value": "new@contoso.com"}, {"type": "home", "primary": true, "value": "h@x.org"}])
    );
}

#[test]
fn a_filter_that_matches_nothing_and_is_not_an_equality_is_no_target() {
    let before = test_user();
    let e = user_error(
        &before,
        json!([{"op": "replace", "path": "emails[value co \"@nowhere\"].type", "value": "home"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
    assert_eq!(
        e.detail,
        r#"Operations[0]: path "emails[value co "@nowhere"].type": no value of "emails" matches [value co "@nowhere"]"#
    );
    let e = user_error(
        &before,
        json!([{"op": "replace", "path": "emails[type eq \"home\" or type eq \"other\"].value", "value": "x"}]),
    );
    assert_eq!(e.scim_type, "noTarget");
}

// --- scim2-tester (scim-clients.md §7.4) -----------------------------------------------------

const SIMPLE_USER_ATTRS: &[&str] = &[
    "externalId",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
];

fn minimal_user() -> Value {
    json!({"schemas": [USER], "id": "u1", "userName": "0f5b8a1e-5d0c-4c6b-9a59-9d8c5f8e2b11"})
}

fn add_replace_remove(base: &Value, path: &str, first: Value, second: Value, schema: &TestSchema) {
    let lookup = |r: &Value| -> Option<Value> {
        let p = parse_patch_path(path, schema).unwrap();
        match p {
            PatchPath::Extension(urn) => r.get(&urn).cloned(),
            PatchPath::Attr(a) => {
                let info = schema.attr(a.urn.as_deref(), &a.name).unwrap();
                attrs::lookup(r, &info).cloned()
            }
            PatchPath::Filtered { .. } => None,
        }
    };
    let (r, _) = patch(
        base,
        json!([{"op": "add", "path": path, "value": first}]),
        schema,
    );
    assert_eq!(lookup(&r), Some(first.clone()), "add {path}");
    let (r, _) = patch(
        &r,
        json!([{"op": "replace", "path": path, "value": second}]),
        schema,
    );
    assert_eq!(lookup(&r), Some(second.clone()), "replace {path}");
    let (r, _) = patch(&r, json!([{"op": "remove", "path": path}]), schema);
    assert_eq!(lookup(&r), None, "remove {path}");
    assert_eq!(&r, base, "remove {path} restores the resource");
}

#[test]
fn every_simple_user_attribute_can_be_added_replaced_and_removed() {
    for name in SIMPLE_USER_ATTRS {
        add_replace_remove(
            &minimal_user(),
            name,
            json!("0c2f4a52-6f4e-4d5a-9d8f-2a9c31b8e001"),
            json!("https://7d1f3c1e-0b55-4c36-8f0a-0e1e5b2e7c02.test"),
            &user(),
        );
    }
}

#[test]
fn name_active_and_password_follow_the_tester_sequence() {
    add_replace_remove(
        &minimal_user(),
        "name",
        json!({"givenName": "A", "familyName": "B", "formatted": "A B"}),
        json!({"givenName": "C", "familyName": "D", "formatted": "C D"}),
        &user(),
    );
    add_replace_remove(
        &minimal_user(),
        "active",
        json!(true),
        json!(false),
        &user(),
    );
    let r = patch_user(
        &minimal_user(),
        json!([{"op": "add", "path": "password", "value": "p1"}, {"op": "replace", "path": "password", "value": "p2"}]),
    );
    assert_eq!(r["password"], json!("p2"));
    let r = patch_user(&test_user(), json!([{"op": "remove", "path": "active"}]));
    assert!(r.get("active").is_none());
}

#[test]
fn every_multi_valued_user_attribute_is_stored_exactly_as_sent() {
    let element = |n: &str| json!([{"value": format!("{n}-value"), "type": "work", "display": format!("{n} display"), "primary": true}]);
    for name in [
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "entitlements",
        "roles",
        "x509Certificates",
    ] {
        add_replace_remove(&minimal_user(), name, element("a"), element("b"), &user());
    }
    add_replace_remove(
        &minimal_user(),
        "addresses",
        json!([{"streetAddress": "1 Main St", "locality": "X", "country": "NZ", "type": "work"}]),
        json!([{"formatted": "2 High St", "postalCode": "9999", "type": "home"}]),
        &user(),
    );
    add_replace_remove(
        &minimal_user(),
        "emails",
        json!([{"value": "Mixed.Case@Example.COM"}]),
        json!([{"value": "b@x.org", "type": "home"}, {"value": "c@x.org", "type": "other"}]),
        &user(),
    );
}

#[test]
fn the_whole_enterprise_extension_is_added_replaced_and_removed_without_its_schemas_key() {
    let first = json!({
        "schemas": [ENTERPRISE],
        "employeeNumber": "1", "costCenter": "2", "organization": "3", "division": "4", "department": "5",
        "manager": {"value": "u2", "$ref": "https://x.test/Users/u2"}
    });
    let r = patch_user(
        &minimal_user(),
        json!([{"op": "add", "path": ENTERPRISE, "value": first}]),
    );
    let mut expected = first.clone();
    expected.as_object_mut().unwrap().remove("schemas");
    assert_eq!(ext(&r), &expected);
    assert_eq!(schemas_of(&r), [USER, ENTERPRISE]);
    let second = json!({"schemas": [ENTERPRISE], "employeeNumber": "9", "costCenter": "8", "organization": "7", "division": "6", "department": "5", "manager": {"value": "u3", "$ref": "https://x.test/Users/u3"}});
    let r = patch_user(
        &r,
        json!([{"op": "replace", "path": ENTERPRISE, "value": second}]),
    );
    let mut expected = second.clone();
    expected.as_object_mut().unwrap().remove("schemas");
    assert_eq!(ext(&r), &expected);
    let r = patch_user(&r, json!([{"op": "remove", "path": ENTERPRISE}]));
    assert_eq!(r, minimal_user());
}

#[test]
fn each_enterprise_attribute_and_the_manager_work_by_urn_path() {
    for name in [
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
    ] {
        add_replace_remove(
            &minimal_user(),
            &format!("{ENTERPRISE}:{name}"),
            json!("first"),
            json!("second"),
            &user(),
        );
    }
    add_replace_remove(
        &minimal_user(),
        &format!("{ENTERPRISE}:manager"),
        json!({"value": "u2", "$ref": "https://x.test/Users/u2"}),
        json!({"value": "u3", "$ref": "https://x.test/Users/u3"}),
        &user(),
    );
}

#[test]
fn group_attributes_follow_the_tester_sequence() {
    let base = json!({"schemas": [GROUP], "id": "g1", "displayName": "G"});
    add_replace_remove(&base, "externalId", json!("e1"), json!("e2"), &group());
    add_replace_remove(
        &base,
        "members",
        json!([{"value": "u1", "$ref": "https://x.test/Users/u1", "type": "User", "display": "One"}]),
        json!([{"value": "u2", "$ref": "https://x.test/Users/u2", "type": "User", "display": "Two"}]),
        &group(),
    );
    let (g, _) = patch(
        &base,
        json!([{"op": "replace", "path": "displayName", "value": "H"}]),
        &group(),
    );
    assert_eq!(g["displayName"], json!("H"));
}

// --- semantics -------------------------------------------------------------------------------

#[test]
fn add_to_a_multi_valued_attribute_appends_and_skips_equal_values() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "add", "path": "emails", "value": [
            {"primary": true, "value": "test.user@okta.local", "type": "work"},
            {"value": "home@x.org", "type": "home"}
        ]}]),
    );
    assert_eq!(r["emails"].as_array().unwrap().len(), 2);
    let r = patch_user(
        &r,
        json!([{"op": "add", "path": "emails", "value": {"value": "third@x.org"}}]),
    );
    assert_eq!(r["emails"][2], json!({"value": "third@x.org"}));
}

#[test]
fn a_new_primary_element_demotes_only_the_old_primary() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.org", "type": "home", "primary": "True"}, {"value": "c@x.org"}]}]),
    );
    assert_eq!(
        r["emails"],
        json!([
            {"primary": false, "value": "test.user@okta.local", "type": "work"},
            {"value": "b@x.org", "type": "home", "primary": true},
            {"value": "c@x.org"}
        ])
    );
    let r = patch_user(
        &r,
        json!([{"op": "replace", "path": "emails[value eq \"c@x.org\"].primary", "value": true}]),
    );
    assert_eq!(r["emails"][0]["primary"], json!(false));
    assert_eq!(r["emails"][1]["primary"], json!(false));
    assert_eq!(r["emails"][2], json!({"value": "c@x.org", "primary": true}));
}

#[test]
fn complex_values_merge_into_the_existing_sub_attributes() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "path": "name", "value": {"middleName": "Q"}}]),
    );
    assert_eq!(
        r["name"],
        json!({"givenName": "Test", "familyName": "User", "middleName": "Q"})
    );
    let r = patch_user(
        &r,
        json!([{"op": "add", "value": {"name": {"givenName": "T", "middleName": null}}}]),
    );
    assert_eq!(r["name"], json!({"givenName": "T", "familyName": "User"}));
}

#[test]
fn filtered_paths_replace_or_remove_whole_elements_or_one_sub_attribute() {
    let mut u = test_user();
    u["emails"] = json!([
        {"value": "w@x.org", "type": "work", "display": "W"},
        {"value": "h@x.org", "type": "home", "display": "H"}
    ]);
    let r = patch_user(
        &u,
        json!([{"op": "remove", "path": "emails[type eq \"work\"].display"}]),
    );
    assert_eq!(r["emails"][0], json!({"value": "w@x.org", "type": "work"}));
    let r = patch_user(
        &u,
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "n@x.org", "type": "other"}}]),
    );
    assert_eq!(r["emails"][1], json!({"value": "n@x.org", "type": "other"}));
    let r = patch_user(
        &u,
        json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
    );
    assert_eq!(r["emails"].as_array().unwrap().len(), 1);
    let r = patch_user(
        &r,
        json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
    );
    assert!(r.get("emails").is_none());
    let r = patch_user(
        &u,
        json!([{"op": "replace", "path": "emails.type", "value": "other"}]),
    );
    assert_eq!(r["emails"][0]["type"], json!("other"));
    assert_eq!(r["emails"][1]["type"], json!("other"));
}

#[test]
fn removing_something_absent_succeeds() {
    for path in [
        "nickName",
        "emails[type eq \"home\"]",
        "phoneNumbers",
        "name.middleName",
        ENTERPRISE,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ] {
        let r = patch_user(&test_user(), json!([{"op": "remove", "path": path}]));
        assert_eq!(r, test_user(), "{path}");
    }
    let (g, changes) = patch(
        &test_group(),
        json!([{"op": "remove", "path": "members[value eq \"not-there\"]"}]),
        &group(),
    );
    assert_eq!((g, changes), (test_group(), Changes::default()));
}

#[test]
fn remove_without_a_path_is_no_target() {
    let e = user_error(&test_user(), json!([{"op": "remove"}]));
    assert_eq!(e.scim_type, "noTarget");
    assert_eq!(e.detail, "Operations[0]: remove requires a path");
}

#[test]
fn replace_with_null_unassigns_and_add_with_null_does_nothing() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "path": "displayName", "value": null}]),
    );
    assert!(r.get("displayName").is_none());
    let r = patch_user(
        &test_user(),
        json!([{"op": "add", "path": "displayName", "value": null}]),
    );
    assert_eq!(r, test_user());
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "path": "emails", "value": []}]),
    );
    assert!(r.get("emails").is_none());
}

#[test]
fn explicit_paths_to_read_only_attributes_are_mutability_errors() {
    for (op, path) in [
        ("replace", "id"),
        ("add", "meta"),
        ("replace", "meta.created"),
        ("add", "groups"),
        ("remove", "id"),
        (
            "replace",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
        ),
    ] {
        let e = user_error(
            &test_user(),
            json!([{"op": op, "path": path, "value": "x"}]),
        );
        assert_eq!(e.scim_type, "mutability", "{op} {path}: {}", e.detail);
        assert!(e.detail.contains("read-only"), "{}", e.detail);
    }
    let r = patch_user(
        &test_user(),
        json!([{"op": "replace", "value": {"meta.created": "2000-01-01T00:00:00Z", "groups": [{"value": "g"}]}}]),
    );
    assert_eq!(r, test_user());
}

struct ImmutableExternalId(TestSchema);

impl AttrLookup for ImmutableExternalId {
    fn attr(&self, urn: Option<&str>, name: &str) -> Option<AttrInfo> {
        let mut info = self.0.attr(urn, name)?;
        if info.name == "externalId" {
            info.mutability = Mutability::Immutable;
        }
        Some(info)
    }
    fn sub_attr(&self, parent: &AttrInfo, name: &str) -> Option<AttrInfo> {
        self.0.sub_attr(parent, name)
    }
    fn schema_urns(&self) -> Vec<String> {
        self.0.schema_urns()
    }
}

#[test]
fn immutable_attributes_may_be_set_once_but_not_changed() {
    let schema = ImmutableExternalId(user());
    let (r, _) = patch(
        &minimal_user(),
        json!([{"op": "add", "path": "externalId", "value": "e1"}]),
        &schema,
    );
    assert_eq!(r["externalId"], json!("e1"));
    let (same, _) = patch(
        &r,
        json!([{"op": "replace", "path": "externalId", "value": "e1"}]),
        &schema,
    );
    assert_eq!(same, r);
    for op in [
        json!({"op": "replace", "path": "externalId", "value": "e2"}),
        json!({"op": "remove", "path": "externalId"}),
        json!({"op": "replace", "value": {"externalId": "e3"}}),
    ] {
        let e = try_patch(&r, json!([op]), &schema).unwrap_err();
        assert_eq!(e.scim_type, "mutability", "{op}");
    }
    let mut resource = r.clone();
    let ops = parse_patch(
        &body(json!([{"op": "replace", "value": {"displayName": "first", "externalId": "e2"}}])),
        &schema,
    )
    .unwrap();
    assert_eq!(
        apply(&mut resource, &ops, &schema).unwrap_err().scim_type,
        "mutability"
    );
    assert_eq!(resource, r);
    let ops = parse_patch(
        &body(json!([{"op": "replace", "path": "externalId", "value": "e2"}])),
        &schema,
    )
    .unwrap();
    assert!(apply(&mut resource, &ops, &schema).is_err());
    assert_eq!(resource, r);
    let e = try_patch(
        &test_group(),
        json!([{"op": "replace", "path": "members[value eq \"f648f8d5ea4e4cd38e9c\"].value", "value": "other"}]),
        &group(),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, "mutability");
}

#[test]
fn wrong_types_for_known_attributes_are_invalid_value_naming_them() {
    for (path, value, named) in [
        ("userName", json!(42), "userName"),
        ("title", json!({"a": 1}), "title"),
        ("active", json!("yes"), "active"),
        ("active", json!(1), "active"),
        ("emails", json!([7]), "emails"),
        (
            "emails",
            json!([{"value": "a@b", "primary": "sometimes"}]),
            "emails.primary",
        ),
        ("name", json!(["x"]), "name"),
        ("name.givenName", json!(false), "name.givenName"),
        ("emails[type eq \"work\"].value", json!(1), "emails.value"),
    ] {
        let e = user_error(
            &test_user(),
            json!([{"op": "replace", "path": path, "value": value}]),
        );
        assert_eq!(e.scim_type, "invalidValue", "{path}: {}", e.detail);
        assert!(
            e.detail.contains(&format!("\"{named}\"")),
            "{path}: {}",
            e.detail
        );
    }
    let e = user_error(
        &test_user(),
        json!([{"op": "replace", "value": {"userName": ["a"]}}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
    assert!(
        e.detail
            .starts_with("Operations[0]: attribute \"userName\""),
        "{}",
        e.detail
    );
}

#[test]
fn a_failing_operation_leaves_the_resource_as_it_was() {
    let before = test_user();
    let mut r = before.clone();
    let ops = parse_patch(
        &body(json!([{"op": "replace", "value": {"displayName": "changed", "active": "maybe"}}])),
        &user(),
    )
    .unwrap();
    let e = apply(&mut r, &ops, &user()).unwrap_err();
    assert_eq!(e.scim_type, "invalidValue");
    assert_eq!(r, before);
    let ops = parse_patch(
        &body(json!([{"op": "replace", "path": "emails[value sw \"zzz\"].value", "value": "x"}])),
        &user(),
    )
    .unwrap();
    assert!(apply(&mut r, &ops, &user()).is_err());
    assert_eq!(r, before);
}

#[test]
fn unknown_no_path_keys_are_invalid_path_and_extension_values_must_be_objects() {
    let e = user_error(
        &test_user(),
        json!([{"op": "replace", "value": {"favouriteColour": "red"}}]),
    );
    assert_eq!(e.scim_type, "invalidPath");
    assert!(e.detail.contains("favouriteColour"));
    let e = user_error(
        &test_user(),
        json!([{"op": "replace", "value": {"name.": "x"}}]),
    );
    assert_eq!(e.scim_type, "invalidPath");
    let e = user_error(
        &test_user(),
        json!([{"op": "replace", "value": {ENTERPRISE: "x"}}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
    let e = user_error(
        &test_user(),
        json!([{"op": "replace", "path": ENTERPRISE, "value": 3}]),
    );
    assert_eq!(e.scim_type, "invalidValue");
}

#[test]
fn no_path_extension_objects_apply_each_key_within_the_extension() {
    let r = patch_user(
        &test_user(),
        json!([{"op": "add", "value": {ENTERPRISE: {"schemas": [ENTERPRISE], "department": "Eng", "manager.value": "m1"}}}]),
    );
    assert_eq!(
        ext(&r),
        &json!({"department": "Eng", "manager": {"value": "m1"}})
    );
    let r = patch_user(&r, json!([{"op": "remove", "path": "department"}]));
    let r = patch_user(&r, json!([{"op": "remove", "path": "manager.value"}]));
    assert!(r.get(ENTERPRISE).is_none());
    assert_eq!(schemas_of(&r), [USER]);
}

#[test]
fn existing_key_spellings_are_kept_and_missing_schemas_are_created() {
    let r = json!({"id": "1", "UserName": "a", "NAME": {"GivenName": "x"}});
    let r2 = patch_user(
        &r,
        json!([{"op": "replace", "path": "USERNAME", "value": "b"}, {"op": "replace", "path": "name.givenName", "value": "y"}]),
    );
    assert_eq!(
        r2,
        json!({"id": "1", "UserName": "b", "NAME": {"GivenName": "y"}})
    );
    let r3 = patch_user(
        &r,
        json!([{"op": "add", "path": "employeeNumber", "value": "7"}]),
    );
    assert_eq!(schemas_of(&r3), [USER, ENTERPRISE]);
}

#[test]
fn unknown_sub_attributes_of_elements_are_kept_as_sent() {
    let r = patch_user(
        &minimal_user(),
        json!([{"op": "add", "path": "emails", "value": [{"value": "a@b", "Type": "work", "x-note": "kept"}]}]),
    );
    assert_eq!(
        r["emails"],
        json!([{"value": "a@b", "type": "work", "x-note": "kept"}])
    );
}

#[test]
fn user_patches_report_no_membership_changes() {
    let (_, changes) = patch(
        &test_user(),
        json!([{"op": "replace", "value": {"displayName": "x"}}]),
        &user(),
    );
    assert_eq!(changes, Changes::default());
}

#[test]
fn apply_refuses_a_resource_that_is_not_an_object() {
    let ops = parse_patch(&body(json!([{"op": "remove", "path": "title"}])), &user()).unwrap();
    let e = apply(&mut json!([]), &ops, &user()).unwrap_err();
    assert_eq!(e.scim_type, "invalidValue");
}
