//! Property tests of the REST bodies and query strings, against the hub's real app in-process
//! (`actix_web::test`, the same [`oneclass_hub::startup::app`] the server runs, on an in-memory
//! journal): whatever JSON or bytes arrive, the answer is a 2xx or a 4xx in the JSON error shape,
//! never a 5xx, a panic or a `text/plain` error.
//!
//! Each property runs [`DEFAULT_CASES`] cases so CI stays within seconds. A longer campaign:
//! `PROPTEST_CASES=100000 cargo test -p oneclass-hub --test it rest_bodies:: --release`.
//! A failure prints the shrunk request; turn it into a case of `tests/tests/it/rest_hardening.rs`
//! before fixing it.

use std::sync::Arc;

use actix_web::http::{header, Method};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use oneclass_actors::metrics::Metrics;
use oneclass_actors::rate_limit::RateLimiters;
use oneclass_actors::{Limits, Role};
use oneclass_hub::auth::{mint, now_s, JwtAuthenticator};
use oneclass_hub::config::Settings;
use oneclass_hub::startup::{app, AppState};
use oneclass_protocol::token::{Claims, DEFAULT_AUDIENCE, DEFAULT_ISSUER};
use oneclass_storage::MemoryJournal;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};

use crate::support::SECRET;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
const DEFAULT_CASES: u32 = 200;
/// The request-body limit of the app under test: small, so oversized bodies are generated too.
const MAX_REQUEST: usize = 8 * 1024;

