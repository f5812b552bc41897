//! One sign-in, in one transaction (DESIGN.md, Login rules): once a door (SAML, OIDC) has
//! verified what the IdP asserted, [`Directory::sign_in`] records the assertion's ID
//! against replay, finds, links or creates the user, applies the role and the groups the
//! login asserts, opens the session and records the login. Either all of it is written
//! or none of it; a refusal is then recorded on its own.

mod rules;

use serde_json::json;

use crate::clock::Millis;
use crate::db::WriteTx;
use crate::directory::orgs::Org;
use crate::directory::sessions::{Lifetimes, NewSession};
use crate::directory::users::User;
use crate::directory::{policy, Actor, Directory, Error};
use crate::events::Outcome;

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

/// An assertion's one-time ID, kept until the assertion expires (SAML Profiles §4.1.4.5).
#[derive(Debug, Clone, Copy)]
pub struct Replay<'a> {
    pub id: &'a str,
    pub keep_until: Millis,
}

/// A person signed in: its user, and the new session's secrets.
pub struct SignedIn {
    pub user: User,
    pub session: NewSession,
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
fn policy_message(v: &policy::Violation) -> String {
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
    Policy(policy::Violation),
    /// More than one user matches the login; none is picked.
    #[error("refused: {}: {}", Refusal::Ambiguous.reason(), names(.0))]
    Ambiguous(Vec<User>),
    /// The SAML assertion's ID was seen before: the response was posted again.
    #[error("assertion {0} was already used (a replay)")]
    Replayed(String),
    #[error(transparent)]
    Failed(Error),
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
            LoginError::Replayed(_) => Some((
                self.to_string(),
                "This sign-in was already used. Start again from the sign-in page.".into(),
            )),
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

impl From<Error> for LoginError {
    fn from(e: Error) -> Self {
        match e {
            Error::Policy(v) => Self::Policy(v),
            e => Self::Failed(e),
        }
    }
}

/// Attempts of a sign-in that lost a race with another write (a first login in another
/// tab, a SCIM create of the same person, a write to the user between read and write).
const ATTEMPTS: usize = 3;

/// How one attempt ended short of a sign-in.
enum Stop {
    /// A concurrent write came first: roll back and look again. `name_taken`: the userName
    /// a first login would take is held (by a user the login could not be matched to, if
    /// it still is on the last attempt).
    Race {
        name_taken: bool,
    },
    Login(LoginError),
}

impl From<LoginError> for Stop {
    fn from(e: LoginError) -> Self {
        Stop::Login(e)
    }
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        match e {
            Error::Conflict { field, .. } => Stop::Race {
                name_taken: field == "userName",
            },
            e => Stop::Login(e.into()),
        }
    }
}

impl Directory {
    /// Signs a person in (DESIGN.md, Login rules): maps `a` to one user of the
    /// organisation, then writes the assertion's ID (`replay`), the user or its link, the
    /// asserted role and groups, the session and the "login" event in one transaction.
    /// A refusal writes nothing but its event (and the assertion's ID: a refused response
    /// posted again after its cause is mended must not let anyone in).
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org.id))]
    pub async fn sign_in(
        &self,
        org: &Org,
        a: &Assertion,
        replay: Option<Replay<'_>>,
        lifetimes: Lifetimes,
    ) -> Result<SignedIn, LoginError> {
        let mut outcome = LoginError::Refused(Refusal::NameTaken);
        for _ in 0..ATTEMPTS {
            let mut tx = self.db().begin().await.map_err(Error::from)?;
            match self.sign_in_once(&mut tx, org, a, replay, lifetimes).await {
                Ok(signed) => {
                    tx.commit().await.map_err(Error::from)?;
                    return Ok(signed);
                }
                Err(Stop::Race { name_taken }) => {
                    tx.fail(()).await;
                    outcome = match name_taken {
                        true => LoginError::Refused(Refusal::NameTaken),
                        false => LoginError::Failed(Error::Contended("sign-in")),
                    };
                }
                Err(Stop::Login(e)) => {
                    tx.fail(()).await;
                    outcome = e;
                    break;
                }
            }
        }
        self.record_refusal(org, a, replay, &outcome).await?;
        Err(outcome)
    }

    async fn sign_in_once(
        &self,
        tx: &mut WriteTx,
        org: &Org,
        a: &Assertion,
        replay: Option<Replay<'_>>,
        lifetimes: Lifetimes,
    ) -> Result<SignedIn, Stop> {
        if let Some(r) = replay {
            if !self
                .remember_assertion(tx, org.id, r.id, r.keep_until)
                .await?
            {
                return Err(LoginError::Replayed(r.id.to_string()).into());
            }
        }
        let (user, how) = self.find_or_create(tx, org, a).await?;
        let user = match how {
            "jit" => user,
            _ => self.role_from_login(tx, org, a, user).await?,
        };
        let actor = Actor::Idp(a.connection.clone());
        if let (true, Some(groups)) = (org.settings.groups_from_login, &a.groups) {
            self.set_groups_from_login(tx, org.id, user.id, groups, &actor)
                .await?;
        }
        let session = self.open_session(tx, org, &user, lifetimes).await?;
        let detail = json!({ "connection": a.connection, "subject": a.subject, "via": how });
        let target = Some(user.id.to_string());
        self.record(tx, Some(org.id), &actor, "login", target, detail)
            .await?;
        Ok(SignedIn { user, session })
    }

    /// Records a refused login in its own transaction, with the assertion's ID. A replay
    /// is the door's to record, and a failure of Gatehouse itself is not a refusal.
    async fn record_refusal(
        &self,
        org: &Org,
        a: &Assertion,
        replay: Option<Replay<'_>>,
        e: &LoginError,
    ) -> Result<(), Error> {
        let why = match e {
            LoginError::Refused(r) => r.reason().to_string(),
            LoginError::Policy(_) | LoginError::Ambiguous(_) => e.to_string(),
            LoginError::Replayed(_) | LoginError::Failed(_) => return Ok(()),
        };
        let reason = format!("{why} (connection {}, subject {})", a.connection, a.subject);
        let mut tx = self.db().begin().await?;
        if let Some(r) = replay {
            self.remember_assertion(&mut tx, org.id, r.id, r.keep_until)
                .await?;
        }
        let actor = Actor::Idp(a.connection.clone());
        let detail = json!({ "reason": reason });
        self.record_outcome(
            &mut tx,
            Some(org.id),
            &actor,
            ("login", None),
            Outcome::Failure,
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
