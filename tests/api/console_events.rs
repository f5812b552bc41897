//! The console's event log: filters, cursor paging, entries in words, what a refused SCIM
//! push received and why it was refused, and the CSV download (quoting, formulas, paging).

use gatehouse::directory::Actor;
use serde_json::json;

use crate::console_users::{next_href, unescape};
use crate::support::console::platform_admin;
use crate::support::scim::{Scim, USER_URN};
use crate::support::{user_data, TestApp};

/// The ids of the events listed on a page, in page order.
fn event_ids(html: &str) -> Vec<i64> {
    html.split("</code> · #")
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].parse().unwrap())
        .collect()
}

/// How many entries of each outcome a page lists.
fn outcomes(html: &str) -> (usize, usize) {
    (
        html.matches("<li class=\"event\">").count(),
        html.matches("<li class=\"event failure\">").count(),
    )
}

/// A minimal RFC 4180 reader: records of fields, quotes undone.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = vec![];
    let mut record = vec![];
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {
                chars.next();
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "the last record ends with CRLF"
    );
    records
}

#[tokio::test]
async fn console_events_filter_on_failures_action_user_and_time() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ada = scim.user("ada@acme.test").await; // at T0
    app.clock.advance_ms(86_400_000); // 2026-01-02
    let bob = scim.user("bob@acme.test").await;
    let dup = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "userName": "BOB@acme.test"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    app.clock.advance_ms(86_400_000); // 2026-01-03
    let r = scim
        .patch(
            &format!("/Users/{ada}"),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await;
    assert_eq!(r.status, 200);
    let admin = platform_admin(&app).await;
    let base = "/admin/orgs/acme/events";

    let (status, all) = admin.get(&app, base).await;
    assert_eq!(status, 200);
    assert!(all.contains("Created user") && all.contains("Deactivated user"));
    assert!(all.contains("Refused to create user") && all.contains("Issued SCIM token"));
    let ids = event_ids(&all);
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");

    let (_, failures) = admin.get(&app, &format!("{base}?failures=1")).await;
    assert_eq!(outcomes(&failures), (0, 1));
    assert!(failures.contains("409"), "the reason is shown");
    assert!(failures.contains("name=\"failures\" value=\"1\" checked"));

    let (_, action) = admin.get(&app, &format!("{base}?action=user.create")).await;
    assert_eq!(outcomes(&action), (2, 1));
    let (_, action) = admin
        .get(&app, &format!("{base}?action=user.create&failures=1"))
        .await;
    assert_eq!(outcomes(&action), (0, 1));

    // By userName or id: the events about that user (its creation, patch, deactivation).
    let (_, by_name) = admin.get(&app, &format!("{base}?user=ADA@acme.test")).await;
    let (_, by_id) = admin.get(&app, &format!("{base}?user={ada}")).await;
    assert_eq!(event_ids(&by_name), event_ids(&by_id));
    assert_eq!(outcomes(&by_name), (3, 0), "{by_name}");
    assert!(!by_name.contains(&format!("/users/{bob}\">bob")));

    // Time: a date covers the day; a datetime or RFC 3339 time is exact.
    let (_, day2) = admin
        .get(&app, &format!("{base}?from=2026-01-02&until=2026-01-02"))
        .await;
    assert_eq!(
        outcomes(&day2),
        (1, 1),
        "bob's creation and the refused duplicate"
    );
    let (_, after) = admin
        .get(&app, &format!("{base}?from=2026-01-02T12:00"))
        .await;
    assert_eq!(
        outcomes(&after),
        (2, 0),
        "day 3: the patch and the deactivation"
    );
    let (_, before) = admin
        .get(&app, &format!("{base}?until=2026-01-02T00:00:00Z"))
        .await;
    assert!(before.contains("Issued SCIM token") && !before.contains("Refused"));
    let (_, offset) = admin
        .get(&app, &format!("{base}?until=2026-01-02T01:00:00%2B01:00"))
        .await;
    assert_eq!(event_ids(&offset), event_ids(&before), "offsets apply");

    // Bad input says which field, and lists nothing.
    for (query, field) in [
        ("from=yesterday", "from"),
        ("until=2026-02-30", "until"),
        ("from=2026-01-03&until=2026-01-02", "until"),
        ("user=nobody@acme.test", "user"),
        ("before=abc", "before"),
    ] {
        let (status, page) = admin.get(&app, &format!("{base}?{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            page.contains(&format!("The filter {field}:")),
            "{query}: {page}"
        );
        assert_eq!(outcomes(&page), (0, 0));
        let (status, _) = admin.get(&app, &format!("{base}.csv?{query}")).await;
        assert_eq!(status, 400, "csv {query}");
    }
}

#[tokio::test]
async fn console_events_page_with_an_id_cursor() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    for i in 0..120 {
        app.directory
            .create_user(
                org.id,
                user_data(&format!("u{i:03}@acme.test")),
                &Actor::Cli,
            )
            .await
            .unwrap();
    }
    let admin = platform_admin(&app).await;
    let mut seen = vec![];
    let mut next = Some("/admin/orgs/acme/events?action=user.create".to_string());
    let mut pages = 0;
    while let Some(path) = next {
        let (status, page) = admin.get(&app, &path).await;
        assert_eq!(status, 200);
        let ids = event_ids(&page);
        assert!(ids.len() <= 50);
        seen.extend(ids);
        next = next_href(&page);
        if let Some(n) = &next {
            assert!(
                n.contains("action=user.create") && n.contains("before="),
                "{n}"
            );
        }
        pages += 1;
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "strictly older, none twice"
    );
}

