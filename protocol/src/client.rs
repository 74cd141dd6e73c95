//! A small async client of the protocol, over tokio-tungstenite. Used by the end-to-end tests and
//! the load generator; any server that speaks the protocol can be its peer.
//!
//! The client is sequential: [`Client::request`] sends a command and reads frames until the reply
//! with the same `id` arrives, keeping the events it read meanwhile for [`Client::next_event`].

use std::collections::{BTreeMap, VecDeque};

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::channel::ChannelName;
use crate::codec::Codec;
use crate::command::{Body, Command, CommandFrame, RawCommand};
use crate::event::Event;
use crate::reply::{Channels, Connected, ErrorBody, Published, Reply, ServerFrame, Subscribed};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What went wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("websocket: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("the hub closed the connection with {code:?}: {reason}")]
    Closed { code: Option<u16>, reason: String },
    #[error("the hub sent a frame that does not decode: {0}")]
    Decode(String),
    #[error("the hub chose subprotocol {0:?}, not the one asked for")]
    Subprotocol(Option<String>),
    #[error("error reply: {} {}", .0.code, .0.message)]
    Reply(ErrorBody),
}

impl ClientError {
    /// The close code, when the hub closed the connection.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            ClientError::Closed { code, .. } => *code,
            _ => None,
        }
    }

    /// The error body, when the hub answered with an error reply.
    pub fn error_body(&self) -> Option<&ErrorBody> {
        match self {
            ClientError::Reply(body) => Some(body),
            _ => None,
        }
    }
}

/// A connection to the hub.
pub struct Client {
    socket: Socket,
    codec: Codec,
    next_id: u32,
    events: VecDeque<Event>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Opens a WebSocket to `url` (e.g. `ws://127.0.0.1:8080/ws`) asking for `codec`'s
    /// subprotocol, and checks the hub echoed it.
    pub async fn open(url: &str, codec: Codec) -> Result<Self, ClientError> {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(codec.subprotocol()),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        let chosen = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if chosen.as_deref() != Some(codec.subprotocol()) {
            return Err(ClientError::Subprotocol(chosen));
        }
        Ok(Self {
            socket,
            codec,
            next_id: 1,
            events: VecDeque::new(),
        })
    }

