//! Lists, filters, sorting, paging (index and cursor) and projection.

use std::collections::HashSet;

use gatehouse::directory::{Actor, UserId};
use serde_json::{json, Value};

use crate::support::scim::{Scim, ENTERPRISE_URN, USER_URN};
use crate::support::{user_data, TestApp};

/// Seeds users straight into the directory (the walk, not the creation, is under test).
async fn seed(scim: &Scim<'_>, n: usize, prefix: &str) -> Vec<String> {
    let people = (0..n)
        .map(|i| user_data(&format!("{prefix}{i:05}@acme.test")))
        .collect();
    let ids = scim
        .app
        .directory
        .import_users(scim.org.id, people, &Actor::Cli)
        .await
        .unwrap();
    ids.iter().map(ToString::to_string).collect()
}

/// Walks /Users as Okta's import does: startIndex 1, 101, … while below totalResults.
async fn okta_walk(scim: &Scim<'_>, mut between_pages: impl FnMut(usize)) -> Vec<String> {
    let mut seen = Vec::new();
    let mut start = 1;
    let mut page = 0;
    loop {
        let s = start.to_string();
        let r = scim
            .list("/Users", &[("startIndex", s.as_str()), ("count", "100")])
            .await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        assert_eq!(r.body["startIndex"], start);
        assert!(r.body["totalResults"].is_i64() && r.body["itemsPerPage"].is_i64());
        seen.extend(r.ids());
        let total = r.body["totalResults"].as_i64().unwrap();
        start += 100;
        page += 1;
        between_pages(page);
        if start > total {
            return seen;
        }
    }
}

#[tokio::test]
async fn an_okta_import_of_2500_users_returns_each_exactly_once() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = seed(&scim, 2500, "u").await;
    let seen = okta_walk(&scim, |_| {}).await;
    assert_eq!(seen.len(), 2500);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        2500,
        "no duplicates"
    );
    assert_eq!(seen, ids, "in creation order");
}

#[tokio::test]
async fn a_walk_misses_no_user_that_lived_throughout_while_others_come_and_go() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = seed(&scim, 600, "u").await;
    // Every third user is deleted during the walk, mostly behind the walker's position.
    let doomed: Vec<String> = ids.iter().step_by(3).cloned().collect();
    let survivors: HashSet<String> = ids
        .iter()
        .filter(|i| !doomed.contains(i))
        .cloned()
        .collect();
    // After each page the walker reports in; the churn then deletes the next batch (the
    // earliest first, so most of them sit behind the walker) and creates as many users.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let walk = okta_walk(&scim, move |page| {
        let _ = tx.send(page);
    });
    let churn = async {
        let mut batches = doomed.chunks(40);
        let mut created = 0;
        while rx.recv().await.is_some() {
            let Some(batch) = batches.next() else { break };
            for id in batch {
                let id = UserId::parse(id).unwrap();
                app.directory
                    .delete_user(scim.org.id, id, &Actor::Cli)
                    .await
                    .unwrap();
                let name = format!("new{created}@acme.test");
                app.directory
                    .create_user(scim.org.id, user_data(&name), &Actor::Cli)
                    .await
                    .unwrap();
                created += 1;
            }
        }
        assert!(
            created >= 80,
            "the churn ran during the walk ({created} replaced)"
        );
    };
    let (seen, ()) = tokio::join!(walk, churn);
    let seen: HashSet<String> = seen.into_iter().collect();
    let missed: Vec<_> = survivors.difference(&seen).collect();
    assert!(
        missed.is_empty(),
        "missed {} users that lived throughout",
        missed.len()
    );
}

#[tokio::test]
async fn count_zero_gives_only_the_total_and_counts_are_capped() {
    let app = TestApp::spawn_with(|c| c.scim.max_results = 5).await;
    let scim = Scim::new(&app, "acme").await;
    seed(&scim, 8, "c").await;
    let r = scim.list("/Users", &[("count", "0")]).await;
    assert_eq!(r.body["totalResults"], 8);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["Resources"], json!([]));
    let r = scim.list("/Users", &[("count", "50")]).await;
    assert_eq!(r.body["itemsPerPage"], 5, "capped by scim.max_results");
    let r = scim.list("/Users", &[("startIndex", "7")]).await;
    assert_eq!(r.ids().len(), 2);
}

#[tokio::test]
async fn cursor_pages_reach_every_user_once() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = seed(&scim, 25, "k").await;
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = scim
            .list("/Users", &[("cursor", cursor.as_str()), ("count", "10")])
            .await;
        assert_eq!(r.status, 200, "{:#}", r.body);
        assert_eq!(r.body["totalResults"], 25);
        seen.extend(r.ids());
        match r.body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(seen, ids);
    let r = scim.list("/Users", &[("cursor", "not-a-cursor")]).await;
    assert_eq!(r.assert_error(400)["scimType"], "invalidCursor");
}

#[tokio::test]
async fn sort_by_user_name_and_order() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    for name in ["bravo@x.test", "Alpha@x.test", "charlie@x.test"] {
        scim.user(name).await;
    }
    let names = |r: &crate::support::scim::Reply| -> Vec<String> {
        r.body["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["userName"].as_str().unwrap().to_string())
            .collect()
    };
    let r = scim.list("/Users", &[("sortBy", "userName")]).await;
    assert_eq!(
        names(&r),
        ["Alpha@x.test", "bravo@x.test", "charlie@x.test"]
    );
    let r = scim
        .list(
            "/Users",
            &[("sortBy", "userName"), ("sortOrder", "descending")],
        )
        .await;
    assert_eq!(
        names(&r),
        ["charlie@x.test", "bravo@x.test", "Alpha@x.test"]
    );
    let r = scim
        .list(
            "/Users",
            &[
                ("sortBy", "userName"),
                ("filter", "userName co \"a\""),
                ("sortOrder", "descending"),
            ],
        )
        .await;
    assert_eq!(
        names(&r),
        ["charlie@x.test", "bravo@x.test", "Alpha@x.test"]
    );
    scim.list("/Users", &[("sortBy", "title")])
        .await
        .assert_error(400);
}