/// One generated request.
#[derive(Debug, Clone)]
struct Req {
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

fn admin_token() -> String {
    let now = now_s();
    mint(
        SECRET,
        &Claims {
            sub: "a1".into(),
            school: "s1".into(),
            role: Role::Admin,
            classes: vec![],
            exp: now + 3600,
            iat: now,
            iss: DEFAULT_ISSUER.into(),
            aud: DEFAULT_AUDIENCE.into(),
            jti: None,
        },
    )
}

/// Sends every request `requests` generates to a fresh app as a school admin and checks the
/// answer's shape; also that some requests succeeded, so the generator still reaches the
/// routes' happy paths and not only their first refusal.
fn every_answer_is_a_2xx_or_a_json_4xx(requests: impl Strategy<Value = Req>) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let sys = actix_rt::System::new();
    let mut settings = Settings::default();
    settings.auth.jwt_secret = Some(SECRET.into());
    let auth = Arc::new(JwtAuthenticator::new(&settings.auth, Some(SECRET)).unwrap());
    let metrics = Arc::new(Metrics::new());
    let limiters = Arc::new(RateLimiters::new(
        settings.rate_limits.clone(),
        metrics.clone(),
    ));
    let state = web::Data::new(AppState::new(
        Arc::new(MemoryJournal::new()),
        auth,
        Limits::default(),
        limiters,
        metrics,
    ));
    let service = sys.block_on(test::init_service(app(state, MAX_REQUEST, None)));
    let token = admin_token();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let successes = std::cell::Cell::new(0u32);
    let outcome = runner.run(&requests, |req| {
        let mut r = TestRequest::default()
            .method(req.method.clone())
            .uri(&req.path)
            .insert_header((header::AUTHORIZATION, format!("Bearer {token}")))
            .insert_header(("Idempotency-Key", "fuzz-key"))
            .set_payload(req.body.clone());
        if let Some(ct) = req.content_type {
            r = r.insert_header((header::CONTENT_TYPE, ct));
        }
        let (status, content_type, body) = sys.block_on(async {
            match test::try_call_service(&service, r.to_request()).await {
                Ok(res) => {
                    let status = res.status();
                    let ct = res
                        .headers()
                        .get(header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    (status, ct, test::read_body(res).await)
                }
                Err(e) => (
                    e.as_response_error().status_code(),
                    None,
                    Default::default(),
                ),
            }
        });
        let text = String::from_utf8_lossy(&body);
        prop_assert!(
            status.is_success() || status.is_client_error(),
            "{status} for {req:?}: {text:.300}"
        );
        if status.is_success() {
            successes.set(successes.get() + 1);
        }
        if status.is_client_error() {
            prop_assert_eq!(
                content_type.as_deref(),
                Some("application/json"),
                "{}",
                text
            );
            let v: Value = serde_json::from_slice(&body)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text:.300}")))?;
            prop_assert!(
                v["error"]["code"].is_string() && v["error"]["message"].is_string(),
                "{v}"
            );
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
    assert!(successes.get() > 0, "no generated request succeeded");
}

/// Field names the routes know, so generated objects often hit a real field.
const KEYS: &[&str] = &[
    "school",
    "to",
    "users",
    "class",
    "kind",
    "title",
    "body",
    "data",
    "role",
    "classes",
    "guardian_of",
    "locale",
    "contacts",
    "phone",
    "email",
    "push_tokens",
    "preferences",
    "display_name",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

/// Strings that look like the values the routes expect, and any string at all.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s1".to_owned()),
        Just("c1".to_owned()),
        Just("parent".to_owned()),
        Just("sms".to_owned()),
        "[+0-9 ()-]{0,20}",
        "[a-z.]{1,10}@[a-z]{1,10}\\.[a-z]{2,3}",
        "[A-Za-z0-9_:-]{0,40}",
        ".{0,40}",
        "[\u{0}-\u{1f}\u{202a}-\u{202e}\u{2066}-\u{2069}a]{1,8}",
    ]
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        string().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// `valid` with the value at one of `paths` replaced by arbitrary JSON (or removed).
fn near(valid: Value, paths: &'static [&'static [&'static str]]) -> impl Strategy<Value = Value> {
    (
        prop::sample::select(paths),
        prop::option::weighted(0.9, json()),
    )
        .prop_map(move |(path, value)| {
            let mut body = valid.clone();
            let (last, parents) = path.split_last().unwrap();
            let mut at = &mut body;
            for p in parents {
                at = &mut at[*p];
            }
            match (at.as_object_mut(), value) {
                (Some(obj), Some(v)) => {
                    obj.insert((*last).to_owned(), v);
                }
                (Some(obj), None) => {
                    obj.remove(*last);
                }
                (None, _) => {}
            }
            body
        })
}

/// A body: arbitrary JSON, a valid body with one field mutated, or arbitrary bytes.
fn body(valid: Value, paths: &'static [&'static [&'static str]]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        4 => near(valid, paths).prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => prop::collection::vec(any::<u8>(), MAX_REQUEST..MAX_REQUEST + 64),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        8 => Just(Some("application/json")),
        1 => Just(Some("text/plain")),
        1 => Just(None),
    ]
}

#[test]
fn notification_bodies_never_answer_5xx_or_text() {
    const PATHS: &[&[&str]] = &[
        &["school"],
        &["to"],
        &["to", "users"],
        &["to", "class"],
        &["to", "school"],
        &["kind"],
        &["title"],
        &["body"],
        &["data"],
        &["extra"],
    ];
    let valid = json!({"school": "s1", "to": {"users": ["p1", "p2"]}, "kind": "fees.reminder",
                       "title": "Fees", "body": "Due Friday", "data": {"amount": 120}});
    every_answer_is_a_2xx_or_a_json_4xx((body(valid, PATHS), content_type()).prop_map(
        |(body, content_type)| Req {
            method: Method::POST,
            path: "/v1/notifications".into(),
            content_type,
            body,
        },
    ));
}

#[test]
fn roster_bodies_never_answer_5xx_or_text() {
    const PATHS: &[&[&str]] = &[
        &["role"],
        &["classes"],
        &["guardian_of"],
        &["locale"],
        &["contacts"],
        &["contacts", "phone"],
        &["contacts", "email"],
        &["contacts", "push_tokens"],
        &["preferences"],
        &["display_name"],
        &["extra"],
    ];
    let valid = json!({"role": "parent", "classes": ["c1"], "guardian_of": ["st1"],
        "locale": "sn", "preferences": ["push", "sms"], "display_name": "Tendai Moyo",
        "contacts": {"phone": "0771234567", "email": "t@example.co.zw", "push_tokens": ["tok-1"]}});
    let user = prop_oneof![
        4 => Just("p1".to_owned()),
        1 => "[A-Za-z0-9_.%-]{1,80}",
    ];
    every_answer_is_a_2xx_or_a_json_4xx((user, body(valid, PATHS), content_type()).prop_map(
        |(user, body, content_type)| Req {
            method: Method::PUT,
            path: format!("/v1/schools/s1/members/{user}"),
            content_type,
            body,
        },
    ));
}

#[test]
fn query_strings_and_methods_never_answer_5xx_or_text() {
    // Weighted towards a request that succeeds (GET of the member list with a plain or empty
    // query), so that a run always reaches a 2xx: with even weights a run of 200 cases could
    // miss every success, and the check that the generator reaches a success failed at random.
    let path = prop_oneof![
        4 => Just("/v1/schools/s1/members"),
        1 => Just("/v1/schools/s1/members/p1"),
        1 => Just("/v1/analytics/summary"),
        1 => Just("/v1/journal/events"),
        1 => Just("/v1/notifications"),
        1 => Just("/v1/nowhere"),
    ];
    let query = prop_oneof![
        2 => Just(String::new()),
        2 => "(limit=[1-9]&)?(class=c[12])?",
        1 => "(school=s1&)?(from=2026-01-0[1-3]&)?(to=2026-01-0[1-3]&)?(limit=-?[0-9]{1,4}&)?(after=[a-z0-9]{0,3}&)?(class=c[12])?",
        1 => "[A-Za-z0-9=&%+._~-]{0,60}",
    ];
    let method = prop_oneof![
        5 => Just(Method::GET),
        1 => Just(Method::POST),
        1 => Just(Method::PUT),
        1 => Just(Method::DELETE),
        1 => Just(Method::PATCH),
    ];
    every_answer_is_a_2xx_or_a_json_4xx((method, path, query).prop_map(|(method, path, query)| {
        Req {
            method,
            path: format!("{path}?{query}"),
            content_type: None,
            body: Vec::new(),
        }
    }));
}
