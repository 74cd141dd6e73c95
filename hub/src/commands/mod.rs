//! The one-shot commands of `oneclass-hub` (everything but serving), one per file; `main.rs`
//! parses the command line and calls one of these.

pub mod journal_verify;
pub mod token;
