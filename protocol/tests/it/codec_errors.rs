//! Frames that do not decode, and how the failure is classified: `Malformed` (the hub closes with
//! 1007) versus `Invalid` (the hub replies `bad_request`, naming the frame's `id` when it had one).

use oneclass_protocol::codec::MAX_DEPTH;
use oneclass_protocol::command::InvalidCommand;
use oneclass_protocol::{Codec, Command, DecodeError};
use serde_json::Value;

/// A frame written as JSON text, in both codecs: the text itself and the same map as MessagePack.
fn both(json: &str) -> [(Codec, Vec<u8>); 2] {
    let value: Value = serde_json::from_str(json).unwrap();
    [
        (Codec::Json, json.as_bytes().to_vec()),
        (Codec::MsgPack, rmp_serde::to_vec_named(&value).unwrap()),
    ]
}

fn assert_malformed(codec: Codec, bytes: &[u8]) {
    match codec.decode_command(bytes) {
        Err(DecodeError::Malformed(_)) => {}
        other => panic!("{codec:?} {bytes:02x?}: expected Malformed, got {other:?}"),
    }
    match codec.decode_server_frame(bytes) {
        Err(DecodeError::Malformed(_)) => {}
        other => {
            panic!("{codec:?} {bytes:02x?} as a server frame: expected Malformed, got {other:?}")
        }
    }
}

/// Expects `Invalid` in both codecs, with `id`, and a message containing `needle`.
fn assert_invalid(json: &str, id: Option<u32>, needle: &str) {
    for (codec, bytes) in both(json) {
        match codec.decode_command(&bytes) {
            Err(DecodeError::Invalid(InvalidCommand { id: got, message })) => {
                assert_eq!(got, id, "{codec:?} {json}: id");
                assert!(
                    message.contains(needle),
                    "{codec:?} {json}: {message:?} lacks {needle:?}"
                );
            }
            other => panic!("{codec:?} {json}: expected Invalid, got {other:?}"),
        }
    }
}

