//! EcoCash Open API (developers.ecocash.co.zw): C2B instant payment, transaction lookup, refund
//! and the status callback.
//!
//! Every call is a JSON `POST` under the API's base URL with the project's key in `X-API-KEY`;
//! the environment (`sandbox` or `live`) is the last path segment. Field names follow EcoCash's
//! portal exactly, including its spellings `origionalEcocashTransactionReference` and
//! `refundCorelator`. The payment reply body is undocumented, so a payment's outcome is learnt
//! from the lookup call or the callback.

mod client;
pub(crate) mod wire;

pub use client::{neutral_status, source_reference};
pub use client::{
    EcocashCallback, EcocashClient, EcocashConfig, EcocashEnvironment, EcocashError, EcocashRefund,
    EcocashTransaction, RefundReceipt, DEFAULT_BASE_URL,
};
