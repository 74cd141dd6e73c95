//! What a client sees of the journal: the one place that knows which event kinds reach a client
//! on a channel (`chat.message.posted` as `msg`, `notification.posted` as `notification`) and how
//! each becomes a protocol [`Event`]. Every other kind (roster, audit, revocations, the
//! `notification.created` request) stays internal. Used by the school's live fan-out and by the
//! session's replay and history, so live and replayed events are identical.
//!
//! A `notification.posted` event references its content by notification id; the caller passes
//! the [`Contents`] it resolved for the events at hand (the school from memory, readers through
//! [`crate::notify::NotificationContents`]). Inbox events of older journals hold the content
//! inline and are read as they are. A reference with no content in `Contents` is not shown.

use std::collections::HashMap;
use std::sync::Arc;

use oneclass_protocol::event::{Msg, Notification};
use oneclass_protocol::journal::{
    kinds, ChatMessagePosted, EventEnvelope, NotificationPayload, NotificationPosted,
};
use oneclass_protocol::timestamp::format_ms;
use oneclass_protocol::Event;

use crate::events::payload::decode;

/// Notification contents by notification id, for the inbox events being shown.
pub type Contents = HashMap<String, Arc<NotificationPayload>>;

/// The client-visible event of a journaled event, or `None` for kinds clients do not see (and
/// for a payload that does not decode, or a reference `contents` cannot resolve).
pub fn to_event(e: &EventEnvelope, contents: &Contents) -> Option<Event> {
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
        kinds::NOTIFICATION_POSTED => match decode::<NotificationPayload>(&e.payload) {
            Some(inline) => Some(notification(e, &inline)),
            None => {
                let r: NotificationPosted = decode(&e.payload)?;
                Some(notification(e, contents.get(&r.notification_id)?))
            }
        },
        _ => None,
    }
}

/// The notification id an inbox event references, when its content is not inline.
pub fn referenced_notification(e: &EventEnvelope) -> Option<String> {
    if e.kind != kinds::NOTIFICATION_POSTED || decode::<NotificationPayload>(&e.payload).is_some() {
        return None;
    }
    decode::<NotificationPosted>(&e.payload).map(|r| r.notification_id)
}

fn notification(e: &EventEnvelope, p: &NotificationPayload) -> Event {
    Event::Notification(Notification {
        channel: e.stream.clone(),
        seq: e.seq,
        event_id: e.event_id.to_string(),
        kind: p.kind.clone(),
        title: p.title.clone(),
        body: p.body.clone(),
        data: p.data.clone(),
        ts: format_ms(e.occurred_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::journal::encode_payload;

    fn posted<P: serde::Serialize>(payload: &P) -> EventEnvelope {
        EventEnvelope {
            school_id: "s1".into(),
            day: "2026-01-01".into(),
            event_id: uuid::Uuid::nil(),
            stream: "user:s1:u1".into(),
            seq: 3,
            kind: kinds::NOTIFICATION_POSTED.into(),
            actor: "t1".into(),
            occurred_at: 0,
            payload: encode_payload(payload),
            hash: [0; 32],
        }
    }

    fn content() -> NotificationPayload {
        NotificationPayload {
            notification_id: "n1".into(),
            kind: "fees.reminder".into(),
            title: "Fees".into(),
            body: "due".into(),
            data: serde_json::from_str(r#"{"amount":5}"#).unwrap(),
            recipients: vec![],
        }
    }

    #[test]
    fn a_referenced_notification_reads_as_its_content_and_an_inline_one_as_itself() {
        let by_ref = posted(&NotificationPosted {
            notification_id: "n1".into(),
        });
        assert_eq!(referenced_notification(&by_ref).as_deref(), Some("n1"));
        assert_eq!(to_event(&by_ref, &Contents::new()), None);
        let contents = Contents::from([("n1".to_string(), Arc::new(content()))]);
        let inline = posted(&content());
        assert_eq!(referenced_notification(&inline), None);
        let shown = to_event(&by_ref, &contents).unwrap();
        assert_eq!(shown, to_event(&inline, &Contents::new()).unwrap());
        let Event::Notification(n) = shown else {
            panic!("not a notification")
        };
        assert_eq!((n.seq, n.title.as_str()), (3, "Fees"));
        assert_eq!(n.data["amount"], 5);
    }
}
