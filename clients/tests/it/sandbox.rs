use oneclass_clients::sim::Fault;

use crate::support::sandbox;

#[tokio::test]
async fn faults_can_be_queued_and_requests_listed_over_the_control_api() {
    let sb = sandbox().await;
    let http = reqwest::Client::new();
    let base = format!("http://{}", sb.addr());
    let queued = http
        .post(format!("{base}/_sim/faults/kannel"))
        .json(&Fault::Status {
            status: 503,
            retry_after: Some("9".into()),
            body: "busy".into(),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status(), 204);
    let hit = http
        .get(format!(
            "{}/cgi-bin/sendsms?username=sandbox",
            sb.url("kannel")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(hit.status(), 503);
    assert_eq!(hit.headers()["retry-after"], "9");
    let listed: serde_json::Value = http
        .get(format!("{base}/_sim/requests/kannel"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["query"], "username=sandbox");
}

#[tokio::test]
async fn the_sandbox_speaks_http2_with_prior_knowledge_on_the_same_port() {
    let sb = sandbox().await;
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let reply = h2
        .get(format!("{}/cgi-bin/sendsms", sb.url("kannel")))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.version(), reqwest::Version::HTTP_2);
    assert_eq!(reply.status(), 403, "no credentials given");
}
