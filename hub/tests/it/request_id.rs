//! Every response carries the request id of its span.

use crate::support::Hub;

#[tokio::test]
async fn every_response_carries_a_fresh_x_request_id() {
    let hub = Hub::start();
    let mut ids = Vec::new();
    for path in ["/healthz", "/readyz", "/no-such-route"] {
        let resp = reqwest::get(hub.url(path)).await.unwrap();
        let id = resp
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {path}"))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "not a uuid: {id}");
        ids.push(id);
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "ids repeat: {ids:?}");
    hub.handle.stop().await;
}
