//! Golden frames: the exact JSON text of every command and of every frame the hub sends, checked
//! against the typed values, with MessagePack checked to carry the same maps (not arrays).

use std::collections::BTreeMap;

use oneclass_protocol::command::{Body, RawCommand};
use oneclass_protocol::event::{Msg, Notification};
use oneclass_protocol::reply::{
    ChannelSummary, Channels, Connected, Empty, History, OkBody, Presence, Published, Refreshed,
    Subscribed,
};
use oneclass_protocol::{
    ChannelName, Codec, Command, CommandFrame, ErrorBody, ErrorCode, Event, Reply, ServerFrame,
};
use serde_json::{json, Value};

const EVENT_ID: &str = "01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e";
const TS: &str = "2026-11-27T05:19:00.123Z";

fn channel(name: &str) -> ChannelName {
    ChannelName::parse(name).unwrap()
}

fn body(value: Value) -> Body {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn frame(id: Option<u32>, command: Command) -> CommandFrame {
    CommandFrame { id, command }
}

/// Decodes `json` as a client's JSON text frame, expects `expected`, then sends the same frame
/// through MessagePack and expects it back unchanged.
fn check_command(json: &str, expected: CommandFrame) {
    let decoded = Codec::Json.decode_command(json.as_bytes()).unwrap();
    assert_eq!(decoded, expected, "JSON text {json}");

    let packed = Codec::MsgPack.encode(&RawCommand::from(&expected));
    assert_eq!(
        Codec::MsgPack.decode_command(&packed).unwrap(),
        expected,
        "MessagePack of {json}"
    );

    // The MessagePack form is a map with exactly the keys of the JSON text.
    let as_value: Value = rmp_serde::from_slice(&packed).unwrap();
    let json_value: Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        as_value, json_value,
        "MessagePack of {json} is not the same map"
    );

    // And what this crate encodes as JSON decodes to the same frame.
    let reencoded = Codec::Json.encode(&RawCommand::from(&expected));
    assert_eq!(Codec::Json.decode_command(&reencoded).unwrap(), expected);
}

/// Encodes `value` as JSON and expects exactly `json`; expects the MessagePack encoding to be the
/// same maps; returns what `decode_server_frame` reads back from each codec.
fn check_server_frame<T: serde::Serialize>(value: &T, json: &str) -> [ServerFrame; 2] {
    let encoded = Codec::Json.encode(value);
    assert_eq!(std::str::from_utf8(&encoded).unwrap(), json);

    let packed = Codec::MsgPack.encode(value);
    assert!(
        matches!(packed[0], 0x80..=0x8f | 0xde | 0xdf),
        "MessagePack frame must be a map, starts with {:#04x}",
        packed[0]
    );
    let as_value: Value = rmp_serde::from_slice(&packed).unwrap();
    let json_value: Value = serde_json::from_str(json).unwrap();
    assert_eq!(
        as_value, json_value,
        "MessagePack is not the same map as {json}"
    );

    [
        Codec::Json.decode_server_frame(&encoded).unwrap(),
        Codec::MsgPack.decode_server_frame(&packed).unwrap(),
    ]
}

fn check_event(event: Event, json: &str) {
    for decoded in check_server_frame(&event, json) {
        assert_eq!(decoded, ServerFrame::Event(event.clone()));
    }
}

fn check_ok_reply<T>(id: u32, ok: OkBody, typed: T, json: &str)
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let reply = Reply::ok(id, ok);
    for decoded in check_server_frame(&reply, json) {
        let ServerFrame::Reply(reply) = decoded else {
            panic!("not a reply: {decoded:?}")
        };
        assert_eq!(reply.id, id);
        assert_eq!(reply.error, None);
        assert_eq!(reply.ok_as::<T>().unwrap(), typed);
    }
}

fn sample_msg(client_msg_id: Option<&str>) -> Msg {
    Msg {
        channel: "class:s1:c1".into(),
        seq: 42,
        event_id: EVENT_ID.into(),
        from: "t1".into(),
        body: body(json!({"text": "Homework: page 12"})),
        ts: TS.into(),
        client_msg_id: client_msg_id.map(str::to_owned),
    }
}

