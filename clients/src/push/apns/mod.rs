//! Apple Push Notification service, provider API over HTTP/2 with token authentication.
//!
//! An ES256 provider token (header `kid`, claims `iss` = team id and `iat`) is minted from the
//! team's `.p8` key and reused for a configurable lifetime inside Apple's window (at most one
//! hour old, at most one new token per 20 minutes). Each notification is one
//! `POST /3/device/{token}` with the `apns-*` headers; replies are classified by their `reason`,
//! and a `410` carries the time Apple found the token dead.

mod client;
mod token;

pub use client::{ApnsClient, ApnsConfig, PRODUCTION_BASE_URL, SANDBOX_BASE_URL};
