//! The OneClass hub server: configuration, authentication, HTTP routes and the WebSocket
//! endpoint. It is thin on purpose: it parses, authenticates and hands each request to an actor
//! (`oneclass-actors`), which holds the rules.
//!
//! `main.rs` is a small CLI over [`startup::Application`], which binds before it runs so that
//! tests can bind port 0 and learn the port.

pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod delivery;
pub mod error;
pub mod error_tracking;
pub mod journal_backend;
pub mod journal_marker;
pub mod middleware;
pub mod providers;
pub mod request_span;
pub mod routes;
pub mod sandbox;
pub mod startup;
pub mod telemetry;
pub mod verify;
