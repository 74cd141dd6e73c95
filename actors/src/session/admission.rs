//! Admission: every command after `connect` passes the rate limits before its handler runs
//! ([`crate::rate_limit`] has the scopes and the order), and a refusal is answered here.
//!
//! A refused command is answered `rate_limited` with `retry_after_ms` (a command without an
//! `id` gets an `error` event, as every refusal does) and nothing of it happens: no journal
//! write, no fan-out, no state. Each refusal is also a strike against the connection; the one
//! that finds no strike left is still answered, then the socket closes with 4029.

use std::sync::Arc;

use actix::prelude::*;
use oneclass_protocol::reply::ErrorBody;
use oneclass_protocol::{CloseCode, ErrorCode};

use super::actor::SessionActor;
use crate::rate_limit::{Op, RateLimiters, Refusal, Scope, Strike};

/// The keys of a connected session's quotas, built once at `connect`.
#[derive(Debug, Clone)]
pub(super) struct RateKeys {
    /// `school/user`: the user's quotas.
    pub(super) user: Arc<str>,
    /// The school's write quota.
    pub(super) school: Arc<str>,
}

impl RateKeys {
    pub(super) fn new(school: &str, user: &str) -> Self {
        Self {
            user: RateLimiters::user_key(school, user),
            school: school.into(),
        }
    }
}

impl SessionActor {
    /// Whether a command of `op` may run now; a refusal has been answered (and may have closed
    /// the socket) when this returns false.
    pub(super) fn admit(&mut self, id: Option<u32>, op: Op, ctx: &mut Context<Self>) -> bool {
        let Some(keys) = &self.rate_keys else {
            return true;
        };
        match self.deps.limiters.admit(op, &self.limiter, &keys.user) {
            Ok(()) => true,
            Err((scope, refusal)) => {
                self.refuse(id, op, scope, refusal, ctx);
                false
            }
        }
    }

    /// Whether one journal write of `op` fits in the school's quota; answered like [`Self::admit`].
    pub(super) fn admit_write(&mut self, id: Option<u32>, op: Op, ctx: &mut Context<Self>) -> bool {
        let Some(keys) = &self.rate_keys else {
            return true;
        };
        match self.deps.limiters.admit_write(op, &keys.school) {
            Ok(()) => true,
            Err((scope, refusal)) => {
                self.refuse(id, op, scope, refusal, ctx);
                false
            }
        }
    }

    fn refuse(
        &mut self,
        id: Option<u32>,
        op: Op,
        scope: Scope,
        refusal: Refusal,
        ctx: &mut Context<Self>,
    ) {
        let retry_after_ms = refusal.retry_after_ms();
        let message = format!(
            "{} rate limit of the {} reached, retry in {retry_after_ms} ms",
            op.as_str(),
            scope.as_str()
        );
        self.reply_err(
            id,
            ErrorBody {
                code: ErrorCode::RateLimited,
                message,
                retry_after_ms: Some(retry_after_ms),
            },
        );
        if self.limiter.strike() == Strike::Exhausted {
            self.deps.metrics.rate_limit_closes.inc();
            self.close(
                CloseCode::RateLimited,
                "rate limited: too many requests after being told to wait",
                ctx,
            );
        }
    }
}
