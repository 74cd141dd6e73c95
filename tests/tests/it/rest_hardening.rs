//! The REST API under bad input (issue 9, L2-L4): every error is the JSON error shape (bad query
//! strings, unknown routes, wrong methods, oversized bodies), the analyst routes agree on what a
//! time range is, roster contact fields are checked and normalised before anything is stored,
//! and the member list comes in bounded pages.

use oneclass_actors::Role;
use oneclass_tests::{token, TestHub};
use serde_json::{json, Value};

/// The status and the JSON error body of a response that must be an error in the JSON shape.
async fn json_error(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let text = resp.text().await.unwrap();
    assert_eq!(
        content_type.as_deref(),
        Some("application/json"),
        "{status} with body {:.300}",
        text
    );
    let body: Value = serde_json::from_str(&text).unwrap();
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "the error shape, got {status}: {:.300}",
        text
    );
    (status, body)
}

fn admin() -> String {
    token("a1", "s1", Role::Admin, &[])
}

async fn put_member(hub: &TestHub, user: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .put(hub.http_url(&format!("/v1/schools/s1/members/{user}")))
        .bearer_auth(admin())
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn get_member(hub: &TestHub, user: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(hub.http_url(&format!("/v1/schools/s1/members/{user}")))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_bad_query_string_is_a_json_400() {
    let hub = TestHub::spawn();
    let analyst = token("an1", "s1", Role::Analyst, &[]);
    let http = reqwest::Client::new();
    // serde names a missing parameter, not one whose value does not parse.
    for (path, names) in [
        ("/v1/analytics/summary?school=s1&from=2026-01-01", "to"),
        (
            "/v1/journal/events?school=s1&from=2026-01-01&to=2026-02-01&limit=many",
            "invalid query string",
        ),
        ("/v1/schools/s1/members?limit=-1", "invalid query string"),
    ] {
        let resp = http
            .get(hub.http_url(path))
            .bearer_auth(if path.contains("members") {
                admin()
            } else {
                analyst.clone()
            })
            .send()
            .await
            .unwrap();
        let (status, body) = json_error(resp).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["error"]["code"], "bad_request");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{path}: {message}");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let hub = TestHub::spawn();
    for path in [
        "/v1/nothing-here",
        "/v1/schools/s1/members/p1/extra",
        "/ws/x",
    ] {
        let resp = reqwest::Client::new()
            .get(hub.http_url(path))
            .send()
            .await
            .unwrap();
        let (status, body) = json_error(resp).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["error"]["code"], "not_found");
    }
}

#[tokio::test]
async fn a_wrong_method_on_a_known_route_is_a_json_405_with_allow() {
    let hub = TestHub::spawn();
    let http = reqwest::Client::new();
    for (method, path, allow) in [
        (reqwest::Method::GET, "/v1/notifications", "POST"),
        (
            reqwest::Method::PATCH,
            "/v1/schools/s1/members/p1",
            "PUT, GET, DELETE",
        ),
        (reqwest::Method::POST, "/v1/analytics/summary", "GET"),
        (reqwest::Method::DELETE, "/metrics", "GET"),
        (reqwest::Method::POST, "/ws", "GET"),
    ] {
        let resp = http
            .request(method.clone(), hub.http_url(path))
            .bearer_auth(admin())
            .send()
            .await
            .unwrap();
        let allowed = resp
            .headers()
            .get(reqwest::header::ALLOW)
            .map(|v| v.to_str().unwrap().to_owned());
        let (status, body) = json_error(resp).await;
        assert_eq!(status, 405, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "method_not_allowed");
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
    }
    // The routes themselves still answer as before.
    let metrics = http.get(hub.http_url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
}

#[tokio::test]
async fn an_oversized_or_malformed_body_is_a_json_error() {
    let hub = TestHub::spawn_with(|s| s.server.max_request_bytes = 4096);
    let http = reqwest::Client::new();
    let big = json!({"role": "parent", "display_name": "x".repeat(5000)});
    let (status, body) = json_error(put_member(&hub, "p1", &big).await).await;
    assert_eq!((status, &body["error"]["code"]), (413, &json!("too_large")));
    let resp = http
        .post(hub.http_url("/v1/notifications"))
        .bearer_auth(admin())
        .header("Idempotency-Key", "k1")
        .header("Content-Type", "application/json")
        .body("{\"school\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = json_error(resp).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (400, &json!("bad_request"))
    );
}

#[tokio::test]
async fn every_analyst_route_refuses_a_range_whose_to_is_before_from() {
    let hub = TestHub::spawn();
    let analyst = token("an1", "s1", Role::Analyst, &[]);
    for route in [
        "/v1/analytics/summary",
        "/v1/journal/events",
        "/v1/journal/export",
    ] {
        for range in [
            "from=2026-02-01&to=2026-01-01",
            "from=2026-01-01&to=2026-01-01",
        ] {
            let resp = reqwest::Client::new()
                .get(hub.http_url(&format!("{route}?school=s1&{range}")))
                .bearer_auth(&analyst)
                .send()
                .await
                .unwrap();
            let (status, body) = json_error(resp).await;
            assert_eq!(status, 400, "{route}?{range}: {body}");
            assert_eq!(body["error"]["message"], "`to` must be after `from`");
        }
    }
}

#[tokio::test]
async fn each_bad_roster_field_is_a_400_naming_it_and_nothing_is_stored() {
    let hub = TestHub::spawn();
    let tokens: Vec<String> = (0..11).map(|i| format!("tok{i}")).collect();
    let cases = [
        (
            json!({"contacts": {"phone": "7".repeat(200_000)}}),
            "contacts.phone",
        ),
        (
            json!({"contacts": {"phone": "+27821234567"}}),
            "contacts.phone",
        ),
        (
            json!({"contacts": {"phone": "0771234567\u{0}"}}),
            "contacts.phone",
        ),
        (
            json!({"contacts": {"phone": "\u{202E}0771234567"}}),
            "contacts.phone",
        ),
        (
            json!({"contacts": {"email": "not-an-email"}}),
            "contacts.email",
        ),
        (
            json!({"contacts": {"email": "t\u{202E}@example.org"}}),
            "contacts.email",
        ),
        (
            json!({"contacts": {"email": format!("{}@example.org", "a".repeat(300))}}),
            "contacts.email",
        ),
        (
            json!({"contacts": {"push_tokens": ["has space"]}}),
            "contacts.push_tokens[0]",
        ),
        (
            json!({"contacts": {"push_tokens": ["ok", "x".repeat(600)]}}),
            "contacts.push_tokens[1]",
        ),
        (
            json!({"contacts": {"push_tokens": tokens}}),
            "contacts.push_tokens",
        ),
        (
            json!({"display_name": "evil\u{202E}gpj.exe"}),
            "display_name",
        ),
        (json!({"display_name": "nul\u{0}"}), "display_name"),
        (json!({"display_name": "n".repeat(101)}), "display_name"),
        (json!({"classes": ["c1", "not an id"]}), "classes[1]"),
        (json!({"preferences": ["sms", "pigeon"]}), "preferences[1]"),
    ];
    for (fields, field) in cases {
        let mut body = json!({"role": "parent"});
        body.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let (status, err) = json_error(put_member(&hub, "p1", &body).await).await;
        assert_eq!(status, 400, "{field}: {err}");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("member `p1`: `{field}` ")),
            "names member and field {field}: {message}"
        );
        assert!(message.len() < 400, "a short message: {message}");
        assert_eq!(
            get_member(&hub, "p1").await.status(),
            404,
            "{field}: stored"
        );
    }
}

