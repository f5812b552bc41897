//! SAML metadata: reading an IdP's (Okta's "View IdP metadata" document) and writing ours.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::x509::X509;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};

use crate::clock::Millis;
use crate::outbound::Outbound;

/// What an IdP's metadata says, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso_url: String,
    /// Base64 DER signing certificates that have not expired.
    pub certificates: Vec<String>,
}

/// One certificate as people read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    pub subject: String,
    pub not_after: String,
    /// The end of validity as stored times are kept, to compare with "now" (whole seconds).
    pub not_after_ms: Millis,
    pub expired: bool,
}

/// Parses and checks IdP metadata: an entity ID, an HTTP-Redirect SSO URL and at least one
/// signing certificate that is still valid. A document without one is refused: a connection
/// without a certificate would accept unsigned responses.
pub fn parse_idp_metadata(xml: &str, now_ms: Millis) -> Result<IdpMetadata, String> {
    if has_dtd(xml) {
        return Err(
            "the metadata contains a DTD or entity declarations, which are not accepted".into(),
        );
    }
    let md: EntityDescriptor = xml
        .parse()
        .map_err(|e| format!("the document is not SAML metadata: {e}"))?;
    let entity_id = md.entity_id.clone().ok_or("the metadata has no entityID")?;
    let idp = md
        .idp_sso_descriptors
        .as_ref()
        .and_then(|d| d.first())
        .ok_or("the metadata describes no identity provider (no IDPSSODescriptor)")?;
    let sso_url = idp
        .single_sign_on_services
        .iter()
        .find(|s| s.binding == HTTP_REDIRECT_BINDING)
        .map(|s| s.location.clone())
        .ok_or(
            "the identity provider offers no SingleSignOnService with the HTTP-Redirect binding",
        )?;
    let mut certificates = Vec::new();
    let mut expired = 0;
    for kd in &idp.key_descriptors {
        if kd.key_use.as_deref().is_some_and(|u| u != "signing") {
            continue;
        }
        let certs = kd
            .key_info
            .x509_data
            .iter()
            .flat_map(|x| x.certificates.iter());
        for cert in certs {
            let b64: String = cert.chars().filter(|c| !c.is_whitespace()).collect();
            let info = certificate_info(&b64, now_ms)?;
            if info.expired {
                expired += 1;
            } else {
                certificates.push(b64);
            }
        }
    }
    if certificates.is_empty() {
        return Err(if expired > 0 {
            format!("every signing certificate in the metadata has expired ({expired}); ask the IdP for current metadata")
        } else {
            "the metadata has no signing certificate, so no response could be verified".to_string()
        });
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        certificates,
    })
}

/// Subject and expiry of a base64 DER certificate.
pub fn certificate_info(b64: &str, now_ms: Millis) -> Result<CertificateInfo, String> {
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "a certificate is not valid base64".to_string())?;
    let cert = X509::from_der(&der).map_err(|_| "a certificate could not be read".to_string())?;
    let now = Asn1Time::from_unix(now_ms / 1000).map_err(|e| e.to_string())?;
    let subject = cert
        .subject_name()
        .entries()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    // The distance from now to the end, added to now: Asn1Time has no direct conversion.
    let left = now.diff(cert.not_after()).map_err(|e| e.to_string())?;
    let not_after_ms =
        (now_ms / 1000 + i64::from(left.days) * 86_400 + i64::from(left.secs)) * 1000;
    Ok(CertificateInfo {
        subject,
        not_after: cert.not_after().to_string(),
        not_after_ms,
        expired: cert.not_after() <= now,
    })
}

/// The SHA-256 fingerprint of a base64 DER certificate, as IdP consoles show it
/// (uppercase hex pairs joined by colons); the input itself when it is not base64.
pub fn fingerprint(b64: &str) -> String {
    use sha2::{Digest, Sha256};
    match STANDARD.decode(b64) {
        Ok(der) => Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        Err(_) => b64.to_string(),
    }
}

/// Whether XML declares a DTD or entities; SAML never needs them, and they are the door to
/// entity-expansion and external-entity attacks.
pub fn has_dtd(xml: &str) -> bool {
    let upper = xml.to_ascii_uppercase();
    upper.contains("<!DOCTYPE") || upper.contains("<!ENTITY")
}

/// Our SP metadata for one organisation (SAML 2.0 Metadata §2.4.4). `certificates` are the
/// SP's certificates (base64 DER), published when it signs its AuthnRequests or takes
/// encrypted assertions; `key_use` is "signing", or None for both uses (Metadata §2.4.1.1).
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    certificates: &[String],
    key_use: Option<&str>,
    requests_signed: bool,
) -> String {
    let use_attr = key_use
        .map(|u| format!(r#" use="{u}""#))
        .unwrap_or_default();
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                r#"
    <md:KeyDescriptor{use_attr}><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
            )
        })
        .collect();
    let signed = requests_signed && !certificates.is_empty();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}">
  <md:SPSSODescriptor AuthnRequestsSigned="{signed}" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{acs}" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#,
        entity = esc(entity_id),
        acs = esc(acs_url)
    )
}

/// Minimal IdP metadata for a stored connection: the form samael reads certificates from.
pub fn idp_metadata_xml(entity_id: &str, sso_url: &str, certificates: &[String]) -> String {
    let keys: String = certificates
        .iter()
        .map(|c| {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
            )
        })
        .collect();
    format!(
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:SingleSignOnService Binding="{HTTP_REDIRECT_BINDING}" Location="{}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
        esc(entity_id),
        esc(sso_url)
    )
}

/// Fetches metadata over https, or over http from a loopback address only.
pub async fn fetch(outbound: &Outbound, url: &str) -> anyhow::Result<String> {
    anyhow::ensure!(
        idp_url_allowed(url),
        "metadata URLs must be https:// (http:// only on loopback addresses): {url}"
    );
    let (status, body) = outbound.get(url).await?;
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    String::from_utf8(body)
        .map_err(|_| anyhow::anyhow!("{url} answered with a body that is not UTF-8"))
}

/// An IdP URL (SAML metadata, OIDC issuer) must be https://, except on loopback addresses
/// (127.0.0.0/8, ::1, localhost), where http:// is accepted for local IdPs in tests.
pub fn idp_url_allowed(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback)
}

/// Escapes text for an XML attribute value in double quotes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}
