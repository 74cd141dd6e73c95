//! Turning journal events into protocol events, the one place that knows which event kinds a
//! client sees on a channel.

use oneclass_protocol::event::{Msg, Notification};
use oneclass_protocol::journal::{
    decode_payload, kinds, ChatMessagePosted, EventEnvelope, NotificationPayload,
};
use oneclass_protocol::timestamp::format_ms;
use oneclass_protocol::Event;

/// The client-visible event of a journaled event, or `None` for kinds clients do not see.
pub fn to_event(e: &EventEnvelope) -> Option<Event> {
    match e.kind.as_str() {
        kinds::CHAT_MESSAGE_POSTED => {
            let p: ChatMessagePosted = decode_payload(&e.payload).ok()?;
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
            let p: NotificationPayload = decode_payload(&e.payload).ok()?;
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
