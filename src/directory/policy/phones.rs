//! `phone_numbers = e164`: every phone number is checked and kept in E.164 form.

use phonenumber::Mode;
use serde_json::Value;

use super::settings::{PhoneFormat, PolicySettings};
use super::Violation;
use crate::directory::users::{User, UserData};

/// Validates every `phoneNumbers[].value` and replaces it with its E.164 form. A number
/// must carry its country code (`+44 20 7946 0958`, `tel:+1-650-253-0000`): there is no
/// country to assume. On a replace, a value the stored user already has is kept as it is
/// even when it does not parse (it was written before the rule), so that the user can
/// still be updated and deactivated.
pub fn check(
    policy: &PolicySettings,
    data: &mut UserData,
    current: Option<&User>,
) -> Result<(), Violation> {
    if policy.phone_numbers != PhoneFormat::E164 {
        return Ok(());
    }
    let stored: Vec<&str> = current
        .iter()
        .flat_map(|u| u.profile.phone_numbers.iter())
        .filter_map(|p| p.get("value").and_then(Value::as_str))
        .collect();
    for entry in &mut data.profile.phone_numbers {
        let Some(obj) = entry.as_object_mut() else {
            continue;
        };
        let Some((key, value)) = obj
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("value"))
            .map(|(k, v)| (k.clone(), v.clone()))
        else {
            continue;
        };
        let normalised = match &value {
            Value::Null => continue,
            Value::String(s) => match e164(s) {
                Ok(n) => n,
                Err(_) if stored.contains(&s.as_str()) => continue,
                Err(why) => return Err(Violation::invalid("phoneNumbers", why)),
            },
            other => {
                return Err(Violation::invalid(
                    "phoneNumbers",
                    format!("phoneNumbers value {other} is not a valid phone number"),
                ))
            }
        };
        obj.insert(key, Value::String(normalised));
    }
    Ok(())
}

/// A phone number in E.164 form (`+16502530000`), or why it cannot be.
pub fn e164(text: &str) -> Result<String, String> {
    let not_valid = format!("phoneNumbers value {text:?} is not a valid phone number");
    let trimmed = text.trim();
    let Ok(number) = phonenumber::parse(None, trimmed) else {
        let international = trimmed.starts_with('+') || trimmed.starts_with("tel:+");
        return Err(if international {
            not_valid
        } else {
            format!("{not_valid}: give it with its country code, as in +16502530000")
        });
    };
    if !number.is_valid() {
        return Err(not_valid);
    }
    if number.extension().is_some() {
        return Err(format!(
            "{not_valid} in E.164 form: it has an extension, which E.164 cannot hold"
        ));
    }
    Ok(number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_normalises_international_numbers_and_refuses_the_rest() {
        assert_eq!(e164("+1 650-253-0000").unwrap(), "+16502530000");
        assert_eq!(e164("tel:+1-650-253-0000").unwrap(), "+16502530000");
        assert_eq!(e164(" +44 20 7946 0958 ").unwrap(), "+442079460958");
        assert_eq!(
            e164("12").unwrap_err(),
            r#"phoneNumbers value "12" is not a valid phone number: give it with its country code, as in +16502530000"#
        );
        assert!(e164("650 253 0000").unwrap_err().contains("country code"));
        assert!(e164("+1 555").is_err());
        assert!(e164("abc").is_err());
        assert!(e164("").is_err());
        assert!(e164("+1 650 253 0000 ext. 12")
            .unwrap_err()
            .contains("extension"));
        // Inputs that made older releases panic (RUSTSEC-2023-0082, RUSTSEC-2024-0369).
        assert!(e164(".;phone-context=").is_err());
        assert!(e164("+dwPAA;phone-context=AA").is_err());
    }
}