const MSG_JSON: &str = r#"{"ev":"msg","channel":"class:s1:c1","seq":42,"event_id":"01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e","from":"t1","body":{"text":"Homework: page 12"},"ts":"2026-11-27T05:19:00.123Z"}"#;

// ---------------------------------------------------------------------------------------------
// Commands

#[test]
fn connect_without_resume_decodes_to_an_empty_resume_map() {
    check_command(
        r#"{"op":"connect","id":1,"token":"eyJhbGciOiJIUzI1NiJ9.e30.sig"}"#,
        frame(
            Some(1),
            Command::Connect {
                token: "eyJhbGciOiJIUzI1NiJ9.e30.sig".into(),
                resume: BTreeMap::new(),
            },
        ),
    );
}

#[test]
fn connect_with_resume_carries_the_last_seq_seen_per_channel() {
    let resume = BTreeMap::from([("class:s1:c1".to_owned(), 41), ("user:s1:p1".to_owned(), 7)]);
    check_command(
        r#"{"op":"connect","id":1,"token":"tok","resume":{"class:s1:c1":41,"user:s1:p1":7}}"#,
        frame(
            Some(1),
            Command::Connect {
                token: "tok".into(),
                resume,
            },
        ),
    );
}

#[test]
fn subscribe_without_since_has_no_since() {
    check_command(
        r#"{"op":"subscribe","id":2,"channel":"class:s1:c1"}"#,
        frame(
            Some(2),
            Command::Subscribe {
                channel: channel("class:s1:c1"),
                since: None,
            },
        ),
    );
}

#[test]
fn subscribe_with_since_carries_the_seq() {
    check_command(
        r#"{"op":"subscribe","id":3,"channel":"school:s1:announcements","since":17}"#,
        frame(
            Some(3),
            Command::Subscribe {
                channel: channel("school:s1:announcements"),
                since: Some(17),
            },
        ),
    );
}

#[test]
fn unsubscribe_names_only_the_channel() {
    check_command(
        r#"{"op":"unsubscribe","id":4,"channel":"dm:s1:p1:t1"}"#,
        frame(
            Some(4),
            Command::Unsubscribe {
                channel: channel("dm:s1:p1:t1"),
            },
        ),
    );
}

#[test]
fn publish_with_client_msg_id_keeps_the_idempotency_key() {
    check_command(
        r#"{"op":"publish","id":5,"channel":"class:s1:c1","body":{"text":"hello"},"client_msg_id":"m-1"}"#,
        frame(
            Some(5),
            Command::Publish {
                channel: channel("class:s1:c1"),
                body: body(json!({"text": "hello"})),
                client_msg_id: Some("m-1".into()),
            },
        ),
    );
}

#[test]
fn publish_without_client_msg_id_keeps_a_nested_body_intact() {
    check_command(
        r#"{"op":"publish","id":6,"channel":"dm:s1:p1:t1","body":{"attachments":[{"kind":"image","size":2048}],"text":"see photo"}}"#,
        frame(
            Some(6),
            Command::Publish {
                channel: channel("dm:s1:p1:t1"),
                body: body(json!({
                    "attachments": [{"kind": "image", "size": 2048}],
                    "text": "see photo",
                })),
                client_msg_id: None,
            },
        ),
    );
}

#[test]
fn history_with_before_and_limit_carries_both() {
    check_command(
        r#"{"op":"history","id":7,"channel":"class:s1:c1","before":100,"limit":20}"#,
        frame(
            Some(7),
            Command::History {
                channel: channel("class:s1:c1"),
                before: Some(100),
                limit: Some(20),
            },
        ),
    );
}

#[test]
fn history_without_before_or_limit_leaves_both_to_the_hub() {
    check_command(
        r#"{"op":"history","id":8,"channel":"user:s1:p1"}"#,
        frame(
            Some(8),
            Command::History {
                channel: channel("user:s1:p1"),
                before: None,
                limit: None,
            },
        ),
    );
}

#[test]
fn channels_without_fields_asks_for_the_first_page() {
    check_command(
        r#"{"op":"channels","id":9}"#,
        frame(
            Some(9),
            Command::Channels {
                cursor: None,
                limit: None,
            },
        ),
    );
}

