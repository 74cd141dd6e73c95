//! Opening connections and the lean frames the scenarios exchange.
//!
//! The protocol crate's `Client` is sequential (one request at a time, events queued behind it)
//! and decodes every frame into a generic JSON value; a load generator that shares the CPU with
//! the server under test needs less. This module opens the socket itself (so it can bind a
//! `--source-ips` address), speaks the same subprotocols, encodes and decodes through
//! `oneclass_protocol::Codec` (the same validation the hub applies), and reads frames into a
//! small struct holding only the fields the scenarios look at. The socket can be split into a
//! reader and a writer that run concurrently.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::{anyhow, bail, Context};
use futures_util::{SinkExt, StreamExt};
use oneclass_protocol::{Codec, ErrorBody};
use serde::{Deserialize, Serialize};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

/// Microseconds since the load generator started: the clock every timestamp carried in a
/// message body uses (all senders and receivers are in this process).
pub fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// Opens WebSockets to one server, round-robin over the source addresses. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Dialer(Arc<DialerInner>);

#[derive(Debug)]
struct DialerInner {
    url: String,
    target: SocketAddr,
    codec: Codec,
    sources: Vec<IpAddr>,
    next_source: AtomicUsize,
}

impl Dialer {
    pub async fn new(url: &str, codec: Codec, sources: Vec<IpAddr>) -> anyhow::Result<Self> {
        let request = url
            .into_client_request()
            .with_context(|| format!("bad --url {url}"))?;
        let uri = request.uri();
        if uri.scheme_str() != Some("ws") {
            bail!("only ws:// URLs are supported (loopback benchmarks), got {url}");
        }
        let host = uri.host().ok_or_else(|| anyhow!("--url has no host"))?;
        let port = uri.port_u16().unwrap_or(80);
        let target = tokio::net::lookup_host((host, port))
            .await?
            .next()
            .ok_or_else(|| anyhow!("{host} does not resolve"))?;
        Ok(Self(Arc::new(DialerInner {
            url: url.to_owned(),
            target,
            codec,
            sources,
            next_source: AtomicUsize::new(0),
        })))
    }

    pub fn codec(&self) -> Codec {
        self.0.codec
    }

    /// Opens one WebSocket, asking for the codec's subprotocol and checking it was echoed.
    pub async fn open(&self) -> anyhow::Result<Ws> {
        self.open_owned().await
    }

    /// [`Dialer::open`] as a future that borrows nothing, for spawning.
    pub fn open_owned(
        &self,
    ) -> impl std::future::Future<Output = anyhow::Result<Ws>> + Send + 'static {
        let d = self.0.clone();
        async move {
            let socket = match d.target {
                SocketAddr::V4(_) => TcpSocket::new_v4()?,
                SocketAddr::V6(_) => TcpSocket::new_v6()?,
            };
            if !d.sources.is_empty() {
                let i = d.next_source.fetch_add(1, Ordering::Relaxed) % d.sources.len();
                socket
                    .bind(SocketAddr::new(d.sources[i], 0))
                    .context("binding source address")?;
            }
            let stream = socket.connect(d.target).await.context("TCP connect")?;
            stream.set_nodelay(true)?;
            let mut request = d.url.as_str().into_client_request()?;
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(d.codec.subprotocol()),
            );
            let (ws, response) = tokio_tungstenite::client_async(request, stream)
                .await
                .context("WebSocket upgrade")?;
            let chosen = response
                .headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok());
            if chosen != Some(d.codec.subprotocol()) {
                bail!(
                    "server chose subprotocol {chosen:?}, not {}",
                    d.codec.subprotocol()
                );
            }
            Ok(ws)
        }
    }
}

/// The `ev` of an event, or `Other` for those the scenarios ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ev {
    Msg,
    Notification,
    Synced,
    Error,
    #[serde(other)]
    Other,
}

/// The fields of a body (or notification `data`) the load generator put there.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
pub struct Probe {
    /// Send time, [`now_us`].
    #[serde(default)]
    pub lt_t: u64,
    /// Publisher index.
    #[serde(default)]
    pub lt_p: u32,
    /// The publisher's message number.
    #[serde(default)]
    pub lt_k: u64,
}

/// The fields of an `ok` payload the scenarios read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OkLean {
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub head: Option<u64>,
}

/// Anything the server sends, reduced to what the scenarios need.
#[derive(Debug, Clone, Deserialize)]
pub struct Incoming {
    #[serde(default)]
    pub ev: Option<Ev>,
    #[serde(default)]
    pub id: Option<u32>,
    #[serde(default)]
    pub channel: Option<String>,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub from: Option<String>,
    /// A `msg` body (a map) read as its probe; a `notification`'s string body reads as `None`.
    #[serde(default, deserialize_with = "probe_or_text")]
    pub body: Option<Probe>,
    #[serde(default)]
    pub data: Option<Probe>,
    #[serde(default)]
    pub ok: Option<OkLean>,
    #[serde(default)]
    pub error: Option<ErrorBody>,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// Reads a map as a [`Probe`] and anything else as `None`, without buffering the value (an
/// untagged enum would copy the whole body first).
fn probe_or_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Probe>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<Probe>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a map or a string")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            Probe::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Some)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(V)
}

impl Incoming {
    /// The probe carried by a `msg` body or a `notification`'s `data`.
    pub fn probe(&self) -> Option<Probe> {
        self.body.or(self.data)
    }
}

/// A command frame with only the fields the scenarios send.
#[derive(Debug, Serialize)]
pub struct Outgoing<'a> {
    pub op: &'static str,
    pub id: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<OutBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<&'a str>,
}

