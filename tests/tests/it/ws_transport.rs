//! The WebSocket transport under hostile framing, from a raw TCP socket: the upgrade is done by
//! hand and frames are written byte by byte, so each test controls every header bit and length
//! and reads the hub's close frame itself (issue 9, C1 and L1).
//!
//! The hub refuses a message by its header, before its payload arrives: an announcement over
//! the message limit (64 KiB here; fragments added up) closes 1009 before or after `connect`,
//! and the hub never holds more than the limit plus its read-ahead for a connection; RSV bits
//! close 1002; a text frame that is not UTF-8 closes 1007; a message of exactly the limit works.
//! Heartbeats are set to a minute so that a heartbeat drop cannot pass for any of these closes.

use std::time::Duration;

use oneclass_actors::rate_limit::Quota;
use oneclass_actors::{Limits, Role};
use oneclass_tests::{metric, token, within, TestHub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CONTINUATION: u8 = 0x0;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;

/// The mask every frame of these tests carries (client frames must be masked).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A hub whose heartbeat cannot close anything within a test.
fn hub() -> TestHub {
    TestHub::spawn_with(|s| s.limits.heartbeat = Duration::from_secs(60))
}

fn limit() -> usize {
    Limits::default().max_message_bytes
}

/// The header of a masked client frame announcing `len` bytes, in the shortest length form,
/// with `rsv` (bits 4-6 of the first byte) as given.
fn header(fin: bool, rsv: u8, opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    match len {
        0..=125 => out.push(0x80 | len as u8),
        126..=0xFFFF => {
            out.push(0x80 | 126);
            out.extend((len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend(len.to_be_bytes());
        }
    }
    out.extend(MASK);
    out
}

/// A whole masked client frame carrying `payload`.
fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, 0, opcode, payload.len() as u64);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// A JSON `ping` command with `id`, padded with spaces to exactly `len` bytes.
fn ping_of(id: u32, len: usize) -> Vec<u8> {
    let mut text = format!(r#"{{"op":"ping","id":{id}"#).into_bytes();
    text.resize(len - 1, b' ');
    text.push(b'}');
    text
}

/// One frame from the hub (server frames are not masked).
#[derive(Debug)]
struct ServerFrame {
    opcode: u8,
    payload: Vec<u8>,
}

/// A WebSocket connection on a bare TCP socket.
struct RawWs {
    tcp: TcpStream,
    /// Bytes read from the hub and not yet parsed into frames.
    read: Vec<u8>,
}

impl RawWs {
    /// Upgrades a new TCP connection to `/ws` with the JSON subprotocol.
    async fn open(hub: &TestHub) -> Self {
        let mut tcp = TcpStream::connect(hub.addr).await.expect("tcp connect");
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: oneclass.v1.json\r\n\r\n",
            hub.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut read = Vec::new();
        let end = loop {
            if let Some(at) = read.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut buf = [0u8; 1024];
            let n = within(10, tcp.read(&mut buf)).await.unwrap();
            assert!(n > 0, "the hub closed during the upgrade");
            read.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&read[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        read.drain(..end);
        Self { tcp, read }
    }

    /// Upgrades and connects as a parent of s1.
    async fn connected(hub: &TestHub) -> Self {
        let mut ws = Self::open(hub).await;
        let connect = format!(
            r#"{{"op":"connect","id":1,"token":"{}"}}"#,
            token("p1", "s1", Role::Parent, &["c1"])
        );
        ws.send(&frame(true, TEXT, connect.as_bytes())).await;
        ws.expect_ok(1).await;
        ws
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("write");
    }

    /// The next frame from the hub; `None` once the hub closed the socket.
    async fn next_frame(&mut self) -> Option<ServerFrame> {
        loop {
            if let Some(frame) = parse_frame(&mut self.read) {
                return Some(frame);
            }
            let mut buf = [0u8; 4096];
            match self.tcp.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.read.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// Reads until the reply to `id` and asserts it is `ok`.
    async fn expect_ok(&mut self, id: u32) {
        let prefix = format!(r#"{{"id":{id},"ok""#);
        loop {
            let frame = within(10, self.next_frame())
                .await
                .expect("closed before the reply");
            let text = String::from_utf8_lossy(&frame.payload).into_owned();
            assert_ne!(
                frame.opcode, CLOSE,
                "closed instead of answering {id}: {text}"
            );
            if frame.opcode == TEXT && text.starts_with(&prefix) {
                return;
            }
            assert!(!text.contains(&format!(r#""id":{id}"#)), "{text}");
        }
    }

    /// Reads until the hub's close frame and returns its code.
    async fn close_code(&mut self) -> u16 {
        loop {
            let frame = within(10, self.next_frame())
                .await
                .expect("the socket ended without a close frame");
            if frame.opcode == CLOSE {
                return close_code_of(&frame);
            }
        }
    }

    /// Waits until the hub has closed the TCP connection (end of stream or reset).
    async fn expect_eof(&mut self) {
        within(10, async { while self.next_frame().await.is_some() {} }).await
    }
}

/// Takes a complete frame from the front of `read`, if there is one.
fn parse_frame(read: &mut Vec<u8>) -> Option<ServerFrame> {
    let b = &read[..];
    if b.len() < 2 {
        return None;
    }
    let (len, at) = match b[1] & 0x7F {
        126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
        // unwrap: the slice is 8 bytes long.
        127 if b.len() >= 10 => (
            u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    if b.len() < at + len {
        return None;
    }
    let frame = ServerFrame {
        opcode: b[0] & 0x0F,
        payload: b[at..at + len].to_vec(),
    };
    read.drain(..at + len);
    Some(frame)
}

fn close_code_of(frame: &ServerFrame) -> u16 {
    assert!(frame.payload.len() >= 2, "a close frame without a code");
    u16::from_be_bytes([frame.payload[0], frame.payload[1]])
}

/// How much the client may write after a 2^40 announcement before the hub must have closed:
/// far above what the kernel's socket buffers on both ends and the HTTP layer's own buffers
/// can take without the hub reading, far below the announcement.
const WRITE_CAP: usize = 64 << 20;

/// Sends a header announcing 2^40 bytes, then streams data until the hub's close frame arrives;
/// returns its code. Fails if the hub let the client write `WRITE_CAP` bytes without closing.
async fn announce_2_40_and_stream(ws: &mut RawWs, opcode: u8) -> u16 {
    ws.send(&header(true, 0, opcode, 1 << 40)).await;
    let chunk = vec![0x5a; 64 * 1024];
    let mut written = 0usize;
    let (mut rd, mut wr) = ws.tcp.split();
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            // Reading first: the close is noticed as soon as it is there.
            biased;
            n = rd.read(&mut buf) => {
                let n = n.unwrap_or(0);
                assert!(n > 0, "the socket ended without a close frame after {written} bytes");
                ws.read.extend_from_slice(&buf[..n]);
                while let Some(frame) = parse_frame(&mut ws.read) {
                    if frame.opcode == CLOSE {
                        return close_code_of(&frame);
                    }
                    assert_eq!(frame.opcode, PING, "{frame:?}");
                }
            }
            w = wr.write(&chunk) => match w {
                Ok(n) => {
                    written += n;
                    assert!(
                        written < WRITE_CAP,
                        "the hub read {written} bytes of a 2^40 announcement without closing"
                    );
                }
                Err(e) => panic!("a write failed before the close frame came: {e}"),
            },
        }
    }
}

#[tokio::test]
async fn a_header_announcing_2_40_bytes_before_connect_closes_1009_while_the_client_still_sends() {
    let hub = hub();
    for opcode in [BINARY, TEXT] {
        let mut ws = RawWs::open(&hub).await;
        assert_eq!(announce_2_40_and_stream(&mut ws, opcode).await, 1009);
        ws.expect_eof().await;
    }
    // What the hub held for these connections, at most: the limit and the read-ahead.
    let text = hub.metrics_text().await;
    let peak = metric(&text, "oneclass_ws_read_peak_bytes").expect("the peak metric");
    let bound = Limits::default().max_message_bytes + Limits::default().read_ahead_bytes;
    assert!(peak <= bound as f64, "held {peak} bytes, bound {bound}");
    assert_eq!(metric(&text, "oneclass_ws_too_large_total"), Some(2.0));
}

#[tokio::test]
async fn a_header_announcing_one_byte_over_the_limit_after_connect_closes_1009_without_the_rest() {
    let hub = hub();
    let mut ws = RawWs::connected(&hub).await;
    // A command and then the oversized header with 100 of its 65,537 bytes, in one write: the
    // command is still answered, then the socket closes.
    let mut bytes = frame(true, TEXT, br#"{"op":"ping","id":2}"#);
    bytes.extend(header(true, 0, TEXT, limit() as u64 + 1));
    bytes.extend([b' '; 100]);
    ws.send(&bytes).await;
    ws.expect_ok(2).await;
    assert_eq!(ws.close_code().await, 1009);
    ws.expect_eof().await;
}

#[tokio::test]
async fn continuations_closes_1009_at_the_header_that_takes_the_message_past_the_limit() {
    let hub = hub();
    let mut ws = RawWs::connected(&hub).await;
    // 40 KiB, then a continuation announcing 30 KiB of which only 100 bytes come.
    ws.send(&frame(false, TEXT, &[b' '; 40 * 1024])).await;
    let mut rest = header(true, 0, CONTINUATION, 30 * 1024);
    rest.extend([b' '; 100]);
    ws.send(&rest).await;
    assert_eq!(ws.close_code().await, 1009);
}

#[tokio::test]
async fn a_frame_with_rsv_bits_set_closes_1002() {
    let hub = hub();
    for rsv in [0b100, 0b010, 0b001] {
        let mut ws = RawWs::connected(&hub).await;
        let payload = br#"{"op":"ping","id":2}"#;
        let mut bytes = header(true, rsv, TEXT, payload.len() as u64);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
        ws.send(&bytes).await;
        assert_eq!(ws.close_code().await, 1002, "rsv {rsv:03b}");
    }
}

#[tokio::test]
async fn a_text_frame_that_is_not_utf8_closes_1007_whole_or_fragmented() {
    let hub = hub();
    let mut ws = RawWs::connected(&hub).await;
    ws.send(&frame(true, TEXT, &[b'{', 0xff, 0xfe, b'}'])).await;
    assert_eq!(ws.close_code().await, 1007);

    let mut ws = RawWs::connected(&hub).await;
    ws.send(&frame(false, TEXT, b"{\"op\":")).await;
    ws.send(&frame(true, CONTINUATION, &[0xc3, 0x28, b'}']))
        .await;
    assert_eq!(ws.close_code().await, 1007);
}

#[tokio::test]
async fn a_message_of_exactly_the_limit_works_in_one_frame_and_in_fragments() {
    let hub = hub();
    let mut ws = RawWs::connected(&hub).await;
    ws.send(&frame(true, TEXT, &ping_of(2, limit()))).await;
    ws.expect_ok(2).await;

    let message = ping_of(3, limit());
    let (first, rest) = message.split_at(limit() / 3);
    let (second, third) = rest.split_at(limit() / 3);
    ws.send(&frame(false, TEXT, first)).await;
    // A ping between fragments is answered and does not count towards the message.
    ws.send(&frame(true, PING, b"between")).await;
    ws.send(&frame(false, CONTINUATION, second)).await;
    ws.send(&frame(true, CONTINUATION, third)).await;
    ws.expect_ok(3).await;

    // Byte by byte, a frame of exactly the limit still passes.
    let bytes = frame(true, TEXT, &ping_of(4, limit()));
    for piece in bytes.chunks(7) {
        ws.send(piece).await;
    }
    ws.expect_ok(4).await;
}

#[tokio::test]
async fn thousands_of_commands_in_one_write_are_all_answered_in_order_past_the_read_budget() {
    // The read budget is under test here, not the rate limits: the ping quota admits all 2,000.
    let hub = TestHub::spawn_with(|s| {
        s.limits.heartbeat = Duration::from_secs(60);
        s.rate_limits.user.ping = Quota::new(10_000, 10_000).unwrap();
    });
    let mut ws = RawWs::connected(&hub).await;
    // 2,000 pings: about 64 KiB on the wire and 190 KiB of read budget with the per-frame
    // charge, so the hub has to stop reading and resume as the session catches up.
    let ids = 2..2002u32;
    let mut bytes = Vec::new();
    for id in ids.clone() {
        bytes.extend(frame(
            true,
            TEXT,
            format!(r#"{{"op":"ping","id":{id}}}"#).as_bytes(),
        ));
    }
    ws.send(&bytes).await;
    for id in ids {
        ws.expect_ok(id).await;
    }
    let peak = metric(&hub.metrics_text().await, "oneclass_ws_read_peak_bytes").unwrap();
    let bound = Limits::default().max_message_bytes + Limits::default().read_ahead_bytes;
    assert!(peak <= bound as f64, "held {peak} bytes, bound {bound}");
}

#[tokio::test]
async fn a_small_message_in_thousands_of_fragments_closes_1009_when_its_framing_fills_the_budget() {
    let hub = hub();
    let mut ws = RawWs::connected(&hub).await;
    // 2,000 payload bytes, far under the limit, in one-byte fragments: 2,000 headers and frame
    // charges are more than the limit and the read-ahead together.
    let mut bytes = frame(false, TEXT, b" ");
    for _ in 0..1998 {
        bytes.extend(frame(false, CONTINUATION, b" "));
    }
    bytes.extend(frame(true, CONTINUATION, b" "));
    ws.send(&bytes).await;
    assert_eq!(ws.close_code().await, 1009);
}
