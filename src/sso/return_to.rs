//! Where a browser may be sent after sign-in: `return_to` and `RelayState` lead only to
//! paths on this server or to the configured app origins. Anything else goes to `/me`, so
//! a sign-in link can never be turned into a redirect to someone else's site.

use crate::config::Config;

pub const FALLBACK: &str = "/me";

/// The target to redirect to, or the fallback.
pub fn safe_return_to(raw: Option<&str>, config: &Config) -> String {
    raw.and_then(|r| check(r, config))
        .unwrap_or_else(|| FALLBACK.to_string())
}

fn check(raw: &str, config: &Config) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    // A path on this server: "/x", but not "//host" (scheme-relative) or "/\host".
    if raw.starts_with('/') {
        return (!raw.starts_with("//")).then(|| raw.to_string());
    }
    let url = url::Url::parse(raw).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    trusted_origin(&url.origin().ascii_serialization(), config).then(|| url.to_string())
}

/// Whether `origin` (as a browser serialises it: `https://app.example.com`) is this
/// server's own or one of the configured app origins.
pub fn trusted_origin(origin: &str, config: &Config) -> bool {
    let same =
        |o: &str| url::Url::parse(o).is_ok_and(|u| u.origin().ascii_serialization() == origin);
    same(&config.server.public_url) || config.server.app_origins.iter().any(|o| same(o))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::default();
        c.server.public_url = "https://sso.example.com".into();
        c.server.app_origins = vec!["https://app.example.com".into()];
        c
    }

    #[test]
    fn own_paths_and_listed_origins_pass() {
        let c = config();
        assert_eq!(safe_return_to(Some("/me?x=1"), &c), "/me?x=1");
        assert_eq!(
            safe_return_to(Some("https://app.example.com/dash"), &c),
            "https://app.example.com/dash"
        );
        assert_eq!(
            safe_return_to(Some("https://sso.example.com/me"), &c),
            "https://sso.example.com/me"
        );
    }

    #[test]
    fn everything_else_falls_back() {
        let c = config();
        for bad in [
            "https://evil.example/",
            "//evil.example/x",
            "/\\evil.example",
            "https://app.example.com.evil.example/",
            "http://app.example.com/",
            "https://app.example.com:8443/",
            "javascript:alert(1)",
            "https://user@app.example.com/",
            "/me\r\nSet-Cookie: x=1",
            "",
            "evil.example",
        ] {
            assert_eq!(safe_return_to(Some(bad), &c), FALLBACK, "{bad:?}");
        }
        assert_eq!(safe_return_to(None, &c), FALLBACK);
    }
}
