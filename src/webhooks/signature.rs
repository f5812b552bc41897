//! Standard Webhooks signatures (<https://www.standardwebhooks.com>, "Signature scheme"):
//! the secret is `whsec_` and the base64 of its key bytes; a delivery's signature is `v1,`
//! and the base64 of HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, the body
//! exactly as sent. While a rotated secret overlaps, the header carries one signature per
//! secret, separated by spaces, and a receiver accepts any of them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;

const PREFIX: &str = "whsec_";
/// Key bytes in a secret Gatehouse makes: the spec asks for 24 to 64.
const KEY_BYTES: usize = 32;

/// A signing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Self {
        Self(crate::random::bytes(KEY_BYTES))
    }

    /// A secret in its `whsec_` form.
    pub fn parse(text: &str) -> Option<Self> {
        let key = STANDARD.decode(text.strip_prefix(PREFIX)?).ok()?;
        (!key.is_empty()).then_some(Self(key))
    }

    /// The `whsec_` form, shown once when the secret is made and kept sealed.
    pub fn encode(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `v1,` signature of one delivery.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let key = PKey::hmac(&self.0).expect("an HMAC key of any length");
        let mut signer = Signer::new(MessageDigest::sha256(), &key).expect("HMAC-SHA256");
        let timestamp = timestamp.to_string();
        let signed = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
        for part in signed {
            signer.update(part).expect("HMAC update");
        }
        let mac = signer.sign_to_vec().expect("HMAC sign");
        format!("v1,{}", STANDARD.encode(mac))
    }
}

/// The `webhook-signature` header: a signature by each secret, newest first.
pub fn header(secrets: &[Secret], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector of the Standard Webhooks specification.
    #[test]
    fn the_specification_test_vector_signs_as_published() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            secret.sign("msg_27UH4WbU6Z5A5EzD8u03UvzRbpk", 1649367553, body),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn any_change_to_id_time_or_body_changes_the_signature() {
        let secret = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let base = secret.sign("msg_1", 1, b"{}");
        assert_ne!(secret.sign("msg_2", 1, b"{}"), base);
        assert_ne!(secret.sign("msg_1", 2, b"{}"), base);
        assert_ne!(secret.sign("msg_1", 1, b"{ }"), base);
        assert_ne!(Secret::generate().sign("msg_1", 1, b"{}"), base);
    }

    #[test]
    fn secrets_round_trip_and_bad_ones_are_refused() {
        let s = Secret::generate();
        assert!(s.encode().starts_with("whsec_"));
        assert_eq!(Secret::parse(&s.encode()), Some(s.clone()));
        assert_eq!(Secret::parse("C2FVsBQIhrscChlQIMV"), None);
        assert_eq!(Secret::parse("whsec_!!!"), None);
        assert_eq!(Secret::parse("whsec_"), None);
        let both = header(&[s.clone(), Secret::generate()], "m", 1, b"x");
        assert_eq!(both.split(' ').count(), 2);
        assert_eq!(both.split(' ').next().unwrap(), s.sign("m", 1, b"x"));
    }
}
