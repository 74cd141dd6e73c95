//! Operations endpoints: `/metrics`, `/healthz`, `/readyz`.
//!
//! Each test hub has its own metrics registry, so the counts here are this test's alone.

use oneclass_actors::Role;
use oneclass_protocol::Codec;
use oneclass_tests::{ch, metric, token, TestHub};

#[tokio::test]
async fn metrics_health_and_readiness_answer() {
    let hub = TestHub::spawn();
    let (mut c, _) = hub
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    c.publish(&ch("class:s1:c1"), "counted", None)
        .await
        .unwrap();
    assert!(c.subscribe(&ch("class:s1:c9"), None).await.is_err());
    let http = reqwest::Client::new();
    let anonymous = http
        .get(hub.http_url("/v1/schools/s1/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let resp = http.get(hub.http_url("/metrics")).send().await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(metric(&text, "process_resident_memory_bytes").unwrap() > 0.0);
    assert!(metric(&text, "process_open_fds").unwrap() > 0.0);
    // connect, publish, subscribe in; their three answers out.
    for (name, value) in [
        ("oneclass_ws_connections", 1.0),
        ("oneclass_messages_in_total", 3.0),
        ("oneclass_messages_out_total", 3.0),
        ("oneclass_schools_active", 1.0),
        ("oneclass_journal_batch_size_count", 1.0),
        ("oneclass_journal_commit_seconds_count", 1.0),
        ("oneclass_errors_total{code=\"forbidden\"}", 1.0),
        ("oneclass_errors_total{code=\"unauthorized\"}", 1.0),
        ("oneclass_errors_total{code=\"bad_request\"}", 0.0),
        ("oneclass_slow_consumers_total", 0.0),
        ("oneclass_school_restarts_total", 0.0),
    ] {
        assert_eq!(metric(&text, name), Some(value), "{name} in\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("oneclass_journal_commit_seconds_bucket{")),
        "{text}"
    );

    for path in ["/healthz", "/readyz"] {
        let resp = http.get(hub.http_url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn two_hubs_in_one_process_count_separately() {
    let busy = TestHub::spawn();
    let idle = TestHub::spawn();
    let (mut c, _) = busy
        .connect(Codec::Json, &token("p1", "s1", Role::Parent, &["c1"]))
        .await;
    assert!(c.subscribe(&ch("class:s1:c9"), None).await.is_err());

    let busy_text = busy.metrics_text().await;
    let idle_text = idle.metrics_text().await;
    for (name, busy_value) in [
        ("oneclass_ws_connections", 1.0),
        ("oneclass_messages_in_total", 2.0),
        ("oneclass_messages_out_total", 2.0),
        ("oneclass_schools_active", 1.0),
        ("oneclass_errors_total{code=\"forbidden\"}", 1.0),
    ] {
        assert_eq!(
            metric(&busy_text, name),
            Some(busy_value),
            "{name} in\n{busy_text}"
        );
        assert_eq!(
            metric(&idle_text, name),
            Some(0.0),
            "{name} in\n{idle_text}"
        );
    }
}
