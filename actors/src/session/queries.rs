//! Read-only queries the session answers from the journal itself: `history` and `channels`.
//!
//! Neither needs the school actor, so both work in every connected phase, including while the
//! school is being replaced. Inbox events are shown with the notification content they
//! reference ([`crate::notify::NotificationContents`]). Both replies are sized to stay within
//! the message limit: `history` returns the newest messages of the page that fit (with
//! `has_more`), `channels` leaves out the largest `last` messages until the list fits. A journal failure is answered through [`wire_error::storage`]
//! (`unavailable`, "journal unavailable, retry", cause logged).
//!
//! Known cost: `channels` finds the user's DMs by scanning every DM stream of the school and
//! reads each channel's newest message one by one; a per-user conversation index kept by the
//! school actor would replace the scan.

use actix::prelude::*;
use oneclass_protocol::reply::{ChannelSummary, Channels, ErrorBody, History, OkBody};
use oneclass_protocol::{ChannelName, Codec, ErrorCode, Event};

use super::actor::SessionActor;
use crate::client_view::{to_event, Contents};
use crate::permissions::can_read;
use crate::principal::Principal;
use crate::wire_error;

/// Most history messages one `history` call returns.
const MAX_HISTORY: u32 = 200;
/// History messages returned when `limit` is not given.
const DEFAULT_HISTORY: u32 = 50;

/// Bytes of a reply kept for its own keys, the channel name and `has_more`, around the events.
const PAGE_RESERVE: usize = 1024;

/// The bytes the events of one `history` or `channels` reply may take, so the reply stays
/// within the message limit (see `frame_limits.rs`).
fn page_budget(max_message_bytes: usize) -> usize {
    max_message_bytes.saturating_sub(PAGE_RESERVE)
}

/// The newest of `events` (oldest first) whose encodings fit in `budget` bytes, and whether any
/// were left out. At least one is kept, so paging always moves; one that alone breaks the limit
/// is caught at emission.
fn newest_that_fit(mut events: Vec<Event>, codec: Codec, budget: usize) -> (Vec<Event>, bool) {
    let mut used = 0;
    let mut keep = 0;
    for e in events.iter().rev() {
        // One byte for the separator between array elements.
        let size = codec.encode(e).len() + 1;
        if keep > 0 && used + size > budget {
            break;
        }
        used += size;
        keep += 1;
    }
    let trimmed = keep < events.len();
    let events = events.split_off(events.len() - keep);
    (events, trimmed)
}

/// Leaves out the largest `last` events of `channels` until the summaries fit in `budget`
/// bytes: the list is what `channels` is for; a left-out `last` is one `history` call away.
fn drop_largest_last_until_fit(channels: &mut [ChannelSummary], codec: Codec, budget: usize) {
    let mut total: usize = channels.iter().map(|c| codec.encode(c).len() + 1).sum();
    while total > budget {
        let largest = channels
            .iter_mut()
            .filter_map(|c| {
                let size = codec.encode(c.last.as_ref()?).len();
                Some((size, c))
            })
            .max_by_key(|(size, _)| *size);
        let Some((size, summary)) = largest else {
            return;
        };
        summary.last = None;
        total = total.saturating_sub(size);
    }
}

/// The refusal of a command on `channel` the token does not allow.
pub(super) fn forbidden(code: ErrorCode, channel: &ChannelName) -> ErrorBody {
    ErrorBody::new(code, format!("not allowed on {channel}"))
}

/// The stream-name prefix shared by every DM channel of `school`. `ChannelName` names whole
/// channels only, so the prefix is spelled here, next to the one scan that needs it.
fn dm_prefix(school: &str) -> String {
    format!("dm:{school}:")
}

