//! Revoking a token closes its sessions with 4003 and refuses it afterwards, also after a restart.

use oneclass_actors::Role;
use oneclass_hub::auth::mint;
use oneclass_protocol::client::Client;
use oneclass_protocol::Codec;
use oneclass_tests::{claims, token, within, TestHub, SECRET};

fn token_with_jti(user: &str, jti: &str) -> String {
    let mut c = claims(user, "s1", Role::Parent, &["c1"]);
    c.jti = Some(jti.into());
    mint(SECRET, &c)
}

async fn revoke(hub: &TestHub, who: &str, victim: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(hub.http_url("/v1/auth/revoke"))
        .bearer_auth(who)
        .json(&serde_json::json!({ "token": victim }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_revoked_token_closes_its_sessions_with_4003_and_cannot_connect_again() {
    let hub = TestHub::spawn();
    let victim = token_with_jti("p1", "jti-1");
    let (mut open, _) = hub.connect(Codec::Json, &victim).await;
    let (mut other, _) = hub
        .connect(Codec::Json, &token_with_jti("p2", "jti-2"))
        .await;

    // Another school's admin and a parent may not revoke it.
    assert_eq!(
        revoke(&hub, &token("a9", "s2", Role::Admin, &[]), &victim)
            .await
            .status(),
        403
    );
    assert_eq!(
        revoke(&hub, &token("p3", "s1", Role::Parent, &["c1"]), &victim)
            .await
            .status(),
        403
    );

    let resp = revoke(&hub, &token("a1", "s1", Role::Admin, &[]), &victim).await;
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["closed_sessions"], 1);
    assert_eq!(within(5, open.closed()).await, Some(4003));

    let mut again = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    again
        .send(oneclass_protocol::Command::Connect {
            token: victim.clone(),
            resume: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(within(5, again.closed()).await, Some(4003));

    // The other session is untouched.
    let _: oneclass_protocol::reply::Empty = other
        .request_ok(oneclass_protocol::Command::Ping)
        .await
        .unwrap();

    // The revocation is journaled: it survives a restart.
    let hub = hub.restart().await;
    let mut after = Client::open(&hub.ws_url(), Codec::Json).await.unwrap();
    after
        .send(oneclass_protocol::Command::Connect {
            token: victim,
            resume: Default::default(),
        })
        .await
        .unwrap();
    assert_eq!(within(5, after.closed()).await, Some(4003));
}

#[tokio::test]
async fn a_token_without_jti_cannot_be_revoked() {
    let hub = TestHub::spawn();
    let resp = revoke(
        &hub,
        &token("a1", "s1", Role::Admin, &[]),
        &token("p1", "s1", Role::Parent, &[]),
    )
    .await;
    assert_eq!(resp.status(), 400);
}
