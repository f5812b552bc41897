//! The console's users and groups pages: search, status filter, keyset paging, a user's
//! page, the actions on it (deactivate, reactivate, sign out everywhere, erase), and who
//! may see and do what (CSRF, other organisations, setup links).

use std::collections::HashSet;

use gatehouse::directory::model::fold_case;
use gatehouse::directory::orgs::Org;
use gatehouse::directory::users::{Name, Profile, UserData};
use gatehouse::directory::{Actor, AdminId, Email, UserId, UserName};
use serde_json::json;

use crate::sessions::{login, okta};
use crate::support::console::{browser, csrf_of, platform_admin, ConsoleUser};
use crate::support::scim::{events, Scim, USER_URN};
use crate::support::{user_data, TestApp, T0};

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Undoes the HTML escaping of an attribute value or text.
pub fn unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&#38;", "&")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&#60;", "<")
        .replace("&gt;", ">")
        .replace("&#62;", ">")
}

/// The href of the link with `rel="next"` on a page.
pub fn next_href(html: &str) -> Option<String> {
    let end = html.find("\" rel=\"next\"")?;
    let start = html[..end].rfind("href=\"")? + 6;
    Some(unescape(&html[start..end]))
}

/// The (id, userName) pairs of the user links in a users table, in page order.
fn user_links(html: &str, slug: &str) -> Vec<(String, String)> {
    let marker = format!("<td><a href=\"/admin/orgs/{slug}/users/");
    html.split(&marker)
        .skip(1)
        .map(|rest| {
            let (id, rest) = rest.split_once("\">").unwrap();
            let name = &rest[..rest.find("</a>").unwrap()];
            (id.to_string(), unescape(name))
        })
        .collect()
}

/// The id of the platform admin that `platform_admin` signs in.
pub async fn root_admin_id(app: &TestApp) -> AdminId {
    app.directory
        .admin_password_hash(&Email::parse("root@platform.test").unwrap())
        .await
        .unwrap()
        .unwrap()
        .0
}

