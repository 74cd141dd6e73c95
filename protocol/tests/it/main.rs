//! Integration tests of the wire contract: golden frames for every op and event, the
//! classification of undecodable frames, and property tests over both codecs.

mod codec_errors;
mod golden;
mod properties;
