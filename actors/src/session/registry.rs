//! The live-session index of this process: every open session's outbound queue and the token
//! it is connected with, so that shutdown can close them all with 1001 and a token revocation
//! can close the sessions connected with that token.
//!
//! A session enters at `started` and leaves at `stopped`; its `jti` is recorded at `connect`
//! and at each `refresh`. Closing goes through the session's queue, so queued frames are still
//! written before the close frame. One mutex, touched per connection, never per message.

use std::collections::HashMap;
use std::sync::Arc;

use oneclass_protocol::CloseCode;
use parking_lot::Mutex;

use super::outbound::Outbound;

/// A session's id, unique in the process; schools key their subscribers by it.
pub type SessionId = u64;

/// The open sessions of this process.
#[derive(Debug, Default)]
pub struct LiveSessions {
    sessions: Mutex<HashMap<SessionId, Entry>>,
}

#[derive(Debug)]
struct Entry {
    outbound: Arc<Outbound>,
    /// The `jti` of the token the session is connected with, once it is.
    jti: Option<String>,
}

impl LiveSessions {
    pub fn insert(&self, id: SessionId, outbound: Arc<Outbound>) {
        self.sessions.lock().insert(
            id,
            Entry {
                outbound,
                jti: None,
            },
        );
    }

    /// Records the token id a session is connected with (at `connect` and `refresh`).
    pub fn set_jti(&self, id: SessionId, jti: Option<String>) {
        if let Some(e) = self.sessions.lock().get_mut(&id) {
            e.jti = jti;
        }
    }

    /// Closes every session connected with the token `jti`; returns how many.
    pub fn close_jti(&self, jti: &str, code: CloseCode, reason: &str) -> usize {
        let sessions = self.sessions.lock();
        let mut n = 0;
        for e in sessions.values().filter(|e| e.jti.as_deref() == Some(jti)) {
            e.outbound.close(code, reason);
            n += 1;
        }
        n
    }

    pub fn remove(&self, id: SessionId) {
        self.sessions.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closes every session: queued frames are written, then the close frame.
    pub fn close_all(&self, code: CloseCode, reason: &str) {
        for e in self.sessions.lock().values() {
            e.outbound.close(code, reason);
        }
    }
}