#[tokio::test]
async fn console_events_show_what_a_refused_scim_push_received_and_why() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    // A create without a userName, carrying a password that must not be kept.
    let r = scim
        .post(
            "/Users",
            json!({"schemas": [USER_URN], "name": {"givenName": "Ada"}, "password": "hunter2-secret",
                   "emails": [{"value": "ada@acme.test"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let said = r.body["detail"].as_str().unwrap().to_string();
    // A body that is not JSON, and a wrong media type: refused before any handler ran.
    let broken = scim
        .app
        .client
        .post(format!("{}/Users", scim.base()))
        .bearer_auth(&scim.token)
        .header("content-type", "application/scim+json")
        .body("{\"userName\": \"grace@acme.test\", ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let id = scim.user("bob@acme.test").await;
    let r = scim
        .app
        .client
        .patch(format!("{}/Users/{id}", scim.base()))
        .bearer_auth(&scim.token)
        .header("content-type", "text/plain")
        .body("{\"Operations\": []}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    // Unauthenticated calls write nothing into the organisation's log.
    let anon = scim
        .app
        .client
        .post(format!("{}/Users", scim.base()))
        .header("content-type", "application/scim+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);

    let admin = platform_admin(&app).await;
    let (status, page) = admin.get(&app, "/admin/orgs/acme/events?failures=1").await;
    assert_eq!(status, 200);
    assert_eq!(outcomes(&page), (0, 3), "{page}");
    let text = unescape(&page);
    // Why: the status and the detail Okta was sent.
    assert!(text.contains("Refused to create user"), "{text}");
    assert!(text.contains(&format!("400 {said}")), "{said} in {text}");
    // What: method, path and the body as received (with the password withheld).
    assert!(text.contains("<dt>method</dt><dd><code>POST</code>"));
    assert!(text.contains("<code>/scim/v2/acme/Users</code>"));
    assert!(text.contains(r#""givenName":"Ada""#), "{text}");
    assert!(text.contains(r#""password":"(withheld)""#));
    assert!(!text.contains("hunter2-secret"));
    // The broken body, word for word, and why.
    assert!(text.contains("Refused SCIM request"));
    assert!(text.contains(r#"{"userName": "grace@acme.test", "#));
    assert!(text.contains("not valid JSON"));
    // The wrong media type.
    assert!(text.contains("415") && text.contains("<code>text/plain</code>"));
    assert!(text.contains(&format!("/scim/v2/acme/Users/{id}")));
    // The actor is the token, in words.
    assert!(text.contains("SCIM token "), "{text}");
}

#[tokio::test]
async fn console_events_csv_has_every_matching_event_quoted_and_neutralised() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let d = &app.directory;
    // More than one batch of 1,000.
    for i in 0..1100 {
        d.record_success(
            Some(org.id),
            &Actor::Cli,
            "test.bulk",
            None,
            json!({ "i": i }),
        )
        .await
        .unwrap();
    }
    // Fields that need quoting, and fields a spreadsheet would run.
    let nasty = [
        (
            "=HYPERLINK(\"http://evil.test\",\"click\")",
            "'=HYPERLINK(\"http://evil.test\",\"click\")",
        ),
        ("+1+1", "'+1+1"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("two\nlines, \"quoted\"", "two\nlines, \"quoted\""),
    ];
    for (target, _) in nasty {
        d.record_failure(
            Some(org.id),
            &Actor::Idp("=cmd|' /C calc'!A0".into()),
            "login",
            Some(target.into()),
            "bad, \"really\"",
        )
        .await
        .unwrap();
    }
    let admin = platform_admin(&app).await;

    let r = admin
        .client
        .get(app.url("/admin/orgs/acme/events.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"acme-events.csv\""
    );
    let body = r.text().await.unwrap();
    assert!(body.starts_with("id,time,actor,action,target,outcome,detail\r\n"));
    let records = parse_csv(&body);
    assert_eq!(
        records[0],
        ["id", "time", "actor", "action", "target", "outcome", "detail"]
    );
    let rows = &records[1..];
    assert!(rows.iter().all(|r| r.len() == 7));
    assert_eq!(
        rows.iter().filter(|r| r[3] == "test.bulk").count(),
        1100,
        "all batches"
    );
    let ids: Vec<i64> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, none twice"
    );
    assert_eq!(rows.last().unwrap()[3], "org.create");

    let logins: Vec<&Vec<String>> = rows.iter().filter(|r| r[3] == "login").collect();
    assert_eq!(logins.len(), nasty.len());
    for (row, (_, want)) in logins.iter().rev().zip(nasty) {
        assert_eq!(row[4], want, "target");
        assert_eq!(row[2], "idp:=cmd|' /C calc'!A0", "actor, as recorded");
        assert_eq!(row[5], "failure");
        let detail: serde_json::Value = serde_json::from_str(&row[6]).unwrap();
        assert_eq!(detail["reason"], "bad, \"really\"");
        assert_eq!(row[1], "2026-01-01T00:00:00Z");
    }
    // The raw text: quoted where needed, quotes doubled.
    assert!(body.contains("\"'=HYPERLINK(\"\"http://evil.test\"\",\"\"click\"\")\""));
    assert!(body.contains(",'+1+1,"));
    assert!(body.contains("\"two\nlines, \"\"quoted\"\"\""));
    assert!(body.contains("\"'\rcmd\""));

    // The filters apply to the download, and the page links to it with them.
    let r = admin
        .client
        .get(app.url("/admin/orgs/acme/events.csv?failures=1&action=login"))
        .send()
        .await
        .unwrap();
    let filtered = parse_csv(&r.text().await.unwrap());
    assert_eq!(filtered.len(), 1 + nasty.len());
    let (_, page) = admin
        .get(&app, "/admin/orgs/acme/events?failures=1&action=login")
        .await;
    assert!(
        unescape(&page).contains("href=\"/admin/orgs/acme/events.csv?failures=1&action=login\""),
        "{page}"
    );
    assert!(page.contains("Download CSV"));
}
