//! Integration tests of the provider clients against their simulators, and against real peers
//! (Kannel, the Paynow Python SDK, the `ecocash` Python package) when `.ci/run` provides them.

mod apns;
mod ecocash;
mod ecocash_python;
mod email;
mod fcm;
mod kannel;
mod kannel_real;
mod paynow;
mod paynow_python;
#[path = "../../../tests/src/peer.rs"]
mod peer;
mod phone;
mod sandbox;
mod secrets;
mod sms_bulk;
mod support;
mod whatsapp;