impl SessionActor {
    pub(super) fn history(
        &mut self,
        id: Option<u32>,
        principal: &Principal,
        channel: ChannelName,
        before: Option<u64>,
        limit: Option<u32>,
        ctx: &mut Context<Self>,
    ) {
        if let Err(code) = can_read(principal, &channel) {
            return self.reply_err(id, forbidden(code, &channel));
        }
        let limit = limit.unwrap_or(DEFAULT_HISTORY);
        if !(1..=MAX_HISTORY).contains(&limit) {
            let e = ErrorBody::new(ErrorCode::BadRequest, "limit must be between 1 and 200");
            return self.reply_err(id, e);
        }
        let journal = self.journal();
        let notifications = self.deps.registry.notifications().clone();
        let name = channel.to_string();
        let fut = async move {
            if before == Some(0) {
                return Ok((Vec::new(), Contents::new()));
            }
            let events = journal
                .read_stream_before(&name, before, limit as usize)
                .await?;
            let contents = notifications.for_events(&events).await?;
            Ok((events, contents))
        };
        let name = channel.to_string();
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok((events, contents)) => {
                let messages: Vec<Event> = events
                    .iter()
                    .filter_map(|e| to_event(e, &contents))
                    .collect();
                let budget = page_budget(act.limits().max_message_bytes);
                let (messages, trimmed) = newest_that_fit(messages, act.codec, budget);
                let has_more = trimmed || events.first().is_some_and(|e| e.seq > 1);
                act.reply_ok(
                    id,
                    OkBody::History(History {
                        channel: name,
                        messages,
                        has_more,
                    }),
                )
            }
            Err(e) => act.reply_err(id, wire_error::storage("journal read", &e)),
        }));
    }

    pub(super) fn channels(
        &mut self,
        id: Option<u32>,
        principal: Principal,
        ctx: &mut Context<Self>,
    ) {
        let journal = self.journal();
        let notifications = self.deps.registry.notifications().clone();
        let fut = async move {
            let school = &principal.school;
            let mut names = vec![
                ChannelName::inbox(school, &principal.user).to_string(),
                ChannelName::Announcements {
                    school: school.clone(),
                }
                .to_string(),
            ];
            names.extend(principal.classes.iter().map(|class| {
                ChannelName::Class {
                    school: school.clone(),
                    class: class.clone(),
                }
                .to_string()
            }));
            for (name, head) in journal.streams_with_prefix(&dm_prefix(school)).await? {
                let mine = matches!(ChannelName::parse(&name),
                    Ok(ChannelName::Dm { a, b, .. }) if a == principal.user || b == principal.user);
                if mine && head > 0 {
                    names.push(name);
                }
            }
            let heads = journal.heads(&names).await?;
            let cursors = journal.read_cursors(school, &principal.user).await?;
            let mut out = Vec::with_capacity(names.len());
            for (name, head) in names.into_iter().zip(heads) {
                let last = if head == 0 {
                    None
                } else {
                    let newest = journal.read_stream_before(&name, None, 1).await?;
                    let contents = notifications.for_events(&newest).await?;
                    newest.first().and_then(|e| to_event(e, &contents))
                };
                let read_seq = cursors.get(&name).copied().unwrap_or(0).min(head);
                out.push(ChannelSummary {
                    channel: name,
                    head,
                    read_seq,
                    unread: head - read_seq,
                    last,
                });
            }
            Ok::<_, oneclass_storage::StorageError>(out)
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(mut channels) => {
                let budget = page_budget(act.limits().max_message_bytes);
                drop_largest_last_until_fit(&mut channels, act.codec, budget);
                act.reply_ok(id, OkBody::Channels(Channels { channels }))
            }
            Err(e) => act.reply_err(id, wire_error::storage("journal read", &e)),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::event::Msg;

    fn msg(seq: u64, text: &str) -> Event {
        Event::Msg(Msg {
            channel: "class:s1:c1".into(),
            seq,
            event_id: "e".into(),
            from: "t1".into(),
            body: serde_json::from_value(serde_json::json!({ "text": text })).unwrap(),
            ts: "2026-01-01T00:00:00.000Z".into(),
            client_msg_id: None,
        })
    }

    #[test]
    fn a_page_keeps_the_newest_messages_that_fit_and_always_one() {
        let page: Vec<Event> = (1..=10).map(|seq| msg(seq, &"x".repeat(1000))).collect();
        let (kept, trimmed) = newest_that_fit(page.clone(), Codec::Json, 3500);
        assert!(trimmed);
        let seqs: Vec<u64> = kept.iter().filter_map(Event::seq).collect();
        assert_eq!(seqs, [8, 9, 10]);
        let (kept, trimmed) = newest_that_fit(page.clone(), Codec::Json, 1_000_000);
        assert_eq!((kept.len(), trimmed), (10, false));
        let (kept, _) = newest_that_fit(page, Codec::MsgPack, 10);
        assert_eq!(kept.iter().filter_map(Event::seq).collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn a_channel_list_over_its_budget_loses_its_largest_last_messages_first() {
        let summary = |name: &str, text: &str| ChannelSummary {
            channel: name.into(),
            head: 1,
            read_seq: 0,
            unread: 1,
            last: Some(msg(1, text)),
        };
        let mut list = vec![
            summary("class:s1:c1", &"a".repeat(5000)),
            summary("class:s1:c2", "short"),
            summary("class:s1:c3", &"b".repeat(3000)),
        ];
        drop_largest_last_until_fit(&mut list, Codec::Json, 4500);
        let kept: Vec<bool> = list.iter().map(|c| c.last.is_some()).collect();
        assert_eq!(kept, [false, true, true]);
        let total: usize = list.iter().map(|c| Codec::Json.encode(c).len() + 1).sum();
        assert!(total <= 4500);
    }
}
