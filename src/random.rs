//! Random secrets: `n` bytes from the operating system's generator, as unpadded base64url.
//! Session cookies, SCIM tokens, SAML request IDs, OIDC browser bindings and webhook
//! secrets all use this.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

pub fn token(bytes: usize) -> String {
    URL_SAFE_NO_PAD.encode(self::bytes(bytes))
}

/// `n` random bytes, for keys (webhook signing secrets).
pub fn bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    rand::rng().fill_bytes(&mut b);
    b
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_have_the_asked_length_and_differ() {
        let (a, b) = (super::token(32), super::token(32));
        assert_eq!(a.len(), 43, "32 bytes in unpadded base64");
        assert_ne!(a, b);
    }
}
