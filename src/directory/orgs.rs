//! Organisations: slug, name, verified email domains and settings.

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::FromRow;

use super::model::{Domain, OrgId, OrgSlug, ParseError};
use super::policy::{PolicyChange, PolicySettings, POLICY_KEYS};
use super::{parse_id, stored_json, Actor, Directory, Error, Result};
use crate::clock::Millis;
use crate::db::violates;

/// An organisation (tenant).
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    pub id: OrgId,
    pub slug: OrgSlug,
    pub name: String,
    /// Verified email domains; each belongs to this organisation only.
    pub domains: Vec<Domain>,
    pub settings: OrgSettings,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// Per-organisation behaviour. Unknown keys in stored JSON are ignored and missing ones take
/// their defaults, so adding a setting needs no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgSettings {
    /// Create a user on first login when none matches.
    pub jit: bool,
    /// Let groups asserted at login set the user's memberships.
    pub groups_from_login: bool,
    /// A disabled organisation's users cannot sign in, and their sessions stop working.
    pub enabled: bool,
    /// Accept SAML logins the IdP starts (Okta's dashboard tile), not only answers to ours.
    pub idp_initiated: bool,
    /// Seconds by which SAML time conditions may be off (the IdP's clock against ours).
    pub saml_clock_skew: u32,
    /// Sign SAML AuthnRequests (for IdPs that require it).
    pub saml_sign_requests: bool,
    /// Publish the SP's key for encrypted assertions.
    pub saml_encrypted_assertions: bool,
    /// The SP entity ID (the Audience IdPs address); None: the SP metadata URL.
    pub saml_sp_entity_id: Option<String>,
    /// A SAML assertion's email counts as verified: the organisation's own IdP signed it.
    pub saml_trust_emails: bool,
    /// An OIDC `email` counts as verified even without `email_verified: true`. Off by
    /// default: Entra ID sends emails its users can set (the nOAuth takeover).
    pub oidc_trust_emails: bool,
    /// The SAML attributes that carry the user's names, email and groups.
    pub saml_attribute_first_name: String,
    pub saml_attribute_last_name: String,
    pub saml_attribute_email: String,
    pub saml_attribute_groups: String,
    /// The OIDC claims that carry the user name, email, names and groups.
    pub oidc_claim_username: String,
    pub oidc_claim_email: String,
    pub oidc_claim_given_name: String,
    pub oidc_claim_family_name: String,
    pub oidc_claim_groups: String,
    /// Members of the IdP group of this name are admins of the organisation in the console.
    pub admin_group: Option<String>,
    /// Provisioning policies (flattened: their keys sit beside the others).
    #[serde(flatten)]
    pub policy: PolicySettings,
}

impl Default for OrgSettings {
    fn default() -> Self {
        Self {
            jit: true,
            groups_from_login: true,
            enabled: true,
            idp_initiated: true,
            saml_clock_skew: 120,
            saml_sign_requests: false,
            saml_encrypted_assertions: false,
            saml_sp_entity_id: None,
            saml_trust_emails: true,
            oidc_trust_emails: false,
            saml_attribute_first_name: "firstName".into(),
            saml_attribute_last_name: "lastName".into(),
            saml_attribute_email: "email".into(),
            saml_attribute_groups: "groups".into(),
            oidc_claim_username: "preferred_username".into(),
            oidc_claim_email: "email".into(),
            oidc_claim_given_name: "given_name".into(),
            oidc_claim_family_name: "family_name".into(),
            oidc_claim_groups: "groups".into(),
            admin_group: None,
            policy: PolicySettings::default(),
        }
    }
}

/// What a new organisation starts with.
#[derive(Debug, Clone)]
pub struct NewOrg {
    pub slug: OrgSlug,
    /// Defaults to the slug.
    pub name: Option<String>,
    pub domains: Vec<Domain>,
}

