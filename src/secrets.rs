//! Encryption of secrets the server must keep in its database (OIDC client secrets):
//! AES-256-GCM under a key from `secrets.key` (base64, 32 bytes) or, when none is set, a key
//! generated into `secrets.key_file` on first start (owner-only permissions). A sealed value
//! is `v1:` and base64 of nonce, ciphertext and tag, so a later key or cipher can coexist.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use openssl::symm::{decrypt_aead, encrypt_aead, Cipher};

use crate::config::SecretsConfig;

const PREFIX: &str = "v1:";

#[derive(Clone)]
pub struct SecretBox {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a stored secret could not be decrypted (wrong secrets.key, or the value was altered)")]
pub struct OpenError;

impl SecretBox {
    /// The configured key, or the key file's, made on first use.
    pub fn load(config: &SecretsConfig) -> anyhow::Result<Self> {
        let encoded = match config.key.expose() {
            k if !k.is_empty() => k.to_string(),
            _ => read_or_create(Path::new(&config.key_file))?,
        };
        let bytes = STANDARD
            .decode(encoded.trim())
            .context("secrets.key is not base64")?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| {
            anyhow::anyhow!("secrets.key must be 32 bytes (base64 of 32 random bytes)")
        })?;
        Ok(Self { key })
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        openssl::rand::rand_bytes(&mut nonce).expect("the system has randomness");
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.key,
            Some(&nonce),
            &[],
            plaintext.as_bytes(),
            &mut tag,
        )
        .expect("AES-GCM encrypts any input");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out.extend(tag);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let raw = STANDARD
            .decode(sealed.strip_prefix(PREFIX).ok_or(OpenError)?)
            .map_err(|_| OpenError)?;
        if raw.len() < 28 {
            return Err(OpenError);
        }
        let (nonce, rest) = raw.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        let plain = decrypt_aead(Cipher::aes_256_gcm(), &self.key, Some(nonce), &[], ct, tag)
            .map_err(|_| OpenError)?;
        String::from_utf8(plain).map_err(|_| OpenError)
    }
}

fn read_or_create(path: &Path) -> anyhow::Result<String> {
    if path.exists() {
        return std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut key = [0u8; 32];
    openssl::rand::rand_bytes(&mut key)?;
    let encoded = STANDARD.encode(key);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(encoded.as_bytes())?;
            Ok(encoded)
        }
        // Another process made it first: use that one.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(std::fs::read_to_string(path)?)
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn boxed(dir: &Path) -> SecretBox {
        let config = SecretsConfig {
            key: Secret::default(),
            key_file: dir.join("k/secret.key").display().to_string(),
        };
        SecretBox::load(&config).unwrap()
    }

    #[test]
    fn seals_and_opens_and_refuses_altered_values() {
        let dir = tempfile::tempdir().unwrap();
        let b = boxed(dir.path());
        let sealed = b.seal("client-secret");
        assert!(sealed.starts_with("v1:") && !sealed.contains("client-secret"));
        assert_eq!(b.open(&sealed).unwrap(), "client-secret");
        assert_ne!(b.seal("client-secret"), sealed, "a fresh nonce every time");
        let mut raw = STANDARD.decode(&sealed[3..]).unwrap();
        raw[14] ^= 1;
        assert_eq!(
            b.open(&format!("v1:{}", STANDARD.encode(raw))),
            Err(OpenError)
        );
        let other = SecretBox { key: [7; 32] };
        assert_eq!(other.open(&sealed), Err(OpenError));
    }

    #[test]
    fn the_key_file_is_made_once_owner_only_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = boxed(dir.path());
        let sealed = first.seal("x");
        assert_eq!(
            boxed(dir.path()).open(&sealed).unwrap(),
            "x",
            "the same key next start"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("k/secret.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_configured_key_wins_and_must_be_32_bytes() {
        let key = STANDARD.encode([3u8; 32]);
        let config = SecretsConfig {
            key: Secret::new(key),
            key_file: "/nonexistent/never/used".into(),
        };
        assert!(SecretBox::load(&config).is_ok());
        let config = SecretsConfig {
            key: Secret::new(STANDARD.encode([3u8; 8])),
            key_file: String::new(),
        };
        assert!(SecretBox::load(&config).is_err());
    }
}
