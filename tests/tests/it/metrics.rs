//! Operations endpoints: `/metrics`, `/healthz`, `/readyz`.

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

    let text = hub.metrics_text().await;
    assert!(metric(&text, "process_resident_memory_bytes").unwrap() > 0.0);
    assert!(metric(&text, "oneclass_ws_connections").unwrap() >= 1.0);
    assert!(
        text.lines()
            .any(|l| l.starts_with("oneclass_journal_commit_seconds_bucket{")),
        "{text}"
    );
    assert!(metric(&text, "oneclass_errors_total{code=\"forbidden\"}").unwrap() >= 1.0);

    let http = reqwest::Client::new();
    for path in ["/healthz", "/readyz"] {
        let resp = http.get(hub.http_url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
    }
}
