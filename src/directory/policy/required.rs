//! `required_attributes`: the attribute paths every user of the organisation must have.

use serde_json::Value;

use super::paths::{self, Path};
use super::Violation;
use crate::directory::users::{User, UserData};

/// Refuses a user without one of the required attributes, naming every one it lacks. On a
/// replace, an attribute the stored user lacks too is not asked for: a user written before
/// the organisation required it can still be updated and deactivated.
pub fn check(
    required: &[String],
    data: &UserData,
    current: Option<&User>,
) -> Result<(), Violation> {
    // userName is always there (a user cannot be written without one): skip the work.
    let wanted: Vec<&String> = required
        .iter()
        .filter(|p| !p.trim().eq_ignore_ascii_case("userName"))
        .collect();
    if wanted.is_empty() {
        return Ok(());
    }
    let view = paths::view(data);
    let stored = current.map(|u| paths::view(&u.data()));
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter_map(|text| {
            // A path that does not parse was refused when the setting was written; were
            // one stored all the same, it asks for nothing rather than refuse every user.
            let path = paths::parse(text).ok()?;
            let lacks = |v: &Value| !has(v, &path);
            (lacks(&view) && stored.as_ref().is_none_or(|s| !lacks(s))).then_some(text.as_str())
        })
        .collect();
    match missing.as_slice() {
        [] => Ok(()),
        [one] => Err(Violation::invalid(one, format!("{one} is required"))),
        [many @ .., last] => {
            let names = format!("{} and {last}", many.join(", "));
            Err(Violation::invalid(
                &missing.join(", "),
                format!("{names} are required"),
            ))
        }
    }
}

fn has(view: &Value, path: &Path) -> bool {
    let found = paths::values(view, path);
    if path.sub.is_some() {
        return found.into_iter().any(paths::present);
    }
    // A member of a multi-valued attribute counts by what it holds, not by its labels:
    // `{"type": "work"}` alone is no work email.
    found.into_iter().any(|v| match v {
        Value::Object(obj) => obj.iter().any(|(k, v)| !is_label(k) && paths::present(v)),
        v => paths::present(v),
    })
}

fn is_label(name: &str) -> bool {
    ["type", "primary", "display"]
        .iter()
        .any(|l| l.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::users::{Name, Profile};
    use crate::directory::UserName;
    use serde_json::json;

    fn data(profile: Profile) -> UserData {
        UserData {
            user_name: UserName::parse("ada@x.test").unwrap(),
            external_id: None,
            active: true,
            profile,
        }
    }

    fn req(paths: &[&str]) -> Vec<String> {
        paths.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn names_every_missing_path() {
        let d = data(Profile {
            name: Some(Name {
                given_name: Some("Ada".into()),
                ..Name::default()
            }),
            emails: vec![json!({"value": "a@x.test", "type": "home"})],
            ..Profile::default()
        });
        let paths = req(&[
            "userName",
            "name.givenName",
            "name.familyName",
            r#"emails[type eq "work"].value"#,
        ]);
        let v = check(&paths, &d, None).unwrap_err();
        assert_eq!(
            v.message,
            r#"name.familyName and emails[type eq "work"].value are required"#
        );
        assert!(check(&req(&["emails.value", "name.givenName"]), &d, None).is_ok());
        assert!(check(&req(&["emails", r#"emails[type eq "home"]"#]), &d, None).is_ok());
        let labels_only = data(Profile {
            emails: vec![json!({"type": "work", "primary": true})],
            ..Profile::default()
        });
        let v = check(&req(&[r#"emails[type eq "work"]"#]), &labels_only, None).unwrap_err();
        assert_eq!(v.message, r#"emails[type eq "work"] is required"#);
        let v = check(&req(&["title"]), &d, None).unwrap_err();
        assert_eq!(
            (v.attribute.as_str(), v.message.as_str()),
            ("title", "title is required")
        );
    }
}
