//! The `Authorization` header's two forms, read strictly. RFC 6750 §2.1:
//! `credentials = "Bearer" 1*SP b64token`, with `b64token = 1*( ALPHA / DIGIT / "-" / "." /
//! "_" / "~" / "+" / "/" ) *"="`; RFC 7617 §2 gives Basic the same shape (`token68`). A tab,
//! a control character or anything else between or around them makes the header not a
//! credential at all (401), never a credential read loosely.

/// The token of `Bearer <token>`.
pub fn bearer(header: &str) -> Option<&str> {
    credentials(header, "bearer")
}

/// The base64 of `Basic <base64>`.
pub fn basic(header: &str) -> Option<&str> {
    credentials(header, "basic")
}

fn credentials<'h>(header: &'h str, scheme: &str) -> Option<&'h str> {
    let (name, rest) = header.split_once(' ')?;
    if !name.eq_ignore_ascii_case(scheme) {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    token68(token).then_some(token)
}

fn token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_spaces_separate_the_scheme_from_a_token68() {
        assert_eq!(bearer("Bearer ghs_abc-123"), Some("ghs_abc-123"));
        assert_eq!(bearer("bearer   ghs_abc"), Some("ghs_abc"), "1*SP");
        assert_eq!(basic("Basic YWNtZTpnaHNfeA=="), Some("YWNtZTpnaHNfeA=="));
        for bad in [
            "Bearer \tghs_abc",
            "Bearer\tghs_abc",
            "Bearer ghs_abc\t",
            "Bearer ghs_abc ",
            "Bearer ghs abc",
            "Bearer \u{b}ghs_abc",
            "Bearer ",
            "Bearer ===",
            "Bearer=ghs_abc",
            "Basic ghs_abc",
        ] {
            assert_eq!(bearer(bad), None, "{bad:?}");
        }
        assert_eq!(basic("Basic \tYWNtZTpnaHNfeA=="), None);
    }
}
