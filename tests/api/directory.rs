//! The directory's rules on both databases: uniqueness, tenancy, domains, groups, links.

use gatehouse::directory::groups::members::MemberRef;
use gatehouse::directory::groups::NewGroup;
use gatehouse::directory::orgs::{NewOrg, OrgChange};
use gatehouse::directory::{Actor, Domain, Error, OrgSlug};

use crate::support::{user_data, TestApp};

#[tokio::test]
async fn user_name_is_unique_per_organisation_whatever_its_case() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    d.create_user(acme.id, user_data("Alice@Acme.test"), &Actor::Cli)
        .await
        .unwrap();

    let err = d
        .create_user(acme.id, user_data("alice@ACME.TEST"), &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                field: "userName",
                ..
            }
        ),
        "{err:?}"
    );

    // Non-ASCII letters fold too, the same on both backends.
    d.create_user(acme.id, user_data("ÄRNE@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let err = d
        .create_user(acme.id, user_data("ärne@acme.test"), &Actor::Cli)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");

    let found = d
        .user_by_user_name(acme.id, "ALICE@acme.TEST")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        found.user_name.as_str(),
        "Alice@Acme.test",
        "stored as given"
    );
}

#[tokio::test]
async fn the_same_user_name_lives_independently_in_two_organisations() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let a = d
        .create_user(acme.id, user_data("sam@shared.test"), &Actor::Cli)
        .await
        .unwrap();
    let g = d
        .create_user(globex.id, user_data("sam@shared.test"), &Actor::Cli)
        .await
        .unwrap();
    assert_ne!(a.id, g.id);

    // Neither organisation can reach the other's user, by id or by name.
    assert!(d.user(globex.id, a.id).await.unwrap().is_none());
    assert_eq!(
        d.user_by_user_name(globex.id, "sam@shared.test")
            .await
            .unwrap()
            .unwrap()
            .id,
        g.id
    );
    let err = d
        .set_active(globex.id, a.id, false, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(d.user(acme.id, a.id).await.unwrap().unwrap().active);
}

#[tokio::test]
async fn a_domain_belongs_to_one_organisation_at_most() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &["acme.test"]).await;
    let d = &app.directory;

    let new = NewOrg {
        slug: OrgSlug::parse("impostor").unwrap(),
        name: None,
        domains: vec![Domain::parse("ACME.test").unwrap()],
    };
    let err = d.create_org(new, &Actor::Cli).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                field: "domain",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        d.org_by_slug("impostor").await.unwrap().is_none(),
        "nothing half-created"
    );

    let globex = app.org("globex", &["globex.test"]).await;
    let change = OrgChange::parse("domains=globex.test,acme.test").unwrap();
    let err = d
        .update_org(globex.id, &[change], &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                field: "domain",
                ..
            }
        ),
        "{err:?}"
    );
    let globex = d.org(globex.id).await.unwrap().unwrap();
    assert_eq!(
        globex.domains,
        vec![Domain::parse("globex.test").unwrap()],
        "rolled back whole"
    );

    let found = d
        .org_by_domain(&Domain::parse("acme.test").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, acme.id);
}

#[tokio::test]
async fn slugs_are_unique() {
    let app = TestApp::spawn().await;
    app.org("acme", &[]).await;
    let new = NewOrg {
        slug: OrgSlug::parse("acme").unwrap(),
        name: None,
        domains: vec![],
    };
    let err = app
        .directory
        .create_org(new, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict { field: "slug", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn settings_change_together_and_persist() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    assert!(acme.settings.jit);
    let changes = [
        OrgChange::parse("jit=false").unwrap(),
        OrgChange::parse("name=Acme Inc").unwrap(),
    ];
    app.directory
        .update_org(acme.id, &changes, &Actor::Cli)
        .await
        .unwrap();
    let acme = app.directory.org_by_slug("acme").await.unwrap().unwrap();
    assert!(!acme.settings.jit);
    assert!(acme.settings.groups_from_login);
    assert_eq!(acme.name, "Acme Inc");
}

#[tokio::test]
async fn replace_clears_what_is_absent_and_moves_the_version() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let mut data = user_data("bo@acme.test");
    data.external_id = Some("00u1".into());
    data.profile.emails = vec![serde_json::json!({"value": "Bo@Acme.test", "type": "work"})];
    let created = d.create_user(acme.id, data, &Actor::Cli).await.unwrap();
    assert_eq!(created.version, 1);

    let replaced = d
        .replace_user(
            acme.id,
            created.id,
            user_data("bo@acme.test"),
            Some(1),
            &Actor::Cli,
            "user.replace",
        )
        .await
        .unwrap();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.external_id, None);
    assert!(replaced.profile.emails.is_empty());
    assert_eq!(replaced.created_at, created.created_at);

    let err = d
        .replace_user(
            acme.id,
            created.id,
            user_data("bo@acme.test"),
            Some(1),
            &Actor::Cli,
            "user.replace",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PreconditionFailed { .. }),
        "stale version: {err:?}"
    );
}

