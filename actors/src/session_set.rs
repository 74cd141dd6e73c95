//! Every open session's outbound queue, so that shutdown can close them all with 1001.

use std::collections::HashMap;
use std::sync::Arc;

use oneclass_protocol::CloseCode;
use parking_lot::Mutex;

use crate::channel_state::SessionId;
use crate::outbound::Outbound;

/// The open sessions of this process.
#[derive(Debug, Default)]
pub struct SessionSet {
    sessions: Mutex<HashMap<SessionId, Arc<Outbound>>>,
}

impl SessionSet {
    pub fn insert(&self, id: SessionId, outbound: Arc<Outbound>) {
        self.sessions.lock().insert(id, outbound);
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
        for outbound in self.sessions.lock().values() {
            outbound.close(code, reason);
        }
    }
}