/// One change to an organisation, as `gatehouse org set SLUG KEY=VALUE` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgChange {
    Name(String),
    /// The verified domains, as an operator or a platform admin sets them.
    Domains(Vec<Domain>),
    /// The domains as a customer admin names them: new ones are claims until proven.
    ClaimDomains(Vec<Domain>),
    Jit(bool),
    GroupsFromLogin(bool),
    Enabled(bool),
    IdpInitiated(bool),
    SamlClockSkew(u32),
    SamlSignRequests(bool),
    SamlEncryptedAssertions(bool),
    SamlSpEntityId(Option<String>),
    SamlTrustEmails(bool),
    OidcTrustEmails(bool),
    /// Which attribute feeds which user field: (setting key, attribute name).
    SamlAttribute(&'static str, String),
    AdminGroup(Option<String>),
    Policy(PolicyChange),
}

/// The keys `OrgChange::parse` understands, with what each takes; the README lists them too.
pub const ORG_KEYS: &[(&str, &str)] = &[
    ("name", "display name, any text"),
    (
        "domains",
        "comma-separated email domains, replacing the current list (empty clears it)",
    ),
    (
        "jit",
        "true|false: create users on first login (default true)",
    ),
    (
        "groups_from_login",
        "true|false: groups asserted at login set memberships (default true)",
    ),
    (
        "enabled",
        "true|false: false refuses every login and ends every session (default true)",
    ),
    (
        "idp_initiated",
        "true|false: accept SAML logins started at the IdP, e.g. Okta's tile (default true)",
    ),
    (
        "saml_clock_skew",
        "seconds SAML time conditions may be off, 0 to 600 (default 120)",
    ),
    (
        "saml_sign_requests",
        "true|false: sign SAML AuthnRequests with the SP's key (default false)",
    ),
    (
        "saml_encrypted_assertions",
        "true|false: publish the SP's key for encrypted assertions (default false)",
    ),
    (
        "saml_sp_entity_id",
        "the SP entity ID IdPs address (default: the SP metadata URL; empty restores it)",
    ),
    (
        "saml_trust_emails",
        "true|false: a SAML assertion's email matches an existing user (default true)",
    ),
    (
        "oidc_trust_emails",
        "true|false: an OIDC email matches an existing user even without email_verified (default false)",
    ),
    (
        "saml_attribute_first_name",
        "SAML attribute with the given name (default firstName)",
    ),
    (
        "saml_attribute_last_name",
        "SAML attribute with the family name (default lastName)",
    ),
    (
        "saml_attribute_email",
        "SAML attribute with the email (default email)",
    ),
    (
        "saml_attribute_groups",
        "SAML attribute with the group names (default groups)",
    ),
    (
        "oidc_claim_username",
        "OIDC claim with the user name (default preferred_username)",
    ),
    (
        "oidc_claim_email",
        "OIDC claim with the email (default email)",
    ),
    (
        "oidc_claim_given_name",
        "OIDC claim with the given name (default given_name)",
    ),
    (
        "oidc_claim_family_name",
        "OIDC claim with the family name (default family_name)",
    ),
    (
        "oidc_claim_groups",
        "OIDC claim with the group names (default groups)",
    ),
    (
        "admin_group",
        "IdP group whose members administer the organisation in the console (default none; empty clears it)",
    ),
    // The provisioning policies (directory::policy::POLICY_KEYS); a unit test keeps the
    // two lists in step.
    ("on_deactivate", POLICY_KEYS[0].1),
    ("on_delete", POLICY_KEYS[1].1),
    ("immutable_user_name", POLICY_KEYS[2].1),
    ("immutable_email", POLICY_KEYS[3].1),
    ("unique_email", POLICY_KEYS[4].1),
    ("required_attributes", POLICY_KEYS[5].1),
    ("roles", POLICY_KEYS[6].1),
    ("default_role", POLICY_KEYS[7].1),
    ("role_attribute", POLICY_KEYS[8].1),
    ("saml_attribute_role", POLICY_KEYS[9].1),
    ("oidc_claim_role", POLICY_KEYS[10].1),
    ("extension_urn", POLICY_KEYS[11].1),
    ("extension_attributes", POLICY_KEYS[12].1),
    ("phone_numbers", POLICY_KEYS[13].1),
    ("allowed_email_domains", POLICY_KEYS[14].1),
    ("session_lifetime", POLICY_KEYS[15].1),
];