/// A user of `org` made its admin, signed in to the console through its own SSO session.
pub async fn customer_admin(app: &TestApp, org: &Org, user_name: &str) -> ConsoleUser {
    let user = app
        .directory
        .create_user(org.id, user_data(user_name), &Actor::Cli)
        .await
        .unwrap();
    app.directory
        .set_org_admin(org.id, user.id, true, &Actor::Cli)
        .await
        .unwrap();
    let cookie = login(app, org, &okta(&format!("sub-{user_name}"), user_name))
        .await
        .unwrap();
    let client = browser();
    let r = client
        .get(app.url(&format!("/admin/sso?org={}", org.slug)))
        .header("cookie", format!("gatehouse_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap());
    let page = client
        .get(app.url(&format!("/admin/orgs/{}/users", org.slug)))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csrf = csrf_of(&page.text().await.unwrap());
    ConsoleUser { client, csrf }
}

/// A console session opened with a setup link for `org`.
pub async fn setup_session(app: &TestApp, org: &Org) -> ConsoleUser {
    let (_, secret) = app
        .directory
        .create_setup_link(org.id, "for IT", T0 + 3_600_000, &Actor::Cli)
        .await
        .unwrap();
    let client = browser();
    let (_, html) = crate::support::console::setup_page(app, &client, &secret).await;
    let csrf = csrf_of(&html);
    let r = client
        .post(app.url("/admin/setup"))
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    // No page this session may open here carries its CSRF token: read it from the store.
    let csrf: String =
        sqlx::query_scalar("select csrf_token from admin_sessions where kind = 'setup'")
            .fetch_one(app.directory.db().reads())
            .await
            .unwrap();
    ConsoleUser { client, csrf }
}

fn person(user_name: &str, display: &str, email: &str, active: bool) -> UserData {
    UserData {
        user_name: UserName::parse(user_name).unwrap(),
        external_id: None,
        active,
        profile: Profile {
            display_name: Some(display.into()),
            emails: vec![json!({"value": email, "type": "work", "primary": true})],
            ..Profile::default()
        },
    }
}

async fn auth_check(app: &TestApp, cookie: &str) -> u16 {
    app.auth_check(cookie).await.status().as_u16()
}

#[tokio::test]
async fn console_users_search_by_user_name_email_and_name_and_filter_on_status() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let d = &app.directory;
    for data in [
        person("ada@acme.test", "Ada Lovelace", "ada.l@mail.test", true),
        person("grace@acme.test", "Grace Hopper", "hopper@navy.test", true),
        person("linus@acme.test", "Linus T", "lt@kernel.test", false),
    ] {
        d.create_user(org.id, data, &Actor::Cli).await.unwrap();
    }
    let mut named = user_data("kat@acme.test");
    named.profile.name = Some(Name {
        given_name: Some("Katherine".into()),
        family_name: Some("Johnson".into()),
        ..Name::default()
    });
    d.create_user(org.id, named, &Actor::Cli).await.unwrap();
    let admin = platform_admin(&app).await;
    let names = |html: &str| -> Vec<String> {
        user_links(html, "acme")
            .into_iter()
            .map(|(_, n)| n)
            .collect()
    };

    let (status, all) = admin.get(&app, "/admin/orgs/acme/users").await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&all),
        vec![
            "ada@acme.test",
            "grace@acme.test",
            "kat@acme.test",
            "linus@acme.test"
        ]
    );
    assert!(all.contains("name=\"q\"") && all.contains(">Search</button>"));
    assert!(all.contains("Katherine Johnson"), "name parts shown");
    assert!(all.contains("hopper@navy.test") && all.contains("Grace Hopper"));

    for (q, expect) in [
        ("GRACE@", "grace@acme.test"),    // userName, any case
        ("navy.test", "grace@acme.test"), // primary email
        ("lovelace", "ada@acme.test"),    // display name
        ("kernel", "linus@acme.test"),    // email of an inactive user
    ] {
        let (_, page) = admin
            .get(&app, &format!("/admin/orgs/acme/users?q={q}"))
            .await;
        assert_eq!(names(&page), vec![expect], "search {q}");
    }
    let (_, none) = admin.get(&app, "/admin/orgs/acme/users?q=%25").await;
    assert!(names(&none).is_empty(), "% is literal, not a wildcard");

    let (_, active) = admin
        .get(&app, "/admin/orgs/acme/users?status=active")
        .await;
    assert_eq!(names(&active).len(), 3);
    assert!(!names(&active).contains(&"linus@acme.test".to_string()));
    let (_, inactive) = admin
        .get(&app, "/admin/orgs/acme/users?status=inactive&q=acme")
        .await;
    assert_eq!(names(&inactive), vec!["linus@acme.test"]);
    assert!(inactive.contains("<option value=\"inactive\" selected>"));

    let (status, _) = admin.get(&app, "/admin/orgs/acme/users?status=gone").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn console_users_keyset_walk_sees_every_user_once_in_order() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    // Mixed case and an order unlike creation order: the walk follows the case-folded key.
    let users: Vec<UserData> = (0..2000)
        .map(|i| {
            let mut u = user_data(&format!(
                "{}user{:04}@acme.test",
                ["A", "b", "C"][i % 3],
                (i * 7919) % 2000
            ));
            u.active = i % 10 != 0;
            u
        })
        .collect();
    let expected: Vec<String> = users
        .iter()
        .map(|u| u.user_name.as_str().to_string())
        .collect();
    app.directory
        .import_users(org.id, users, &Actor::Cli)
        .await
        .unwrap();
    let admin = platform_admin(&app).await;

    let walk = |start: String| {
        let admin = &admin;
        let app = &app;
        async move {
            let mut seen = Vec::new();
            let mut next = Some(start);
            let mut pages = 0;
            while let Some(path) = next {
                let (status, page) = admin.get(app, &path).await;
                assert_eq!(status, 200, "{path}");
                let rows = user_links(&page, "acme");
                assert!(rows.len() <= 50, "page size");
                seen.extend(rows.into_iter().map(|(_, n)| n));
                next = next_href(&page);
                pages += 1;
            }
            (seen, pages)
        }
    };

    let (seen, pages) = walk("/admin/orgs/acme/users".to_string()).await;
    assert_eq!(pages, 40, "2,000 users, 50 a page, no empty last page");
    let mut want = expected.clone();
    want.sort_by_key(|n| fold_case(n));
    assert_eq!(seen, want, "each user exactly once, in userName order");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 2000);

    // A filtered walk carries the filters along.
    let (inactive, pages) =
        walk("/admin/orgs/acme/users?status=inactive&q=user1".to_string()).await;
    assert!(pages >= 2, "{pages}");
    let inactive_names: HashSet<&String> = expected.iter().step_by(10).collect();
    let want: Vec<String> = want
        .into_iter()
        .filter(|n| inactive_names.contains(n) && fold_case(n).contains("user1"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(inactive, want);
}

#[tokio::test]
async fn console_user_page_shows_attributes_groups_identities_and_events() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let r = scim
        .post(
            "/Users",
            json!({
                "schemas": [USER_URN],
                "userName": "ada@acme.test",
                "externalId": "00u-ada",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "title": "Analyst <b>",
                "emails": [{"value": "ada@acme.test", "type": "work", "primary": true}],
                "phoneNumbers": [{"value": "+44 20 0000", "type": "mobile"}]
            }),
        )
        .await;
    assert_eq!(r.status, 201);
    let id = r.body["id"].as_str().unwrap().to_string();
    let g = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Engineering", "members": [{"value": id}]}),
        )
        .await;
    assert_eq!(g.status, 201);
    let group_id = g.body["id"].as_str().unwrap().to_string();
    let _cookie = login(&app, &scim.org, &okta("00u-sub-1", "ada@acme.test"))
        .await
        .unwrap();
    let admin = platform_admin(&app).await;

    let (status, page) = admin
        .get(&app, &format!("/admin/orgs/acme/users/{id}"))
        .await;
    assert_eq!(status, 200);
    for want in [
        "ada@acme.test",
        "00u-ada",
        "Ada Lovelace",
        "Analyst &#60;b&#62;",
        "+44 20 0000 (mobile)",
        "ada@acme.test (work, primary)",
        "Engineering",
        &format!("/admin/orgs/acme/groups/{group_id}"),
        "00u-sub-1",
        "Created user",
        "Signed in",
        "Linked IdP identity",
        "Deactivate",
        "Sign out everywhere",
        "data-expect=\"ada@acme.test\"",
    ] {
        assert!(page.contains(want), "{want} missing from\n{page}");
    }
    assert!(!page.contains("Analyst <b>"), "escaped");
    assert!(page.contains("<dt>Live sessions</dt><dd>1</dd>"), "{page}");
    assert!(page.contains("<dt>Organisation admin</dt><dd>no</dd>"));

    let user_id = UserId::parse(&id).unwrap();
    app.directory
        .set_org_admin(scim.org.id, user_id, true, &Actor::Cli)
        .await
        .unwrap();
    let (_, page) = admin
        .get(&app, &format!("/admin/orgs/acme/users/{id}"))
        .await;
    assert!(page.contains("yes, named by a platform admin"));

    // The group pages list it with its member.
    let (status, groups) = admin.get(&app, "/admin/orgs/acme/groups").await;
    assert_eq!(status, 200);
    assert!(groups.contains("Engineering") && groups.contains("<td class=\"num\">1</td>"));
    let (status, group) = admin
        .get(&app, &format!("/admin/orgs/acme/groups/{group_id}"))
        .await;
    assert_eq!(status, 200);
    assert!(group.contains(&format!("/admin/orgs/acme/users/{id}\">ada@acme.test</a>")));
    let (status, _) = admin.get(&app, "/admin/orgs/acme/groups/not-an-id").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn console_groups_are_searched_and_paged_and_members_paged() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = app
        .directory
        .import_users(
            scim.org.id,
            (0..120)
                .map(|i| user_data(&format!("m{i:03}@acme.test")))
                .collect(),
            &Actor::Cli,
        )
        .await
        .unwrap();
    let members: Vec<_> = ids
        .iter()
        .map(|i| json!({"value": i.to_string()}))
        .collect();
    let g = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Everyone", "members": members}),
        )
        .await;
    assert_eq!(g.status, 201);
    let everyone = g.body["id"].as_str().unwrap().to_string();
    for i in 0..60 {
        let r = scim
            .post(
                "/Groups",
                json!({"schemas": [GROUP_URN], "displayName": format!("Team {i:02}")}),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let admin = platform_admin(&app).await;

    // 61 groups: two pages in name order.
    let (_, first) = admin.get(&app, "/admin/orgs/acme/groups").await;
    assert!(first.contains(">Everyone</a>") && first.contains("<td class=\"num\">120</td>"));
    let next = next_href(&first).expect("a second page");
    let (_, second) = admin.get(&app, &next).await;
    assert!(second.contains(">Team 59</a>") && !second.contains(">Everyone</a>"));
    assert!(next_href(&second).is_none());
    let (_, found) = admin.get(&app, "/admin/orgs/acme/groups?q=team+0").await;
    assert_eq!(found.matches(">Team 0").count(), 10, "{found}");

    // 120 members: three pages, each member once.
    let mut seen = HashSet::new();
    let mut next = Some(format!("/admin/orgs/acme/groups/{everyone}"));
    while let Some(path) = next {
        let (status, page) = admin.get(&app, &path).await;
        assert_eq!(status, 200);
        for (id, _) in user_links(&page, "acme") {
            assert!(seen.insert(id), "a member twice");
        }
        next = next_href(&page);
    }
    let want: HashSet<String> = ids.iter().map(|i| i.to_string()).collect();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn console_deactivate_ends_the_users_sessions_at_once_and_reactivate_undoes_it() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let cookie = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(auth_check(&app, &cookie).await, 200);
    let admin = platform_admin(&app).await;
    let page = format!("/admin/orgs/acme/users/{}", user.id);

    let r = admin.post(&app, &format!("{page}/deactivate"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{page}?done=deactivate")
    );
    assert_eq!(
        auth_check(&app, &cookie).await,
        401,
        "the session died at once"
    );
    let u = app.directory.user(org.id, user.id).await.unwrap().unwrap();
    assert!(!u.active);
    assert_eq!(
        app.directory.session_count(org.id, user.id).await.unwrap(),
        0
    );
    let (_, shown) = admin.get(&app, &format!("{page}?done=deactivate")).await;
    assert!(shown.contains("Every session of this user has ended"));
    assert!(shown.contains(">Reactivate</button>") && shown.contains("badge bad\">inactive"));
    assert!(
        shown.contains("Deactivated user") && shown.contains("root@platform.test (platform admin)")
    );

    let admin_id = root_admin_id(&app).await;
    let q = gatehouse::events::EventQuery {
        action: Some("user.deactivate".into()),
        limit: 10,
        ..Default::default()
    };
    let logged = gatehouse::events::list(app.directory.db().reads(), org.id, &q)
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].actor, format!("admin:{admin_id}"));
    assert_eq!(
        logged[0].target.as_deref(),
        Some(user.id.to_string().as_str())
    );

    let r = admin.post(&app, &format!("{page}/reactivate"), &[]).await;
    assert_eq!(r.status(), 303);
    assert!(
        app.directory
            .user(org.id, user.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    assert_eq!(
        auth_check(&app, &cookie).await,
        401,
        "old sessions stay dead"
    );
    let fresh = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    assert_eq!(auth_check(&app, &fresh).await, 200, "it can sign in again");
    let log = events(&app, &org).await;
    assert!(log
        .iter()
        .any(|e| e.0 == "user.reactivate" && e.1 == "success"));
}

#[tokio::test]
async fn console_sign_out_everywhere_ends_sessions_and_keeps_the_user_active() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let a = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let b = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    let admin = platform_admin(&app).await;
    let page = format!("/admin/orgs/acme/users/{}", user.id);
    let (_, shown) = admin.get(&app, &page).await;
    assert!(shown.contains("<dt>Live sessions</dt><dd>2</dd>"));

    let r = admin.post(&app, &format!("{page}/sign-out"), &[]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{page}?done=sign-out")
    );
    assert_eq!(auth_check(&app, &a).await, 401);
    assert_eq!(auth_check(&app, &b).await, 401);
    assert!(
        app.directory
            .user(org.id, user.id)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    let log = events(&app, &org).await;
    assert!(log.iter().any(|e| e.0 == "user.sign_out"));
}

#[tokio::test]
async fn console_erase_needs_the_user_name_typed_exactly_then_leaves_nothing_but_the_event() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let id = scim.user("Ada@acme.test").await;
    let g = scim
        .post(
            "/Groups",
            json!({"schemas": [GROUP_URN], "displayName": "Engineering", "members": [{"value": id}]}),
        )
        .await;
    let group_id = g.body["id"].as_str().unwrap().to_string();
    let cookie = login(&app, &scim.org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let admin = platform_admin(&app).await;
    let erase = format!("/admin/orgs/acme/users/{id}/erase");

    for wrong in ["", "ada@acme.test", "Ada@acme.test ", "someone"] {
        let r = admin.post(&app, &erase, &[("confirm", wrong)]).await;
        assert_eq!(r.status(), 400, "{wrong:?}");
        let body = r.text().await.unwrap();
        assert!(body.contains("Nothing was erased"), "{body}");
        assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    }
    assert_eq!(auth_check(&app, &cookie).await, 200, "nothing happened");

    let r = admin
        .post(&app, &erase, &[("confirm", "Ada@acme.test")])
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        "/admin/orgs/acme/users"
    );
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 404);
    let group = scim.get(&format!("/Groups/{group_id}")).await;
    assert!(
        group.body["members"]
            .as_array()
            .is_none_or(|m| m.is_empty()),
        "{:#}",
        group.body
    );
    assert_eq!(auth_check(&app, &cookie).await, 401);
    let (status, _) = admin
        .get(&app, &format!("/admin/orgs/acme/users/{id}"))
        .await;
    assert_eq!(status, 404);
    let (_, list) = admin.get(&app, "/admin/orgs/acme/users").await;
    assert!(!list.contains("Ada@acme.test"));
    let rows: i64 = sqlx::query_scalar("select count(*) from identities")
        .fetch_one(app.directory.db().reads())
        .await
        .unwrap();
    assert_eq!(rows, 0, "the link went with the user");
    let log = events(&app, &scim.org).await;
    assert!(log.iter().any(|e| e.0 == "user.erase" && e.1 == "success"));
    // The event log still names what happened to it, by id.
    let (_, events_page) = admin
        .get(&app, &format!("/admin/orgs/acme/events?user={id}"))
        .await;
    assert!(events_page.contains("Erased user") && events_page.contains(&id));
}

