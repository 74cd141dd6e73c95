//! [`ProviderClient`]: the one interface a provider actor calls, over the capability traits of
//! `oneclass-clients` (one per kind), and [`OutboundMessage`], what it sends.
//!
//! Every kind is adapted: SMS ([`SmsGateway`]: Kannel, TelOne, Econet, all `HttpSmsClient`s),
//! WhatsApp ([`WhatsApp`]), e-mail ([`Mailer`]) and push ([`PushSender`]: FCM, APNs). The adapter
//! adds only what the actor needs beyond `send`: the kind (to refuse a message of another kind
//! before it is queued) and the billed units of a message (SMS parts; one for the others).

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use oneclass_clients::email::Email;
use oneclass_clients::push::PushMessage;
use oneclass_clients::sms::{analyse, SmsMessage};
use oneclass_clients::whatsapp::WaMessage;
use oneclass_clients::{Mailer, Outcome, PushSender, SmsGateway, WhatsApp};

/// A provider's kind, as `[providers.<name>] kind` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Sms,
    WhatsApp,
    Email,
    Push,
}

impl ProviderKind {
    /// The configuration and metric spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::WhatsApp => "whatsapp",
            Self::Email => "email",
            Self::Push => "push",
        }
    }
}

/// One message for one recipient, of one kind. A push message is boxed: it is several times
/// the size of the others, and queues hold many of these.
#[derive(Debug, Clone)]
pub enum OutboundMessage {
    Sms(SmsMessage),
    WhatsApp(WaMessage),
    Email(Email),
    Push(Box<PushMessage>),
}

impl OutboundMessage {
    /// The message's kind.
    pub fn kind(&self) -> ProviderKind {
        match self {
            Self::Sms(_) => ProviderKind::Sms,
            Self::WhatsApp(_) => ProviderKind::WhatsApp,
            Self::Email(_) => ProviderKind::Email,
            Self::Push(_) => ProviderKind::Push,
        }
    }

    /// Billed units: SMS parts (GSM-7 or UCS-2, see `oneclass_clients::sms::analyse`), else 1.
    pub fn segments(&self) -> u32 {
        match self {
            Self::Sms(sms) => u32::try_from(analyse(&sms.text).segments).unwrap_or(u32::MAX),
            _ => 1,
        }
    }
}

/// What a provider actor calls.
#[async_trait]
pub trait ProviderClient: Send + Sync + Debug {
    /// The provider's name (`telone`, `econet`, `kannel`, `fcm` …), for logs, metrics, journal.
    fn provider(&self) -> &str;
    /// The kind of message it sends.
    fn kind(&self) -> ProviderKind;
    /// Hands one message to the provider. A message of another kind is `FixMessage` (the actor
    /// refuses those before queueing, so this is a guard, not a path).
    async fn send(&self, message: &OutboundMessage) -> Outcome;
}

fn wrong_kind(expected: ProviderKind, got: &OutboundMessage) -> Outcome {
    Outcome::FixMessage(format!(
        "a {} message sent to a {} provider",
        got.kind().as_str(),
        expected.as_str()
    ))
}

/// Declares the adapter of one capability trait.
macro_rules! adapter {
    ($(#[$doc:meta])* $name:ident, $cap:ident, $kind:ident, $m:ident => $deref:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Arc<dyn $cap>);

        #[async_trait]
        impl ProviderClient for $name {
            fn provider(&self) -> &str {
                self.0.provider()
            }
            fn kind(&self) -> ProviderKind {
                ProviderKind::$kind
            }
            async fn send(&self, message: &OutboundMessage) -> Outcome {
                match message {
                    OutboundMessage::$kind($m) => self.0.send($deref).await,
                    other => wrong_kind(ProviderKind::$kind, other),
                }
            }
        }
    };
}

adapter!(
    /// An SMS gateway (Kannel, TelOne, Econet).
    SmsProvider, SmsGateway, Sms, m => m
);
adapter!(
    /// The WhatsApp Cloud API.
    WhatsAppProvider, WhatsApp, WhatsApp, m => m
);
adapter!(
    /// An SMTP relay.
    EmailProvider, Mailer, Email, m => m
);
adapter!(
    /// A push service (FCM, APNs).
    PushProvider, PushSender, Push, m => &**m
);

/// A client known by its configured entry's name (`backup_kannel`) rather than its API's
/// (`kannel`), so two accounts of one gateway keep separate actors, metrics and journal streams.
#[derive(Debug, Clone)]
pub struct Named {
    name: String,
    inner: Arc<dyn ProviderClient>,
}

impl Named {
    pub fn new(name: impl Into<String>, inner: Arc<dyn ProviderClient>) -> Self {
        Self {
            name: name.into(),
            inner,
        }
    }
}

#[async_trait]
impl ProviderClient for Named {
    fn provider(&self) -> &str {
        &self.name
    }
    fn kind(&self) -> ProviderKind {
        self.inner.kind()
    }
    async fn send(&self, message: &OutboundMessage) -> Outcome {
        self.inner.send(message).await
    }
}
