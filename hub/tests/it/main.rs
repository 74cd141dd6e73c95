//! The hub crate's integration tests: the command line, what the hub does around every request
//! (request ids, error tracking) and across hubs in one process, and generated REST bodies
//! against the in-process app.

#[macro_use]
mod support;

mod cli;
mod error_tracking;
mod fatal;
mod request_id;
mod rest_bodies;
