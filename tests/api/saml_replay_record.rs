//! The record of used SAML assertion IDs: an ID is refused as a replay for as long as it is
//! kept, taken again once its time has passed (a later assertion may reuse it only after the
//! first could no longer be valid), and the expired IDs are swept.

use gatehouse::clock::Clock;
use gatehouse::directory::sign_in::Replay;
use gatehouse::session::lifetimes;
use gatehouse::sso::LoginError;

use crate::sessions::okta;
use crate::support::TestApp;

const HOUR_MS: i64 = 3_600_000;

async fn sign_in(
    app: &TestApp,
    org: gatehouse::directory::OrgId,
    id: &str,
    keep_until: i64,
) -> Result<(), LoginError> {
    let org = app.directory.org(org).await.unwrap().unwrap();
    let replay = Replay { id, keep_until };
    // As the SAML door names it: each organisation's connection is its own.
    let assertion = gatehouse::sso::Assertion {
        connection: format!("saml:{}", org.id),
        ..okta("00u1", "ada@acme.test")
    };
    app.directory
        .sign_in(
            &org,
            &assertion,
            Some(replay),
            lifetimes(&gatehouse::Config::default()),
        )
        .await
        .map(|_| ())
}

async fn kept(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from saml_assertions_seen")
        .fetch_one(app.directory.db().reads())
        .await
        .unwrap()
}

#[tokio::test]
async fn an_id_is_refused_while_kept_and_taken_again_after() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let until = app.clock.now_ms() + HOUR_MS;
    sign_in(&app, org.id, "_a1", until).await.unwrap();
    let again = sign_in(&app, org.id, "_a1", until).await;
    assert!(
        matches!(again, Err(LoginError::Replayed(_))),
        "a kept ID is a replay: {:?}",
        again.err()
    );
    app.clock.advance_ms(HOUR_MS + 1);
    sign_in(&app, org.id, "_a1", app.clock.now_ms() + HOUR_MS)
        .await
        .expect("an ID whose record expired signs in again");
    let once_more = sign_in(&app, org.id, "_a1", app.clock.now_ms() + HOUR_MS).await;
    assert!(
        matches!(once_more, Err(LoginError::Replayed(_))),
        "and is kept again for its new time"
    );
}

#[tokio::test]
async fn another_organisations_id_is_not_a_replay() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let until = app.clock.now_ms() + HOUR_MS;
    sign_in(&app, acme.id, "_same", until).await.unwrap();
    sign_in(&app, globex.id, "_same", until)
        .await
        .expect("IDs are kept per organisation");
}

#[tokio::test]
async fn expired_ids_are_swept_and_live_ones_kept() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let now = app.clock.now_ms();
    sign_in(&app, org.id, "_short", now + HOUR_MS)
        .await
        .unwrap();
    sign_in(&app, org.id, "_long", now + 3 * HOUR_MS)
        .await
        .unwrap();
    assert_eq!(app.directory.sweep_seen_assertions().await.unwrap(), 0);
    assert_eq!(kept(&app).await, 2);
    app.clock.advance_ms(2 * HOUR_MS);
    assert_eq!(app.directory.sweep_seen_assertions().await.unwrap(), 1);
    assert_eq!(kept(&app).await, 1);
    let replay = sign_in(&app, org.id, "_long", now + 3 * HOUR_MS).await;
    assert!(
        matches!(replay, Err(LoginError::Replayed(_))),
        "the live ID is still refused"
    );
}