/// A published body: the text that gives the message its size, plus the probe.
#[derive(Debug, Serialize)]
pub struct OutBody<'a> {
    pub text: &'a str,
    #[serde(flatten)]
    pub probe: Probe,
}

impl<'a> Outgoing<'a> {
    pub fn connect(id: u32, token: &'a str) -> Self {
        Self {
            op: "connect",
            id,
            token: Some(token),
            channel: None,
            body: None,
            client_msg_id: None,
        }
    }

    pub fn subscribe(id: u32, channel: &'a str) -> Self {
        Self {
            op: "subscribe",
            id,
            token: None,
            channel: Some(channel),
            body: None,
            client_msg_id: None,
        }
    }

    pub fn publish(id: u32, channel: &'a str, text: &'a str, probe: Probe, cmid: &'a str) -> Self {
        Self {
            op: "publish",
            id,
            token: None,
            channel: Some(channel),
            body: Some(OutBody { text, probe }),
            client_msg_id: Some(cmid),
        }
    }

    /// The WebSocket message carrying this frame in `codec`.
    pub fn message(&self, codec: Codec) -> Message {
        let bytes = codec.encode(self);
        match codec {
            // unwrap: serde_json writes UTF-8.
            Codec::Json => Message::Text(bytes.try_into().unwrap()),
            Codec::MsgPack => Message::Binary(bytes),
        }
    }
}

/// What reading one WebSocket message gave.
#[derive(Debug)]
pub enum Read {
    Frame(Box<Incoming>),
    /// A control frame; nothing to do (tungstenite answers pings itself).
    Control,
    /// The server closed (code, reason) or the stream ended.
    Closed(Option<u16>, String),
}

/// Decodes one WebSocket message; a frame of the wrong type or one that does not decode is an
/// error.
pub fn decode(codec: Codec, message: Message) -> anyhow::Result<Read> {
    let incoming: Incoming = match (codec, message) {
        (Codec::Json, Message::Text(t)) => codec.decode_map(t.as_bytes())?,
        (Codec::MsgPack, Message::Binary(b)) => codec.decode_map(&b)?,
        (_, Message::Text(_) | Message::Binary(_)) => bail!("frame type does not match the codec"),
        (_, Message::Close(f)) => {
            return Ok(match f {
                Some(f) => Read::Closed(Some(f.code.into()), f.reason.to_string()),
                None => Read::Closed(None, String::new()),
            })
        }
        (_, Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => return Ok(Read::Control),
    };
    Ok(Read::Frame(Box::new(incoming)))
}

/// Reads the next message from any stream of WebSocket messages.
pub async fn read<S>(codec: Codec, stream: &mut S) -> anyhow::Result<Read>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    match stream.next().await {
        Some(Ok(m)) => decode(codec, m),
        Some(Err(e)) => Err(e.into()),
        None => Ok(Read::Closed(None, "stream ended".into())),
    }
}

/// Sends a command and reads until its reply, returning the `ok` payload. Events that arrive
/// meanwhile are handed to `on_event`.
pub async fn request(
    ws: &mut Ws,
    codec: Codec,
    frame: &Outgoing<'_>,
    mut on_event: impl FnMut(Incoming),
) -> anyhow::Result<OkLean> {
    ws.send(frame.message(codec)).await?;
    loop {
        match read(codec, ws).await? {
            Read::Frame(f) if f.ev.is_some() => on_event(*f),
            Read::Frame(f) if f.id == Some(frame.id) => {
                if let Some(e) = f.error {
                    bail!("{} refused: {} {}", frame.op, e.code, e.message);
                }
                return Ok(f.ok.unwrap_or_default());
            }
            Read::Frame(_) | Read::Control => {}
            Read::Closed(code, reason) => bail!("closed during {}: {code:?} {reason}", frame.op),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_msg_event_decodes_in_both_codecs_with_its_probe() {
        let event = serde_json::json!({
            "ev": "msg", "channel": "class:s1:c1", "seq": 7, "event_id": "x", "from": "t1",
            "body": {"text": "hi", "lt_t": 5, "lt_p": 2, "lt_k": 9}, "ts": "2026-01-01T00:00:00.000Z"
        });
        for codec in Codec::ALL {
            let bytes = codec.encode(&event);
            let message = match codec {
                Codec::Json => Message::Text(bytes.try_into().unwrap()),
                Codec::MsgPack => Message::Binary(bytes),
            };
            let Read::Frame(f) = decode(codec, message).unwrap() else {
                panic!("not a frame")
            };
            assert_eq!(f.ev, Some(Ev::Msg));
            assert_eq!(f.seq, Some(7));
            let p = f.probe().unwrap();
            assert_eq!((p.lt_t, p.lt_p, p.lt_k), (5, 2, 9));
        }
    }

    #[test]
    fn a_publish_frame_is_a_valid_protocol_command() {
        let probe = Probe {
            lt_t: 1,
            lt_p: 2,
            lt_k: 3,
        };
        let frame = Outgoing::publish(4, "class:s1:c1", "hello", probe, "lt-1");
        for codec in Codec::ALL {
            let bytes = codec.encode(&frame);
            let decoded = codec.decode_command(&bytes).unwrap();
            assert_eq!(decoded.id, Some(4));
            assert_eq!(decoded.command.op(), "publish");
        }
    }

    #[test]
    fn a_frame_of_the_wrong_type_is_an_error() {
        assert!(decode(Codec::MsgPack, Message::Text("{}".into())).is_err());
    }
}
