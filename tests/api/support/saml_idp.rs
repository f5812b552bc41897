//! A SAML identity provider for tests: real keys and certificates, responses signed with
//! xmlsec exactly as an IdP signs them, and Okta-shaped metadata.

use std::io::Read;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{Duration, SecondsFormat, Utc};
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use samael::crypto::{Crypto, CryptoProvider};

pub const SHA256: (&str, &str) = (
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmlenc#sha256",
);
pub const SHA1: (&str, &str) = (
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
);

/// One signing key and its certificate.
pub struct TestIdp {
    pub entity_id: String,
    pub sso_url: String,
    key_der: Vec<u8>,
    pub cert_b64: String,
}

impl TestIdp {
    pub fn new(entity_id: &str) -> Self {
        Self::with_validity(entity_id, -1, 365)
    }

    /// A certificate valid from `from_days` to `to_days` around now.
    pub fn with_validity(entity_id: &str, from_days: i64, to_days: i64) -> Self {
        let rsa = Rsa::generate(2048).unwrap();
        let key_der = rsa.private_key_to_der().unwrap();
        let pkey = PKey::from_rsa(rsa).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "test-idp.example").unwrap();
        let name = name.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(
            &BigNum::from_u32(rand_u32())
                .unwrap()
                .to_asn1_integer()
                .unwrap(),
        )
        .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&pkey).unwrap();
        let now = Utc::now().timestamp();
        b.set_not_before(&Asn1Time::from_unix(now + from_days * 86_400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(now + to_days * 86_400).unwrap())
            .unwrap();
        b.sign(&pkey, MessageDigest::sha256()).unwrap();
        let cert_b64 = STANDARD.encode(b.build().to_der().unwrap());
        Self {
            entity_id: entity_id.to_string(),
            sso_url: "https://idp.example/app/sso/saml".into(),
            key_der,
            cert_b64,
        }
    }

    /// A second key for the same IdP entity (certificate rotation).
    pub fn rotated(&self) -> Self {
        Self {
            entity_id: self.entity_id.clone(),
            ..Self::new(&self.entity_id)
        }
    }

    /// Metadata shaped like Okta's "View IdP metadata", with these signing certificates.
    pub fn metadata(&self, certs: &[&str]) -> String {
        let keys: String = certs
            .iter()
            .map(|c| {
                format!(
                    r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
                )
            })
            .collect();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><md:EntityDescriptor entityID="{entity}" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"><md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{keys}<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="{sso}"/><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            entity = self.entity_id,
            sso = self.sso_url
        )
    }

    /// Signs the first signature template in `xml`.
    pub fn sign(&self, xml: &str) -> String {
        let signed = Crypto::sign_xml(xml, &self.key_der).expect("xmlsec signs");
        strip_declaration(&signed)
    }
}

fn rand_u32() -> u32 {
    let mut b = [0u8; 4];
    openssl::rand::rand_bytes(&mut b).unwrap();
    u32::from_le_bytes(b) >> 1
}

fn strip_declaration(xml: &str) -> String {
    match xml.trim_start().strip_prefix("<?xml") {
        Some(rest) => rest[rest.find("?>").unwrap() + 2..]
            .trim_start()
            .to_string(),
        None => xml.to_string(),
    }
}

/// Which parts carry a signature.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    Assertion,
    Response,
    Both,
    Neither,
}

/// Everything a response can say; the defaults make a valid one.
#[derive(Clone)]
pub struct Spec {
    pub issuer: String,
    pub destination: String,
    pub recipient: String,
    pub audience: Option<String>,
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub status: String,
    /// Seconds from now.
    pub not_before: i64,
    pub not_on_or_after: i64,
    pub confirmation_not_on_or_after: i64,
    pub issued: i64,
    pub assertion_id: String,
    pub signed: Signed,
    pub algorithm: (&'static str, &'static str),
}

impl Spec {
    pub fn new(idp: &TestIdp, sp_entity: &str, acs: &str, name_id: &str) -> Self {
        Spec {
            issuer: idp.entity_id.clone(),
            destination: acs.into(),
            recipient: acs.into(),
            audience: Some(sp_entity.into()),
            in_response_to: None,
            name_id: name_id.into(),
            attributes: vec![
                ("firstName".into(), vec!["Ada".into()]),
                ("lastName".into(), vec!["Lovelace".into()]),
                ("email".into(), vec![name_id.into()]),
            ],
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
            not_before: -30,
            not_on_or_after: 300,
            confirmation_not_on_or_after: 300,
            issued: 0,
            assertion_id: new_id(),
            signed: Signed::Assertion,
            algorithm: SHA256,
        }
    }
}