    /// Opens a connection and sends `connect`, returning the hub's `connect` reply.
    pub async fn connect(
        url: &str,
        codec: Codec,
        token: &str,
        resume: BTreeMap<String, u64>,
    ) -> Result<(Self, Connected), ClientError> {
        let mut client = Self::open(url, codec).await?;
        let connected = client
            .request_ok(Command::Connect {
                token: token.to_owned(),
                resume,
            })
            .await?;
        Ok((client, connected))
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// Sends a command with a fresh id and returns the id.
    pub async fn send(&mut self, command: Command) -> Result<u32, ClientError> {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.send_frame(&CommandFrame {
            id: Some(id),
            command,
        })
        .await?;
        Ok(id)
    }

    /// Sends commands with fresh ids in one write (pipelined: the hub reads them together) and
    /// returns their ids in order.
    pub async fn send_pipelined(
        &mut self,
        commands: Vec<Command>,
    ) -> Result<Vec<u32>, ClientError> {
        let mut ids = Vec::with_capacity(commands.len());
        for command in commands {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            let bytes = self.codec.encode(&RawCommand::from(&CommandFrame {
                id: Some(id),
                command,
            }));
            let message = match self.codec {
                Codec::Json => Message::Text(
                    String::from_utf8(bytes.to_vec())
                        .map_err(|e| ClientError::Decode(e.to_string()))?
                        .into(),
                ),
                Codec::MsgPack => Message::Binary(bytes.to_vec().into()),
            };
            self.socket.feed(message).await?;
            ids.push(id);
        }
        self.socket.flush().await?;
        Ok(ids)
    }

    /// Sends a command without an id (no reply; errors come as `error` events).
    pub async fn send_unacked(&mut self, command: Command) -> Result<(), ClientError> {
        self.send_frame(&CommandFrame { id: None, command }).await
    }

    /// Sends a frame as given.
    pub async fn send_frame(&mut self, frame: &CommandFrame) -> Result<(), ClientError> {
        let bytes = self.codec.encode(&RawCommand::from(frame));
        self.send_bytes(bytes.to_vec()).await
    }

    /// Sends raw bytes in the codec's frame type (text for JSON, binary for MessagePack).
    pub async fn send_bytes(&mut self, bytes: Vec<u8>) -> Result<(), ClientError> {
        let message = match self.codec {
            Codec::Json => Message::Text(
                String::from_utf8(bytes)
                    .map_err(|e| ClientError::Decode(e.to_string()))?
                    .into(),
            ),
            Codec::MsgPack => Message::Binary(bytes.into()),
        };
        self.send_message(message).await
    }

    /// Sends any WebSocket message (for tests of wrong frame types).
    pub async fn send_message(&mut self, message: Message) -> Result<(), ClientError> {
        self.socket.send(message).await?;
        Ok(())
    }

    /// Sends a command and waits for its reply; events read meanwhile are kept.
    pub async fn request(&mut self, command: Command) -> Result<Reply, ClientError> {
        let id = self.send(command).await?;
        loop {
            match self.read_frame().await? {
                ServerFrame::Reply(reply) if reply.id == id => return Ok(reply),
                ServerFrame::Reply(_) => continue,
                ServerFrame::Event(event) => self.events.push_back(event),
            }
        }
    }

    /// Sends a command and reads its `ok` payload as `T`; an error reply is `ClientError::Reply`.
    pub async fn request_ok<T: DeserializeOwned>(
        &mut self,
        command: Command,
    ) -> Result<T, ClientError> {
        self.request(command)
            .await?
            .ok_as()
            .map_err(ClientError::Reply)
    }

    pub async fn subscribe(
        &mut self,
        channel: &ChannelName,
        since: Option<u64>,
    ) -> Result<Subscribed, ClientError> {
        self.request_ok(Command::Subscribe {
            channel: channel.clone(),
            since,
        })
        .await
    }

    pub async fn publish(
        &mut self,
        channel: &ChannelName,
        text: &str,
        client_msg_id: Option<&str>,
    ) -> Result<Published, ClientError> {
        let mut body = Body::new();
        body.insert("text".into(), text.into());
        self.request_ok(Command::Publish {
            channel: channel.clone(),
            body,
            client_msg_id: client_msg_id.map(str::to_owned),
        })
        .await
    }

    /// One page of the conversation list: the first with `cursor` `None`, then the page after
    /// each reply's `next_cursor`.
    pub async fn channels(
        &mut self,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Channels, ClientError> {
        self.request_ok(Command::Channels {
            cursor: cursor.map(str::to_owned),
            limit,
        })
        .await
    }

    /// Every page of the conversation list, in order, following `next_cursor` to the end.
    pub async fn all_channels(&mut self, limit: Option<u32>) -> Result<Vec<Channels>, ClientError> {
        let mut pages = vec![self.channels(None, limit).await?];
        while let Some(cursor) = pages.last().and_then(|p| p.next_cursor.clone()) {
            pages.push(self.channels(Some(&cursor), limit).await?);
        }
        Ok(pages)
    }

    /// The next event: one kept while waiting for a reply, or the next from the socket.
    /// Replies that nobody waits for are skipped.
    pub async fn next_event(&mut self) -> Result<Event, ClientError> {
        if let Some(event) = self.events.pop_front() {
            return Ok(event);
        }
        loop {
            if let ServerFrame::Event(event) = self.read_frame().await? {
                return Ok(event);
            }
        }
    }

    /// Reads the next frame from the socket (not from the kept events).
    pub async fn read_frame(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            let message = match self.socket.next().await {
                Some(message) => message?,
                None => {
                    return Err(ClientError::Closed {
                        code: None,
                        reason: String::new(),
                    })
                }
            };
            let bytes: Vec<u8> = match message {
                Message::Text(text) if self.codec == Codec::Json => text.as_bytes().to_vec(),
                Message::Binary(bin) if self.codec == Codec::MsgPack => bin.to_vec(),
                Message::Text(_) | Message::Binary(_) => {
                    return Err(ClientError::Decode(
                        "frame type does not match codec".into(),
                    ))
                }
                Message::Close(frame) => return Err(closed(frame)),
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            return self
                .codec
                .decode_server_frame(&bytes)
                .map_err(|e| ClientError::Decode(e.to_string()));
        }
    }

    /// Waits for the hub to close the connection, returning the close code; frames before the
    /// close are discarded.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.read_frame().await {
                Ok(_) => continue,
                Err(ClientError::Closed { code, .. }) => return code,
                Err(ClientError::WebSocket(_)) => return None,
                Err(_) => continue,
            }
        }
    }

    /// Closes the connection normally.
    pub async fn close(mut self) -> Result<(), ClientError> {
        self.socket.close(None).await?;
        Ok(())
    }
}

fn closed(frame: Option<CloseFrame>) -> ClientError {
    match frame {
        Some(f) => ClientError::Closed {
            code: Some(f.code.into()),
            reason: f.reason.to_string(),
        },
        None => ClientError::Closed {
            code: None,
            reason: String::new(),
        },
    }
}