#[tokio::test]
async fn a_deleted_user_is_brought_back_with_its_id_by_a_new_create() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let first = d
        .create_user(acme.id, user_data("cy@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.delete_user(acme.id, first.id, &Actor::Cli).await.unwrap();
    let gone = d.user(acme.id, first.id).await.unwrap().unwrap();
    assert!(gone.deleted && !gone.can_sign_in());
    assert!(
        gone.session_epoch > first.session_epoch,
        "sessions end on delete"
    );

    let back = d
        .create_user(acme.id, user_data("CY@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(back.id, first.id);
    assert!(!back.deleted && back.active);
    assert_eq!(back.user_name.as_str(), "CY@acme.test");
}

#[tokio::test]
async fn groups_are_unique_by_display_name_and_hold_only_their_organisations_users() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let d = &app.directory;
    let ann = d
        .create_user(acme.id, user_data("ann@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let outsider = d
        .create_user(globex.id, user_data("out@globex.test"), &Actor::Cli)
        .await
        .unwrap();

    let new = NewGroup {
        display_name: "Engineering".into(),
        external_id: Some("00g1".into()),
        members: [ann.id, outsider.id]
            .map(|id| MemberRef {
                id: id.to_string(),
                display: None,
            })
            .to_vec(),
    };
    let (group, changes) = d.create_group(acme.id, new, &Actor::Cli).await.unwrap();
    assert_eq!(
        changes.ignored,
        [outsider.id.to_string()],
        "another organisation's user is left out"
    );
    assert_eq!(
        d.group_member_ids(acme.id, group.id).await.unwrap(),
        vec![ann.id]
    );
    assert_eq!(
        d.user_groups(acme.id, ann.id).await.unwrap()[0].display_name,
        "Engineering"
    );
    assert!(d
        .user_groups(globex.id, outsider.id)
        .await
        .unwrap()
        .is_empty());

    let dup = NewGroup {
        display_name: "ENGINEERING".into(),
        external_id: None,
        members: vec![],
    };
    let err = d
        .create_group(acme.id, dup.clone(), &Actor::Cli)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Conflict {
                field: "displayName",
                ..
            }
        ),
        "{err:?}"
    );
    d.create_group(globex.id, dup, &Actor::Cli)
        .await
        .expect("other organisation is free");
    assert_eq!(
        d.group_by_display_name(acme.id, "engineering")
            .await
            .unwrap()
            .unwrap()
            .id,
        group.id
    );

    d.delete_user(acme.id, ann.id, &Actor::Cli).await.unwrap();
    assert!(
        d.group_member_ids(acme.id, group.id)
            .await
            .unwrap()
            .is_empty(),
        "deleted user leaves"
    );
}

#[tokio::test]
async fn an_identity_links_to_one_user_per_connection() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let a = d
        .create_user(acme.id, user_data("a@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let b = d
        .create_user(acme.id, user_data("b@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.link_identity(acme.id, "okta-saml", "00u-a", a.id, &Actor::System)
        .await
        .unwrap();
    let err = d
        .link_identity(acme.id, "okta-saml", "00u-a", b.id, &Actor::System)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    d.link_identity(acme.id, "okta-oidc", "00u-a", b.id, &Actor::System)
        .await
        .expect("another connection may use the same subject");
    assert_eq!(
        d.linked_user(acme.id, "okta-saml", "00u-a").await.unwrap(),
        Some(a.id)
    );
    assert_eq!(
        d.linked_user(acme.id, "okta-oidc", "00u-a").await.unwrap(),
        Some(b.id)
    );
}

#[tokio::test]
async fn a_bulk_import_is_whole_or_absent() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let mut batch: Vec<_> = (0..250)
        .map(|i| user_data(&format!("imp{i}@acme.test")))
        .collect();
    batch[3].profile.emails = vec![serde_json::json!({"value": "Three@Acme.test"})];
    let ids = d.import_users(acme.id, batch, &Actor::Cli).await.unwrap();
    assert_eq!(ids.len(), 250);
    assert_eq!(d.count_users(acme.id).await.unwrap(), 250);
    let found = d
        .users_by_lookup(
            acme.id,
            &gatehouse::directory::users::lists::UserLookup::Email("three@acme.test".into()),
        )
        .await
        .unwrap();
    assert_eq!(found[0].id, ids[3], "emails are indexed on import too");

    // The last of 150 collides with an existing user: none of the 150 stay.
    let mut clash: Vec<_> = (0..150)
        .map(|i| user_data(&format!("new{i}@acme.test")))
        .collect();
    clash.push(user_data("IMP0@acme.test"));
    let err = d
        .import_users(acme.id, clash, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    assert_eq!(d.count_users(acme.id).await.unwrap(), 250);
}

/// The email index answers `emails` lookups; each write keeps it equal to the profile,
/// including the writes that leave the emails alone and so skip rewriting it.
#[tokio::test]
async fn email_lookups_follow_every_user_write() {
    use gatehouse::directory::users::lists::UserLookup;
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let with_email = |email: &str| {
        let mut data = user_data("di@acme.test");
        data.profile.emails = vec![serde_json::json!({"value": email, "type": "work"})];
        data
    };
    let found = |email: &'static str| async move {
        d.users_by_lookup(acme.id, &UserLookup::Email(email.into()))
            .await
            .unwrap()
            .iter()
            .map(|u| u.id)
            .collect::<Vec<_>>()
    };
    let user = d
        .create_user(acme.id, with_email("one@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(found("ONE@acme.test").await, vec![user.id]);

    // Same emails (a PATCH of `active` is such a write), then new ones.
    let same = d
        .replace_user(
            acme.id,
            user.id,
            with_email("one@acme.test"),
            None,
            &Actor::Cli,
            "user.patch",
        )
        .await
        .unwrap();
    assert_eq!(found("one@acme.test").await, vec![user.id]);
    assert_eq!(
        Some(&same),
        d.user(acme.id, user.id).await.unwrap().as_ref()
    );
    d.replace_user(
        acme.id,
        user.id,
        with_email("two@acme.test"),
        None,
        &Actor::Cli,
        "user.patch",
    )
    .await
    .unwrap();
    assert!(found("one@acme.test").await.is_empty());
    assert_eq!(found("two@acme.test").await, vec![user.id]);

    // Deleted, then brought back by a create with another email.
    d.delete_user(acme.id, user.id, &Actor::Cli).await.unwrap();
    let back = d
        .create_user(acme.id, with_email("three@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(back.id, user.id);
    assert_eq!(
        Some(&back),
        d.user(acme.id, user.id).await.unwrap().as_ref()
    );
    assert!(found("two@acme.test").await.is_empty());
    assert_eq!(found("three@acme.test").await, vec![user.id]);
}

/// What each span opened while a test runs was named and carried (fields recorded later
/// included), by span id.
#[derive(Clone, Default)]
struct Spans(std::sync::Arc<std::sync::Mutex<Vec<(u64, String)>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, v: &dyn std::fmt::Debug) {
        self.0 += &format!(" {}={v:?}", field.name());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields(attrs.metadata().name().to_string());
        attrs.record(&mut fields);
        self.0.lock().unwrap().push((id.into_u64(), fields.0));
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, text)) = spans.iter_mut().rev().find(|(i, _)| *i == id.into_u64()) {
            let mut fields = Fields(std::mem::take(text));
            values.record(&mut fields);
            *text = fields.0;
        }
    }
}

/// The directory's public operations are traced (at debug level) with the organisation
/// they act on, so a slow or failing request's log shows which operation it was in.
#[tokio::test]
async fn directory_operations_open_a_span_named_for_them_with_the_organisation() {
    use tracing_subscriber::layer::SubscriberExt;
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let spans = Spans::default();
    let subscriber = tracing_subscriber::registry().with(spans.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    app.directory
        .create_user(acme.id, user_data("span@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    drop(guard);
    let seen: Vec<String> = spans
        .0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, s)| s.clone())
        .collect();
    let expected = format!("create_user org={}", acme.id);
    assert!(seen.contains(&expected), "{expected:?} not in {seen:?}");
}
