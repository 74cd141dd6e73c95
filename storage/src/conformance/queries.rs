//! Conformance of [`EventQueries`]: paging a school's events by time range and kind prefix with
//! the shared page token, and rejecting a malformed token. The events are written through
//! [`Journal`], so the check also proves the query path sees every acknowledged append.

use super::fixtures::{append_ok, request_at, school, stream, T0};
use crate::journal::Journal;
use crate::queries::{EventQueries, EventQuery};
use oneclass_protocol::journal::EventEnvelope;

/// Querying a school's events by time range and kind prefix pages through every match exactly
/// once, in `(occurred_at, event_id)` order, with the last page carrying no token.
pub async fn query_pages_by_school_time_and_kind<S>(j: &S, ns: &str)
where
    S: Journal + EventQueries + ?Sized,
{
    let chat = stream(ns, "q-chat");
    let pay = format!("payment:{ns}-p1");
    let mut batch = Vec::new();
    for i in 0..40i64 {
        // Several events share a millisecond, so ordering must fall back to the event id.
        let at = T0 + (i / 3) * 1_000;
        batch.push(request_at(
            ns,
            &chat,
            "chat.message.posted",
            at,
            &format!("m{i}"),
        ));
        if i % 4 == 0 {
            batch.push(request_at(
                ns,
                &pay,
                "payment.initiated",
                at,
                &format!("p{i}"),
            ));
        }
    }
    // Outside the range, or another school: never returned.
    batch.push(request_at(
        ns,
        &chat,
        "chat.message.posted",
        T0 - 1,
        "early",
    ));
    batch.push(request_at(
        ns,
        &chat,
        "chat.message.posted",
        T0 + 20_000,
        "late",
    ));
    let mut foreign = request_at(ns, &chat, "chat.message.posted", T0, "foreign");
    foreign.school_id = format!("{ns}-s2");
    foreign.stream = format!("class:{ns}-s2:c1");
    batch.push(foreign);
    let stored = append_ok(j, batch).await;

    let in_range = |e: &&EventEnvelope| {
        e.school_id == school(ns) && e.occurred_at >= T0 && e.occurred_at < T0 + 20_000
    };
    for (prefix, page_size) in [(None, 7), (Some("chat."), 5), (Some("payment."), 100)] {
        let mut expected: Vec<_> = stored
            .iter()
            .filter(in_range)
            .filter(|e| prefix.is_none_or(|p| e.kind.starts_with(p)))
            .cloned()
            .collect();
        expected.sort_by_key(|e| (e.occurred_at, e.event_id));
        let mut got = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = j
                .query(EventQuery {
                    school_id: school(ns),
                    from_ms: T0,
                    to_ms: T0 + 20_000,
                    kind_prefix: prefix.map(str::to_owned),
                    limit: page_size,
                    page_token: token.take(),
                })
                .await
                .unwrap();
            pages += 1;
            assert!(page.events.len() <= page_size);
            got.extend(page.events);
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => break,
            }
            assert!(pages < 100, "paging does not terminate");
        }
        assert_eq!(got, expected, "prefix {prefix:?}");
        assert_eq!(
            pages,
            expected.len().div_ceil(page_size).max(1),
            "prefix {prefix:?}"
        );
    }
    let bad = j
        .query(EventQuery {
            school_id: school(ns),
            from_ms: T0,
            to_ms: T0 + 1,
            kind_prefix: None,
            limit: 10,
            page_token: Some("not a token".into()),
        })
        .await;
    assert!(bad.is_err(), "a malformed page token is rejected");
}

/// Runs every [`EventQueries`] check under a sub-namespace of `ns`.
pub async fn run_all<S>(j: &S, ns: &str)
where
    S: Journal + EventQueries + ?Sized,
{
    query_pages_by_school_time_and_kind(j, &format!("{ns}-query")).await;
}