/// A MessagePack map `{"op": "ping", key: <value>}` built by hand around raw value bytes.
fn msgpack_ping_with(key: &str, value: &[u8]) -> Vec<u8> {
    let mut out = vec![0x82, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g'];
    out.push(0xa0 | key.len() as u8);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(value);
    out
}

/// A publish whose frame nests maps `levels` deep, the top-level map counted as level 1.
fn nested_publish_json(levels: usize) -> String {
    let inner = levels - 1; // the body and the maps inside it
    format!(
        r#"{{"op":"publish","id":1,"channel":"class:s1:c1","body":{}{{}}{}}}"#,
        r#"{"a":"#.repeat(inner - 1),
        "}".repeat(inner - 1)
    )
}

fn nested_publish(levels: usize) -> [(Codec, Vec<u8>); 2] {
    let json = nested_publish_json(levels);
    // Built by hand: serde_json's own recursion limit would refuse to parse the deep text.
    let mut packed = vec![0x84];
    for (k, v) in [("op", "publish"), ("channel", "class:s1:c1")] {
        packed.push(0xa0 | k.len() as u8);
        packed.extend_from_slice(k.as_bytes());
        packed.push(0xa0 | v.len() as u8);
        packed.extend_from_slice(v.as_bytes());
    }
    packed.extend_from_slice(&[0xa2, b'i', b'd', 0x01, 0xa4, b'b', b'o', b'd', b'y']);
    for _ in 0..levels - 2 {
        packed.extend_from_slice(&[0x81, 0xa1, b'a']);
    }
    packed.push(0x80);
    [(Codec::Json, json.into_bytes()), (Codec::MsgPack, packed)]
}

// ---------------------------------------------------------------------------------------------
// Malformed: JSON

#[test]
fn invalid_json_syntax_is_malformed() {
    assert_malformed(Codec::Json, br#"{"op":"ping","id":"#);
    assert_malformed(Codec::Json, br#"{"op" "ping"}"#);
    assert_malformed(Codec::Json, br#"{'op':'ping'}"#);
}

#[test]
fn an_empty_or_blank_json_frame_is_malformed() {
    assert_malformed(Codec::Json, b"");
    assert_malformed(Codec::Json, b"  \n ");
}

#[test]
fn a_json_array_at_the_top_is_malformed() {
    assert_malformed(Codec::Json, br#"[{"op":"ping"}]"#);
}

#[test]
fn a_json_string_at_the_top_is_malformed() {
    assert_malformed(Codec::Json, br#""ping""#);
}

#[test]
fn a_json_number_or_literal_at_the_top_is_malformed() {
    assert_malformed(Codec::Json, b"42");
    assert_malformed(Codec::Json, b"null");
    assert_malformed(Codec::Json, b"true");
}

#[test]
fn trailing_garbage_after_a_json_object_is_malformed() {
    assert_malformed(Codec::Json, br#"{"op":"ping"} x"#);
    assert_malformed(Codec::Json, br#"{"op":"ping"}{"op":"ping"}"#);
}

#[test]
fn invalid_utf8_in_a_json_frame_is_malformed_even_in_an_ignored_field() {
    assert_malformed(Codec::Json, b"{\"op\":\"ping\",\"x\":\"\xff\xfe\"}");
    assert_malformed(Codec::Json, b"{\"op\":\"\xc3\"}");
}

#[test]
fn a_syntax_error_after_a_mistyped_field_is_still_malformed() {
    // serde stops at the first wrong type; the rest of the text must still be checked.
    assert_malformed(Codec::Json, br#"{"op":"publish","id":1,"body":5,"#);
    assert_malformed(Codec::Json, br#"{"op":"ping","id":"x"} trailing"#);
}

// ---------------------------------------------------------------------------------------------
// Malformed: MessagePack

#[test]
fn an_empty_msgpack_frame_is_malformed() {
    assert_malformed(Codec::MsgPack, b"");
}

#[test]
fn invalid_msgpack_is_malformed() {
    // 0xc1 is a reserved marker that never appears in valid MessagePack.
    assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", &[0xc1]));
    assert_malformed(Codec::MsgPack, &[0xc1]);
    // JSON text on a MessagePack connection.
    assert_malformed(Codec::MsgPack, br#"{"op":"ping"}"#);
}

#[test]
fn a_msgpack_array_at_the_top_is_malformed() {
    let packed = rmp_serde::to_vec(&("ping", 1)).unwrap();
    assert_eq!(packed[0], 0x92);
    assert_malformed(Codec::MsgPack, &packed);
    assert_malformed(Codec::MsgPack, &[0xdc, 0x00, 0x00]);
}

#[test]
fn a_msgpack_scalar_at_the_top_is_malformed() {
    assert_malformed(Codec::MsgPack, &[0x01]);
    assert_malformed(Codec::MsgPack, &[0xa4, b'p', b'i', b'n', b'g']);
    assert_malformed(Codec::MsgPack, &[0xc0]);
}

#[test]
fn a_bin_value_is_malformed_even_in_an_ignored_field() {
    for bin in [
        &[0xc4, 0x01, 0x00][..],
        &[0xc5, 0x00, 0x01, 0x00],
        &[0xc6, 0, 0, 0, 1, 0],
    ] {
        assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", bin));
    }
    // A bin where a string is expected.
    assert_malformed(
        Codec::MsgPack,
        &[0x81, 0xa2, b'o', b'p', 0xc4, 0x04, b'p', b'i', b'n', b'g'],
    );
}

#[test]
fn an_ext_value_is_malformed() {
    for ext in [
        &[0xd4, 0x01, 0x00][..],
        &[0xd5, 0x01, 0x00, 0x00],
        &[0xd6, 0x01, 0, 0, 0, 0],
        &[0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0],
        &[0xc7, 0x01, 0x01, 0x00],
        // The timestamp extension (type -1) is an ext like any other.
        &[0xd6, 0xff, 0, 0, 0, 0],
    ] {
        assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", ext));
    }
}

#[test]
fn a_non_string_map_key_is_malformed() {
    // {1: "ping"}
    assert_malformed(Codec::MsgPack, &[0x81, 0x01, 0xa4, b'p', b'i', b'n', b'g']);
    // {"op": "ping", "x": {nil: 1}}
    assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", &[0x81, 0xc0, 0x01]));
    // {"op": "ping", "x": {[]: 1}}
    assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", &[0x81, 0x90, 0x01]));
}

#[test]
fn an_invalid_utf8_string_is_malformed() {
    assert_malformed(Codec::MsgPack, &msgpack_ping_with("x", &[0xa2, 0xff, 0xfe]));
    // As a key.
    assert_malformed(Codec::MsgPack, &[0x81, 0xa1, 0xff, 0x01]);
    // As the op itself.
    assert_malformed(Codec::MsgPack, &[0x81, 0xa2, b'o', b'p', 0xa1, 0xc3]);
}

#[test]
fn a_truncated_msgpack_frame_is_malformed_at_every_cut() {
    let json = r#"{"op":"publish","id":77,"channel":"class:s1:c1","body":{"text":"hello there","n":[1,2.5,-3,null,true]},"client_msg_id":"m"}"#;
    let [_, (_, packed)] = both(json);
    assert!(Codec::MsgPack.decode_command(&packed).is_ok());
    for cut in 0..packed.len() {
        assert_malformed(Codec::MsgPack, &packed[..cut]);
    }
    // A string or map that claims more bytes than the frame holds.
    assert_malformed(
        Codec::MsgPack,
        &msgpack_ping_with("x", &[0xdb, 0xff, 0xff, 0xff, 0xff]),
    );
    assert_malformed(
        Codec::MsgPack,
        &msgpack_ping_with("x", &[0xdf, 0xff, 0xff, 0xff, 0xff]),
    );
    assert_malformed(
        Codec::MsgPack,
        &msgpack_ping_with("x", &[0xdd, 0xff, 0xff, 0xff, 0xff]),
    );
}

#[test]
fn trailing_bytes_after_a_msgpack_map_are_malformed() {
    let [_, (_, mut packed)] = both(r#"{"op":"ping","id":1}"#);
    packed.push(0xc0);
    assert_malformed(Codec::MsgPack, &packed);
    let [_, (_, ping)] = both(r#"{"op":"ping"}"#);
    assert_malformed(Codec::MsgPack, &[ping.clone(), ping].concat());
}

// ---------------------------------------------------------------------------------------------
// Malformed: depth, in both codecs

#[test]
fn nesting_of_exactly_max_depth_levels_is_accepted_by_both_codecs() {
    for (codec, bytes) in nested_publish(MAX_DEPTH) {
        let frame = codec
            .decode_command(&bytes)
            .unwrap_or_else(|e| panic!("{codec:?}: {e}"));
        assert!(matches!(frame.command, Command::Publish { .. }));
    }
}

#[test]
fn nesting_deeper_than_max_depth_is_malformed_in_both_codecs() {
    for levels in [MAX_DEPTH + 1, MAX_DEPTH + 2, 200, 10_000] {
        for (codec, bytes) in nested_publish(levels) {
            assert_malformed(codec, &bytes);
        }
    }
}

#[test]
fn deep_arrays_count_towards_the_depth_limit_like_maps() {
    let json = format!(
        r#"{{"op":"ping","x":{}{}}}"#,
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    assert_malformed(Codec::Json, json.as_bytes());
    let mut packed = vec![
        0x82, 0xa2, b'o', b'p', 0xa4, b'p', b'i', b'n', b'g', 0xa1, b'x',
    ];
    packed.extend(std::iter::repeat_n(0x91, MAX_DEPTH - 1));
    packed.push(0x90);
    assert_malformed(Codec::MsgPack, &packed);
}

#[test]
fn brackets_inside_json_strings_do_not_count_as_nesting() {
    let text = format!("{}\\\"{}", "[{".repeat(100), "}]".repeat(100));
    let json = serde_json::json!({"op": "publish", "id": 1, "channel": "class:s1:c1", "body": {"text": text}});
    let bytes = serde_json::to_vec(&json).unwrap();
    assert!(Codec::Json.decode_command(&bytes).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Invalid: well-formed maps that are not commands

#[test]
fn an_unknown_op_is_invalid_and_keeps_the_id() {
    assert_invalid(r#"{"op":"dance","id":7}"#, Some(7), "unknown op `dance`");
}

#[test]
fn a_missing_op_is_invalid_and_keeps_the_id() {
    assert_invalid(r#"{"id":8,"channel":"class:s1:c1"}"#, Some(8), "op");
    assert_invalid(r#"{}"#, None, "op");
}

#[test]
fn a_missing_token_is_invalid_for_connect_and_refresh() {
    assert_invalid(r#"{"op":"connect","id":1}"#, Some(1), "token");
    assert_invalid(r#"{"op":"refresh","id":2}"#, Some(2), "token");
}

#[test]
fn a_missing_channel_is_invalid_for_every_op_that_needs_one() {
    for op in [
        "subscribe",
        "unsubscribe",
        "publish",
        "history",
        "read",
        "presence",
        "typing",
    ] {
        assert_invalid(
            &format!(r#"{{"op":"{op}","id":3,"body":{{}},"seq":1}}"#),
            Some(3),
            "channel",
        );
    }
}

#[test]
fn a_missing_body_is_invalid_for_publish() {
    assert_invalid(
        r#"{"op":"publish","id":4,"channel":"class:s1:c1"}"#,
        Some(4),
        "body",
    );
}

#[test]
fn a_missing_seq_is_invalid_for_read() {
    assert_invalid(
        r#"{"op":"read","id":5,"channel":"class:s1:c1"}"#,
        Some(5),
        "seq",
    );
}

#[test]
fn a_body_that_is_not_an_object_is_invalid_and_keeps_the_id() {
    for body in [r#""hi""#, "[]", "1", "null"] {
        assert_invalid(
            &format!(r#"{{"op":"publish","id":6,"channel":"class:s1:c1","body":{body}}}"#),
            Some(6),
            "",
        );
    }
}

#[test]
fn an_id_that_is_not_a_u32_is_invalid_without_an_id() {
    for id in [r#""4""#, "-1", "4294967296", "1.5", "[4]"] {
        assert_invalid(&format!(r#"{{"op":"ping","id":{id}}}"#), None, "");
    }
}

#[test]
fn a_negative_or_fractional_seq_is_invalid_and_keeps_the_id() {
    assert_invalid(
        r#"{"op":"read","id":9,"channel":"class:s1:c1","seq":-1}"#,
        Some(9),
        "",
    );
    assert_invalid(
        r#"{"op":"read","id":9,"channel":"class:s1:c1","seq":1.5}"#,
        Some(9),
        "",
    );
    assert_invalid(
        r#"{"op":"subscribe","id":9,"channel":"class:s1:c1","since":-3}"#,
        Some(9),
        "",
    );
}

#[test]
fn other_mistyped_fields_are_invalid_and_keep_the_id() {
    assert_invalid(r#"{"op":"ping","id":10,"channel":5}"#, Some(10), "");
    assert_invalid(
        r#"{"op":"connect","id":10,"token":"t","resume":{"class:s1:c1":"x"}}"#,
        Some(10),
        "",
    );
    assert_invalid(
        r#"{"op":"history","id":10,"channel":"class:s1:c1","limit":-1}"#,
        Some(10),
        "",
    );
    assert_invalid(r#"{"op":7,"id":10}"#, Some(10), "");
}

#[test]
fn a_bad_channel_name_is_invalid_and_keeps_the_id() {
    for name in [
        "room:s1:x",
        "class:s1",
        "class:s1:c1:extra",
        "class:s 1:c1",
        "class::c1",
        "school:s1:news",
        "",
        &format!("class:s1:{}", "c".repeat(65)),
    ] {
        assert_invalid(
            &format!(r#"{{"op":"subscribe","id":11,"channel":"{name}"}}"#),
            Some(11),
            "channel",
        );
    }
}

#[test]
fn an_unsorted_or_self_dm_is_invalid_and_keeps_the_id() {
    assert_invalid(
        r#"{"op":"subscribe","id":12,"channel":"dm:s1:t1:p1"}"#,
        Some(12),
        "sorted",
    );
    assert_invalid(
        r#"{"op":"publish","id":12,"channel":"dm:s1:p1:p1","body":{}}"#,
        Some(12),
        "sorted",
    );
}

#[test]
fn a_server_frame_that_is_neither_reply_nor_event_is_invalid() {
    for json in [
        r#"{"ev":"dance"}"#,
        r#"{"ev":"msg","channel":"c"}"#,
        r#"{"ok":{}}"#,
    ] {
        for (codec, bytes) in both(json) {
            assert!(
                matches!(
                    codec.decode_server_frame(&bytes),
                    Err(DecodeError::Invalid(_))
                ),
                "{codec:?} {json}"
            );
        }
    }
}
