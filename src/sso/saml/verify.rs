//! Checking a SAML Response at the ACS (SAML 2.0 Core §3.2.2, Profiles §4.1.4.3). samael
//! verifies signatures and the protocol conditions; this module closes the gaps the design
//! lists (reference crates.md §1.5) and refuses, before any parsing, what a legitimate IdP
//! never sends.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Duration;
use openssl::pkey::{PKey, Private};
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::EntityDescriptor;
use samael::schema::Assertion;
use samael::service_provider::ServiceProvider;

use super::metadata::{has_dtd, idp_metadata_xml};
use crate::directory::connections::saml::SamlConnection;

/// A SAMLResponse larger than this (base64) is refused unread.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// How old a Response or Assertion may be when it arrives (its IssueInstant).
const MAX_ISSUE_DELAY_S: i64 = 90;

/// RSA with SHA-256/384/512 and ECDSA (SHA-1 is not offered at all: samael has no SHA-1
/// algorithm to allow).
const ALLOWED: &[AllowedSignatureAlgorithm] = &[
    AllowedSignatureAlgorithm::RsaSha256,
    AllowedSignatureAlgorithm::RsaSha384,
    AllowedSignatureAlgorithm::RsaSha512,
    AllowedSignatureAlgorithm::EcdsaSha256,
    AllowedSignatureAlgorithm::EcdsaSha384,
    AllowedSignatureAlgorithm::EcdsaSha512,
];

/// What the ACS knows when a response arrives.
pub struct Expected<'a> {
    pub connection: &'a SamlConnection,
    pub sp_entity_id: &'a str,
    pub acs_url: &'a str,
    /// The outstanding request this answers (SP-initiated); None for IdP-initiated.
    pub request_id: Option<&'a str>,
    pub clock_skew_s: u32,
    /// The SP's private keys in service, for encrypted assertions (the ACS leaves it empty
    /// for a response without one).
    pub decryption_keys: &'a [PKey<Private>],
}

/// Why a response was refused: `reason` names the failed check for the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub reason: String,
    /// The person's next step.
    pub expired: bool,
}

fn fail(reason: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        expired: false,
    }
}

/// Decodes and checks a base64 SAMLResponse; the verified assertion, or why not.
pub fn verify(encoded: &str, expected: &Expected<'_>) -> Result<Assertion, Failure> {
    verify_xml(&decode(encoded)?, expected)
}

/// A base64 SAMLResponse's XML, within the size bound.
pub fn decode(encoded: &str) -> Result<String, Failure> {
    if encoded.len() > MAX_RESPONSE_BYTES {
        return Err(fail(format!(
            "the SAMLResponse is larger than {MAX_RESPONSE_BYTES} bytes"
        )));
    }
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| fail("the SAMLResponse is not base64"))?;
    String::from_utf8(bytes).map_err(|_| fail("the SAMLResponse is not UTF-8 XML"))
}

/// Whether a decoded response holds an encrypted assertion, the only kind that needs the
/// SP's private keys (the ACS reads and parses them for those alone).
pub fn is_encrypted(xml: &str) -> bool {
    count_elements(xml, "EncryptedAssertion") > 0
}

/// Checks a decoded SAMLResponse ([`decode`]); the verified assertion, or why not.
pub fn verify_xml(xml: &str, expected: &Expected<'_>) -> Result<Assertion, Failure> {
    precheck(xml)?;
    check_response_shell(xml, expected.acs_url)?;
    let encrypted = is_encrypted(xml);
    if encrypted {
        check_encryption(xml, expected)?;
    }
    let mut sp = service_provider(expected)?;
    let ids: Vec<&str> = expected.request_id.into_iter().collect();
    // Each key in service may be the one the IdP encrypted to (rollover); without
    // encryption, one pass with no key.
    let keys: Vec<Option<&PKey<Private>>> = if encrypted {
        expected.decryption_keys.iter().map(Some).collect()
    } else {
        vec![None]
    };
    let mut last = None;
    for key in keys {
        sp.key = key.cloned();
        match sp.parse_xml_response(xml, Some(&ids)) {
            Ok(assertion) => {
                postcheck(&assertion, expected)?;
                return Ok(assertion);
            }
            Err(e) => {
                last = Some(Failure {
                    expired: is_time_error(&e),
                    reason: e.to_string(),
                })
            }
        }
    }
    Err(last.unwrap_or_else(|| fail("no key to decrypt the assertion with")))
}

