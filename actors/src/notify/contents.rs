//! [`NotificationContents`]: the content an inbox event references, for the readers that need it.
//!
//! A `notification.posted` event holds only its notification's id; the content (kind, title,
//! body, data) is stored once, in the `notification.created` event at seq 1 of
//! `notification:{id}`. Live fan-out has the content in the school actor's memory (it just wrote
//! it). Replays, history and `channels` read journal pages and resolve the ids they meet here:
//! from a bounded LRU cache shared by the whole hub ([`crate::Limits::notification_cache`]
//! entries), else from the journal, one read per missing notification. Inbox events written
//! before the content was referenced carry it inline and need nothing from here.
//!
//! Failure modes: a journal error is returned (the reader treats it as any failed read); a
//! notification whose created event is missing or does not decode is left out of the answer, so
//! its inbox events are not shown (logged), as with any undecodable payload.

use std::collections::HashMap;
use std::sync::Arc;

use oneclass_protocol::journal::{EventEnvelope, NotificationPayload};
use oneclass_protocol::StreamName;
use oneclass_storage::{Storage, StorageError};
use parking_lot::Mutex;

use crate::client_view::{referenced_notification, Contents};
use crate::events::payload;

/// The hub's shared cache of notification contents, in front of the journal.
pub struct NotificationContents {
    journal: Arc<dyn Storage>,
    cache: Mutex<hashlink::LruCache<String, Arc<NotificationPayload>>>,
}

impl std::fmt::Debug for NotificationContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotificationContents")
            .field("cached", &self.cache.lock().len())
            .finish_non_exhaustive()
    }
}

impl NotificationContents {
    /// A cache of at most `capacity` contents over `journal`.
    pub fn new(journal: Arc<dyn Storage>, capacity: usize) -> Self {
        Self {
            journal,
            cache: Mutex::new(hashlink::LruCache::new(capacity.max(1))),
        }
    }

    /// Keeps `content` (without recipients) for the replays that will follow a fan-out.
    pub fn remember(&self, content: Arc<NotificationPayload>) {
        self.cache
            .lock()
            .insert(content.notification_id.clone(), content);
    }

    /// The contents referenced by `events`, by notification id.
    pub async fn for_events(&self, events: &[EventEnvelope]) -> Result<Contents, StorageError> {
        let mut found = Contents::new();
        let mut missing = Vec::new();
        {
            let mut cache = self.cache.lock();
            for id in events.iter().filter_map(referenced_notification) {
                if found.contains_key(&id) || missing.contains(&id) {
                    continue;
                }
                match cache.get(&id) {
                    Some(content) => {
                        found.insert(id, content.clone());
                    }
                    None => missing.push(id),
                }
            }
        }
        for id in missing {
            match self.load(&id).await? {
                Some(content) => {
                    self.remember(content.clone());
                    found.insert(id, content);
                }
                None => tracing::warn!(
                    notification = %id,
                    "an inbox event references a notification the journal does not hold"
                ),
            }
        }
        Ok(found)
    }

    async fn load(&self, id: &str) -> Result<Option<Arc<NotificationPayload>>, StorageError> {
        let stream = StreamName::notification(id).to_string();
        let events = self.journal.read_stream(&stream, 1, 1).await?;
        Ok(events
            .first()
            .and_then(|e| payload::decode::<NotificationPayload>(&e.payload))
            .map(|mut p| {
                p.recipients = Vec::new();
                Arc::new(p)
            }))
    }
}

/// A lookup of one content, for the live fan-out of a write that carries it.
pub fn single(content: &Arc<NotificationPayload>) -> Contents {
    HashMap::from([(content.notification_id.clone(), content.clone())])
}

#[cfg(test)]
mod tests {
    use oneclass_protocol::journal::{encode_payload, kinds, NotificationPosted};
    use oneclass_storage::{AppendOutcome, MemoryJournal};

    use super::*;
    use crate::events;
    use crate::notify::request::stored;
    use crate::notify::{Audience, Notify};

    fn reference(id: &str) -> EventEnvelope {
        EventEnvelope {
            school_id: "s1".into(),
            day: "2026-01-01".into(),
            event_id: uuid::Uuid::nil(),
            stream: "user:s1:u1".into(),
            seq: 1,
            kind: kinds::NOTIFICATION_POSTED.into(),
            actor: "a1".into(),
            occurred_at: 0,
            payload: encode_payload(&NotificationPosted {
                notification_id: id.into(),
            }),
            hash: [0; 32],
        }
    }

    #[actix_rt::test]
    async fn a_reference_resolves_from_the_journal_then_from_the_cache_and_an_unknown_one_not_at_all(
    ) {
        let journal = Arc::new(MemoryJournal::new());
        let created = Notify {
            actor: "a1".into(),
            idempotency_key: "k1".into(),
            to: Audience::School,
            kind: "k".into(),
            title: "Fees".into(),
            body: "b".into(),
            data: Default::default(),
        }
        .created("s1", vec!["u1".into()]);
        let outcomes = events::write(journal.as_ref(), vec![created])
            .await
            .unwrap();
        assert!(matches!(outcomes[0], AppendOutcome::Appended(_)));
        let id = stored(&outcomes).unwrap().payload.notification_id;
        let contents = NotificationContents::new(journal.clone(), 4);
        let found = contents
            .for_events(&[reference(&id), reference("nope")])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[&id].title, "Fees");
        assert!(
            found[&id].recipients.is_empty(),
            "recipients are not cached"
        );
        // Remembered content needs no journal at all.
        let memory_only = NotificationContents::new(Arc::new(MemoryJournal::new()), 4);
        memory_only.remember(found[&id].clone());
        let again = memory_only.for_events(&[reference(&id)]).await.unwrap();
        assert_eq!(again[&id].title, "Fees");
    }
}
