//! Tombstones: what a removed user leaves behind so that the next login of the same person
//! is refused instead of making the user again (DESIGN.md, Login rules). A SCIM DELETE, a
//! hard delete and an erase each bury the user's keys: its userName and emails, its
//! externalId and the IdP subjects linked to it. Only hashes are kept, salted with the
//! organisation's id, so a tombstone says nothing of who the person was, yet the same key
//! finds it again. SCIM or an admin creating the person again raises the tombstone.

use super::User;
use crate::clock::Millis;
use crate::db::{placeholders, WriteTx};
use crate::directory::model::{fold_case, OrgId, UserId};
use crate::directory::tokens::hash;
use crate::directory::Result;

/// One key a login or a create can be known by.
pub enum Key<'a> {
    /// A userName or an email: both name the person, and a login's email is compared
    /// with stored userNames as well as emails.
    Name(&'a str),
    ExternalId(&'a str),
    Subject {
        connection: &'a str,
        subject: &'a str,
    },
}

impl Key<'_> {
    /// The stored form: a hash of the key's kind and value, salted with the organisation.
    pub fn hash(&self, org: OrgId) -> String {
        let plain = match self {
            Key::Name(v) => format!("name\n{}", fold_case(v.trim())),
            Key::ExternalId(v) => format!("external\n{v}"),
            Key::Subject {
                connection,
                subject,
            } => format!("subject\n{connection}\n{subject}"),
        };
        hash(&format!("{org}\n{plain}"))
    }
}

/// The hash that stands for an erased person in the event log: its userName's key.
pub fn person_hash(org: OrgId, user: &User) -> String {
    Key::Name(user.user_name.as_str()).hash(org)
}

/// Every key of `user`, with the subjects linked to it, hashed.
async fn keys_of(tx: &mut WriteTx, user: &User) -> Result<Vec<String>> {
    let org = user.org_id;
    let mut keys = vec![Key::Name(user.user_name.as_str()).hash(org)];
    keys.extend(
        user.profile
            .email_keys()
            .iter()
            .map(|e| Key::Name(e).hash(org)),
    );
    if let Some(ext) = user.external_id.as_deref() {
        keys.push(Key::ExternalId(ext).hash(org));
    }
    let links = sqlx::query_as::<_, (String, String)>(
        "select connection_id, subject from identities where org_id = $1 and user_id = $2",
    )
    .bind(org.to_string())
    .bind(user.id.to_string())
    .fetch_all(tx.conn())
    .await?;
    for (connection, subject) in links {
        keys.push(
            Key::Subject {
                connection: &connection,
                subject: &subject,
            }
            .hash(org),
        );
    }
    keys.sort();
    keys.dedup();
    Ok(keys)
}

/// Buries `user`'s keys, in the transaction that removes it (before its identity links
/// cascade away with it).
pub(crate) async fn bury(tx: &mut WriteTx, user: &User, now: Millis) -> Result<()> {
    let keys = keys_of(tx, user).await?;
    for key in keys {
        sqlx::query(
            "insert into user_tombstones (org_id, key_hash, user_id, removed_at) \
             values ($1, $2, $3, $4) on conflict do nothing",
        )
        .bind(user.org_id.to_string())
        .bind(key)
        .bind(user.id.to_string())
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Raises the tombstones of every removed user that shares a key with `user`, whom SCIM or
/// an admin has just created (or restored): the organisation wants that person back.
pub(crate) async fn raise(tx: &mut WriteTx, user: &User) -> Result<()> {
    let org = user.org_id;
    let mut keys = vec![Key::Name(user.user_name.as_str()).hash(org)];
    keys.extend(
        user.profile
            .email_keys()
            .iter()
            .map(|e| Key::Name(e).hash(org)),
    );
    if let Some(ext) = user.external_id.as_deref() {
        keys.push(Key::ExternalId(ext).hash(org));
    }
    let sql = format!(
        "delete from user_tombstones where org_id = $1 and user_id in \
         (select user_id from user_tombstones where org_id = $1 and key_hash in ({}))",
        placeholders(2, keys.len())
    );
    let mut query = sqlx::query(&sql).bind(org.to_string());
    for key in &keys {
        query = query.bind(key);
    }
    query.execute(tx.conn()).await?;
    Ok(())
}

/// Replaces the person's data in the organisation's event log with the hash that names
/// them: every event about the user, and every other event whose detail quotes one of its
/// keys (a refused login names the subject it refused). Runs in the erasing transaction.
pub(crate) async fn redact_events(tx: &mut WriteTx, user: &User) -> Result<()> {
    let org = user.org_id;
    let redacted = serde_json::json!({ "erased": person_hash(org, user) }).to_string();
    let mut words: Vec<String> = vec![user.user_name.as_str().to_string()];
    words.extend(user.profile.email_keys());
    words.extend(user.external_id.clone());
    let links: Vec<String> =
        sqlx::query_scalar("select subject from identities where org_id = $1 and user_id = $2")
            .bind(org.to_string())
            .bind(user.id.to_string())
            .fetch_all(tx.conn())
            .await?;
    words.extend(links);
    let mut words: Vec<String> = words
        .iter()
        .map(|w| fold_case(w.trim()))
        .filter(|w| w.len() >= 3) // a key that short would match unrelated events
        .collect();
    words.sort();
    words.dedup();
    let likes = (0..words.len())
        .map(|i| format!("lower(detail) like ${} escape '\\'", i + 4))
        .collect::<Vec<_>>();
    let mut condition = "target = $3".to_string();
    for like in &likes {
        condition.push_str(" or ");
        condition.push_str(like);
    }
    let sql = format!(
        "update events set detail = $1 where org_id = $2 and detail <> $1 and ({condition})"
    );
    let mut query = sqlx::query(&sql)
        .bind(&redacted)
        .bind(org.to_string())
        .bind(user.id.to_string());
    for word in &words {
        query = query.bind(format!("%{}%", escape_like(word)));
    }
    query.execute(tx.conn()).await?;
    Ok(())
}

/// `value` as a LIKE pattern that matches it literally (escape character `\`).
fn escape_like(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether any of `keys` belongs to a removed user of the organisation.
pub(in crate::directory) async fn tombstoned(
    tx: &mut WriteTx,
    org: OrgId,
    keys: &[Key<'_>],
) -> Result<Option<UserId>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "select user_id from user_tombstones where org_id = $1 and key_hash in ({}) limit 1",
        placeholders(2, keys.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(org.to_string());
    for key in keys {
        query = query.bind(key.hash(org));
    }
    let found = query.fetch_optional(tx.conn()).await?;
    Ok(found.and_then(|id| UserId::parse(&id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_emails_share_one_key_space_case_insensitively() {
        let org = OrgId::new();
        assert_eq!(
            Key::Name("Erin@Acme.test").hash(org),
            Key::Name("erin@acme.test").hash(org)
        );
        assert_ne!(
            Key::Name("erin").hash(org),
            Key::ExternalId("erin").hash(org)
        );
        assert_ne!(
            Key::Name("erin").hash(org),
            Key::Name("erin").hash(OrgId::new()),
            "salted per organisation"
        );
    }

    #[test]
    fn like_patterns_match_literally() {
        assert_eq!(escape_like("a_b%c\\d"), "a\\_b\\%c\\\\d");
    }
}
