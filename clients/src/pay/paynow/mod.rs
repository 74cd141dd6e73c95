//! Paynow (paynow.co.zw): web and express checkout, polling, tracing, status updates, and the
//! SHA-512 hash that authenticates every message in both directions.

mod client;
mod hash;
mod message;

pub use client::{PaynowClient, PaynowConfig, PaynowError, DEFAULT_BASE_URL};
pub use hash::{hash_fields, hash_values};
pub use message::{PaynowMessage, PaynowStatus, StatusUpdate};
