//! The `ecocash` Python package (PyPI, 0.0.6, unofficial) as an independent reading of the
//! EcoCash Open API: pointed at our simulator it must pay, look up and refund, and the bodies it
//! sends must carry exactly the field names our client sends. `ONECLASS_TEST_ECOCASH_PYTHON` is a
//! Python with the package (see `scripts/python-oracles.sh`).

use std::collections::BTreeSet;
use std::time::Duration;

use oneclass_clients::pay::PaymentStatus;
use oneclass_clients::sim::SANDBOX_ECOCASH_KEY;
use oneclass_clients::PaymentGateway;

use crate::ecocash::config;
use crate::support::{peer, sandbox_with, Sink};

const SCRIPT: &str = r#"
import json, sys, time, uuid
import ecocash
from ecocash import EcoCash

base, key = sys.argv[1], sys.argv[2]
EcoCash.BASE_URL = base
sdk = EcoCash("app-1", key, "001535", "OneClass", sandbox=True)
out = {}
ref = str(uuid.uuid4())
out["ref"] = ref
out["pay"] = sdk.initiate_payment("263771234567", 10.5, "Term 1 fees", "USD", ref)
time.sleep(0.5)
out["status"] = sdk.check_transaction_status("263771234567", ref)
out["refund"] = sdk.refund(out["status"].get("ecocashReference", ""), str(uuid.uuid4()),
                           "263771234567", 10.5, "OneClass", "USD", "Duplicate payment")
wrong = EcoCash("app-1", "not-the-key", "001535", "OneClass", sandbox=True)
out["wrong_key"] = wrong.initiate_payment("263771234567", 1, "x")
print(json.dumps(out))
"#;

fn keys(body: &[u8]) -> BTreeSet<String> {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    value.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn the_ecocash_python_package_pays_looks_up_and_refunds_against_our_simulator() {
    let Some(python) = peer("ONECLASS_TEST_ECOCASH_PYTHON", "the ecocash Python package") else {
        return;
    };
    let mut sink = Sink::start().await;
    let sb = sandbox_with(config(Some(&sink.url))).await;
    let base = format!("{}/api/ecocash_pay", sb.url("ecocash"));
    let output = tokio::process::Command::new(&python)
        .args(["-c", SCRIPT, &base, SANDBOX_ECOCASH_KEY])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let reference = out["ref"].as_str().unwrap();
    assert_eq!(out["pay"]["sourceReference"], reference, "{out}");
    assert_eq!(out["status"]["status"], "SUCCESS", "{out}");
    assert_eq!(out["status"]["reference"], reference);
    assert_eq!(out["status"]["amount"]["amount"], 10.5);
    assert_eq!(out["refund"]["transactionStatus"], "COMPLETED", "{out}");
    assert_eq!(out["wrong_key"]["status_code"], 401);

    // Our client reads the callback the SDK's payment caused, and sends the same field names.
    let client = crate::ecocash::sandbox_client(&sb);
    let callback = client
        .parse_callback(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(callback.source_reference, reference);
    assert_eq!(callback.neutral, PaymentStatus::Paid);
    let sdk_requests = sb.recorder().requests("ecocash");
    let initiated = client
        .initiate(&crate::ecocash::payment("OURS", "0771234567"))
        .await;
    assert!(initiated.sent().is_some());
    let ours = sb.recorder().requests("ecocash");
    assert_eq!(
        keys(&sdk_requests[0].body),
        keys(&ours.last().unwrap().body)
    );
    assert_eq!(
        sdk_requests[0].header("x-api-key"),
        ours.last().unwrap().header("x-api-key")
    );
    assert_eq!(sdk_requests[0].path, ours.last().unwrap().path);
    let refund_keys = keys(&sdk_requests[2].body);
    for field in [
        "origionalEcocashTransactionReference",
        "refundCorelator",
        "sourceMobileNumber",
        "amount",
        "clientName",
        "currency",
        "reasonForRefund",
    ] {
        assert!(refund_keys.contains(field), "{field} in {refund_keys:?}");
    }
}