impl OrgChange {
    /// The change as a customer admin may make it: domains it adds are claims, verified
    /// only by their DNS record or a platform admin's approval.
    pub fn for_customer(self) -> Self {
        match self {
            Self::Domains(d) => Self::ClaimDomains(d),
            other => other,
        }
    }

    /// Parses `KEY=VALUE`.
    pub fn parse(pair: &str) -> Result<Self, ParseError> {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| ParseError(format!("{pair:?} is not KEY=VALUE")))?;
        if let Some(change) = PolicyChange::parse(key.trim(), value, parse_bool) {
            return change.map(Self::Policy);
        }
        match key.trim() {
            "name" => {
                let name = value.trim();
                if name.is_empty() {
                    return Err(ParseError("name must not be empty".into()));
                }
                Ok(Self::Name(name.to_string()))
            }
            "domains" => value
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(Domain::parse)
                .collect::<Result<_, _>>()
                .map(Self::Domains),
            "jit" => parse_bool(key, value).map(Self::Jit),
            "groups_from_login" => parse_bool(key, value).map(Self::GroupsFromLogin),
            "enabled" => parse_bool(key, value).map(Self::Enabled),
            "idp_initiated" => parse_bool(key, value).map(Self::IdpInitiated),
            "saml_sign_requests" => parse_bool(key, value).map(Self::SamlSignRequests),
            "saml_encrypted_assertions" => {
                parse_bool(key, value).map(Self::SamlEncryptedAssertions)
            }
            "saml_trust_emails" => parse_bool(key, value).map(Self::SamlTrustEmails),
            "oidc_trust_emails" => parse_bool(key, value).map(Self::OidcTrustEmails),
            "admin_group" => match value.trim() {
                "" => Ok(Self::AdminGroup(None)),
                v => Ok(Self::AdminGroup(Some(v.to_string()))),
            },
            "saml_sp_entity_id" => match value.trim() {
                "" => Ok(Self::SamlSpEntityId(None)),
                v => Ok(Self::SamlSpEntityId(Some(v.to_string()))),
            },
            k @ ("saml_attribute_first_name"
            | "saml_attribute_last_name"
            | "saml_attribute_email"
            | "saml_attribute_groups"
            | "oidc_claim_username"
            | "oidc_claim_email"
            | "oidc_claim_given_name"
            | "oidc_claim_family_name"
            | "oidc_claim_groups") => {
                let name = value.trim();
                if name.is_empty() {
                    return Err(ParseError(format!("{k} needs an attribute name")));
                }
                let key = ORG_KEYS
                    .iter()
                    .map(|(k, _)| *k)
                    .find(|known| *known == k)
                    .expect("listed in ORG_KEYS");
                Ok(Self::SamlAttribute(key, name.to_string()))
            }
            "saml_clock_skew" => match value.trim().parse::<u32>() {
                Ok(s) if s <= 600 => Ok(Self::SamlClockSkew(s)),
                _ => Err(ParseError(format!(
                    "saml_clock_skew takes seconds from 0 to 600, not {value:?}"
                ))),
            },
            other => {
                let keys: Vec<&str> = ORG_KEYS.iter().map(|(k, _)| *k).collect();
                Err(ParseError(format!(
                    "unknown setting {other:?}; the settings are: {}",
                    keys.join(", ")
                )))
            }
        }
    }

    fn describe(&self) -> (&'static str, serde_json::Value) {
        match self {
            Self::Name(n) => ("name", n.as_str().into()),
            Self::Domains(d) | Self::ClaimDomains(d) => ("domains", serde_json::json!(d)),
            Self::Jit(b) => ("jit", (*b).into()),
            Self::GroupsFromLogin(b) => ("groups_from_login", (*b).into()),
            Self::Enabled(b) => ("enabled", (*b).into()),
            Self::IdpInitiated(b) => ("idp_initiated", (*b).into()),
            Self::SamlClockSkew(s) => ("saml_clock_skew", (*s).into()),
            Self::SamlSignRequests(b) => ("saml_sign_requests", (*b).into()),
            Self::SamlEncryptedAssertions(b) => ("saml_encrypted_assertions", (*b).into()),
            Self::SamlSpEntityId(v) => ("saml_sp_entity_id", serde_json::json!(v)),
            Self::SamlTrustEmails(b) => ("saml_trust_emails", (*b).into()),
            Self::OidcTrustEmails(b) => ("oidc_trust_emails", (*b).into()),
            Self::SamlAttribute(k, v) => (k, v.as_str().into()),
            Self::AdminGroup(v) => ("admin_group", serde_json::json!(v)),
            Self::Policy(p) => p.describe(),
        }
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool, ParseError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "1" => Ok(true),
        "false" | "off" | "no" | "0" => Ok(false),
        _ => Err(ParseError(format!(
            "{key} takes true or false, not {value:?}"
        ))),
    }
}

