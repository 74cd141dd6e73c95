//! Read-only queries the session answers from the journal itself: `history` and `channels`.
//!
//! Neither needs the school actor, so both work in every connected phase, including while the
//! school is being replaced. Inbox events are shown with the notification content they
//! reference ([`crate::notify::NotificationContents`]). Both replies are sized to stay within
//! the message limit: `history` returns the newest messages of the page that fit (with
//! `has_more`), `channels` leaves out the largest `last` messages until the list fits. A journal failure is
//! answered through [`wire_error::storage`] (`unavailable`, "journal unavailable, retry", cause
//! logged).
//!
//! `channels` is paged: the token's channels (inbox, announcements, classes) first, then the
//! user's DMs by name; a page ends after `limit` entries or when the next summary would take the
//! reply past half the message limit (a summary carries its channel's last message, up to a
//! whole body), and `next_cursor`, the page's last channel, says where the next one starts. So
//! no reply outgrows the protocol's message limit or the outbound queue, however many DMs.
//!
//! Known cost: `channels` finds the user's DMs by scanning every DM stream of the school on
//! every page (only the page's entries are then read: heads, cursors, last messages); a per-user
//! conversation index kept by the school actor would replace the scan.

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
/// Most conversations one `channels` page lists.
const MAX_CHANNELS: u32 = 200;
/// Conversations listed per page when `limit` is not given.
const DEFAULT_CHANNELS: u32 = 50;

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
        cursor: Option<String>,
        limit: Option<u32>,
        ctx: &mut Context<Self>,
    ) {
        let limit = limit.unwrap_or(DEFAULT_CHANNELS);
        if !(1..=MAX_CHANNELS).contains(&limit) {
            let e = ErrorBody::new(
                ErrorCode::BadRequest,
                format!("limit must be between 1 and {MAX_CHANNELS}"),
            );
            return self.reply_err(id, e);
        }
        // Half the message limit: the summaries are measured as JSON, which MessagePack never
        // exceeds, and the reply's own keys must fit beside them.
        let budget = self.limits().max_message_bytes / 2;
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
            let fixed = names.len();
            let mut dms = Vec::new();
            for (name, head) in journal.streams_with_prefix(&dm_prefix(school)).await? {
                let mine = matches!(ChannelName::parse(&name),
                    Ok(ChannelName::Dm { a, b, .. }) if a == principal.user || b == principal.user);
                if mine && head > 0 {
                    dms.push(name);
                }
            }
            dms.sort();
            names.extend(dms);
            let start = page_start(&names[..fixed], &names[fixed..], cursor.as_deref());
            let candidates: Vec<String> = names
                .into_iter()
                .skip(start)
                .take(limit as usize + 1)
                .collect();
            let heads = journal.heads(&candidates).await?;
            let cursors = journal.read_cursors(school, &principal.user).await?;
            let mut out = Vec::new();
            let mut size = 0;
            let mut more = false;
            for (name, head) in candidates.into_iter().zip(heads) {
                if out.len() == limit as usize {
                    more = true;
                    break;
                }
                let last = if head == 0 {
                    None
                } else {
                    let newest = journal.read_stream_before(&name, None, 1).await?;
                    let contents = notifications.for_events(&newest).await?;
                    newest.first().and_then(|e| to_event(e, &contents))
                };
                let read_seq = cursors.get(&name).copied().unwrap_or(0).min(head);
                let summary = ChannelSummary {
                    channel: name,
                    head,
                    read_seq,
                    unread: head - read_seq,
                    last,
                };
                size += serde_json::to_vec(&summary).map_or(budget, |v| v.len());
                if !out.is_empty() && size > budget {
                    more = true;
                    break;
                }
                out.push(summary);
            }
            let next_cursor = more
                .then(|| out.last().map(|s: &ChannelSummary| s.channel.clone()))
                .flatten();
            Ok::<_, oneclass_storage::StorageError>(Channels {
                channels: out,
                next_cursor,
            })
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(mut page) => {
                let budget = page_budget(act.limits().max_message_bytes);
                drop_largest_last_until_fit(&mut page.channels, act.codec, budget);
                act.reply_ok(id, OkBody::Channels(page))
            }
            Err(e) => act.reply_err(id, wire_error::storage("journal read", &e)),
        }));
    }
}

/// Where the page after `cursor` starts in the list `fixed` (the token's channels, in their
/// order) then `dms` (sorted by name). A cursor is the last channel of the page before; a DM
/// cursor that is gone still finds its place, since DMs are ordered by name. A cursor that is
/// neither (a class the refreshed token no longer has) restarts at the DMs, so nothing is
/// listed twice.
fn page_start(fixed: &[String], dms: &[String], cursor: Option<&str>) -> usize {
    let Some(cursor) = cursor else {
        return 0;
    };
    if let Some(i) = fixed.iter().position(|n| n == cursor) {
        return i + 1;
    }
    if cursor.starts_with("dm:") {
        return fixed.len() + dms.partition_point(|n| n.as_str() <= cursor);
    }
    fixed.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oneclass_protocol::event::Msg;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_page_starts_after_its_cursor_and_a_vanished_cursor_keeps_its_place() {
        let fixed = names(&["user:s1:p1", "school:s1:announcements", "class:s1:c1"]);
        let dms = names(&["dm:s1:a:p1", "dm:s1:p1:q", "dm:s1:p1:z"]);
        assert_eq!(page_start(&fixed, &dms, None), 0);
        assert_eq!(page_start(&fixed, &dms, Some("school:s1:announcements")), 2);
        assert_eq!(page_start(&fixed, &dms, Some("class:s1:c1")), 3);
        assert_eq!(page_start(&fixed, &dms, Some("dm:s1:a:p1")), 4);
        assert_eq!(
            page_start(&fixed, &dms, Some("dm:s1:p1:r")),
            5,
            "between two DMs"
        );
        assert_eq!(page_start(&fixed, &dms, Some("dm:s1:p1:z")), 6, "the end");
        assert_eq!(page_start(&fixed, &dms, Some("class:s1:gone")), 3);
    }

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
