//! Integration tests of the provider clients against their simulators, and against real peers
//! (Kannel, the Paynow Python SDK) when `.ci/run` provides them.

mod email;
mod kannel;
mod kannel_real;
mod paynow;
mod paynow_python;
mod phone;
mod sandbox;
mod sms_bulk;
mod support;
mod whatsapp;
