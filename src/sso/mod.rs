//! The gate both login protocols pass through. SAML and OIDC only turn protocol messages
//! into an [`Assertion`]; [`resolve_login`] decides which user that is, or refuses, and
//! records what happened.

pub mod flood;
pub mod oidc;
pub mod return_to;
pub mod saml;
pub mod sign_in;

use crate::state::AppState;

use serde_json::json;

use crate::directory::model::fold_case;
use crate::directory::orgs::Org;
use crate::directory::policy::attributes::{role_of, set_role};
use crate::directory::users::writes::UserWrite;
use crate::directory::users::{Name, Profile, User, UserData};
use crate::directory::{self, Actor, Directory, UserName};

/// What an identity provider asserted about the person signing in.
#[derive(Debug, Clone, Default)]
pub struct Assertion {
    /// The connection (IdP) it came through.
    pub connection: String,
    /// The IdP's stable id for the person (SAML NameID, OIDC `sub`).
    pub subject: String,
    pub user_name: Option<String>,
    pub email: Option<String>,
    /// Whether the IdP vouches for the email (OIDC `email_verified`).
    pub email_verified: bool,
    /// Whether this connection may match existing users by the user name it asserts (an
    /// organisation's own SAML IdP may; a connection that lets people choose names may not).
    pub trusted_user_name: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    /// None: the IdP said nothing about groups (memberships stay as they are).
    pub groups: Option<Vec<String>>,
    /// The role (the organisation's `saml_attribute_role` / `oidc_claim_role`); None: the
    /// IdP said nothing about it (the user keeps its role).
    pub role: Option<String>,
}

/// The organisation a browser path names, or a page that says there is none.
pub async fn org_page(state: &AppState, slug: &str) -> Result<Org, crate::web::pages::PageError> {
    state.directory.org_by_slug(slug).await?.ok_or_else(|| {
        crate::web::pages::PageError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Unknown organisation",
            format!("No organisation is called {slug:?}."),
        )
    })
}

/// Where the browser goes to sign in to an organisation: its SAML login route, else its
/// OIDC one, or None while it has no identity provider connected.
pub async fn sign_in_url(
    state: &AppState,
    org: &Org,
    return_to: &str,
) -> Result<Option<String>, directory::Error> {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    if state.directory.saml_connection(org.id).await?.is_some() {
        return Ok(Some(format!("/saml/{}/login?{query}", org.slug)));
    }
    if state.directory.oidc_connection(org.id).await?.is_some() {
        return Ok(Some(format!("/oidc/{}/login?{query}", org.slug)));
    }
    Ok(None)
}

/// Why a login was refused. `reason` is for the event log; `message` is for the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    OrgDisabled,
    Deactivated,
    Deleted,
    JitDisabled,
    NoIdentifier,
    /// A tombstone matches: SCIM or an admin removed this person.
    Removed,
    /// A first login would take a userName that a user holds whom this login cannot be
    /// matched to (its claim is not verified).
    NameTaken,
    /// More than one user matches (the event names them).
    Ambiguous,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::OrgDisabled => "the organisation is disabled",
            Refusal::Deactivated => "the user is deactivated",
            Refusal::Deleted => "the user has been deleted",
            Refusal::JitDisabled => {
                "no such user, and the organisation does not create users at first login"
            }
            Refusal::NoIdentifier => {
                "the identity provider asserted neither a user name nor a verified email"
            }
            Refusal::Removed => {
                "the user was removed by the organisation's provisioning (SCIM delete or erase)"
            }
            Refusal::NameTaken => {
                "the asserted user name belongs to an existing user, and no verified claim \
                 links this login to it"
            }
            Refusal::Ambiguous => "more than one user matches the asserted user name or email",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Deactivated | Refusal::Deleted => {
                "Your account is deactivated. Contact your administrator to have it restored."
            }
            Refusal::OrgDisabled => {
                "Sign-in is turned off for your organisation. Contact your administrator."
            }
            Refusal::JitDisabled => {
                "You do not have an account here yet. Ask your administrator to give you access."
            }
            Refusal::NoIdentifier => {
                "Your identity provider did not say who you are (no user name or verified email). \
                 Ask your administrator to check the connection's settings."
            }
            Refusal::Removed => {
                "Your account was removed by your organisation's provisioning. \
                 Contact your administrator to have it restored."
            }
            Refusal::NameTaken => {
                "An account with your user name exists, but your identity provider did not \
                 verify your email, so Gatehouse cannot tell that it is yours. \
                 Contact your administrator."
            }
            Refusal::Ambiguous => {
                "More than one account here matches you, so Gatehouse cannot tell which is \
                 yours. Your administrator can see the accounts in the event log and merge \
                 or remove one."
            }
        }
    }
}

