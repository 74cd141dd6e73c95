//! Every open session's outbound queue, so that shutdown can close them all with 1001.

use std::collections::HashMap;
use std::sync::Arc;

use oneclass_protocol::CloseCode;
use parking_lot::Mutex;

use crate::outbound::Outbound;
use crate::school::SessionId;

/// The open sessions of this process.
#[derive(Debug, Default)]
pub struct SessionSet {
    sessions: Mutex<HashMap<SessionId, Entry>>,
}

#[derive(Debug)]
struct Entry {
    outbound: Arc<Outbound>,
    /// The `jti` of the token the session is connected with, once it is.
    jti: Option<String>,
}

impl SessionSet {
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