#[tokio::test]
async fn console_user_actions_refuse_a_missing_or_wrong_csrf_token() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let cookie = login(&app, &org, &okta("00u1", "ada@acme.test"))
        .await
        .unwrap();
    let user = app
        .directory
        .user_by_user_name(org.id, "ada@acme.test")
        .await
        .unwrap()
        .unwrap();
    let admin = platform_admin(&app).await;
    for action in ["deactivate", "reactivate", "sign-out", "erase"] {
        let path = app.url(&format!("/admin/orgs/acme/users/{}/{action}", user.id));
        for csrf in [None, Some("forged")] {
            let mut form = vec![("confirm", "ada@acme.test")];
            if let Some(c) = csrf {
                form.push(("csrf", c));
            }
            let r = admin.client.post(&path).form(&form).send().await.unwrap();
            assert_eq!(r.status(), 403, "{action} with {csrf:?}");
        }
    }
    let u = app.directory.user(org.id, user.id).await.unwrap().unwrap();
    assert!(u.active && !u.deleted);
    assert_eq!(auth_check(&app, &cookie).await, 200, "nothing changed");
    let log = events(&app, &org).await;
    assert!(!log
        .iter()
        .any(|e| e.0.starts_with("user.") && e.0 != "user.create"));
}

#[tokio::test]
async fn console_users_of_another_organisation_are_not_there() {
    let app = TestApp::spawn().await;
    let a = app.org("a", &["a.test"]).await;
    let b = app.org("b", &["b.test"]).await;
    let in_a = app
        .directory
        .create_user(a.id, user_data("ann@a.test"), &Actor::Cli)
        .await
        .unwrap();
    let b_admin = customer_admin(&app, &b, "boss@b.test").await;

    // Its own organisation: yes.
    let (status, page) = b_admin.get(&app, "/admin/orgs/b/users").await;
    assert_eq!(status, 200);
    assert!(page.contains("boss@b.test"));
    // Another one: not found, page and actions alike.
    for path in [
        "/admin/orgs/a/users".to_string(),
        format!("/admin/orgs/a/users/{}", in_a.id),
        "/admin/orgs/a/groups".to_string(),
        "/admin/orgs/a/events".to_string(),
        "/admin/orgs/a/events.csv".to_string(),
    ] {
        assert_eq!(b_admin.get(&app, &path).await.0, 404, "{path}");
    }
    for action in ["deactivate", "sign-out"] {
        let r = b_admin
            .post(
                &app,
                &format!("/admin/orgs/a/users/{}/{action}", in_a.id),
                &[],
            )
            .await;
        assert_eq!(r.status(), 404, "{action}");
    }
    // Org A's user under org B's slug is unknown as well.
    let (status, _) = b_admin
        .get(&app, &format!("/admin/orgs/b/users/{}", in_a.id))
        .await;
    assert_eq!(status, 404);
    let r = b_admin
        .post(
            &app,
            &format!("/admin/orgs/b/users/{}/deactivate", in_a.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 404);
    let r = b_admin
        .post(
            &app,
            &format!("/admin/orgs/b/users/{}/erase", in_a.id),
            &[("confirm", "ann@a.test")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let ann = app.directory.user(a.id, in_a.id).await.unwrap().unwrap();
    assert!(ann.active && !ann.deleted, "untouched");

    // A platform admin sees both.
    let root = platform_admin(&app).await;
    let (_, a_users) = root.get(&app, "/admin/orgs/a/users").await;
    assert!(a_users.contains("ann@a.test") && !a_users.contains("boss@b.test"));
    let (_, b_users) = root.get(&app, "/admin/orgs/b/users").await;
    assert!(b_users.contains("boss@b.test") && !b_users.contains("ann@a.test"));
    let (status, _) = root
        .get(&app, &format!("/admin/orgs/a/users/{}", in_a.id))
        .await;
    assert_eq!(status, 200);
    let (status, _) = root.get(&app, "/admin/orgs/a/users/not-a-uuid").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn console_customer_admin_actions_are_logged_with_its_identity() {
    let app = TestApp::spawn().await;
    let b = app.org("b", &["b.test"]).await;
    let bob = app
        .directory
        .create_user(b.id, user_data("bob@b.test"), &Actor::Cli)
        .await
        .unwrap();
    let boss = customer_admin(&app, &b, "boss@b.test").await;
    let boss_id = app
        .directory
        .user_by_user_name(b.id, "boss@b.test")
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = boss
        .post(
            &app,
            &format!("/admin/orgs/b/users/{}/deactivate", bob.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    let q = gatehouse::events::EventQuery {
        action: Some("user.deactivate".into()),
        limit: 10,
        ..Default::default()
    };
    let logged = gatehouse::events::list(app.directory.db().reads(), b.id, &q)
        .await
        .unwrap();
    assert_eq!(logged[0].actor, format!("org-admin:{boss_id}"));
    let (_, page) = boss.get(&app, "/admin/orgs/b/events").await;
    assert!(page.contains("boss@b.test (organisation admin)"), "{page}");
}

#[tokio::test]
async fn console_setup_link_sessions_cannot_open_users_groups_or_events() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &["acme.test"]).await;
    let user = app
        .directory
        .create_user(org.id, user_data("ada@acme.test"), &Actor::Cli)
        .await
        .unwrap();
    let setup = setup_session(&app, &org).await;
    for path in [
        "/admin/orgs/acme/users".to_string(),
        format!("/admin/orgs/acme/users/{}", user.id),
        "/admin/orgs/acme/groups".to_string(),
        "/admin/orgs/acme/events".to_string(),
        "/admin/orgs/acme/events.csv".to_string(),
    ] {
        assert_eq!(setup.get(&app, &path).await.0, 403, "{path}");
    }
    // With its own valid CSRF token, the buttons are refused as well.
    for action in ["deactivate", "sign-out", "erase"] {
        let r = setup
            .post(
                &app,
                &format!("/admin/orgs/acme/users/{}/{action}", user.id),
                &[("confirm", "ada@acme.test")],
            )
            .await;
        assert_eq!(r.status(), 403, "{action}");
    }
    let u = app.directory.user(org.id, user.id).await.unwrap().unwrap();
    assert!(u.active && !u.deleted);
}

#[tokio::test]
async fn deactivating_in_the_console_erases_the_user_where_the_organisation_says_so() {
    let app = TestApp::spawn().await;
    let org = app.org("spoke", &[]).await;
    app.directory
        .update_org(
            org.id,
            &[gatehouse::directory::orgs::OrgChange::parse("on_deactivate=delete").unwrap()],
            &Actor::Cli,
        )
        .await
        .unwrap();
    let user = app
        .directory
        .create_user(org.id, user_data("sam@spoke.test"), &Actor::Cli)
        .await
        .unwrap();
    let admin = platform_admin(&app).await;
    let (_, page) = admin
        .get(&app, &format!("/admin/orgs/spoke/users/{}", user.id))
        .await;
    assert!(
        page.contains("erases users when they are deactivated"),
        "{page}"
    );
    let r = admin
        .post(
            &app,
            &format!("/admin/orgs/spoke/users/{}/deactivate", user.id),
            &[],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin/orgs/spoke/users");
    assert!(app.directory.user(org.id, user.id).await.unwrap().is_none());
}