/// The columns of the view `org_rows`: an organisation and its domains, in one row.
pub(super) const ORG_COLUMNS: &str =
    "id, slug, name, settings, created_at, updated_at, domain_list";

impl Directory {
    /// Creates an organisation with its domains.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn create_org(&self, new: NewOrg, actor: &Actor) -> Result<Org> {
        let id = OrgId::new();
        let now = self.now();
        let name = new.name.unwrap_or_else(|| new.slug.to_string());
        let settings = OrgSettings::default();
        let mut tx = self.db().begin().await?;
        sqlx::query(
            "insert into orgs (id, slug, name, settings, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $5)",
        )
        .bind(id.to_string())
        .bind(new.slug.as_str())
        .bind(&name)
        .bind(serde_json::to_string(&settings).expect("settings serialise"))
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| conflict(e, "orgs_slug_key", "slug", new.slug.as_str()))?;
        super::connections::domains::replace_verified(&mut tx, id, &new.domains, now).await?;
        let detail = serde_json::json!({ "slug": new.slug, "name": name, "domains": new.domains });
        self.record(
            &mut tx,
            Some(id),
            actor,
            "org.create",
            Some(id.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        Ok(Org {
            id,
            slug: new.slug,
            name,
            domains: sorted(new.domains),
            settings,
            created_at: now,
            updated_at: now,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn org_by_slug(&self, slug: &str) -> Result<Option<Org>> {
        let row = sqlx::query(&format!(
            "select {ORG_COLUMNS} from org_rows where slug = $1"
        ))
        .bind(slug)
        .fetch_optional(self.db().reads())
        .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn org(&self, id: OrgId) -> Result<Option<Org>> {
        let row = sqlx::query(&format!("select {ORG_COLUMNS} from org_rows where id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.db().reads())
            .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    /// The organisation a verified email domain belongs to.
    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn org_by_domain(&self, domain: &Domain) -> Result<Option<Org>> {
        let row = sqlx::query(&format!(
            "select {ORG_COLUMNS} from org_rows where id = \
             (select org_id from org_domains where domain = $1)"
        ))
        .bind(domain.as_str())
        .fetch_optional(self.db().reads())
        .await?;
        row.as_ref().map(org_from_row).transpose()
    }

    #[tracing::instrument(level = "debug", skip_all)]
    pub async fn list_orgs(&self) -> Result<Vec<Org>> {
        let rows = sqlx::query(&format!("select {ORG_COLUMNS} from org_rows order by slug"))
            .fetch_all(self.db().reads())
            .await?;
        rows.iter().map(org_from_row).collect()
    }

    /// Applies changes together, in one transaction with one event listing them.
    #[tracing::instrument(level = "debug", skip_all, fields(org = %org))]
    pub async fn update_org(
        &self,
        org: OrgId,
        changes: &[OrgChange],
        actor: &Actor,
    ) -> Result<Org> {
        let current = self
            .org(org)
            .await?
            .ok_or(Error::NotFound("organisation"))?;
        let now = self.now();
        let mut name = current.name.clone();
        let mut settings = current.settings.clone();
        let mut tx = self.db().begin().await?;
        for change in changes {
            match change {
                OrgChange::Name(n) => name = n.clone(),
                OrgChange::Jit(b) => settings.jit = *b,
                OrgChange::GroupsFromLogin(b) => settings.groups_from_login = *b,
                OrgChange::Enabled(b) => settings.enabled = *b,
                OrgChange::IdpInitiated(b) => settings.idp_initiated = *b,
                OrgChange::SamlClockSkew(s) => settings.saml_clock_skew = *s,
                OrgChange::SamlSignRequests(b) => settings.saml_sign_requests = *b,
                OrgChange::SamlEncryptedAssertions(b) => settings.saml_encrypted_assertions = *b,
                OrgChange::SamlSpEntityId(v) => settings.saml_sp_entity_id = v.clone(),
                OrgChange::SamlTrustEmails(b) => settings.saml_trust_emails = *b,
                OrgChange::OidcTrustEmails(b) => settings.oidc_trust_emails = *b,
                OrgChange::AdminGroup(v) => settings.admin_group = v.clone(),
                OrgChange::Policy(p) => p.apply(&mut settings.policy),
                OrgChange::SamlAttribute(k, v) => {
                    let field = match *k {
                        "saml_attribute_first_name" => &mut settings.saml_attribute_first_name,
                        "saml_attribute_last_name" => &mut settings.saml_attribute_last_name,
                        "saml_attribute_email" => &mut settings.saml_attribute_email,
                        "saml_attribute_groups" => &mut settings.saml_attribute_groups,
                        "oidc_claim_username" => &mut settings.oidc_claim_username,
                        "oidc_claim_email" => &mut settings.oidc_claim_email,
                        "oidc_claim_given_name" => &mut settings.oidc_claim_given_name,
                        "oidc_claim_family_name" => &mut settings.oidc_claim_family_name,
                        _ => &mut settings.oidc_claim_groups,
                    };
                    *field = v.clone();
                }
                OrgChange::Domains(domains) => {
                    super::connections::domains::replace_verified(&mut tx, org, domains, now)
                        .await?;
                }
                OrgChange::ClaimDomains(domains) => {
                    super::connections::domains::replace_claimed(
                        &mut tx,
                        org,
                        &current.domains,
                        domains,
                        now,
                    )
                    .await?;
                }
            }
        }
        // The policy settings must make sense together (a default role among the roles,
        // required paths that parse), whichever of them this update changed.
        super::policy::roles::check_settings(&settings.policy)
            .map_err(|m| Error::Invalid(ParseError(m)))?;
        if settings.policy.allowed_email_domains {
            // Without a verified domain, every user would be refused.
            let domains: i64 =
                sqlx::query_scalar("select count(*) from org_domains where org_id = $1")
                    .bind(org.to_string())
                    .fetch_one(tx.conn())
                    .await?;
            if domains == 0 {
                return Err(Error::Invalid(ParseError(
                    "allowed_email_domains needs at least one verified domain; add the \
                     organisation's domains first"
                        .into(),
                )));
            }
        }
        sqlx::query("update orgs set name = $1, settings = $2, updated_at = $3 where id = $4")
            .bind(&name)
            .bind(serde_json::to_string(&settings).expect("settings serialise"))
            .bind(now)
            .bind(org.to_string())
            .execute(tx.conn())
            .await?;
        let detail: serde_json::Map<_, _> = changes
            .iter()
            .map(|c| {
                let (k, v) = c.describe();
                (k.to_string(), v)
            })
            .collect();
        let detail = serde_json::json!({ "changes": detail });
        self.record(
            &mut tx,
            Some(org),
            actor,
            "org.update",
            Some(org.to_string()),
            detail,
        )
        .await?;
        tx.commit().await?;
        self.org(org).await?.ok_or(Error::NotFound("organisation"))
    }
}

/// A row of `org_rows` ([`ORG_COLUMNS`]), before its id, slug, domains and settings are
/// parsed.
#[derive(sqlx::FromRow)]
pub(super) struct OrgRow {
    id: String,
    slug: String,
    name: String,
    settings: String,
    created_at: Millis,
    updated_at: Millis,
    domain_list: Option<String>,
}

impl TryFrom<OrgRow> for Org {
    type Error = Error;

    fn try_from(row: OrgRow) -> Result<Org> {
        let domains = row
            .domain_list
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .map(|d| Domain::parse(d).map_err(|e| Error::Corrupt(e.0)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Org {
            id: parse_id(&row.id, OrgId::parse)?,
            slug: OrgSlug::parse(&row.slug).map_err(|e| Error::Corrupt(e.0))?,
            name: row.name,
            domains: sorted(domains),
            settings: stored_json("organisation settings", &row.settings)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// An organisation from a row of `org_rows` ([`ORG_COLUMNS`]).
pub(super) fn org_from_row(row: &AnyRow) -> Result<Org> {
    Org::try_from(OrgRow::from_row(row)?)
}

/// Maps a violation of the named unique constraint to [`Error::Conflict`].
pub(super) fn conflict(
    err: sqlx::Error,
    constraint: &str,
    field: &'static str,
    value: &str,
) -> Error {
    if violates(&err, constraint) {
        Error::Conflict {
            field,
            value: value.to_string(),
        }
    } else {
        Error::Db(err)
    }
}

fn sorted(mut domains: Vec<Domain>) -> Vec<Domain> {
    domains.sort();
    domains.dedup();
    domains
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_keys_are_all_listed_in_order() {
        let listed: Vec<_> = ORG_KEYS
            .iter()
            .skip_while(|(k, _)| *k != "on_deactivate")
            .copied()
            .collect();
        assert_eq!(listed, POLICY_KEYS);
    }

    #[test]
    fn policy_settings_parse_and_reject_bad_values() {
        let p = |s: &str| OrgChange::parse(s);
        assert!(p("on_deactivate=delete").is_ok());
        assert!(p("on_deactivate=drop")
            .unwrap_err()
            .0
            .contains("keep or delete"));
        assert!(p("on_delete=deactivate").is_ok());
        assert!(p("session_lifetime=0").is_err());
        assert!(p(
            "extension_attributes=[{\"name\":\"klueRole\",\"canonicalValues\":[\"admin\"]}]"
        )
        .is_ok());
        assert!(p("extension_attributes=[{\"name\":\"x\",\"type\":\"blob\"}]").is_err());
        assert!(p("extension_urn=not a urn").is_err());
        assert!(p("extension_urn=urn:ietf:params:scim:schemas:core:2.0:User").is_err());
        let mut s = OrgSettings::default();
        if let OrgChange::Policy(c) = p("roles=admin, curator,consumer").unwrap() {
            c.apply(&mut s.policy);
        }
        assert_eq!(s.policy.roles, ["admin", "curator", "consumer"]);
        // Flattened: stored settings keep reading, and new keys sit beside the old ones.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["on_delete"], "soft");
        let back: OrgSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let old: OrgSettings = serde_json::from_str("{\"jit\": false}").unwrap();
        assert_eq!(old.policy, PolicySettings::default());
    }

    #[test]
    fn every_listed_key_parses_and_every_parsed_key_is_listed() {
        let samples = [
            "x", "a.test", "true", "120", "keep", "soft", "as_given", "urn:x", "[]",
        ];
        for (key, _) in ORG_KEYS {
            let ok = samples
                .iter()
                .any(|v| OrgChange::parse(&format!("{key}={v}")).is_ok());
            assert!(ok, "{key} is listed but does not parse");
        }
        let err = OrgChange::parse("nope=1").unwrap_err().0;
        for (key, _) in ORG_KEYS {
            assert!(err.contains(key), "{key} missing from the error's list");
        }
    }

    #[test]
    fn parses_settings() {
        assert_eq!(
            OrgChange::parse("jit=false").unwrap(),
            OrgChange::Jit(false)
        );
        assert_eq!(
            OrgChange::parse("domains=a.test, B.test").unwrap(),
            OrgChange::Domains(vec![
                Domain::parse("a.test").unwrap(),
                Domain::parse("b.test").unwrap()
            ])
        );
        assert_eq!(
            OrgChange::parse("domains=").unwrap(),
            OrgChange::Domains(vec![])
        );
        let err = OrgChange::parse("colour=blue").unwrap_err().0;
        assert!(err.contains("jit"), "lists the known keys: {err}");
        assert!(OrgChange::parse("jit=maybe").is_err());
        assert!(OrgChange::parse("jit").is_err());
    }
}
