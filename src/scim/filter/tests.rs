use serde_json::{json, Value};

use super::*;
use crate::scim::attrs::test_schema::{group, user, ENTERPRISE, USER};

fn path(name: &str) -> AttrPath {
    AttrPath {
        urn: None,
        name: name.to_owned(),
        sub: None,
    }
}

fn sub_path(name: &str, sub: &str) -> AttrPath {
    AttrPath {
        sub: Some(sub.to_owned()),
        ..path(name)
    }
}

fn eq(p: AttrPath, v: Value) -> Filter {
    Filter::Compare(p, CompareOp::Eq, v)
}

fn and(a: Filter, b: Filter) -> Filter {
    Filter::And(Box::new(a), Box::new(b))
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

fn err(input: &str) -> FilterError {
    match parse_filter(input) {
        Ok(f) => panic!("{input:?} parsed as {f:?}"),
        Err(e) => e,
    }
}

fn bjensen() -> Value {
    json!({
        "schemas": [USER, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen-EXT",
        "userName": "Bjensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": ""},
        "displayName": "Babs Jensen",
        "nickName": null,
        "title": "",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [],
        "meta": {
            "resourceType": "User",
            "created": "2011-08-01T18:29:49.793Z",
            "lastModified": "2011-08-01T21:32:44.882Z"
        },
        ENTERPRISE: {
            "employeeNumber": "701984",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915"}
        }
    })
}

fn user_matches(filter: &str) -> bool {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    matches(&f, &bjensen(), &user())
}

// --- parsing ---------------------------------------------------------------------------------

#[test]
fn okta_and_entra_lookups_parse_to_a_single_equality() {
    assert_eq!(
        parse_filter(r#"userName eq "test.user@okta.local""#).unwrap(),
        eq(path("userName"), json!("test.user@okta.local"))
    );
    assert_eq!(
        parse_filter(r#"displayName eq "Test SCIMv2""#).unwrap(),
        eq(path("displayName"), json!("Test SCIMv2"))
    );
    assert_eq!(
        parse_filter(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#).unwrap(),
        eq(
            path("externalId"),
            json!("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        )
    );
}

#[test]
fn operators_and_logical_words_are_case_insensitive() {
    let f = parse_filter(r#"userName EQ "a" AND Not (title Pr) Or active eQ TRUE"#).unwrap();
    let expected = or(
        and(
            eq(path("userName"), json!("a")),
            Filter::Not(Box::new(Filter::Present(path("title")))),
        ),
        eq(path("active"), json!(true)),
    );
    assert_eq!(f, expected);
}

#[test]
fn and_binds_tighter_than_or_and_parentheses_override_it() {
    let a = || Filter::Present(path("a"));
    let b = || Filter::Present(path("b"));
    let c = || Filter::Present(path("c"));
    assert_eq!(
        parse_filter("a pr or b pr and c pr").unwrap(),
        or(a(), and(b(), c()))
    );
    assert_eq!(
        parse_filter("(a pr or b pr) and c pr").unwrap(),
        and(or(a(), b()), c())
    );
    assert_eq!(
        parse_filter("a pr and b pr and c pr").unwrap(),
        and(and(a(), b()), c())
    );
    assert_eq!(
        parse_filter("not(a pr)").unwrap(),
        Filter::Not(Box::new(a()))
    );
}

#[test]
fn value_paths_hold_a_filter_relative_to_one_element() {
    let f = parse_filter(r#"emails[type eq "work" and value co "@example.com"]"#).unwrap();
    assert_eq!(
        f,
        Filter::ValuePath(
            path("emails"),
            Box::new(and(
                eq(path("type"), json!("work")),
                Filter::Compare(path("value"), CompareOp::Co, json!("@example.com"))
            ))
        )
    );
    let f = parse_filter(
        r#"userType eq "Employee" and emails[type eq "work" or not (primary eq false)]"#,
    );
    assert!(f.is_ok());
}

#[test]
fn entras_value_path_with_a_trailing_comparison_becomes_one_value_path() {
    let f = parse_filter(r#"emails[type eq "work"].value eq "user@contoso.com""#).unwrap();
    assert_eq!(
        f,
        Filter::ValuePath(
            path("emails"),
            Box::new(and(
                eq(path("value"), json!("user@contoso.com")),
                eq(path("type"), json!("work"))
            ))
        )
    );
}

#[test]
fn urn_qualified_paths_split_at_the_last_colon() {
    assert_eq!(
        parse_attr_path(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
        )
        .unwrap(),
        AttrPath {
            urn: Some(ENTERPRISE.to_owned()),
            name: "employeeNumber".to_owned(),
            sub: None
        }
    );
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value")
            .unwrap(),
        AttrPath {
            urn: Some(ENTERPRISE.to_owned()),
            name: "manager".to_owned(),
            sub: Some("value".to_owned())
        }
    );
    let f = parse_filter(r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#).unwrap();
    assert_eq!(
        f,
        Filter::Compare(
            AttrPath {
                urn: Some(USER.to_owned()),
                name: "userName".to_owned(),
                sub: None
            },
            CompareOp::Sw,
            json!("J")
        )
    );
}

#[test]
fn attribute_paths_accept_sub_attributes_ref_and_name_characters() {
    assert_eq!(
        parse_attr_path("name.givenName").unwrap(),
        sub_path("name", "givenName")
    );
    assert_eq!(
        parse_attr_path("members.$ref").unwrap(),
        sub_path("members", "$ref")
    );
    assert_eq!(
        parse_attr_path("x-custom_attr2").unwrap(),
        path("x-custom_attr2")
    );
    assert!(parse_filter(r#"members[$ref eq "https://x/Users/1"]"#).is_ok());
}

#[test]
fn compare_values_are_json_strings_numbers_booleans_and_null() {
    let value = |filter: &str| match parse_filter(filter).unwrap() {
        Filter::Compare(_, _, v) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        value(r#"a eq "say \"hi\" \\ \u00e9""#),
        json!("say \"hi\" \\ é")
    );
    assert_eq!(value("a eq 42"), json!(42));
    assert_eq!(value("a eq -1.5e3"), json!(-1500.0));
    assert_eq!(value("a eq false"), json!(false));
    assert_eq!(value("a eq True"), json!(true));
    assert_eq!(value("a eq null"), Value::Null);
    assert_eq!(value(r#"a eq """#), json!(""));
    assert_eq!(value(r#"a eq "ü (x) [y]""#), json!("ü (x) [y]"));
}

#[test]
fn an_unquoted_bare_word_is_read_as_a_string() {
    assert_eq!(
        parse_filter("externalId eq jyoung").unwrap(),
        eq(path("externalId"), json!("jyoung"))
    );
    assert_eq!(
        parse_filter("userName eq j.young-1_x@contoso.com and active eq true").unwrap(),
        and(
            eq(path("userName"), json!("j.young-1_x@contoso.com")),
            eq(path("active"), json!(true))
        )
    );
    assert_eq!(
        parse_filter("(externalId eq 12ab)").unwrap(),
        eq(path("externalId"), json!("12ab"))
    );
}

#[test]
fn required_equalities_follow_only_the_top_level_and_chain() {
    let f = parse_filter(
        r#"id eq "1" and (manager eq "2" or title pr) and userName eq "x" and active eq true and emails[type eq "work"]"#,
    )
    .unwrap();
    let eqs: Vec<(String, &str)> = f
        .required_equalities()
        .into_iter()
        .map(|(p, v)| (p.to_string(), v))
        .collect();
    assert_eq!(
        eqs,
        vec![("id".to_owned(), "1"), ("userName".to_owned(), "x")]
    );
    assert!(parse_filter(r#"not (userName eq "x")"#)
        .unwrap()
        .required_equalities()
        .is_empty());
}

#[test]
fn display_renders_a_filter_that_parses_back_to_the_same_tree() {
    for input in [
        r#"userName eq "a \"b\"" and (title pr or not (active eq false))"#,
        r#"emails[type eq "work" and value co "@x"] or meta.lastModified gt "2011-05-13T04:42:34Z""#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq null",
    ] {
        let f = parse_filter(input).unwrap();
        assert_eq!(parse_filter(&f.to_string()).unwrap(), f, "{input}");
    }
}

#[test]
fn malformed_filters_say_what_was_expected_and_where() {
    let cases: &[(&str, &str, usize)] = &[
        ("", "expected a filter", 0),
        ("   ", "expected a filter", 0),
        ("userName", "expected an operator", 8),
        ("userName eq", "expected a value", 11),
        ("userName eq ", "expected a value", 12),
        (r#"userName xx "a""#, "unknown operator \"xx\"", 9),
        (r#"(userName eq "a""#, "expected ')'", 16),
        (r#"userName eq "a")"#, "unbalanced ')'", 15),
        (r#"emails[type eq "work""#, "expected ']'", 21),
        (r#"emails type eq "work"]"#, "unknown operator \"type\"", 7),
        (r#"userName eq "abc"#, "unterminated string", 12),
        (
            r#"userName eq "a" b"#,
            "expected 'and', 'or' or the end",
            16,
        ),
        (r#"title pr "x""#, "'pr' takes no value", 9),
        (r#"emails[type[value eq "x"]]"#, "cannot be nested", 11),
        (r#"not userName eq "x""#, "expected '(' after 'not'", 4),
        (r#"and userName eq "x""#, "unknown operator", 4),
        (r#"userName eq "a" and"#, "expected an attribute path", 19),
        ("userName eq and title pr", "expected a value", 12),
        (r#"userName eq "\q""#, "invalid string", 12),
        (r#"1abc eq "x""#, "expected an attribute path", 0),
        ("userName eq 'x'", "expected a value", 12),
        (
            r#"name.givenName[value eq "x"]"#,
            "must follow the attribute name",
            14,
        ),
        (r#"userName."x" eq 1"#, "expected an attribute name", 9),
        (r#"userName$ eq "x""#, "unexpected", 8),
        (r#"userName"x""#, "expected an operator", 8),
        (
            "urn:foo eq 1",
            "expected an attribute name after the schema URN",
            0,
        ),
        (r#"a eq "x" and (b eq "y""#, "expected ')'", 22),
        ("()", "expected an attribute path", 1),
        ("[]", "expected an attribute path", 0),
    ];
    let mut wrong = Vec::new();
    for (input, message, position) in cases {
        match parse_filter(input) {
            Ok(f) => wrong.push(format!("{input:?} parsed as {f}")),
            Err(e)
                if !e.message.contains(message)
                    || e.position != *position
                    || !e.message.ends_with(&format!("at {position}")) =>
            {
                wrong.push(format!(
                    "{input:?}: {e:?}, wanted {message:?} at {position}"
                ))
            }
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn nesting_deeper_than_sixty_four_levels_is_refused_without_recursion_trouble() {
    let ok = format!("{}a pr{}", "(".repeat(64), ")".repeat(64));
    assert!(parse_filter(&ok).is_ok());
    let too_deep = format!("{}a pr{}", "(".repeat(65), ")".repeat(65));
    assert!(err(&too_deep).message.contains("deeper than 64"));
    let nots = format!("{}a pr{}", "not (".repeat(1000), ")".repeat(1000));
    assert!(err(&nots).message.contains("deeper than 64"));
    let opens = "(".repeat(9_999);
    assert!(err(&opens).message.contains("deeper than 64"));
}

#[test]
fn filters_longer_than_ten_thousand_bytes_are_refused() {
    let long = format!(r#"userName eq "{}""#, "x".repeat(10_000));
    let e = err(&long);
    assert!(e.message.contains("limit is 10000"), "{}", e.message);
    let chain = vec!["a pr"; 1_100].join(" and ");
    assert!(chain.len() <= MAX_FILTER_LEN);
    let f = parse_filter(&chain).unwrap();
    assert!(matches(&f, &json!({"a": "x"}), &user()));
}

#[test]
fn garbage_never_panics() {
    let samples = [
        "\"",
        "\\",
        "[",
        "]",
        "(",
        ")",
        ".",
        ":",
        "urn:",
        "urn::",
        "a[",
        "a[b",
        "a[b pr",
        "a[b pr]]",
        "a.b.c pr",
        "a eq \"\\u12\"",
        "a eq \"\\ud800\"",
        "a eq -",
        "a eq 1e",
        "ü eq 1",
        "a eq \"é",
        "a pr and (",
        "not",
        "not (",
        "a eq \"x\"]",
        "emails[].value eq 1",
        "emails[type eq \"w\"].",
        "emails[type eq \"w\"].value",
        "a eq \u{0}",
    ];
    for s in samples {
        let _ = parse_filter(s);
        let _ = parse_attr_path(s);
        let _ = parse_value_path(s);
    }
    assert!(parse_filter(r#"emails[type eq "w"].value"#).is_err());
}

#[test]
fn patch_paths_accept_a_value_filter_and_a_trailing_sub_attribute() {
    let (attr, filter, sub) = parse_value_path(r#"emails[type eq "work"].value"#).unwrap();
    assert_eq!(attr, path("emails"));
    assert_eq!(filter, Some(eq(path("type"), json!("work"))));
    assert_eq!(sub.as_deref(), Some("value"));
    let (attr, filter, sub) = parse_value_path("name.givenName").unwrap();
    assert_eq!(
        (attr, filter, sub),
        (sub_path("name", "givenName"), None, None)
    );
    let e = parse_value_path(r#"emails[type eq"#).unwrap_err();
    assert_eq!(e.message, "expected a value (a quoted string, number, true, false or null), found the end of the input at 14");
    assert!(parse_value_path(r#"members[value eq "1"] x"#).is_err());
}

// --- evaluation -------------------------------------------------------------------------------

#[test]
fn username_matches_without_regard_to_case_but_id_and_external_id_match_exactly() {
    assert!(user_matches(r#"userName eq "bjensen@example.com""#));
    assert!(user_matches(r#"USERNAME eq "BJENSEN@EXAMPLE.COM""#));
    assert!(user_matches(r#"externalId eq "Bjensen-EXT""#));
    assert!(!user_matches(r#"externalId eq "bjensen-ext""#));
    assert!(!user_matches(
        r#"id eq "2819C223-7F76-453A-919D-413861904646""#
    ));
    assert!(user_matches(
        r#"id eq "2819c223-7f76-453a-919d-413861904646""#
    ));
}

#[test]
fn string_operators_compare_substrings_and_prefixes() {
    assert!(user_matches(r#"userName co "JENSEN@""#));
    assert!(user_matches(r#"userName sw "bj""#));
    assert!(user_matches(r#"userName ew ".COM""#));
    assert!(!user_matches(r#"userName sw "jensen""#));
    assert!(user_matches(r#"name.familyName co "ens""#));
    assert!(user_matches(r#"externalId sw "Bj""#));
    assert!(!user_matches(r#"externalId sw "bj""#));
}

#[test]
fn multi_valued_paths_match_when_any_element_matches() {
    assert!(user_matches(r#"emails.value eq "babs@jensen.org""#));
    assert!(user_matches(r#"emails co "jensen.org""#));
    assert!(user_matches(r#"emails.type eq "home""#));
    assert!(!user_matches(r#"emails.value eq "nobody@example.com""#));
    assert!(user_matches(
        r#"emails[type eq "work" and value co "@example.com"]"#
    ));
    assert!(!user_matches(
        r#"emails[type eq "home" and value co "@example.com"]"#
    ));
    assert!(user_matches(
        r#"emails[type eq "work"].value eq "BJENSEN@example.com""#
    ));
    assert!(!user_matches(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    assert!(user_matches(r#"emails[not (type eq "work")]"#));
    assert!(user_matches(r#"emails[primary eq true]"#));
    assert!(user_matches(&format!(r#"schemas eq "{ENTERPRISE}""#)));
}

#[test]
fn ne_is_the_negation_of_eq_so_an_absent_attribute_is_not_equal() {
    assert!(user_matches(r#"title ne "x""#));
    assert!(user_matches(r#"locale ne "en-US""#));
    assert!(user_matches(r#"userName ne "someone""#));
    assert!(!user_matches(r#"userName ne "BJENSEN@example.com""#));
    assert!(!user_matches(r#"emails.type ne "home""#));
}

#[test]
fn null_comparisons_test_presence() {
    assert!(user_matches("nickName eq null"));
    assert!(user_matches("locale eq null"));
    assert!(!user_matches("userName eq null"));
    assert!(user_matches("userName ne null"));
    assert!(!user_matches("title ne null"));
    assert!(!user_matches("userName gt null"));
}

#[test]
fn present_means_neither_null_nor_empty() {
    assert!(user_matches("userName pr"));
    assert!(user_matches("emails pr"));
    assert!(user_matches("emails.type pr"));
    assert!(user_matches("name pr"));
    assert!(!user_matches("nickName pr"));
    assert!(!user_matches("title pr"));
    assert!(!user_matches("phoneNumbers pr"));
    assert!(!user_matches("name.middleName pr"));
    assert!(!user_matches("locale pr"));
    assert!(!matches(
        &parse_filter("name pr").unwrap(),
        &json!({"name": {}}),
        &user()
    ));
}

#[test]
fn ordering_operators_work_on_strings_numbers_and_datetimes_but_not_booleans() {
    assert!(user_matches(r#"userName gt "a""#));
    assert!(user_matches(r#"userName lt "C""#));
    assert!(user_matches(r#"userName ge "bjensen@example.com""#));
    assert!(user_matches(r#"userName le "BJENSEN@example.com""#));
    assert!(user_matches(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#
    ));
    assert!(user_matches(r#"meta.created lt "2011-08-01T18:29:49.8Z""#));
    assert!(user_matches(
        r#"meta.created ge "2011-08-01T18:29:49.793000Z""#
    ));
    assert!(user_matches(
        r#"meta.created eq "2011-08-01T20:29:49.793+02:00""#
    ));
    assert!(!user_matches(r#"meta.created gt "2011-08-01T18:29:50Z""#));
    assert!(!user_matches("active gt false"));
    assert!(!user_matches("active ge true"));
    let r = json!({"age": 42, "score": 1.5});
    let f = |s: &str| matches(&parse_filter(s).unwrap(), &r, &user());
    assert!(f("age gt 41") && f("age ge 42") && f("age le 42.0") && !f("age lt 42"));
    assert!(f("score eq 1.5") && f("score lt 2") && !f(r#"age eq "42""#));
}

#[test]
fn string_booleans_are_not_coerced_in_filters() {
    assert!(user_matches("active eq true"));
    assert!(user_matches("active eq TRUE"));
    assert!(!user_matches(r#"active eq "true""#));
    assert!(!user_matches(r#"active eq "True""#));
    assert!(!user_matches("active eq false"));
}

#[test]
fn a_complex_attribute_compared_directly_uses_its_value_sub_attribute_or_never_matches() {
    assert!(!user_matches(r#"name eq "Barbara""#));
    assert!(!user_matches(r#"name co "a""#));
    assert!(user_matches(
        r#"manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
    assert!(user_matches(
        r#"id eq "2819c223-7f76-453a-919d-413861904646" and manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#
    ));
}

#[test]
fn extension_attributes_match_by_urn_or_bare_name() {
    assert!(user_matches(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(user_matches(r#"employeeNumber eq "701984""#));
    assert!(user_matches(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw "2611""#
    ));
    assert!(user_matches(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#
    ));
    assert!(!user_matches(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName pr"#
    ));
}

#[test]
fn logical_operators_combine_results() {
    assert!(user_matches(r#"userName eq "x" or active eq true"#));
    assert!(!user_matches(r#"userName eq "x" and active eq true"#));
    assert!(user_matches(r#"not (userName eq "x")"#));
    assert!(user_matches(
        r#"(title pr or emails[type eq "home"]) and not (active eq false)"#
    ));
}

#[test]
fn unknown_attributes_are_looked_up_case_insensitively_and_compared_without_case() {
    let r = json!({"CustomThing": "Hello", "urn:example:ext:1.0:Widget": {"Colour": "Red"}});
    let f = |s: &str| matches(&parse_filter(s).unwrap(), &r, &user());
    assert!(f(r#"customthing eq "hello""#));
    assert!(f(r#"urn:example:ext:1.0:Widget:colour eq "RED""#));
    assert!(!f(r#"urn:example:ext:1.0:Widget:CustomThing pr"#));
}

#[test]
fn group_filters_match_display_name_loosely_and_members_by_value() {
    let g = json!({
        "displayName": "Test SCIMv2",
        "members": [{"value": "23a35c27", "display": "test.user@okta.local"}]
    });
    let f = |s: &str| matches(&parse_filter(s).unwrap(), &g, &group());
    assert!(f(r#"displayName eq "test scimv2""#));
    assert!(f(r#"members[value eq "23a35c27"]"#));
    assert!(f(r#"members.value eq "23a35c27""#));
    assert!(!f(r#"members.value eq "23A35C27""#));
    assert!(f(r#"members eq "23a35c27""#));
    assert!(!f(r#"members[value eq "nope"]"#));
}

#[test]
fn evaluating_a_long_and_chain_is_fine() {
    let chain = vec![r#"userName pr"#; 600].join(" and ");
    assert!(user_matches(&chain));
}

#[test]
fn random_inputs_never_panic_the_parser_or_the_evaluator() {
    let pieces = [
        "userName",
        "emails",
        "name.givenName",
        "urn:",
        "urn:x:y:",
        "é",
        "ü",
        "日本",
        "$ref",
        "\"",
        "\\",
        "\\\"",
        "\\u00",
        "(",
        ")",
        "[",
        "]",
        ".",
        ":",
        " ",
        " eq ",
        " pr",
        " and ",
        " or ",
        "not ",
        "not(",
        "true",
        "null",
        "-1",
        "1e9",
        "\"x\"",
        "\"é\"",
        "gt",
        "co",
        "\t",
        "\u{0}",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let resource = bjensen();
    for _ in 0..20_000 {
        let len = (next() % 8) as usize;
        let input: String = (0..len)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        if let Ok(f) = parse_filter(&input) {
            let _ = matches(&f, &resource, &user());
            assert_eq!(parse_filter(&f.to_string()).as_ref(), Ok(&f), "{input:?}");
        }
        let _ = parse_attr_path(&input);
        let _ = parse_value_path(&input);
    }
    for s in ["aéé", "urné", "uré:x", "aé", "é", "urn:é:x", "$reféé"] {
        let _ = parse_attr_path(s);
        let _ = parse_filter(s);
    }
}
