//! Making the SP's key pairs: RSA 2048 with a self-signed certificate (SAML trusts the
//! certificate the metadata names, not a chain), valid ten years.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};

use crate::directory::connections::saml_keys::SpKey;
use crate::directory::{self, Actor, Directory, OrgId};
use crate::secrets::SecretBox;

/// A new key pair: the private key as PKCS#8 PEM, the certificate as base64 DER.
pub fn generate(common_name: &str) -> Result<(String, String), openssl::error::ErrorStack> {
    let pkey = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &common_name.chars().take(64).collect::<String>())?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&pkey)?;
    let (from, to) = (Asn1Time::days_from_now(0)?, Asn1Time::days_from_now(3650)?);
    b.set_not_before(&from)?;
    b.set_not_after(&to)?;
    b.sign(&pkey, MessageDigest::sha256())?;
    let pem = String::from_utf8(pkey.private_key_to_pem_pkcs8()?).expect("PEM is ASCII");
    Ok((pem, STANDARD.encode(b.build().to_der()?)))
}

/// The keys in service, making the first one when there is none (its private key sealed
/// with the secrets key before it is stored).
pub async fn keys_in_service(
    directory: &Directory,
    secrets: &SecretBox,
    org: OrgId,
    common_name: &str,
) -> directory::Result<Vec<SpKey>> {
    let keys = directory.saml_sp_keys(org).await?;
    if !keys.is_empty() {
        return Ok(keys);
    }
    let (pem, cert) =
        generate(common_name).map_err(|e| directory::Error::Corrupt(e.to_string()))?;
    directory
        .add_saml_sp_key(org, &secrets.seal(&pem), &cert, &Actor::System)
        .await?;
    directory.saml_sp_keys(org).await
}

/// A stored private key: sealed by the secret box, or (stored before keys were sealed) a
/// plain PEM.
pub fn private_key(secrets: &SecretBox, key: &SpKey) -> Result<PKey<Private>, String> {
    let pem = if key.private_key_pem.starts_with("-----BEGIN") {
        key.private_key_pem.clone()
    } else {
        secrets
            .open(&key.private_key_pem)
            .map_err(|e| e.to_string())?
    };
    PKey::private_key_from_pem(pem.as_bytes()).map_err(|e| e.to_string())
}
