//! Rules about who a user is: fixed userName and emails, emails inside the organisation's
//! verified domains.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Violation, ViolationKind};
use crate::directory::orgs::Org;
use crate::directory::users::{Profile, User, UserData};

pub fn check(org: &Org, data: &UserData, current: Option<&User>) -> Result<(), Violation> {
    let policy = &org.settings.policy;
    if let Some(current) = current {
        if policy.immutable_user_name {
            check_user_name_kept(data, current)?;
        }
        if policy.immutable_email {
            check_emails_kept(data, current)?;
        }
    }
    // An inactive user cannot sign in, so it is not held to the domains: an identity
    // provider must always be able to deactivate someone, even a user made before the
    // setting was turned on. Its reactivation is a write with `active: true`, checked here.
    if policy.allowed_email_domains && data.active {
        check_domains(org, &data.profile)?;
    }
    Ok(())
}

/// The same userName, to the character. A change of case only is still refused: the app
/// behind Gatehouse receives the userName as a string (`X-Gatehouse-User`, `/me`), and an
/// app that keys accounts on it must never see it change.
fn check_user_name_kept(data: &UserData, current: &User) -> Result<(), Violation> {
    if data.user_name.as_str() == current.user_name.as_str() {
        return Ok(());
    }
    Err(Violation::new(
        ViolationKind::Mutability,
        "userName",
        format!(
            "userName cannot change in this organisation (it is {:?}, the write says {:?})",
            current.user_name.as_str(),
            data.user_name.as_str()
        ),
    ))
}

/// The same set of email values: order, `type` and `primary` may change, a value may not,
/// nor its case (as for userName). A user that had no email may be given one: RFC 7643 §7
/// lets an immutable attribute be set while it has no value.
fn check_emails_kept(data: &UserData, current: &User) -> Result<(), Violation> {
    let before = email_values(&current.profile);
    let after = email_values(&data.profile);
    if before.is_empty() || before == after {
        return Ok(());
    }
    let list = |set: &BTreeSet<&str>| {
        if set.is_empty() {
            "none".to_string()
        } else {
            set.iter().copied().collect::<Vec<_>>().join(", ")
        }
    };
    Err(Violation::new(
        ViolationKind::Mutability,
        "emails",
        format!(
            "emails cannot change in this organisation (they are {}, the write says {})",
            list(&before),
            list(&after)
        ),
    ))
}

fn email_values(profile: &Profile) -> BTreeSet<&str> {
    profile
        .emails
        .iter()
        .filter_map(|e| e.get("value").and_then(Value::as_str))
        .collect()
}

/// Every email of the user is at one of the organisation's verified domains (the same
/// domain exactly, as `/login` finds organisations: a subdomain is another domain). A user
/// without any email is refused too: nothing would show that it belongs to the
/// organisation, which is what the setting is there to make sure of.
pub fn check_domains(org: &Org, profile: &Profile) -> Result<(), Violation> {
    let allowed = || {
        let names: Vec<&str> = org.domains.iter().map(|d| d.as_str()).collect();
        if names.is_empty() {
            "none are verified".to_string()
        } else {
            names.join(", ")
        }
    };
    let values = email_values(profile);
    if values.is_empty() {
        return Err(Violation::invalid(
            "emails",
            format!(
                "emails is required: this organisation admits only users with an email at its domains ({})",
                allowed()
            ),
        ));
    }
    for value in values {
        let domain = value
            .rsplit_once('@')
            .map(|(_, d)| d.trim().trim_end_matches('.').to_ascii_lowercase());
        let inside = domain.is_some_and(|d| org.domains.iter().any(|o| o.as_str() == d));
        if !inside {
            return Err(Violation::invalid(
                "emails",
                format!(
                    "emails value {value:?} is outside this organisation's domains ({})",
                    allowed()
                ),
            ));
        }
    }
    Ok(())
}

/// The sign-in check: a user already in the directory (linked or matched) is refused when
/// its emails are outside the organisation's domains, though it was written before the
/// setting was turned on. A user made at this login passed [`check`] when it was created.
pub fn check_login(org: &Org, user: &User) -> Result<(), Violation> {
    if org.settings.policy.allowed_email_domains {
        check_domains(org, &user.profile)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::model::{Domain, OrgId, OrgSlug, UserId, UserName};
    use serde_json::json;

    fn org(domains: &[&str]) -> Org {
        let mut settings = crate::directory::orgs::OrgSettings::default();
        settings.policy.immutable_user_name = true;
        settings.policy.immutable_email = true;
        settings.policy.allowed_email_domains = true;
        Org {
            id: OrgId::new(),
            slug: OrgSlug::parse("acme").unwrap(),
            name: "Acme".into(),
            domains: domains.iter().map(|d| Domain::parse(d).unwrap()).collect(),
            settings,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn data(user_name: &str, emails: &[&str]) -> UserData {
        UserData {
            user_name: UserName::parse(user_name).unwrap(),
            external_id: None,
            active: true,
            profile: Profile {
                emails: emails.iter().map(|e| json!({ "value": e })).collect(),
                ..Profile::default()
            },
        }
    }

    fn stored(d: &UserData) -> User {
        User {
            id: UserId::new(),
            org_id: OrgId::new(),
            user_name: d.user_name.clone(),
            external_id: None,
            active: true,
            deleted: false,
            session_epoch: 0,
            profile: d.profile.clone(),
            created_at: 0,
            updated_at: 0,
            version: 1,
        }
    }

    #[test]
    fn a_change_of_case_is_a_change_and_the_same_values_pass() {
        let o = org(&["acme.test"]);
        let now = stored(&data("ada@acme.test", &["ada@acme.test", "a@acme.test"]));
        assert!(check(
            &o,
            &data("ada@acme.test", &["a@acme.test", "ada@acme.test"]),
            Some(&now)
        )
        .is_ok());
        let e = check(
            &o,
            &data("Ada@acme.test", &["ada@acme.test", "a@acme.test"]),
            Some(&now),
        )
        .unwrap_err();
        assert_eq!(
            (e.kind, e.attribute.as_str()),
            (ViolationKind::Mutability, "userName")
        );
        let e = check(
            &o,
            &data("ada@acme.test", &["ADA@acme.test", "a@acme.test"]),
            Some(&now),
        )
        .unwrap_err();
        assert_eq!(e.attribute, "emails");
        let e = check(&o, &data("ada@acme.test", &[]), Some(&now)).unwrap_err();
        assert!(e.message.contains("none"), "{}", e.message);
    }

    #[test]
    fn domains_match_exactly_and_an_inactive_user_is_not_held_to_them() {
        let o = org(&["acme.test"]);
        assert!(check(&o, &data("a", &["a@ACME.test"]), None).is_ok());
        for bad in [
            &["a@eu.acme.test"][..],
            &["a@acme.test", "a@gmail.test"],
            &["no-at-sign"],
            &[],
        ] {
            let e = check(&o, &data("a", bad), None).unwrap_err();
            assert_eq!(
                (e.kind, e.attribute.as_str()),
                (ViolationKind::InvalidValue, "emails")
            );
        }
        let mut off = data("a", &["a@gmail.test"]);
        off.active = false;
        assert!(check(&o, &off, None).is_ok());
    }
}
