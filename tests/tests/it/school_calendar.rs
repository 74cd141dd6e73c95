//! The school calendar API: `PUT`/`GET /v1/schools/{school}/calendar` set and read the calendar,
//! bad calendars are 400s naming the field, only admins and services of the school may use it,
//! and a set calendar is journaled, so it survives a restart.

use oneclass_actors::Role;
use oneclass_tests::{token, TestHub};
use serde_json::{json, Value};

async fn put(hub: &TestHub, who: &str, school: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .put(hub.http_url(&format!("/v1/schools/{school}/calendar")))
        .bearer_auth(who)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn get(hub: &TestHub, who: &str, school: &str) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .get(hub.http_url(&format!("/v1/schools/{school}/calendar")))
        .bearer_auth(who)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

fn term_calendar() -> Value {
    json!({
        "time_zone": "Africa/Harare",
        "quiet_hours": {"start": "21:00", "end": "06:00"},
        "no_disturb": [
            {"name": "Term 1 exams", "from": "2026-03-16", "to": "2026-03-27"},
            {"name": "April holiday", "from": "2026-04-10", "to": "2026-05-04"},
        ],
    })
}

#[tokio::test]
async fn a_set_calendar_is_read_back_and_survives_a_restart() {
    let hub = TestHub::spawn();
    let admin = token("a1", "s1", Role::Admin, &[]);
    // Never set: the default.
    let (status, body) = get(&hub, &admin, "s1").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"time_zone": "Africa/Harare", "no_disturb": []})
    );
    let (status, body) = put(&hub, &admin, "s1", &term_calendar()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, term_calendar());
    // A service of the school may replace it; the time zone defaults.
    let service = token("svc", "s1", Role::Service, &[]);
    let only_quiet = json!({"quiet_hours": {"start": "20:00", "end": "07:00"}});
    let (status, body) = put(&hub, &service, "s1", &only_quiet).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["time_zone"], "Africa/Harare");
    let (status, body) = put(&hub, &admin, "s1", &term_calendar()).await;
    assert_eq!((status, &body), (200, &term_calendar()));
    // Another school is untouched.
    let other = token("a2", "s2", Role::Admin, &[]);
    assert_eq!(get(&hub, &other, "s2").await.1["no_disturb"], json!([]));

    let hub = hub.restart().await;
    let (status, body) = get(&hub, &admin, "s1").await;
    assert_eq!((status, body), (200, term_calendar()));
}

#[tokio::test]
async fn bad_calendars_are_400s_naming_the_problem_and_change_nothing() {
    let hub = TestHub::spawn();
    let admin = token("a1", "s1", Role::Admin, &[]);
    assert_eq!(put(&hub, &admin, "s1", &term_calendar()).await.0, 200);
    let too_many: Vec<Value> = (0..101)
        .map(|i| {
            let day = format!("2026-{:02}-{:02}", 1 + i / 28, 1 + i % 28);
            json!({"name": format!("p{i}"), "from": day, "to": day})
        })
        .collect();
    let cases = [
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (
            json!({"quiet_hours": {"start": "21:00", "end": "24:30"}}),
            "quiet_hours.end",
        ),
        (
            json!({"quiet_hours": {"start": "06:00", "end": "06:00"}}),
            "must not be empty",
        ),
        (
            json!({"no_disturb": [{"name": "x", "from": "2026-05-02", "to": "2026-05-01"}]}),
            "ends (2026-05-01) before it starts",
        ),
        (
            json!({"no_disturb": [
                {"name": "exams", "from": "2026-06-01", "to": "2026-06-10"},
                {"name": "holiday", "from": "2026-06-10", "to": "2026-06-20"}]}),
            "overlap",
        ),
        (
            json!({"no_disturb": [{"name": "x", "from": "1 May", "to": "2026-05-01"}]}),
            "no_disturb[0].from",
        ),
        (
            json!({"no_disturb": too_many}),
            "101 periods, over the limit of 100",
        ),
        (json!({"timezone": "Africa/Harare"}), "unknown field"),
    ];
    for (body, expected) in cases {
        let (status, answer) = put(&hub, &admin, "s1", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "bad_request", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(expected), "{body}: {message}");
    }
    assert_eq!(get(&hub, &admin, "s1").await.1, term_calendar());
}

#[tokio::test]
async fn teachers_parents_and_other_schools_are_forbidden_and_wrong_methods_are_405() {
    let hub = TestHub::spawn();
    for who in [
        token("t1", "s1", Role::Teacher, &["c1"]),
        token("p1", "s1", Role::Parent, &["c1"]),
        token("a2", "s2", Role::Admin, &[]),
    ] {
        let (status, body) = put(&hub, &who, "s1", &term_calendar()).await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (403, json!("forbidden"))
        );
        assert_eq!(get(&hub, &who, "s1").await.0, 403);
    }
    let admin = token("a1", "s1", Role::Admin, &[]);
    assert_eq!(get(&hub, &admin, "s1").await.1["no_disturb"], json!([]));
    let resp = reqwest::Client::new()
        .delete(hub.http_url("/v1/schools/s1/calendar"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "PUT, GET");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}