#[tokio::test]
async fn a_local_zimbabwe_number_is_stored_in_e164() {
    let hub = TestHub::spawn();
    let body = json!({"role": "parent", "display_name": " Tendai Moyo ",
        "contacts": {"phone": "0771 234 567", "email": "tendai@example.co.zw",
                     "push_tokens": ["fcm-token:APA91b_x", "fcm-token:APA91b_x"]}});
    let resp = put_member(&hub, "p1", &body).await;
    assert_eq!(resp.status(), 200);
    let stored: Value = get_member(&hub, "p1").await.json().await.unwrap();
    assert_eq!(stored["contacts"]["phone"], "+263771234567");
    assert_eq!(
        stored["contacts"]["push_tokens"],
        json!(["fcm-token:APA91b_x"])
    );
    assert_eq!(stored["display_name"], "Tendai Moyo");
    // The same member written in another spelling is the same member: nothing changes.
    let again = json!({"role": "parent", "display_name": "Tendai Moyo",
        "contacts": {"phone": "+263771234567", "email": "tendai@example.co.zw",
                     "push_tokens": ["fcm-token:APA91b_x"]}});
    let resp = put_member(&hub, "p1", &again).await;
    assert_eq!(resp.json::<Value>().await.unwrap(), stored);
}

#[tokio::test]
async fn the_member_list_comes_in_bounded_pages_with_every_member_once() {
    const MAX: usize = 10;
    let hub = TestHub::spawn_with(|s| s.limits.member_page_max = MAX);
    let users: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
    for (i, user) in users.iter().enumerate() {
        let class = if i % 2 == 0 { "c1" } else { "c2" };
        let resp = put_member(&hub, user, &json!({"role": "parent", "classes": [class]})).await;
        assert_eq!(resp.status(), 200);
    }
    let http = reqwest::Client::new();
    let page = |query: String| {
        let http = http.clone();
        let url = hub.http_url(&format!("/v1/schools/s1/members?{query}"));
        async move {
            let resp = http.get(url).bearer_auth(admin()).send().await.unwrap();
            assert_eq!(resp.status(), 200);
            let bytes = resp.bytes().await.unwrap();
            assert!(bytes.len() < 4096, "a bounded page: {} bytes", bytes.len());
            serde_json::from_slice::<Value>(&bytes).unwrap()
        }
    };
    for (filter, expected) in [
        ("", users.clone()),
        (
            "class=c2&",
            users.iter().skip(1).step_by(2).cloned().collect(),
        ),
    ] {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = format!("{filter}limit=7");
            if let Some(a) = &after {
                query.push_str(&format!("&after={a}"));
            }
            let body = page(query).await;
            let members = body["members"].as_array().unwrap();
            assert!(members.len() <= 7);
            seen.extend(
                members
                    .iter()
                    .map(|m| m["user"].as_str().unwrap().to_owned()),
            );
            match body["next_after"].as_str() {
                Some(a) => after = Some(a.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "every member once, in order ({filter:?})");
    }
    // No limit: one page of at most the configured maximum.
    let first = page(String::new()).await;
    assert_eq!(first["members"].as_array().unwrap().len(), MAX);
    assert_eq!(first["next_after"], "p09");
    // Above the maximum is refused, in the JSON shape.
    let resp = http
        .get(hub.http_url(&format!("/v1/schools/s1/members?limit={}", MAX + 1)))
        .bearer_auth(admin())
        .send()
        .await
        .unwrap();
    let (status, body) = json_error(resp).await;
    assert_eq!(status, 400, "{body}");
}
