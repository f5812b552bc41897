//! The login rules (DESIGN.md, Login rules) inside a sign-in's transaction: which user an
//! assertion is, and what a login may change about it.

use serde_json::json;

use super::{Assertion, LoginError, Refusal, Stop};
use crate::db::WriteTx;
use crate::directory::model::fold_case;
use crate::directory::orgs::Org;
use crate::directory::policy::attributes::{role_of, set_role};
use crate::directory::users::identities::{linked_user_in, users_matching};
use crate::directory::users::tombstones::{tombstoned, Key};
use crate::directory::users::writes::UserWrite;
use crate::directory::users::{Name, Profile, User, UserData};
use crate::directory::{policy, Actor, Directory, UserName};

impl Directory {
    /// Maps an assertion to one user of the organisation: an existing link of
    /// (connection, subject); else the one user whose userName or any stored email equals
    /// the asserted user name (when the connection is trusted for it) or verified email,
    /// case-insensitively, which is then linked (two such users: refused, naming both);
    /// else a new user, when the organisation allows it and no tombstone says the person
    /// was removed. Inactive and deleted users are refused: JIT never reactivates anyone,
    /// and never creates a second user beside a deactivated one. A first login that
    /// collides with a concurrent one (a second tab, a SCIM create) is a race: the whole
    /// sign-in runs again, and then finds that user.
    pub(super) async fn find_or_create(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        a: &Assertion,
    ) -> Result<(User, &'static str), Stop> {
        if !org.settings.enabled {
            return Err(LoginError::Refused(Refusal::OrgDisabled).into());
        }
        if let Some(user) = linked_user_in(tx, org.id, &a.connection, &a.subject).await? {
            admit(&user)?;
            check_login_policy(org, &user)?;
            return Ok((user, "link"));
        }
        let names: Vec<&str> = [
            a.user_name.as_deref().filter(|_| a.trusted_user_name),
            a.email.as_deref().filter(|_| a.email_verified),
        ]
        .into_iter()
        .flatten()
        .collect();
        let found = users_matching(tx, org.id, &names).await?;
        let any_found = !found.is_empty();
        let live: Vec<User> = found.into_iter().filter(|u| !u.deleted).collect();
        match live.len() {
            0 if any_found => return Err(LoginError::Refused(Refusal::Deleted).into()),
            0 => {}
            1 => {
                let user = live.into_iter().next().expect("one user");
                admit(&user)?;
                check_login_policy(org, &user)?;
                self.link(tx, org, a, &user).await?;
                return Ok((user, "match"));
            }
            // Never pick one: either choice could be the account the organisation has
            // deactivated, and the person would sign in around it.
            _ => return Err(LoginError::Ambiguous(live).into()),
        }
        let data = new_user(org, a)?;
        if removed(tx, org, a, &data).await? {
            return Err(LoginError::Refused(Refusal::Removed).into());
        }
        if !org.settings.jit {
            return Err(LoginError::Refused(Refusal::JitDisabled).into());
        }
        let verified_name = a.trusted_user_name
            || (a.email_verified
                && a.email.as_deref().map(fold_case) == Some(data.user_name.key()));
        let actor = Actor::Idp(a.connection.clone());
        let user = self
            .create_user_at_login(tx, org, data, &actor, verified_name)
            .await?;
        self.link(tx, org, a, &user).await?;
        Ok((user, "jit"))
    }

    /// Records the link. One a concurrent login of the same person recorded first is a
    /// race: the sign-in runs again and finds it.
    async fn link(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        a: &Assertion,
        user: &User,
    ) -> Result<(), Stop> {
        let actor = Actor::Idp(a.connection.clone());
        let identity = (a.connection.as_str(), a.subject.as_str());
        self.link_identity_in(tx, org.id, identity, user.id, &actor)
            .await?;
        Ok(())
    }

    /// The IdP is where the role is decided, for users provisioned by SCIM as well: a role
    /// it asserts at login that differs from the stored one replaces it, through the same
    /// checks as any write (a role outside the organisation's list refuses the login). An
    /// assertion without the role leaves it as it is.
    pub(super) async fn role_from_login(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        a: &Assertion,
        user: User,
    ) -> Result<User, Stop> {
        let policy = &org.settings.policy;
        let Some(role) = a.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(user);
        };
        if role_of(policy, &user).as_deref() == Some(role) {
            return Ok(user);
        }
        let actor = Actor::Idp(a.connection.clone());
        let write = UserWrite::new(&actor, "user.role_from_login");
        // Run on the user as the write reads it: a deactivation that came since the login
        // began refuses it.
        let mut assign = |current: &User| {
            admit(current)?;
            if role_of(policy, current).as_deref() == Some(role) {
                return Ok(None);
            }
            let mut data = current.data();
            set_role(policy, &mut data.profile, role).map_err(LoginError::Policy)?;
            Ok::<_, LoginError>(Some(data))
        };
        self.update_user_in(tx, org, user.id, write, &mut assign)
            .await?
            .ok_or(Stop::Race { name_taken: false })
    }
}

/// Whether the person signing in is one the organisation's provisioning removed: a
/// tombstone holds the subject, a name or email this login is known by, or the userName a
/// first login would give it.
async fn removed(
    tx: &mut WriteTx,
    org: &Org,
    a: &Assertion,
    data: &UserData,
) -> Result<bool, Stop> {
    let mut keys = vec![
        Key::Subject {
            connection: &a.connection,
            subject: &a.subject,
        },
        Key::Name(data.user_name.as_str()),
    ];
    if let Some(name) = a.user_name.as_deref().filter(|_| a.trusted_user_name) {
        keys.push(Key::Name(name));
    }
    if let Some(email) = a.email.as_deref().filter(|_| a.email_verified) {
        keys.push(Key::Name(email));
    }
    Ok(tombstoned(tx, org.id, &keys).await?.is_some())
}

/// Refuses a deleted or deactivated user.
fn admit(user: &User) -> Result<(), LoginError> {
    if user.deleted {
        Err(LoginError::Refused(Refusal::Deleted))
    } else if !user.active {
        Err(LoginError::Refused(Refusal::Deactivated))
    } else {
        Ok(())
    }
}

/// The organisation's rules that a user already in the directory must still meet to sign
/// in (a user made at this login met them when it was written).
fn check_login_policy(org: &Org, user: &User) -> Result<(), LoginError> {
    policy::identity::check_login(org, user).map_err(LoginError::Policy)
}

fn new_user(org: &Org, a: &Assertion) -> Result<UserData, LoginError> {
    let name = a
        .user_name
        .as_deref()
        .or(a.email.as_deref().filter(|_| a.email_verified))
        .ok_or(LoginError::Refused(Refusal::NoIdentifier))?;
    let user_name =
        UserName::parse(name).map_err(|_| LoginError::Refused(Refusal::NoIdentifier))?;
    let name = (a.given_name.is_some() || a.family_name.is_some()).then(|| Name {
        given_name: a.given_name.clone(),
        family_name: a.family_name.clone(),
        ..Name::default()
    });
    // An unverified email is not stored: a later SCIM create or login would match by it,
    // and the person need not own it.
    let emails = a
        .email
        .iter()
        .filter(|_| a.email_verified)
        .map(|e| json!({ "value": e, "type": "work", "primary": true }))
        .collect();
    let mut profile = Profile {
        name,
        display_name: a.display_name.clone(),
        emails,
        ..Profile::default()
    };
    if let Some(role) = a.role.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        set_role(&org.settings.policy, &mut profile, role).map_err(LoginError::Policy)?;
    }
    Ok(UserData {
        user_name,
        external_id: None,
        active: true,
        profile,
    })
}