/// An encrypted assertion's own signature is hidden from the check, so it is accepted only
/// inside a signed Response (the design's rule), with OAEP key transport: RSA PKCS#1 v1.5
/// is open to padding-oracle attacks (Bleichenbacher).
fn check_encryption(xml: &str, expected: &Expected<'_>) -> Result<(), Failure> {
    if expected.decryption_keys.is_empty() {
        return Err(fail(
            "the assertion is encrypted, but this organisation has no SP key to decrypt it",
        ));
    }
    if xml.contains("xmlenc#rsa-1_5") {
        return Err(fail("the assertion's key is encrypted with RSA PKCS#1 v1.5, which is refused (use RSA-OAEP)"));
    }
    let response_id = start_tag(xml, "Response")
        .and_then(|t| attribute(t, "ID"))
        .unwrap_or_default();
    let target = format!("#{response_id}");
    let signed = !response_id.is_empty()
        && xml.match_indices('<').any(|(i, _)| {
            let rest = &xml[i + 1..];
            let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
            let is_reference = tag
                .split_whitespace()
                .next()
                .is_some_and(|n| n.rsplit(':').next() == Some("Reference"));
            is_reference && attribute(tag, "URI").as_deref() == Some(target.as_str())
        });
    if !signed {
        return Err(fail(
            "an encrypted assertion is accepted only inside a signed Response",
        ));
    }
    Ok(())
}

/// Refusals that need no parsing: DTDs and entities (XXE, entity expansion), comments
/// (a comment inside a NameID splits its text without touching its signature, since
/// exclusive canonicalisation drops comments), and anything but exactly one assertion
/// (the room every signature-wrapping variant needs).
fn precheck(xml: &str) -> Result<(), Failure> {
    if has_dtd(xml) {
        return Err(fail("the response declares a DTD or entities"));
    }
    if xml.contains("<!--") {
        return Err(fail("the response contains an XML comment"));
    }
    let assertions = count_elements(xml, "Assertion") + count_elements(xml, "EncryptedAssertion");
    if assertions != 1 {
        return Err(fail(format!(
            "the response carries {assertions} assertions; exactly one is accepted"
        )));
    }
    Ok(())
}

/// When only the assertion is signed, samael checks the assertion alone and drops the
/// Response around it, Status and Destination included. Those are checked here, on the raw
/// document: refusing on unverified data is always safe (SAML Core §3.2.2, §3.2.2.2).
fn check_response_shell(xml: &str, acs_url: &str) -> Result<(), Failure> {
    let response =
        start_tag(xml, "Response").ok_or_else(|| fail("the document is not a SAML Response"))?;
    if let Some(destination) = attribute(response, "Destination") {
        if destination != acs_url {
            return Err(fail(format!(
                "the response's Destination {destination:?} is not this ACS ({acs_url})"
            )));
        }
    }
    let status = start_tag(xml, "StatusCode")
        .and_then(|t| attribute(t, "Value"))
        .ok_or_else(|| fail("the response has no status"))?;
    if status != "urn:oasis:names:tc:SAML:2.0:status:Success" {
        return Err(fail(format!(
            "the response's status is {status}, not Success"
        )));
    }
    Ok(())
}

/// The text of the first start tag named `local` (any prefix), between `<` and `>`.
fn start_tag<'a>(xml: &'a str, local: &str) -> Option<&'a str> {
    xml.match_indices('<').find_map(|(i, _)| {
        let rest = &xml[i + 1..];
        let end = rest.find('>')?;
        let tag = &rest[..end];
        let name = tag.split(|c: char| c.is_whitespace() || c == '/').next()?;
        (name.rsplit(':').next() == Some(local)).then_some(tag)
    })
}

/// An attribute's value in a start tag's text.
fn attribute(tag: &str, name: &str) -> Option<String> {
    tag.match_indices(name).find_map(|(i, _)| {
        let before = tag[..i].chars().last()?;
        let rest = tag[i + name.len()..]
            .trim_start()
            .strip_prefix('=')?
            .trim_start();
        let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
        let value = &rest[1..];
        if !before.is_whitespace() {
            return None;
        }
        Some(value[..value.find(quote)?].to_string())
    })
}

/// Start tags named `local` with any namespace prefix: `<saml:Assertion ` or `<Assertion>`.
fn count_elements(xml: &str, local: &str) -> usize {
    xml.match_indices('<')
        .filter(|(i, _)| {
            let rest = &xml[i + 1..];
            let name_end = rest
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len());
            let name = &rest[..name_end];
            name.rsplit(':').next() == Some(local) && !name.starts_with('/')
        })
        .count()
}

