//! Codec costs on the hot path of a chat message: encoding the `msg` event the hub fans out and
//! decoding the `publish` command a client sends, in both codecs, with a ~100-byte text body.
//!
//! `cargo bench -p oneclass-protocol --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use oneclass_protocol::command::{Body, RawCommand};
use oneclass_protocol::event::Msg;
use oneclass_protocol::{ChannelName, Codec, Command, CommandFrame, Event};

/// 100 bytes of message text.
const TEXT: &str = "Reminder: the science fair is on Friday at 9am. Please bring your projects and a signed form. Thanks";

fn body() -> Body {
    let mut body = Body::new();
    body.insert("text".into(), TEXT.into());
    body
}

fn msg_event() -> Event {
    Event::Msg(Msg {
        channel: "class:school-001:grade5-blue".into(),
        seq: 123_456,
        event_id: "01936f8e-7c3a-7b42-9d1e-2f3a4b5c6d7e".into(),
        from: "teacher-0042".into(),
        body: body(),
        ts: "2026-11-27T05:19:00.123Z".into(),
        client_msg_id: Some("c3f1a2b4-msg-0001".into()),
    })
}

fn publish_frame() -> CommandFrame {
    CommandFrame {
        id: Some(17),
        command: Command::Publish {
            channel: ChannelName::parse("class:school-001:grade5-blue").unwrap(),
            body: body(),
            client_msg_id: Some("c3f1a2b4-msg-0001".into()),
        },
    }
}

fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::Json => "json",
        Codec::MsgPack => "msgpack",
    }
}

fn bench(c: &mut Criterion) {
    assert_eq!(TEXT.len(), 100);
    let event = msg_event();
    let frame = publish_frame();

    for codec in Codec::ALL {
        let name = codec_name(codec);
        let publish = codec.encode(&RawCommand::from(&frame));
        assert_eq!(codec.decode_command(&publish).unwrap(), frame);

        let mut group = c.benchmark_group(format!("chat_message/{name}"));
        group.throughput(Throughput::Elements(1));
        group.bench_function("encode_msg_event", |b| {
            b.iter(|| codec.encode(black_box(&event)));
        });
        group.bench_function("decode_publish", |b| {
            b.iter(|| codec.decode_command(black_box(&publish)).unwrap());
        });
        // What the hub does per chat message: decode the publish, encode the event.
        group.bench_function("decode_publish+encode_msg_event", |b| {
            b.iter(|| {
                let frame = codec.decode_command(black_box(&publish)).unwrap();
                let bytes = codec.encode(black_box(&event));
                (frame, bytes)
            });
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