async fn people(scim: &Scim<'_>) -> Vec<String> {
    let bodies = [
        json!({"schemas": [USER_URN, ENTERPRISE_URN], "userName": "ann@acme.test", "externalId": "E-1", "title": "Engineer",
               "emails": [{"value": "Ann@Acme.test", "type": "work"}, {"value": "ann@home.test", "type": "home"}],
               ENTERPRISE_URN: {"employeeNumber": "701984", "department": "R&D"}}),
        json!({"schemas": [USER_URN], "userName": "bob@acme.test", "externalId": "e-1", "title": "Sales", "active": false,
               "emails": [{"value": "bob@acme.test", "type": "work"}]}),
        json!({"schemas": [USER_URN], "userName": "cat@other.test", "nickName": "Kitty"}),
    ];
    let mut ids = vec![];
    for b in bodies {
        let r = scim.post("/Users", b).await;
        assert_eq!(r.status, 201, "{:#}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    ids
}

#[tokio::test]
async fn filters_follow_the_whole_grammar_with_each_attributes_case_rule() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = people(&scim).await;
    let (ann, bob, cat) = (&ids[0], &ids[1], &ids[2]);
    let q = |f: &'static str| {
        let scim = &scim;
        async move {
            let r = scim.list("/Users", &[("filter", f)]).await;
            assert_eq!(r.status, 200, "{f}: {:#}", r.body);
            let mut got = r.ids();
            got.sort();
            got
        }
    };
    let set = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        q("userName eq \"ANN@acme.test\"").await,
        set(&[ann]),
        "userName is caseExact false"
    );
    assert_eq!(
        q("externalId eq \"E-1\"").await,
        set(&[ann]),
        "externalId is caseExact"
    );
    assert_eq!(q("emails.value eq \"ann@acme.test\"").await, set(&[ann]));
    assert_eq!(
        q("emails[type eq \"work\" and value co \"@acme\"]").await,
        set(&[ann, bob])
    );
    assert_eq!(
        q("emails[type eq \"work\"].value eq \"bob@acme.test\"").await,
        set(&[bob]),
        "Entra's form"
    );
    assert_eq!(
        q("userName sw \"b\" or nickName pr").await,
        set(&[bob, cat])
    );
    assert_eq!(q("not (userName ew \"acme.test\")").await, set(&[cat]));
    assert_eq!(q("active eq false").await, set(&[bob]));
    assert_eq!(q("title ne \"Sales\"").await, set(&[ann, cat]));
    assert_eq!(
        q("userName co \"acme\" and (title eq \"sales\" or title eq \"engineer\")").await,
        set(&[ann, bob])
    );
    assert_eq!(
        q("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"701984\"").await,
        set(&[ann])
    );
    assert_eq!(
        q("meta.created gt \"2000-01-01T00:00:00Z\"").await,
        set(&[ann, bob, cat])
    );
    let id_filter = format!("id eq \"{ann}\"");
    let r = scim.list("/Users", &[("filter", id_filter.as_str())]).await;
    assert_eq!(r.ids(), std::slice::from_ref(ann));
    assert_eq!(q("id eq \"not-a-uuid\"").await, Vec::<String>::new());
    assert_eq!(
        q("USERNAME EQ \"cat@other.test\"").await,
        set(&[cat]),
        "operators in any case"
    );
}

#[tokio::test]
async fn projection_on_reads_lists_and_searches() {
    let app = TestApp::spawn().await;
    let scim = Scim::new(&app, "acme").await;
    let ids = people(&scim).await;
    let ann = &ids[0];
    let r = scim
        .get(&format!("/Users/{ann}?attributes=externalId"))
        .await;
    assert_eq!(r.body["externalId"], "E-1");
    assert_eq!(r.body["id"], json!(ann));
    assert!(r.body.get("userName").is_none() && r.body.get("emails").is_none());
    let r = scim
        .get(&format!("/Users/{ann}?excludedAttributes=name,emails"))
        .await;
    assert!(r.body.get("emails").is_none());
    assert_eq!(r.body["userName"], "ann@acme.test");

    let r = scim
        .list("/Users", &[("attributes", "userName,emails.value")])
        .await;
    let first = &r.body["Resources"][0];
    assert_eq!(
        first["emails"],
        json!([{"value": "Ann@Acme.test"}, {"value": "ann@home.test"}])
    );
    assert!(first.get("title").is_none());

    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                        "attributes": ["externalId"], "filter": "userName eq \"ann@acme.test\""});
    for path in ["/.search", "/Users/.search"] {
        let r = scim.post(path, search.clone()).await;
        assert_eq!(r.status, 200, "{path}: {:#}", r.body);
        assert_eq!(r.ids(), std::slice::from_ref(ann));
        assert_eq!(
            r.body["Resources"][0],
            json!({"schemas": [USER_URN, ENTERPRISE_URN], "id": ann, "externalId": "E-1"})
        );
    }
    let r = scim
        .post("/.search", json!({"excludedAttributes": ["name"]}))
        .await;
    assert_eq!(r.body["totalResults"], 3);
    let none: Vec<&Value> = r.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u.get("name").is_some())
        .collect();
    assert!(none.is_empty());
}