/// What a person is told when the organisation's policy refuses its sign-in: the rule, in
/// words that name the attribute, so that its administrator knows what to fix at the IdP.
pub fn policy_message(v: &directory::policy::Violation) -> String {
    format!(
        "Your organisation's settings do not let this account sign in: {}. Contact your administrator.",
        v.message
    )
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("refused: {}", .0.reason())]
    Refused(Refusal),
    /// The organisation's provisioning policy refuses this user (a missing attribute, an
    /// email outside its domains...).
    #[error("refused by policy: {0}")]
    Policy(directory::policy::Violation),
    /// More than one user matches the login; none is picked.
    #[error("refused: {}: {}", Refusal::Ambiguous.reason(), names(.0))]
    Ambiguous(Vec<User>),
    #[error(transparent)]
    Failed(directory::Error),
}

impl LoginError {
    /// What the person is told, and what the event log says, for a refusal; None for a
    /// failure of Gatehouse itself.
    pub fn refusal(&self) -> Option<(String, String)> {
        match self {
            LoginError::Refused(r) => Some((r.reason().into(), r.message().into())),
            LoginError::Policy(v) => Some((format!("refused by policy: {v}"), policy_message(v))),
            LoginError::Ambiguous(_) => {
                Some((self.to_string(), Refusal::Ambiguous.message().into()))
            }
            LoginError::Failed(_) => None,
        }
    }
}

