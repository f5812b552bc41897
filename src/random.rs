//! Random secrets: `n` bytes from the operating system's generator, as unpadded base64url.
//! Session cookies, SCIM tokens, SAML request IDs and OIDC browser bindings all use this.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

pub fn token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
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
