//! [`Notify`]: deliver a notification into the inboxes of its recipients, as one atomic batch of a
//! `notification.created` event on `notification:{id}` (with the recipient list) plus one
//! `notification.posted` per recipient on their inbox (without it).
//!
//! Every event of the batch carries an idempotency key derived from the caller's
//! `Idempotency-Key` ([`crate::events::keys`]), so a retry stores nothing new and answers with the
//! first request's id and recipient count, read back from the stored `notification.created`. The
//! handler is the school actor's (`school/inbox.rs`); building the batch and reading its outcome
//! are pure and live here.

use actix::Message;
use oneclass_protocol::command::Body;
use oneclass_protocol::journal::{kinds, new_event_id, NotificationPayload};
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::timestamp::now_ms;
use oneclass_protocol::{ChannelName, ErrorCode, StreamName};
use oneclass_storage::AppendOutcome;

use super::Audience;
use crate::events::{keys, payload, Append};

/// Deliver a notification into the inboxes of its recipients.
#[derive(Debug, Message)]
#[rtype(result = "Result<NotifyOutcome, ErrorBody>")]
pub struct Notify {
    pub actor: String,
    /// The caller's `Idempotency-Key`.
    pub idempotency_key: String,
    pub to: Audience,
    pub kind: String,
    pub title: String,
    pub body: String,
    pub data: Body,
}

/// What `Notify` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NotifyOutcome {
    pub notification_id: String,
    pub recipients: usize,
}

impl Notify {
    /// The journal batch of this notification for `recipients` of `school`: its own event first,
    /// then one inbox event per recipient, all at one time.
    pub fn appends(self, school: &str, recipients: Vec<String>) -> Vec<Append> {
        let notification_id = new_event_id().to_string();
        let fp = keys::fingerprint(&(
            &self.to.fingerprint_form(),
            &self.kind,
            &self.title,
            &self.body,
            &self.data,
        ));
        let now = now_ms();
        let mut payload = NotificationPayload {
            notification_id: notification_id.clone(),
            kind: self.kind,
            title: self.title,
            body: self.body,
            data: self.data,
            recipients,
        };
        let mut batch = vec![Append::new(
            school,
            StreamName::notification(&notification_id),
            kinds::NOTIFICATION_CREATED,
            self.actor.as_str(),
            &payload,
        )
        .at(now)
        .idempotent(Some(keys::notification(school, &self.idempotency_key, fp)))];
        let recipients = std::mem::take(&mut payload.recipients);
        for user in &recipients {
            batch.push(
                Append::new(
                    school,
                    ChannelName::inbox(school, user).into(),
                    kinds::NOTIFICATION_POSTED,
                    self.actor.as_str(),
                    &payload,
                )
                .at(now)
                .idempotent(Some(keys::notification_inbox(
                    school,
                    &self.idempotency_key,
                    user,
                    fp,
                ))),
            );
        }
        batch
    }
}

/// The answer to a committed notification batch, from the outcome of its first event: a retry
/// reads back the first request's id and recipients.
pub fn outcome(outcomes: &[AppendOutcome]) -> Result<NotifyOutcome, ErrorBody> {
    match outcomes.first() {
        Some(AppendOutcome::Conflict) => Err(ErrorBody::new(
            ErrorCode::Conflict,
            "Idempotency-Key already used for another notification",
        )),
        Some(o) => {
            let first = o
                .envelope()
                .and_then(|e| payload::decode::<NotificationPayload>(&e.payload));
            match first {
                Some(p) => Ok(NotifyOutcome {
                    notification_id: p.notification_id,
                    recipients: p.recipients.len(),
                }),
                None => Err(ErrorBody::new(ErrorCode::Internal, "bad stored payload")),
            }
        }
        None => Err(ErrorBody::new(ErrorCode::Internal, "no outcome")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notify(to: Audience) -> Notify {
        Notify {
            actor: "admin".into(),
            idempotency_key: "k1".into(),
            to,
            kind: "k".into(),
            title: "t".into(),
            body: "b".into(),
            data: serde_json::from_str(r#"{"a":1}"#).unwrap(),
        }
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn the_batch_is_the_request_then_one_inbox_event_per_recipient() {
        let batch = notify(Audience::School).appends("s1", vec!["u1".into(), "u2".into()]);
        let streams: Vec<_> = batch.iter().map(|a| a.stream_name().to_owned()).collect();
        assert!(streams[0].starts_with("notification:"));
        assert_eq!(&streams[1..], ["user:s1:u1", "user:s1:u2"]);
        assert_eq!(batch[0].kind(), kinds::NOTIFICATION_CREATED);
        assert!(batch[1..]
            .iter()
            .all(|a| a.kind() == kinds::NOTIFICATION_POSTED));
        let created: NotificationPayload = payload::decode(batch[0].payload()).unwrap();
        assert_eq!(created.recipients, ["u1", "u2"]);
        let posted: NotificationPayload = payload::decode(batch[1].payload()).unwrap();
        assert!(posted.recipients.is_empty());
        assert_eq!(posted.notification_id, created.notification_id);
        assert_eq!(
            batch[2].key().unwrap().key,
            "notify\u{1f}s1\u{1f}k1\u{1f}u2"
        );
    }

    #[test]
    fn fingerprints_are_the_ones_stored_before_the_audience_lost_its_bool() {
        let cases = [
            (
                Audience::School,
                "a6ce400a6fb55ffc0e894495a4a40bfc3f14b8fd9e2c26899190b69c8e265205",
            ),
            (
                Audience::Users(vec!["u1".into(), "u2".into()]),
                "2fe89c55c2e988267ac3099cb3a4154b9c183d225a05923eb0579aeeebf7e2ea",
            ),
            (
                Audience::Class("c1".into()),
                "d5819fa129e4efe2e3e46d583a1efd7a3d374f909d42b51d99e4b63c91353f39",
            ),
        ];
        for (to, fp) in cases {
            let batch = notify(to).appends("s1", vec![]);
            assert_eq!(hex(&batch[0].key().unwrap().fingerprint), fp);
        }
    }

    #[test]
    fn a_reused_key_for_another_notification_is_a_conflict() {
        let e = outcome(&[AppendOutcome::Conflict]).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert_eq!(outcome(&[]).unwrap_err().code, ErrorCode::Internal);
    }
}