/// Users as the event log names them: userName and id.
fn names(users: &[User]) -> String {
    users
        .iter()
        .map(|u| format!("{} ({})", u.user_name.as_str(), u.id))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<directory::Error> for LoginError {
    fn from(e: directory::Error) -> Self {
        match e {
            directory::Error::Policy(v) => Self::Policy(v),
            e => Self::Failed(e),
        }
    }
}

/// Attempts at creating a user that lost a race with another creation.
const ATTEMPTS: usize = 3;

/// Maps an assertion to one user of the organisation (DESIGN.md, Login rules): an existing
/// link of (connection, subject); else the one user whose userName or any stored email
/// equals the asserted user name (when the connection is trusted for it) or verified
/// email, case-insensitively, which is then linked (two such users: refused, naming both);
/// else a new user, when the organisation allows it and no tombstone says the person was
/// removed. Inactive and deleted users are refused: JIT never reactivates anyone, and never
/// creates a second user beside a deactivated one.
pub async fn resolve_login(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
) -> Result<User, LoginError> {
    let result = resolve(directory, org, a).await;
    let actor = Actor::Idp(a.connection.clone());
    match &result {
        Ok((user, how)) => {
            let detail = json!({ "connection": a.connection, "subject": a.subject, "via": how });
            directory
                .record_success(
                    Some(org.id),
                    &actor,
                    "login",
                    Some(user.id.to_string()),
                    detail,
                )
                .await?;
        }
        Err(e @ (LoginError::Refused(_) | LoginError::Policy(_) | LoginError::Ambiguous(_))) => {
            let why = match e {
                LoginError::Refused(r) => r.reason().to_string(),
                other => other.to_string(),
            };
            let reason = format!("{why} (connection {}, subject {})", a.connection, a.subject);
            directory
                .record_failure(Some(org.id), &actor, "login", None, &reason)
                .await?;
        }
        Err(LoginError::Failed(_)) => {}
    }
    let (user, _) = result?;
    if let (true, Some(groups)) = (org.settings.groups_from_login, &a.groups) {
        directory
            .set_groups_from_login(org.id, user.id, groups, &actor)
            .await?;
    }
    Ok(user)
}

async fn resolve(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
) -> Result<(User, &'static str), LoginError> {
    let (user, how) = find_or_create(directory, org, a).await?;
    if how == "jit" {
        return Ok((user, how));
    }
    Ok((role_from_login(directory, org, a, user).await?, how))
}

async fn find_or_create(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
) -> Result<(User, &'static str), LoginError> {
    if !org.settings.enabled {
        return Err(LoginError::Refused(Refusal::OrgDisabled));
    }
    if let Some(id) = directory
        .linked_user(org.id, &a.connection, &a.subject)
        .await?
    {
        if let Some(user) = directory.user(org.id, id).await? {
            let user = admit(user)?;
            check_login_policy(org, &user)?;
            return Ok((user, "link"));
        }
    }
    let names: Vec<&str> = [
        a.user_name.as_deref().filter(|_| a.trusted_user_name),
        a.email.as_deref().filter(|_| a.email_verified),
    ]
    .into_iter()
    .flatten()
    .collect();
    for _ in 0..ATTEMPTS {
        let found = directory.users_matching(org.id, &names).await?;
        let any_found = !found.is_empty();
        let live: Vec<User> = found.into_iter().filter(|u| !u.deleted).collect();
        match live.len() {
            0 if any_found => return Err(LoginError::Refused(Refusal::Deleted)),
            0 => {}
            1 => {
                let user = admit(live.into_iter().next().expect("one user"))?;
                check_login_policy(org, &user)?;
                link(directory, org, a, &user).await?;
                return Ok((user, "match"));
            }
            // Never pick one: either choice could be the account the organisation has
            // deactivated, and the person would sign in around it.
            _ => return Err(LoginError::Ambiguous(live)),
        }
        let data = new_user(org, a)?;
        if removed(directory, org, a, &data).await? {
            return Err(LoginError::Refused(Refusal::Removed));
        }
        if !org.settings.jit {
            return Err(LoginError::Refused(Refusal::JitDisabled));
        }
        let verified_name = a.trusted_user_name
            || (a.email_verified
                && a.email.as_deref().map(fold_case) == Some(data.user_name.key()));
        match directory
            .create_user_at_login(org, data, &Actor::Idp(a.connection.clone()), verified_name)
            .await
        {
            Ok(user) => {
                link(directory, org, a, &user).await?;
                return Ok((user, "jit"));
            }
            // Another first login (a second tab, a SCIM create) made the user meanwhile:
            // look again, and take that one. When the name is taken by a user this login
            // cannot match (an unverified claim), the loop ends refused below.
            Err(directory::Error::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(LoginError::Refused(Refusal::NameTaken))
}

/// Whether the person signing in is one the organisation's provisioning removed: a
/// tombstone holds the subject, a name or email this login is known by, or the userName a
/// first login would give it.
async fn removed(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
    data: &UserData,
) -> Result<bool, LoginError> {
    use directory::users::tombstones::Key;
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
    Ok(directory.tombstoned(org.id, &keys).await?.is_some())
}

fn admit(user: User) -> Result<User, LoginError> {
    if user.deleted {
        Err(LoginError::Refused(Refusal::Deleted))
    } else if !user.active {
        Err(LoginError::Refused(Refusal::Deactivated))
    } else {
        Ok(user)
    }
}

/// The organisation's rules that a user already in the directory must still meet to sign
/// in (a user made at this login met them when it was written).
fn check_login_policy(org: &Org, user: &User) -> Result<(), LoginError> {
    directory::policy::identity::check_login(org, user).map_err(LoginError::Policy)
}

/// Records the link; a concurrent login of the same person may have recorded it already.
async fn link(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
    user: &User,
) -> Result<(), LoginError> {
    let actor = Actor::Idp(a.connection.clone());
    match directory
        .link_identity(org.id, &a.connection, &a.subject, user.id, &actor)
        .await
    {
        Ok(()) => Ok(()),
        Err(directory::Error::Conflict { .. })
            if directory
                .linked_user(org.id, &a.connection, &a.subject)
                .await?
                == Some(user.id) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// The IdP is where the role is decided, for users provisioned by SCIM as well: a role it
/// asserts at login that differs from the stored one replaces it, through the same checks
/// as any write (a role outside the organisation's list refuses the login). An assertion
/// without the role leaves it as it is. The write expects the version read, and reads
/// again when another write came first.
async fn role_from_login(
    directory: &Directory,
    org: &Org,
    a: &Assertion,
    user: User,
) -> Result<User, LoginError> {
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
    let assign = |current: &User| {
        let current = admit(current.clone())?;
        if role_of(policy, &current).as_deref() == Some(role) {
            return Ok(None);
        }
        let mut data = current.data();
        set_role(policy, &mut data.profile, role).map_err(LoginError::Policy)?;
        Ok(Some(data))
    };
    directory.update_user(org, user.id, write, assign).await
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
