//! Read-only queries the session answers from the journal itself: `history` and `channels`.
//!
//! Neither needs the school actor, so both work in every connected phase, including while the
//! school is being replaced. A journal failure is answered through [`wire_error::storage`]
//! (`unavailable`, "journal unavailable, retry", cause logged).
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
use oneclass_protocol::{ChannelName, ErrorCode};

use super::actor::SessionActor;
use crate::client_view::to_event;
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
        let name = channel.to_string();
        let fut = async move {
            if before == Some(0) {
                return Ok(Vec::new());
            }
            journal
                .read_stream_before(&name, before, limit as usize)
                .await
        };
        let name = channel.to_string();
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| match res {
            Ok(events) => {
                let has_more = events.first().is_some_and(|e| e.seq > 1);
                let messages = events.iter().filter_map(to_event).collect();
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
                    journal
                        .read_stream_before(&name, None, 1)
                        .await?
                        .first()
                        .and_then(to_event)
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
            Ok(page) => act.reply_ok(id, OkBody::Channels(page)),
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
}
