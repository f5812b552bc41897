//! What `/auth/check` puts into its headers: never a control character or line break (a
//! name that holds one is percent-encoded), and a list whose items cannot be split by a
//! comma in a group's name.

use crate::sessions::{login, okta};
use crate::support::TestApp;

#[tokio::test]
async fn header_values_carry_no_line_break_and_a_comma_adds_no_group() {
    let app = TestApp::spawn().await;
    let org = app.org("acme", &[]).await;
    let mut a = okta("00u1", "ada\r\nX-Gatehouse-Org: globex\t%");
    a.email = Some("ada@acme.test".into());
    a.groups = Some(vec!["Sales, Admins".into(), "Staff".into()]);
    let cookie = login(&app, &org, &a).await.unwrap();

    let r = app.auth_check(&cookie).await;
    assert_eq!(r.status(), 200);
    let h = |n: &str| r.headers()[n].to_str().unwrap().to_string();
    assert_eq!(
        h("x-gatehouse-user"),
        "ada%0D%0AX-Gatehouse-Org: globex%09%25"
    );
    assert_eq!(h("x-gatehouse-org"), "acme");
    assert_eq!(r.headers().get_all("x-gatehouse-org").iter().count(), 1);
    let groups = h("x-gatehouse-groups");
    let mut items: Vec<&str> = groups.split(',').collect();
    items.sort();
    assert_eq!(items, ["Sales%2C Admins", "Staff"], "two groups, not three");
}
