//! What a client sees of the journal: the one place that knows which event kinds reach a client
//! on a channel (`chat.message.posted` as `msg`, `notification.posted` as `notification`) and how
//! each becomes a protocol [`Event`]. Every other kind (roster, audit, revocations, the
//! `notification.created` request) stays internal. Used by the school's live fan-out and by the
//! session's replay and history, so live and replayed events are identical.

use oneclass_protocol::event::{Msg, Notification};
use oneclass_protocol::journal::{kinds, ChatMessagePosted, EventEnvelope, NotificationPayload};
use oneclass_protocol::timestamp::format_ms;
use oneclass_protocol::Event;

use crate::events::payload::decode;

/// The client-visible event of a journaled event, or `None` for kinds clients do not see (and
/// for a payload that does not decode).
pub fn to_event(e: &EventEnvelope) -> Option<Event> {
    match e.kind.as_str() {
        kinds::CHAT_MESSAGE_POSTED => {
            let p: ChatMessagePosted = decode(&e.payload)?;
            Some(Event::Msg(Msg {
                channel: e.stream.clone(),
                seq: e.seq,
                event_id: e.event_id.to_string(),
                from: e.actor.clone(),
                body: p.body,
                ts: format_ms(e.occurred_at),
                client_msg_id: p.client_msg_id,
            }))
        }
        kinds::NOTIFICATION_POSTED => {
            let p: NotificationPayload = decode(&e.payload)?;
            Some(Event::Notification(Notification {
                channel: e.stream.clone(),
                seq: e.seq,
                event_id: e.event_id.to_string(),
                kind: p.kind,
                title: p.title,
                body: p.body,
                data: p.data,
                ts: format_ms(e.occurred_at),
            }))
        }
        _ => None,
    }
}
