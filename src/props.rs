//! Property tests over the parsers that read what a client or an IdP sends: the SCIM filter
//! parser, the PATCH engine, the SAML response check, path-segment decoding and the
//! `Authorization` header. Whatever the input: no panic, and garbage is an error, never an
//! accidental yes. `PROPTEST_CASES` sets the number of cases (`make fuzz` runs many more).

use proptest::prelude::*;
use serde_json::json;

use crate::directory::connections::saml::SamlConnection;
use crate::directory::OrgId;
use crate::scim::filter::parse_filter;
use crate::scim::patch::{apply, parse_patch};
use crate::scim::schema::{GROUP, USER};
use crate::sso::saml::verify::{verify, Expected};

#[path = "../tests/common/scim_inputs.rs"]
mod inputs;
use inputs::{filter_text, patch_body};

fn connection() -> SamlConnection {
    SamlConnection {
        org_id: OrgId::new(),
        idp_entity_id: "http://idp.test".into(),
        sso_url: "https://idp.test/sso".into(),
        certificates: vec!["MIIBfake".into()],
        retired: Vec::new(),
        metadata_url: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// SAML-shaped text: fragments of responses in random order and nesting.
fn saml_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" Destination="https://sp.test/acs" ID="r1">"#.to_string()),
        Just("</samlp:Response>".to_string()),
        Just(r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#.to_string()),
        Just(r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="a1">"#.to_string()),
        Just("</saml:Assertion>".to_string()),
        Just("<saml:NameID>ada@acme.test</saml:NameID>".to_string()),
        Just("<ds:Signature></ds:Signature>".to_string()),
        Just("<!DOCTYPE x>".to_string()),
        Just("<!-- c -->".to_string()),
        Just("<saml:EncryptedAssertion/>".to_string()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn the_filter_parser_never_panics(text in filter_text()) {
        let _ = parse_filter(&text);
    }

    #[test]
    fn the_patch_engine_never_panics_and_a_refusal_is_an_error(body in patch_body(), members in any::<bool>()) {
        let kind = if members { &GROUP } else { &USER };
        let mut resource = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada", "active": true,
            "emails": [{"value": "ada@acme.test", "type": "work"}],
            "members": [{"value": "x"}],
        });
        if let Ok(ops) = parse_patch(&body, kind) {
            let _ = apply(&mut resource, &ops, kind);
        }
    }

    #[test]
    fn no_garbage_passes_the_saml_response_check(text in saml_text(), raw in any::<bool>()) {
        use base64::Engine;
        let encoded = if raw {
            text.clone()
        } else {
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes())
        };
        let c = connection();
        let expected = Expected {
            connection: &c,
            sp_entity_id: "https://sp.test/metadata",
            acs_url: "https://sp.test/acs",
            request_id: None,
            clock_skew_s: 120,
            decryption_keys: &[],
        };
        prop_assert!(verify(&encoded, &expected).is_err());
    }

    #[test]
    fn path_decoding_and_credentials_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..24), header in any::<String>()) {
        let segment: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
        let valid = std::str::from_utf8(&bytes).is_ok();
        prop_assert_eq!(crate::web::bad_path::decodes(&format!("/x/{segment}")), valid);
        if let Some(token) = crate::web::credentials::bearer(&header) {
            prop_assert!(!token.is_empty());
            prop_assert!(!token.contains(|c: char| c.is_whitespace() || c.is_control()));
        }
    }
}