pub fn new_id() -> String {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).unwrap();
    format!(
        "id{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn at(offset_s: i64) -> String {
    (Utc::now() + Duration::seconds(offset_s)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn signature_template(id: &str, (method, digest): (&str, &str)) -> String {
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

const NS: &str = r#"xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion""#;

/// The assertion alone, signed when the spec says so.
pub fn assertion(idp: &TestIdp, s: &Spec) -> String {
    let irt = s
        .in_response_to
        .as_ref()
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    let sig = matches!(s.signed, Signed::Assertion | Signed::Both)
        .then(|| signature_template(&s.assertion_id, s.algorithm))
        .unwrap_or_default();
    let audience = s
        .audience
        .as_ref()
        .map(|a| format!("<saml2:AudienceRestriction><saml2:Audience>{a}</saml2:Audience></saml2:AudienceRestriction>"))
        .unwrap_or_default();
    let attrs: String = s
        .attributes
        .iter()
        .map(|(name, values)| {
            let vals: String = values
                .iter()
                .map(|v| format!(r#"<saml2:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{v}</saml2:AttributeValue>"#))
                .collect();
            format!(r#"<saml2:Attribute Name="{name}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified">{vals}</saml2:Attribute>"#)
        })
        .collect();
    let xml = format!(
        r#"<saml2:Assertion {NS} ID="{id}" IssueInstant="{issued}" Version="2.0"><saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>{sig}<saml2:Subject><saml2:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml2:NameID><saml2:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml2:SubjectConfirmationData{irt} NotOnOrAfter="{sc}" Recipient="{recipient}"/></saml2:SubjectConfirmation></saml2:Subject><saml2:Conditions NotBefore="{nb}" NotOnOrAfter="{noa}">{audience}</saml2:Conditions><saml2:AuthnStatement AuthnInstant="{issued}" SessionIndex="{id}"><saml2:AuthnContext><saml2:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement><saml2:AttributeStatement>{attrs}</saml2:AttributeStatement></saml2:Assertion>"#,
        id = s.assertion_id,
        issued = at(s.issued),
        issuer = s.issuer,
        name_id = s.name_id,
        sc = at(s.confirmation_not_on_or_after),
        recipient = s.recipient,
        nb = at(s.not_before),
        noa = at(s.not_on_or_after),
    );
    if sig.is_empty() {
        xml
    } else {
        idp.sign(&xml)
    }
}

/// A Response around `assertion_xml`, signed when the spec says so.
pub fn response_around(idp: &TestIdp, s: &Spec, assertion_xml: &str) -> String {
    let id = new_id();
    let irt = s
        .in_response_to
        .as_ref()
        .map(|i| format!(r#" InResponseTo="{i}""#))
        .unwrap_or_default();
    let sig = matches!(s.signed, Signed::Response | Signed::Both)
        .then(|| signature_template(&id, s.algorithm))
        .unwrap_or_default();
    let xml = format!(
        r#"<saml2p:Response xmlns:saml2p="urn:oasis:names:tc:SAML:2.0:protocol" {NS} Destination="{dest}" ID="{id}"{irt} IssueInstant="{issued}" Version="2.0"><saml2:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">{issuer}</saml2:Issuer>{sig}<saml2p:Status><saml2p:StatusCode Value="{status}"/></saml2p:Status>{assertion_xml}</saml2p:Response>"#,
        dest = s.destination,
        issued = at(s.issued),
        issuer = s.issuer,
        status = s.status,
    );
    if sig.is_empty() {
        xml
    } else {
        idp.sign(&xml)
    }
}

/// A complete response as the spec describes it.
pub fn response(idp: &TestIdp, s: &Spec) -> String {
    response_around(idp, s, &assertion(idp, s))
}

pub fn encode(xml: &str) -> String {
    STANDARD.encode(xml)
}

/// The AuthnRequest ID inside an HTTP-Redirect URL (SAML Bindings §3.4.4.1: deflate, base64).
pub fn request_id_from_redirect(location: &str) -> (String, String) {
    let url = url::Url::parse(location).unwrap();
    let get = |k: &str| {
        url.query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    };
    let raw = STANDARD.decode(get("SAMLRequest")).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    let id = xml[start..start + xml[start..].find('"').unwrap()].to_string();
    (id, get("RelayState"))
}

/// Key transport algorithms for [`encrypt`].
pub const RSA_OAEP: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
pub const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// Encrypts an assertion to the SP's certificate as IdPs do (XML Encryption 1.0):
/// AES-128-CBC with the IV before the ciphertext, the AES key wrapped with RSA.
pub fn encrypt(assertion_xml: &str, sp_cert_b64: &str, key_transport: &str) -> String {
    use openssl::rsa::Padding;
    use openssl::symm::{encrypt as aes, Cipher};
    let mut key = [0u8; 16];
    let mut iv = [0u8; 16];
    openssl::rand::rand_bytes(&mut key).unwrap();
    openssl::rand::rand_bytes(&mut iv).unwrap();
    let mut data = iv.to_vec();
    data.extend(
        aes(
            Cipher::aes_128_cbc(),
            &key,
            Some(&iv),
            assertion_xml.as_bytes(),
        )
        .unwrap(),
    );
    let cert = openssl::x509::X509::from_der(&STANDARD.decode(sp_cert_b64).unwrap()).unwrap();
    let rsa = cert.public_key().unwrap().rsa().unwrap();
    let padding = if key_transport == RSA_OAEP {
        Padding::PKCS1_OAEP
    } else {
        Padding::PKCS1
    };
    let mut wrapped = vec![0u8; rsa.size() as usize];
    let n = rsa.public_encrypt(&key, &mut wrapped, padding).unwrap();
    wrapped.truncate(n);
    format!(
        r#"<saml2:EncryptedAssertion {NS}><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Id="_ed{id}" Type="http://www.w3.org/2001/04/xmlenc#Element"><xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey Id="_ek{id}"><xenc:EncryptionMethod Algorithm="{key_transport}"/><xenc:CipherData><xenc:CipherValue>{wrapped}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo><xenc:CipherData><xenc:CipherValue>{data}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></saml2:EncryptedAssertion>"#,
        id = new_id(),
        wrapped = STANDARD.encode(wrapped),
        data = STANDARD.encode(data),
    )
}