#[test]
fn channels_carries_the_cursor_and_the_limit_of_a_later_page() {
    check_command(
        r#"{"op":"channels","id":9,"limit":2,"cursor":"dm:s1:p1:t1"}"#,
        frame(
            Some(9),
            Command::Channels {
                cursor: Some("dm:s1:p1:t1".into()),
                limit: Some(2),
            },
        ),
    );
}

#[test]
fn read_carries_the_channel_and_the_seq() {
    check_command(
        r#"{"op":"read","id":10,"channel":"dm:s1:p1:t1","seq":12}"#,
        frame(
            Some(10),
            Command::Read {
                channel: channel("dm:s1:p1:t1"),
                seq: 12,
            },
        ),
    );
}

#[test]
fn presence_names_only_the_channel() {
    check_command(
        r#"{"op":"presence","id":11,"channel":"class:s1:c1"}"#,
        frame(
            Some(11),
            Command::Presence {
                channel: channel("class:s1:c1"),
            },
        ),
    );
}

#[test]
fn typing_without_an_id_expects_no_reply() {
    check_command(
        r#"{"op":"typing","channel":"class:s1:c1"}"#,
        frame(
            None,
            Command::Typing {
                channel: channel("class:s1:c1"),
            },
        ),
    );
}

#[test]
fn refresh_carries_the_new_token() {
    check_command(
        r#"{"op":"refresh","id":12,"token":"newer.jwt.token"}"#,
        frame(
            Some(12),
            Command::Refresh {
                token: "newer.jwt.token".into(),
            },
        ),
    );
}

