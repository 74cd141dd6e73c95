//! The official Paynow Python SDK (PyPI `paynow`) as an independent oracle: pointed at our
//! simulator it must initiate web and express payments and accept the simulator's reply hashes,
//! and a status update hashed by the SDK must pass our parser while a tampered one must not.
//! `ONECLASS_TEST_PAYNOW_PYTHON` is a Python with the SDK (see `scripts/python-oracles.sh`).

use std::time::Duration;

use oneclass_clients::pay::paynow::{PaynowClient, PaynowConfig, PaynowStatus};
use oneclass_clients::{HttpSettings, SystemClock};

use crate::paynow::{ID, KEY};
use crate::support::{peer, sandbox, Sink};

const SCRIPT: &str = r#"
import json, sys
from urllib.parse import urlencode
from paynow import Paynow

base, result_url, key = sys.argv[1], sys.argv[2], sys.argv[3]
Paynow.URL_INITIATE_TRANSACTION = base + "/interface/initiatetransaction"
Paynow.URL_INITIATE_MOBILE_TRANSACTION = base + "/interface/remotetransaction"
sdk = Paynow("1201", key, "http://school.example/return", result_url)
out = {}

web = sdk.create_payment("Invoice 7 & co", "merchant@example.com")
web.add("Term 1 fees", 10.5)
r = sdk.send(web)
out["web"] = {"success": r.success, "redirect": getattr(r, "redirect_url", None),
              "poll": getattr(r, "poll_url", None), "error": r.data.get("error")}

mobile = sdk.create_payment("Invoice 8", "merchant@example.com")
mobile.add("Bus fare", 3)
m = sdk.send_mobile(mobile, "0771111111", "ecocash")
out["express"] = {"success": m.success, "poll": getattr(m, "poll_url", None),
                  "instructions": getattr(m, "instruction", None), "error": m.data.get("error")}
out["express_status"] = sdk.check_transaction_status(m.poll_url).status if m.success else None

wrong = Paynow("1201", "00000000-0000-0000-0000-000000000000", "http://x", result_url)
w = wrong.send(wrong.create_payment("Invoice 9", "merchant@example.com").add("x", 1))
out["wrong_key"] = {"success": w.success, "error": w.data.get("error")}

fields = {"reference": "Invoice 8", "amount": "3.00", "paynowreference": "1,082",
          "pollurl": base + "/Interface/CheckPayment/?guid=x", "status": "Paid"}
fields["hash"] = sdk._Paynow__hash(fields, key)
out["update"] = urlencode(fields)
fields["amount"] = "300.00"
out["tampered"] = urlencode(fields)
print(json.dumps(out, default=repr))
"#;

#[tokio::test]
async fn the_official_python_sdk_agrees_with_our_simulator_and_parser_on_every_hash() {
    let Some(python) = peer("ONECLASS_TEST_PAYNOW_PYTHON", "the Paynow Python SDK") else {
        return;
    };
    let sb = sandbox().await;
    let mut sink = Sink::start().await;
    let base = sb.url("paynow");
    let output = tokio::process::Command::new(&python)
        .args(["-c", SCRIPT, &base, &sink.url, KEY])
        .output()
        .await
        .expect("python runs");
    assert!(
        output.status.success(),
        "SDK script failed (a hash mismatch raises): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();

    assert_eq!(out["web"]["success"], true, "{out}");
    assert!(out["web"]["redirect"]
        .as_str()
        .unwrap()
        .contains("/paynow/Payment/ConfirmPayment/"));
    assert_eq!(out["express"]["success"], true, "{out}");
    assert!(out["express"]["instructions"]
        .as_str()
        .unwrap()
        .contains("*151*"));
    assert_eq!(out["express_status"], "sent");
    assert_eq!(out["wrong_key"]["success"], false);
    assert!(out["wrong_key"]["error"]
        .as_str()
        .unwrap()
        .starts_with("Invalid Hash"));

    // The SDK's express payment settles and the simulator's status update verifies here too.
    let client = PaynowClient::new(
        PaynowConfig {
            base_url: base.clone(),
            integration_id: ID.into(),
            integration_key: KEY.into(),
            result_url: sink.url.clone(),
            return_url: "http://school.example/return".into(),
            default_auth_email: None,
        },
        &HttpSettings::default(),
        SystemClock::shared(),
    )
    .unwrap();
    let settled = client
        .parse_status_update(&sink.next(Duration::from_secs(5)).await.body)
        .unwrap();
    assert_eq!(settled.reference, "Invoice+8", "the SDK pre-escapes values");
    assert_eq!(settled.status, PaynowStatus::Paid);

    let update = client
        .parse_status_update(out["update"].as_str().unwrap().as_bytes())
        .expect("an update hashed by the SDK verifies");
    assert_eq!(update.paynow_reference, "1,082");
    assert!(client
        .parse_status_update(out["tampered"].as_str().unwrap().as_bytes())
        .is_err());
}
