//! The console's webhooks page: adding an endpoint (its secret shown once), a refused URL
//! that stores nothing, send a test, pause and resume, rotation, redelivery, a failing
//! endpoint shown as such, deletion, CSRF, and another organisation's admin kept out.

use gatehouse::directory::console::admin_sessions::NewPrincipal;
use gatehouse::directory::Actor;

use crate::support::api::logged;
use crate::support::console::platform_admin;
use crate::support::webhook_receiver::Receiver;
use crate::support::{user_data, TestApp};

fn shown_secret(html: &str) -> Option<String> {
    let marker = "id=\"webhook-secret\">";
    let rest = &html[html.find(marker)? + marker.len()..];
    Some(rest[..rest.find('<')?].to_string())
}

const PAGE: &str = "/admin/orgs/acme/webhooks";

#[tokio::test]
async fn an_admin_adds_tests_pauses_rotates_redelivers_and_deletes_a_webhook() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let admin = platform_admin(&app).await;
    let receiver = Receiver::start().await;
    let (status, page) = admin.get(&app, PAGE).await;
    assert_eq!(status, 200);
    assert!(page.contains("No webhook yet"), "{page}");

    let r = admin
        .post(
            &app,
            PAGE,
            &[("url", "https://169.254.169.254/x"), ("types", "")],
        )
        .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("The webhook was not added") && page.contains("link-local"),
        "{page}"
    );
    assert!(
        page.contains("value=\"https://169.254.169.254/x\""),
        "the form keeps what was typed"
    );
    assert!(app
        .directory
        .list_webhooks(acme.id)
        .await
        .unwrap()
        .is_empty());

    let r = admin
        .post(
            &app,
            PAGE,
            &[
                ("url", &receiver.url),
                ("types", "user.created, user.deactivated"),
                ("description", "CRM"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    let secret = shown_secret(&page).expect("the new secret is shown");
    assert!(secret.starts_with("whsec_"));
    let hooks = app.directory.list_webhooks(acme.id).await.unwrap();
    let id = hooks[0].id.to_string();
    let (_, page) = admin.get(&app, PAGE).await;
    assert!(!page.contains(&secret), "shown once");
    assert!(
        page.contains("user.created, user.deactivated") && page.contains("CRM"),
        "{page}"
    );
    assert!(page.contains("badge good\">active"));

    let action = |a: &str| format!("{PAGE}/{id}/{a}");
    let page = admin
        .post(&app, &action("test"), &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("The test message was delivered"), "{page}");
    assert!(receiver.wait_for(1).await[0].signed_by(&secret));

    let r = admin.post(&app, &action("pause"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(admin
        .get(&app, PAGE)
        .await
        .1
        .contains("badge warn\">paused"));
    admin.post(&app, &action("resume"), &[]).await;
    assert!(app.directory.list_webhooks(acme.id).await.unwrap()[0].status() == "active");

    let page = admin
        .post(&app, &action("rotate"), &[])
        .await
        .text()
        .await
        .unwrap();
    let rotated = shown_secret(&page).expect("the rotated secret is shown");
    assert_ne!(rotated, secret);

    let r = admin
        .post(&app, &action("redeliver"), &[("from", "seven")])
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Nothing was redelivered"));
    // A failing endpoint stands out, with its error, until redelivered.
    app.sql(&format!(
        "update webhook_endpoints set failing_since = 1, last_error = 'the receiver answered 500' where id = '{id}'"
    ))
    .await;
    let (_, page) = admin.get(&app, PAGE).await;
    assert!(
        page.contains("badge bad\">failing") && page.contains("the receiver answered 500"),
        "{page}"
    );
    app.directory
        .create_user(acme.id, user_data("ada@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let page = admin
        .post(&app, &action("redeliver"), &[("from", "1")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Deliveries start again from change 1"),
        "{page}"
    );
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].json()["type"], "user.created");
    assert!(got[1].signed_by(&rotated));

    assert_eq!(admin.post(&app, &action("delete"), &[]).await.status(), 303);
    assert!(app
        .directory
        .list_webhooks(acme.id)
        .await
        .unwrap()
        .is_empty());
    let events: Vec<String> = logged(&app, &acme).await.into_iter().map(|e| e.0).collect();
    for a in [
        "webhook.create",
        "webhook.test",
        "webhook.pause",
        "webhook.resume",
        "webhook.rotate",
        "webhook.redeliver",
        "webhook.delete",
    ] {
        assert!(events.iter().any(|e| e == a), "{a}: {events:?}");
    }
}

#[tokio::test]
async fn forged_forms_and_another_organisations_admin_change_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.org("acme", &[]).await;
    let globex = app.org("globex", &[]).await;
    let admin = platform_admin(&app).await;
    admin
        .post(&app, PAGE, &[("url", "https://hooks.example.com/x")])
        .await;
    let id = app.directory.list_webhooks(acme.id).await.unwrap()[0]
        .id
        .to_string();
    let forged = admin
        .client
        .post(app.url(&format!("{PAGE}/{id}/delete")))
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);

    let user = app
        .directory
        .create_user(globex.id, user_data("boss@globex.test"), &Actor::Cli)
        .await
        .unwrap();
    app.directory
        .set_org_admin(globex.id, user.id, true, &Actor::Cli)
        .await
        .unwrap();
    let who = NewPrincipal::Customer {
        org_id: globex.id,
        user_id: user.id,
        epoch: user.session_epoch,
    };
    let config = gatehouse::Config::default();
    let session = app
        .directory
        .create_admin_session(who, gatehouse::admin::console::lifetimes(&config))
        .await
        .unwrap();
    let cookie = format!("gatehouse_admin={}", session.cookie);
    let own = app
        .client
        .get(app.url("/admin/orgs/globex/webhooks"))
        .header("cookie", &cookie);
    let own = own.send().await.unwrap();
    assert_eq!(own.status(), 200, "its own organisation's page opens");
    assert!(!own.text().await.unwrap().contains("hooks.example.com"));
    let r = app
        .client
        .get(app.url(PAGE))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());
    for a in ["delete", "pause", "rotate", "test"] {
        let r = app
            .client
            .post(app.url(&format!("{PAGE}/{id}/{a}")))
            .header("cookie", &cookie)
            .form(&[("csrf", session.csrf_token.as_str())])
            .send()
            .await
            .unwrap();
        assert!(
            matches!(r.status().as_u16(), 403 | 404),
            "{a}: {}",
            r.status()
        );
    }
    let theirs = format!("/admin/orgs/globex/webhooks/{id}/delete");
    let r = app
        .client
        .post(app.url(&theirs))
        .header("cookie", &cookie)
        .form(&[("csrf", session.csrf_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "the id names nothing in its own organisation"
    );
    let kept = app.directory.list_webhooks(acme.id).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].paused);
}
