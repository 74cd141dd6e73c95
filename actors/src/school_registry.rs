//! `SchoolRegistry`: finds the live `SchoolActor` of a school or starts one.
//!
//! The registry is shared by every worker thread (a map behind a mutex, touched once per
//! connection and per REST call, not per message). A school actor is started on the arbiter of
//! the caller that needed it, so a school's sessions and its actor often share a thread. An
//! actor that died (its address no longer connected) is replaced on the next lookup; that is how
//! a school actor is restarted, whether by a session noticing it or by the supervisor's sweep.
//! The registry keeps `oneclass_schools_active` equal to its number of entries at each start and
//! sweep, so a scrape reads it without sweeping.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use oneclass_storage::Storage;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::notify::NotificationContents;
use crate::school::SchoolActor;

/// A registered school actor and the notice its sessions wait on.
struct Entry {
    addr: Addr<SchoolActor>,
    /// Fired when the actor is found dead, so its sessions rejoin the replacement at once.
    died: Arc<Notify>,
}

/// The school actors of this process.
#[derive(Clone)]
pub struct SchoolRegistry {
    schools: Arc<Mutex<HashMap<String, Entry>>>,
    journal: Arc<dyn Storage>,
    limits: Limits,
    /// The hub's metrics, handed to every school actor the registry starts.
    metrics: Arc<Metrics>,
    /// The contents inbox events reference, shared by every school actor and session.
    notifications: Arc<NotificationContents>,
}

impl std::fmt::Debug for SchoolRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchoolRegistry")
            .field("schools", &self.schools.lock().len())
            .finish()
    }
}

impl SchoolRegistry {
    pub fn new(journal: Arc<dyn Storage>, limits: Limits, metrics: Arc<Metrics>) -> Self {
        Self {
            schools: Arc::default(),
            notifications: Arc::new(NotificationContents::new(
                journal.clone(),
                limits.notification_cache,
            )),
            journal,
            limits,
            metrics,
        }
    }

    /// The contents inbox events reference, for the readers of inbox events.
    pub(crate) fn notifications(&self) -> &Arc<NotificationContents> {
        &self.notifications
    }

    /// The journal, for the actors of this crate; the hub reads through its own query handle
    /// and writes only through [`crate::events::RouteWrites`].
    pub(crate) fn journal(&self) -> &Arc<dyn Storage> {
        &self.journal
    }

    /// Whether the journal takes writes, for the readiness probe.
    pub fn journal_health(&self) -> oneclass_storage::Health {
        self.journal.health()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The live actor of `school`, started on the current arbiter if there is none. Must be
    /// called from inside an actix system (a worker thread).
    pub fn get(&self, school: &str) -> Addr<SchoolActor> {
        let mut schools = self.schools.lock();
        if let Some(entry) = schools.get(school) {
            if entry.addr.connected() {
                return entry.addr.clone();
            }
            self.metrics.school_restarts.inc();
            tracing::warn!(school, "school actor was gone, starting a new one");
            entry.died.notify_waiters();
        }
        let actor = SchoolActor::new(
            school.to_owned(),
            self.journal.clone(),
            self.limits.clone(),
            self.metrics.clone(),
            self.notifications.clone(),
        );
        let addr = actor.start();
        schools.insert(
            school.to_owned(),
            Entry {
                addr: addr.clone(),
                died: Arc::default(),
            },
        );
        self.metrics.schools_active.set(schools.len() as i64);
        addr
    }

    /// The notice fired when the current actor of `school` is found dead.
    pub fn death_notice(&self, school: &str) -> Option<Arc<Notify>> {
        self.schools.lock().get(school).map(|e| e.died.clone())
    }

    /// The actor of `school` if one is registered (live or not), without starting one.
    pub fn peek(&self, school: &str) -> Option<Addr<SchoolActor>> {
        self.schools.lock().get(school).map(|e| e.addr.clone())
    }

    /// Forgets actors that stopped (idle or dead), telling their sessions; returns how many are
    /// live. The supervisor calls this every second, which bounds how long a dead school's
    /// sessions wait before they rejoin a new actor.
    pub fn sweep(&self) -> usize {
        let mut schools = self.schools.lock();
        schools.retain(|school, entry| {
            let live = entry.addr.connected();
            if !live {
                tracing::debug!(school, "school actor stopped");
                entry.died.notify_waiters();
            }
            live
        });
        self.metrics.schools_active.set(schools.len() as i64);
        schools.len()
    }
}