#[test]
fn ping_with_and_without_an_id_decodes() {
    check_command(
        r#"{"op":"ping","id":4294967295}"#,
        frame(Some(u32::MAX), Command::Ping),
    );
    check_command(r#"{"op":"ping"}"#, frame(None, Command::Ping));
}

#[test]
fn unknown_fields_and_whitespace_are_ignored() {
    let decoded = Codec::Json
        .decode_command(b" \n{ \"op\" : \"ping\", \"id\" : 1, \"future\" : {\"x\": [1, 2]} }\n")
        .unwrap();
    assert_eq!(decoded, frame(Some(1), Command::Ping));
}

// ---------------------------------------------------------------------------------------------
// Events

#[test]
fn msg_event_without_client_msg_id_omits_the_key() {
    check_event(Event::Msg(sample_msg(None)), MSG_JSON);
}

#[test]
fn msg_event_with_client_msg_id_echoes_it_last() {
    check_event(
        Event::Msg(sample_msg(Some("m-1"))),
        r#"{"ev":"msg","channel":"class:s1:c1","seq":42,"event_id":"01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e","from":"t1","body":{"text":"Homework: page 12"},"ts":"2026-11-27T05:19:00.123Z","client_msg_id":"m-1"}"#,
    );
}

#[test]
fn notification_event_carries_kind_title_body_and_data() {
    check_event(
        Event::Notification(Notification {
            channel: "user:s1:p1".into(),
            seq: 3,
            event_id: EVENT_ID.into(),
            kind: "fees.reminder".into(),
            title: "Fees due".into(),
            body: "Term 2 fees are due on Friday.".into(),
            data: body(json!({"amount": 1500, "currency": "KES"})),
            ts: TS.into(),
        }),
        r#"{"ev":"notification","channel":"user:s1:p1","seq":3,"event_id":"01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e","kind":"fees.reminder","title":"Fees due","body":"Term 2 fees are due on Friday.","data":{"amount":1500,"currency":"KES"},"ts":"2026-11-27T05:19:00.123Z"}"#,
    );
}

#[test]
fn notification_event_without_data_reads_back_an_empty_map() {
    let json = r#"{"ev":"notification","channel":"user:s1:p1","seq":1,"event_id":"e","kind":"event","title":"t","body":"b","ts":"2026-11-27T05:19:00.123Z"}"#;
    let ServerFrame::Event(Event::Notification(n)) =
        Codec::Json.decode_server_frame(json.as_bytes()).unwrap()
    else {
        panic!("not a notification")
    };
    assert!(n.data.is_empty());
}

#[test]
fn synced_event_carries_the_head() {
    check_event(
        Event::Synced {
            channel: "class:s1:c1".into(),
            head: 42,
        },
        r#"{"ev":"synced","channel":"class:s1:c1","head":42}"#,
    );
}

#[test]
fn presence_event_lists_who_joined_and_who_left() {
    check_event(
        Event::Presence {
            channel: "class:s1:c1".into(),
            joined: vec!["p1".into(), "p2".into()],
            left: vec![],
        },
        r#"{"ev":"presence","channel":"class:s1:c1","joined":["p1","p2"],"left":[]}"#,
    );
}

#[test]
fn typing_event_names_the_user() {
    check_event(
        Event::Typing {
            channel: "dm:s1:p1:t1".into(),
            user: "t1".into(),
        },
        r#"{"ev":"typing","channel":"dm:s1:p1:t1","user":"t1"}"#,
    );
}

#[test]
fn read_event_names_the_user_and_the_seq() {
    check_event(
        Event::Read {
            channel: "dm:s1:p1:t1".into(),
            user: "p1".into(),
            seq: 12,
        },
        r#"{"ev":"read","channel":"dm:s1:p1:t1","user":"p1","seq":12}"#,
    );
}

#[test]
fn error_event_uses_the_snake_case_code() {
    check_event(
        Event::Error {
            code: ErrorCode::BadRequest,
            message: "unknown op `dance`".into(),
            channel: None,
        },
        r#"{"ev":"error","code":"bad_request","message":"unknown op `dance`"}"#,
    );
}

#[test]
fn an_error_event_about_an_ended_subscription_names_its_channel() {
    check_event(
        Event::Error {
            code: ErrorCode::Forbidden,
            message: "subscription ended: the refreshed token does not allow class:s1:c7".into(),
            channel: Some("class:s1:c7".into()),
        },
        r#"{"ev":"error","code":"forbidden","message":"subscription ended: the refreshed token does not allow class:s1:c7","channel":"class:s1:c7"}"#,
    );
}

#[test]
fn every_error_code_has_its_wire_name() {
    let all = [
        (ErrorCode::BadRequest, "bad_request"),
        (ErrorCode::Unauthorized, "unauthorized"),
        (ErrorCode::Forbidden, "forbidden"),
        (ErrorCode::NotFound, "not_found"),
        (ErrorCode::MethodNotAllowed, "method_not_allowed"),
        (ErrorCode::RateLimited, "rate_limited"),
        (ErrorCode::TooLarge, "too_large"),
        (ErrorCode::Conflict, "conflict"),
        (ErrorCode::Unavailable, "unavailable"),
        (ErrorCode::Internal, "internal"),
    ];
    for (code, name) in all {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.to_string(), name);
        assert_eq!(serde_json::to_value(code).unwrap(), json!(name));
        assert_eq!(
            serde_json::from_value::<ErrorCode>(json!(name)).unwrap(),
            code
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Replies

#[test]
fn connected_reply_lists_resumed_and_refused_channels() {
    let connected = Connected {
        user: "p1".into(),
        school: "s1".into(),
        role: "parent".into(),
        session: "sess-1".into(),
        heartbeat_s: 25,
        inbox: "user:s1:p1".into(),
        resumed: BTreeMap::from([("class:s1:c1".to_owned(), 44)]),
        refused: BTreeMap::from([("class:s2:c9".to_owned(), ErrorCode::Forbidden)]),
    };
    check_ok_reply(
        1,
        OkBody::Connected(connected.clone()),
        connected,
        r#"{"id":1,"ok":{"user":"p1","school":"s1","role":"parent","session":"sess-1","heartbeat_s":25,"inbox":"user:s1:p1","resumed":{"class:s1:c1":44},"refused":{"class:s2:c9":"forbidden"}}}"#,
    );
}

#[test]
fn subscribed_reply_carries_the_head() {
    let ok = Subscribed {
        channel: "class:s1:c1".into(),
        head: 42,
    };
    check_ok_reply(
        2,
        OkBody::Subscribed(ok.clone()),
        ok,
        r#"{"id":2,"ok":{"channel":"class:s1:c1","head":42}}"#,
    );
}

#[test]
fn published_reply_carries_seq_event_id_and_ts() {
    let ok = Published {
        channel: "class:s1:c1".into(),
        seq: 43,
        event_id: EVENT_ID.into(),
        ts: TS.into(),
    };
    check_ok_reply(
        5,
        OkBody::Published(ok.clone()),
        ok,
        r#"{"id":5,"ok":{"channel":"class:s1:c1","seq":43,"event_id":"01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e","ts":"2026-11-27T05:19:00.123Z"}}"#,
    );
}

#[test]
fn history_reply_embeds_msg_events_and_has_more() {
    let ok = History {
        channel: "class:s1:c1".into(),
        messages: vec![Event::Msg(sample_msg(None))],
        has_more: true,
    };
    check_ok_reply(
        7,
        OkBody::History(ok.clone()),
        ok,
        &format!(
            r#"{{"id":7,"ok":{{"channel":"class:s1:c1","messages":[{MSG_JSON}],"has_more":true}}}}"#
        ),
    );
}

#[test]
fn channels_reply_lists_summaries_with_and_without_a_last_message() {
    let ok = Channels {
        channels: vec![
            ChannelSummary {
                channel: "class:s1:c1".into(),
                head: 42,
                read_seq: 40,
                unread: 2,
                last: Some(Event::Msg(sample_msg(None))),
            },
            ChannelSummary {
                channel: "user:s1:p1".into(),
                head: 0,
                read_seq: 0,
                unread: 0,
                last: None,
            },
        ],
        next_cursor: None,
    };
    check_ok_reply(
        9,
        OkBody::Channels(ok.clone()),
        ok,
        &format!(
            r#"{{"id":9,"ok":{{"channels":[{{"channel":"class:s1:c1","head":42,"read_seq":40,"unread":2,"last":{MSG_JSON}}},{{"channel":"user:s1:p1","head":0,"read_seq":0,"unread":0,"last":null}}]}}}}"#
        ),
    );
}

#[test]
fn a_channels_page_with_more_after_it_carries_next_cursor() {
    let ok = Channels {
        channels: vec![ChannelSummary {
            channel: "user:s1:p1".into(),
            head: 0,
            read_seq: 0,
            unread: 0,
            last: None,
        }],
        next_cursor: Some("user:s1:p1".into()),
    };
    check_ok_reply(
        9,
        OkBody::Channels(ok.clone()),
        ok,
        r#"{"id":9,"ok":{"channels":[{"channel":"user:s1:p1","head":0,"read_seq":0,"unread":0,"last":null}],"next_cursor":"user:s1:p1"}}"#,
    );
}

#[test]
fn presence_reply_lists_users() {
    let ok = Presence {
        channel: "class:s1:c1".into(),
        users: vec!["p1".into(), "t1".into()],
    };
    check_ok_reply(
        11,
        OkBody::Presence(ok.clone()),
        ok,
        r#"{"id":11,"ok":{"channel":"class:s1:c1","users":["p1","t1"]}}"#,
    );
}

#[test]
fn refreshed_reply_carries_the_new_expiry() {
    let ok = Refreshed { exp: 1_795_000_000 };
    check_ok_reply(
        12,
        OkBody::Refreshed(ok.clone()),
        ok,
        r#"{"id":12,"ok":{"exp":1795000000}}"#,
    );
}

#[test]
fn empty_reply_is_an_empty_map() {
    check_ok_reply(
        13,
        OkBody::Empty(Empty {}),
        Empty {},
        r#"{"id":13,"ok":{}}"#,
    );
}

#[test]
fn error_reply_carries_code_message_and_retry_after() {
    let error = ErrorBody {
        code: ErrorCode::RateLimited,
        message: "slow down".into(),
        retry_after_ms: Some(1500),
    };
    let reply: Reply<OkBody> = Reply::error(14, error.clone());
    for decoded in check_server_frame(
        &reply,
        r#"{"id":14,"error":{"code":"rate_limited","message":"slow down","retry_after_ms":1500}}"#,
    ) {
        assert_eq!(decoded, ServerFrame::Reply(Reply::error(14, error.clone())));
        let ServerFrame::Reply(reply) = decoded else {
            unreachable!()
        };
        assert_eq!(reply.ok_as::<Empty>(), Err(error.clone()));
    }
}

#[test]
fn error_reply_without_retry_after_omits_the_key() {
    let reply: Reply<OkBody> = Reply::error(15, ErrorBody::new(ErrorCode::Conflict, "differs"));
    check_server_frame(
        &reply,
        r#"{"id":15,"error":{"code":"conflict","message":"differs"}}"#,
    );
}