fn service_provider(expected: &Expected<'_>) -> Result<ServiceProvider, Failure> {
    let c = expected.connection;
    let idp: EntityDescriptor = idp_metadata_xml(&c.idp_entity_id, &c.sso_url, &c.certificates)
        .parse()
        .map_err(|e| fail(format!("the connection's metadata could not be read: {e}")))?;
    let sp = ServiceProvider {
        entity_id: Some(expected.sp_entity_id.to_string()),
        acs_url: Some(expected.acs_url.to_string()),
        idp_metadata: idp,
        allow_idp_initiated: expected.request_id.is_none(),
        max_issue_delay: Duration::seconds(MAX_ISSUE_DELAY_S),
        max_clock_skew: Duration::seconds(i64::from(expected.clock_skew_s)),
        allowed_signature_algorithms: Some(ALLOWED.to_vec()),
        ..ServiceProvider::default()
    };
    // samael verifies nothing when it finds no certificate: never let that happen.
    match sp.idp_signing_certs() {
        Ok(Some(certs)) if !certs.is_empty() => Ok(sp),
        _ => Err(fail("the connection has no signing certificate")),
    }
}

/// Checks samael leaves to its callers: the Audience must be there and be ours, and an
/// unsolicited (IdP-initiated) response must not answer some other request.
fn postcheck(a: &Assertion, expected: &Expected<'_>) -> Result<(), Failure> {
    let audiences: Vec<&str> = a
        .conditions
        .iter()
        .flat_map(|c| c.audience_restrictions.iter().flatten())
        .flat_map(|r| r.audience.iter().map(String::as_str))
        .collect();
    if !audiences.contains(&expected.sp_entity_id) {
        return Err(fail(format!(
            "the assertion's Audience {audiences:?} is not this service provider ({})",
            expected.sp_entity_id
        )));
    }
    if expected.request_id.is_none() {
        let answers = a
            .subject
            .iter()
            .flat_map(|s| s.subject_confirmations.iter().flatten())
            .filter_map(|sc| {
                sc.subject_confirmation_data
                    .as_ref()?
                    .in_response_to
                    .as_deref()
            })
            .next();
        if let Some(id) = answers {
            return Err(fail(format!(
                "the assertion answers request {id}, which this browser did not start (or already used)"
            )));
        }
    }
    if a.subject
        .as_ref()
        .and_then(|s| s.name_id.as_ref())
        .is_none_or(|n| n.value.trim().is_empty())
    {
        return Err(fail("the assertion has no NameID"));
    }
    Ok(())
}

fn is_time_error(e: &samael::service_provider::Error) -> bool {
    use samael::service_provider::Error as E;
    matches!(
        e,
        E::AssertionExpired { .. }
            | E::ResponseExpired { .. }
            | E::AssertionConditionExpired { .. }
            | E::AssertionSubjectConfirmationExpired { .. }
    )
}

/// When the assertion stops being usable: the earliest NotOnOrAfter it carries, in
/// milliseconds; the replay cache keeps its ID that long (plus the skew).
pub fn expires_at_ms(a: &Assertion) -> Option<i64> {
    let conditions = a.conditions.as_ref().and_then(|c| c.not_on_or_after);
    let confirmations = a
        .subject
        .iter()
        .flat_map(|s| s.subject_confirmations.iter().flatten())
        .filter_map(|sc| sc.subject_confirmation_data.as_ref()?.not_on_or_after);
    conditions
        .into_iter()
        .chain(confirmations)
        .min()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_assertions_with_any_prefix() {
        let xml = r#"<samlp:Response><saml:Assertion ID="a"><x/></saml:Assertion><Assertion>x</Assertion></samlp:Response>"#;
        assert_eq!(count_elements(xml, "Assertion"), 2);
        assert_eq!(count_elements("<a:EncryptedAssertion/>", "Assertion"), 0);
        assert_eq!(
            count_elements("<a:EncryptedAssertion/>", "EncryptedAssertion"),
            1
        );
    }

    #[test]
    fn reads_the_response_shell() {
        let xml = r#"<p:Response xmlns:p="x" Destination='https://sp/acs' ID="r"><p:Status><p:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></p:Status></p:Response>"#;
        assert!(check_response_shell(xml, "https://sp/acs").is_ok());
        assert!(check_response_shell(xml, "https://other/acs").is_err());
        let failed = xml.replace("status:Success", "status:Requester");
        assert!(check_response_shell(&failed, "https://sp/acs").is_err());
        assert_eq!(
            attribute(r#"a XDestination="no" Destination="yes""#, "Destination").as_deref(),
            Some("yes")
        );
    }

    #[test]
    fn prechecks_refuse_dtds_comments_and_extra_assertions() {
        assert!(
            precheck("<!DOCTYPE x [<!ENTITY e 'x'>]><Response><Assertion/></Response>").is_err()
        );
        assert!(
            precheck("<Response><Assertion><NameID>a<!---->b</NameID></Assertion></Response>")
                .is_err()
        );
        assert!(precheck("<Response><Assertion/><Assertion/></Response>").is_err());
        assert!(precheck("<Response></Response>").is_err());
        assert!(precheck("<Response><saml:Assertion ID=\"x\"/></Response>").is_ok());
    }
}
