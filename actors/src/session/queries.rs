//! Read-only queries the session answers from the journal itself: `history` and `channels`.
//!
//! Neither needs the school actor, so both work in every connected phase, including while the
//! school is being replaced. A journal failure is answered through [`wire_error::storage`]
//! (`unavailable`, "journal unavailable, retry", cause logged).
//!
//! Known cost: `channels` finds the user's DMs by scanning every DM stream of the school and
//! reads each channel's newest message one by one; a per-user conversation index kept by the
//! school actor would replace the scan.

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
        ctx: &mut Context<Self>,
    ) {
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
                    journal
                        .read_stream_before(&name, None, 1)
                        .await?
                        .first()
                        .and_then(to_event)
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
            Ok(channels) => act.reply_ok(id, OkBody::Channels(Channels { channels })),
            Err(e) => act.reply_err(id, wire_error::storage("journal read", &e)),
        }));
    }
}
