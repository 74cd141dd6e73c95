//! The OneClass load generator: drives any server that speaks the hub's wire protocol
//! (PROTOCOL.md) with realistic school traffic and measures what users would feel — delivered
//! messages per second, publish→delivery and round-trip latency, connect rate, the server's CPU
//! per million deliveries and memory per idle connection — while checking that every subscriber
//! sees every message of its channels exactly once and in order.
//!
//! `main.rs` parses the options ([`cli`]) and calls [`scenarios::run`]; each scenario opens its
//! connections through [`conn`], counts into [`stats`], checks ordering with [`tracker`], and
//! returns a [`stats::Report`].

pub mod cli;
pub mod conn;
pub mod http;
pub mod limits;
pub mod procstat;
pub mod scenarios;
pub mod stats;
pub mod tokens;
pub mod tracker;
