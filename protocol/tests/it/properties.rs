//! Property tests: no input makes a decoder panic, and every valid frame survives both codecs.

use std::collections::BTreeMap;

use oneclass_protocol::command::{Body, RawCommand};
use oneclass_protocol::event::{Msg, Notification};
use oneclass_protocol::reply::{ErrorBody, Reply};
use oneclass_protocol::{ChannelName, Codec, Command, CommandFrame, ErrorCode, Event, ServerFrame};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Strategies

fn id_part() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_.-]{1,64}"
}

fn channel_name() -> impl Strategy<Value = ChannelName> {
    prop_oneof![
        id_part().prop_map(|school| ChannelName::Announcements { school }),
        (id_part(), id_part()).prop_map(|(school, class)| ChannelName::Class { school, class }),
        (id_part(), id_part()).prop_map(|(school, user)| ChannelName::Inbox { school, user }),
        (id_part(), id_part(), id_part())
            .prop_filter_map("a DM needs two different users", |(school, x, y)| {
                ChannelName::dm(&school, &x, &y)
            }),
    ]
}

/// Floats whose decimal form parses back to the same bits in any JSON parser.
fn exact_float() -> impl Strategy<Value = f64> {
    (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 8.0)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        exact_float().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Body> {
    prop::collection::btree_map(any::<String>(), json_value(), 0..6)
        .prop_map(|m| m.into_iter().collect())
}

fn command() -> impl Strategy<Value = Command> {
    let resume = prop::collection::btree_map(
        channel_name().prop_map(|c| c.to_string()),
        any::<u64>(),
        0..4,
    );
    prop_oneof![
        (any::<String>(), resume).prop_map(|(token, resume)| Command::Connect { token, resume }),
        (channel_name(), any::<Option<u64>>())
            .prop_map(|(channel, since)| Command::Subscribe { channel, since }),
        channel_name().prop_map(|channel| Command::Unsubscribe { channel }),
        (channel_name(), body(), any::<Option<String>>()).prop_map(
            |(channel, body, client_msg_id)| Command::Publish {
                channel,
                body,
                client_msg_id
            }
        ),
        (channel_name(), any::<Option<u64>>(), any::<Option<u32>>()).prop_map(
            |(channel, before, limit)| Command::History {
                channel,
                before,
                limit
            }
        ),
        (any::<Option<String>>(), any::<Option<u32>>())
            .prop_map(|(cursor, limit)| Command::Channels { cursor, limit }),
        (channel_name(), any::<u64>()).prop_map(|(channel, seq)| Command::Read { channel, seq }),
        channel_name().prop_map(|channel| Command::Presence { channel }),
        channel_name().prop_map(|channel| Command::Typing { channel }),
        any::<String>().prop_map(|token| Command::Refresh { token }),
        Just(Command::Ping),
    ]
}

fn command_frame() -> impl Strategy<Value = CommandFrame> {
    (any::<Option<u32>>(), command()).prop_map(|(id, command)| CommandFrame { id, command })
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(vec![
        ErrorCode::BadRequest,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RateLimited,
        ErrorCode::TooLarge,
        ErrorCode::Conflict,
        ErrorCode::Unavailable,
        ErrorCode::Internal,
    ])
}

fn event() -> impl Strategy<Value = Event> {
    let s = any::<String>;
    let users = || prop::collection::vec(any::<String>(), 0..5);
    prop_oneof![
        (
            s(),
            any::<u64>(),
            s(),
            s(),
            body(),
            s(),
            any::<Option<String>>()
        )
            .prop_map(|(channel, seq, event_id, from, body, ts, client_msg_id)| {
                Event::Msg(Msg {
                    channel,
                    seq,
                    event_id,
                    from,
                    body,
                    ts,
                    client_msg_id,
                })
            }),
        (s(), any::<u64>(), s(), s(), s(), s(), body(), s()).prop_map(
            |(channel, seq, event_id, kind, title, body, data, ts)| {
                Event::Notification(Notification {
                    channel,
                    seq,
                    event_id,
                    kind,
                    title,
                    body,
                    data,
                    ts,
                })
            }
        ),
        (s(), any::<u64>()).prop_map(|(channel, head)| Event::Synced { channel, head }),
        (s(), users(), users()).prop_map(|(channel, joined, left)| Event::Presence {
            channel,
            joined,
            left
        }),
        (s(), s()).prop_map(|(channel, user)| Event::Typing { channel, user }),
        (s(), s(), any::<u64>()).prop_map(|(channel, user, seq)| Event::Read {
            channel,
            user,
            seq
        }),
        (error_code(), s(), prop::option::of(s())).prop_map(|(code, message, channel)| {
            Event::Error {
                code,
                message,
                channel,
            }
        }),
    ]
}

/// A valid encoded command with a few bytes overwritten, inserted or removed: inputs close to
/// valid frames reach deeper into the decoders than uniformly random bytes.
fn mutated_frame() -> impl Strategy<Value = (Codec, Vec<u8>)> {
    (
        prop::sample::select(Codec::ALL.to_vec()),
        command_frame(),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    )
        .prop_map(|(codec, frame, edits)| {
            let mut bytes = codec.encode(&RawCommand::from(&frame)).to_vec();
            for (at, byte, kind) in edits {
                if bytes.is_empty() {
                    bytes.push(byte);
                    continue;
                }
                let i = at.index(bytes.len());
                match kind {
                    0 => bytes[i] = byte,
                    1 => bytes.insert(i, byte),
                    _ => {
                        bytes.remove(i);
                    }
                }
            }
            (codec, bytes)
        })
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_make_either_decoder_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for codec in Codec::ALL {
            let _ = codec.decode_command(&bytes);
            let _ = codec.decode_server_frame(&bytes);
        }
    }

    #[test]
    fn bytes_that_start_like_a_map_never_make_either_decoder_panic(
        first in prop::sample::select(vec![b'{', 0x80, 0x81, 0x85, 0x8f, 0xde, 0xdf]),
        rest in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let bytes = [&[first][..], &rest].concat();
        for codec in Codec::ALL {
            let _ = codec.decode_command(&bytes);
            let _ = codec.decode_server_frame(&bytes);
        }
    }

    #[test]
    fn mutated_valid_frames_never_make_either_decoder_panic((codec, bytes) in mutated_frame()) {
        let _ = codec.decode_command(&bytes);
        let _ = codec.decode_server_frame(&bytes);
        // The other codec must cope with the foreign bytes too.
        for other in Codec::ALL {
            let _ = other.decode_command(&bytes);
        }
    }

    #[test]
    fn every_valid_command_frame_round_trips_through_both_codecs(frame in command_frame()) {
        let raw = RawCommand::from(&frame);
        for codec in Codec::ALL {
            let bytes = codec.encode(&raw);
            prop_assert_eq!(codec.decode_command(&bytes), Ok(frame.clone()), "{:?}", codec);
        }
    }

    #[test]
    fn both_codecs_carry_the_same_map_for_every_command(frame in command_frame()) {
        let raw = RawCommand::from(&frame);
        let from_json: Value = serde_json::from_slice(&Codec::Json.encode(&raw)).unwrap();
        let from_msgpack: Value = rmp_serde::from_slice(&Codec::MsgPack.encode(&raw)).unwrap();
        prop_assert_eq!(from_json, from_msgpack);
    }

    #[test]
    fn every_event_round_trips_through_encode_and_decode_server_frame(event in event()) {
        for codec in Codec::ALL {
            let bytes = codec.encode(&event);
            prop_assert_eq!(
                codec.decode_server_frame(&bytes),
                Ok(ServerFrame::Event(event.clone())),
                "{:?}",
                codec
            );
        }
    }

    #[test]
    fn every_error_reply_round_trips_through_encode_and_decode_server_frame(
        id in any::<u32>(),
        code in error_code(),
        message in any::<String>(),
        retry_after_ms in any::<Option<u64>>(),
    ) {
        let reply: Reply = Reply::error(id, ErrorBody { code, message, retry_after_ms });
        for codec in Codec::ALL {
            let bytes = codec.encode(&reply);
            prop_assert_eq!(
                codec.decode_server_frame(&bytes),
                Ok(ServerFrame::Reply(reply.clone())),
                "{:?}",
                codec
            );
        }
    }

    #[test]
    fn every_valid_channel_name_parses_back_from_its_text(channel in channel_name()) {
        prop_assert_eq!(ChannelName::parse(&channel.to_string()), Ok(channel));
    }
}

#[test]
fn a_resume_map_round_trips_with_many_channels() {
    let resume: BTreeMap<String, u64> = (0..200)
        .map(|i| (format!("class:s1:c{i}"), u64::MAX - i))
        .collect();
    let frame = CommandFrame {
        id: Some(1),
        command: Command::Connect {
            token: "t".into(),
            resume,
        },
    };
    for codec in Codec::ALL {
        let bytes = codec.encode(&RawCommand::from(&frame));
        assert_eq!(codec.decode_command(&bytes).unwrap(), frame);
    }
}
