//! End-to-end tests: a real hub on a random port, real WebSocket and HTTP clients.

mod chat;
mod notifications;
mod resume;
mod closes;
mod durability;
mod security;
