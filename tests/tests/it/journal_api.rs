//! The analyst API (`/v1/journal/events`, `/v1/journal/export`, `/v1/analytics/summary`) and
//! `oneclass-hub journal verify`.

use oneclass_actors::Role;
use oneclass_protocol::Codec;
use oneclass_tests::{ch, journal_verify, token, TestHub};
use serde_json::Value;

const RANGE: &str = "from=2020-01-01&to=2100-01-01";

async fn seed(hub: &TestHub, n: u64) {
    let (mut t, _) = hub
        .connect(Codec::Json, &token("t1", "s1", Role::Teacher, &["c1"]))
        .await;
    for i in 0..n {
        t.publish(
            &ch("class:s1:c1"),
            &format!("secret text {i}"),
            Some(&format!("k{i}")),
        )
        .await
        .unwrap();
    }
    let (mut other, _) = hub
        .connect(Codec::Json, &token("t9", "s2", Role::Teacher, &["c1"]))
        .await;
    other
        .publish(&ch("class:s2:c1"), "another school", None)
        .await
        .unwrap();
}

async fn get(hub: &TestHub, path: &str, who: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(hub.http_url(path))
        .bearer_auth(who)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_analyst_pages_through_metadata_only_events_of_their_school() {
    let hub = TestHub::spawn();
    seed(&hub, 7).await;
    let analyst = token("an1", "s1", Role::Analyst, &[]);
    let mut seen = Vec::new();
    let mut page_token: Option<String> = None;
    loop {
        let mut path = format!("/v1/journal/events?school=s1&{RANGE}&kind=chat.&limit=3");
        if let Some(t) = &page_token {
            path.push_str(&format!("&page_token={t}"));
        }
        let body: Value = get(&hub, &path, &analyst).await.json().await.unwrap();
        for e in body["events"].as_array().unwrap() {
            assert_eq!(e["school_id"], "s1");
            assert_eq!(e["kind"], "chat.message.posted");
            assert!(e.get("payload").is_none(), "metadata only by default: {e}");
            seen.push(e["seq"].as_u64().unwrap());
        }
        match body["next_page_token"].as_str() {
            Some(t) => page_token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (1..=7).collect::<Vec<_>>(),
        "every event once, in order"
    );
}

#[tokio::test]
async fn parents_and_other_schools_analysts_are_refused() {
    let hub = TestHub::spawn();
    seed(&hub, 1).await;
    for who in [
        token("p1", "s1", Role::Parent, &["c1"]),
        token("an2", "s2", Role::Analyst, &[]),
        token("t1", "s1", Role::Teacher, &["c1"]),
    ] {
        for path in [
            format!("/v1/journal/events?school=s1&{RANGE}"),
            format!("/v1/journal/export?school=s1&{RANGE}"),
            format!("/v1/analytics/summary?school=s1&{RANGE}"),
        ] {
            assert_eq!(get(&hub, &path, &who).await.status(), 403, "{path}");
        }
    }
}

#[tokio::test]
async fn bodies_appear_only_for_an_admin_with_a_reason_and_the_access_is_journaled() {
    let hub = TestHub::spawn();
    seed(&hub, 2).await;
    let analyst = token("an1", "s1", Role::Analyst, &[]);
    let admin = token("a1", "s1", Role::Admin, &[]);
    let with_bodies =
        format!("/v1/journal/events?school=s1&{RANGE}&kind=chat.&include_bodies=true");
    assert_eq!(
        get(
            &hub,
            &format!("{with_bodies}&reason=investigating%20a%20complaint"),
            &analyst
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        get(&hub, &with_bodies, &admin).await.status(),
        400,
        "a reason is required"
    );
    let body: Value = get(
        &hub,
        &format!("{with_bodies}&reason=investigating%20a%20complaint"),
        &admin,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        body["events"][0]["payload"]["body"]["text"],
        "secret text 0"
    );
    let audit: Value = get(
        &hub,
        &format!("/v1/journal/events?school=s1&{RANGE}&kind=audit."),
        &analyst,
    )
    .await
    .json()
    .await
    .unwrap();
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"], "a1");
    assert_eq!(events[0]["stream"], "audit:s1");
}

#[tokio::test]
async fn export_streams_ndjson_and_csv_with_a_header_and_summary_counts_per_day_and_kind() {
    let hub = TestHub::spawn();
    seed(&hub, 5).await;
    let analyst = token("an1", "s1", Role::Analyst, &[]);
    let ndjson = get(
        &hub,
        &format!("/v1/journal/export?school=s1&{RANGE}&kind=chat."),
        &analyst,
    )
    .await
    .text()
    .await
    .unwrap();
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert!(lines
        .iter()
        .all(|l| l["school_id"] == "s1" && l.get("payload").is_none()));
    let csv = get(
        &hub,
        &format!("/v1/journal/export?school=s1&{RANGE}&format=csv&kind=chat."),
        &analyst,
    )
    .await
    .text()
    .await
    .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "school_id,day,event_id,stream,seq,kind,actor,occurred_at,hash"
    );
    assert_eq!(rows.len(), 6);
    let bad = get(
        &hub,
        &format!("/v1/journal/export?school=s1&{RANGE}&format=xml"),
        &analyst,
    )
    .await;
    assert_eq!(bad.status(), 400);

    let summary: Value = get(
        &hub,
        &format!("/v1/analytics/summary?school=s1&{RANGE}"),
        &analyst,
    )
    .await
    .json()
    .await
    .unwrap();
    let days = summary["days"].as_array().unwrap();
    assert_eq!(days.len(), 1);
    assert_eq!(days[0]["counts"]["chat.message.posted"], 5);
}

#[tokio::test]
async fn journal_verify_passes_an_intact_journal_and_names_a_tampered_row() {
    let mut hub = TestHub::spawn();
    seed(&hub, 4).await;
    hub.stop().await;
    let run = || journal_verify(&hub.data_dir);
    let ok = run();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"));

    let db = rusqlite::Connection::open(hub.data_dir.join("journal.db")).unwrap();
    db.execute(
        "UPDATE events SET actor = 'mallory' WHERE stream = 'class:s1:c1' AND seq = 3",
        [],
    )
    .unwrap();
    drop(db);
    let broken = run();
    assert_eq!(broken.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(
        stderr.contains("class:s1:c1") && stderr.contains("seq 3"),
        "{stderr}"
    );
}
