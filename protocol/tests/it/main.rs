//! Integration tests of the wire contract: golden frames for every op and event, the
//! classification of undecodable frames, property tests over both codecs, and the journal's
//! vocabulary (every event kind and stream form, spelled out).

mod codec_errors;
mod golden;
mod journal_vocabulary;
mod properties;
