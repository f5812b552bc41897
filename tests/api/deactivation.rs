//! Deactivation is one operation: active off, session epoch on, event written, all in one
//! transaction.

use gatehouse::db::Backend;
use gatehouse::directory::{Actor, Error};
use gatehouse::events::{self, EventQuery};

use crate::support::{user_data, TestApp};

async fn actions(app: &TestApp, org: gatehouse::directory::OrgId) -> Vec<String> {
    let q = EventQuery {
        limit: 100,
        ..Default::default()
    };
    let mut list: Vec<String> = events::list(app.directory.db().reads(), org, &q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    list.reverse();
    list
}

#[tokio::test]
async fn deactivation_moves_the_epoch_and_records_the_event() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("dee@acme.test"), &Actor::Cli)
        .await
        .unwrap();

    let off = d
        .set_active(acme.id, user.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert!(!off.active && !off.can_sign_in());
    assert_eq!(off.session_epoch, user.session_epoch + 1);
    assert_eq!(off.version, user.version + 1);

    // Asking again changes nothing and records nothing.
    let again = d
        .set_active(acme.id, user.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(again.session_epoch, off.session_epoch);

    let on = d
        .set_active(acme.id, user.id, true, &Actor::Cli)
        .await
        .unwrap();
    assert!(on.active);
    assert_eq!(on.session_epoch, off.session_epoch + 1);
    assert_eq!(
        actions(&app, acme.id).await,
        [
            "org.create",
            "user.create",
            "user.deactivate",
            "user.reactivate"
        ]
    );
}

#[tokio::test]
async fn a_failure_between_the_steps_of_deactivation_leaves_neither() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("eve@acme.test"), &Actor::Cli)
        .await
        .unwrap();

    // The fault: writing the deactivation's event fails, after the user row was updated.
    match app.backend() {
        Backend::Sqlite => {
            app.sql(
                "create trigger fail_event before insert on events \
                 when new.action = 'user.deactivate' \
                 begin select raise(abort, 'injected failure'); end",
            )
            .await
        }
        Backend::Postgres => {
            app.sql(
                "create function fail_event() returns trigger language plpgsql as \
                 $$ begin raise exception 'injected failure'; end $$; \
                 create trigger fail_event before insert on events for each row \
                 when (new.action = 'user.deactivate') execute function fail_event()",
            )
            .await
        }
    }
    let err = d
        .set_active(acme.id, user.id, false, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");

    let after = d.user(acme.id, user.id).await.unwrap().unwrap();
    assert!(after.active, "the user is still active");
    assert_eq!(
        after.session_epoch, user.session_epoch,
        "the epoch did not move"
    );
    assert_eq!(after.version, user.version);
    assert!(!actions(&app, acme.id)
        .await
        .contains(&"user.deactivate".to_string()));

    // With the fault gone, the same call does both.
    let drop = match app.backend() {
        Backend::Sqlite => "drop trigger fail_event",
        Backend::Postgres => "drop trigger fail_event on events",
    };
    app.sql(drop).await;
    let off = d
        .set_active(acme.id, user.id, false, &Actor::Cli)
        .await
        .unwrap();
    assert_eq!(off.session_epoch, user.session_epoch + 1);
    assert!(actions(&app, acme.id)
        .await
        .contains(&"user.deactivate".to_string()));
}

#[tokio::test]
async fn a_replace_that_turns_active_off_ends_sessions_too() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("fay@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let mut data = user_data("fay@acme.test");
    data.active = false;
    let off = d
        .replace_user(acme.id, user.id, data, None, &Actor::Cli, "user.replace")
        .await
        .unwrap();
    assert!(!off.active);
    assert_eq!(off.session_epoch, user.session_epoch + 1);
    let acts = actions(&app, acme.id).await;
    assert!(
        acts.ends_with(&["user.replace".into(), "user.deactivate".into()]),
        "{acts:?}"
    );
}

#[tokio::test]
async fn a_deleted_user_cannot_be_reactivated_by_id() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let d = &app.directory;
    let user = d
        .create_user(acme.id, user_data("gil@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    d.delete_user(acme.id, user.id, &Actor::Cli).await.unwrap();
    let err = d
        .set_active(acme.id, user.id, true, &Actor::Cli)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(d.user(acme.id, user.id).await.unwrap().unwrap().deleted);
}
