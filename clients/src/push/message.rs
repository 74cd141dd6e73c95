//! One push notification in provider-neutral terms, with optional per-platform refinements.
//!
//! The neutral fields (title, body, data, priority, time to live, collapse key) are mapped by each
//! provider onto its own wire format; the `android`, `apns` and `webpush` options carry what only
//! one platform understands. FCM forwards all three blocks; the APNs client reads only the
//! neutral fields and [`ApnsOptions`].

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// Who receives the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushTarget {
    /// One device's registration token (FCM) or device token (APNs, hex).
    Token(String),
    /// Every device subscribed to an FCM topic (bare name, without `/topics/`).
    Topic(String),
    /// An FCM topic condition such as `'fees' in topics && 'form4' in topics`.
    Condition(String),
}

/// How urgently the platform should deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushPriority {
    /// Wake the device now (FCM `HIGH`, APNs `10`; APNs `5` for data-only messages, which Apple
    /// requires).
    #[default]
    High,
    /// Deliver when convenient for the battery (FCM `NORMAL`, APNs `5`).
    Normal,
}

/// Android-only refinements (FCM `android` block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AndroidOptions {
    /// Notification channel id (Android 8+).
    pub channel_id: Option<String>,
    /// Small icon resource name.
    pub icon: Option<String>,
    /// Icon colour as `#rrggbb`.
    pub color: Option<String>,
    /// Sound resource name, or `default`.
    pub sound: Option<String>,
    /// Replaces an earlier notification with the same tag in the tray.
    pub tag: Option<String>,
    /// Activity to open on tap.
    pub click_action: Option<String>,
    /// Only deliver to this application package.
    pub restricted_package_name: Option<String>,
    /// Deliver even before the user unlocks the device after a reboot.
    pub direct_boot_ok: bool,
}

/// iOS-only refinements (FCM `apns` block, and the APNs client).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApnsOptions {
    /// Badge count to show on the app icon.
    pub badge: Option<u32>,
    /// Sound file name, or `default`.
    pub sound: Option<String>,
    /// Groups notifications in Notification Centre.
    pub thread_id: Option<String>,
    /// Notification category (action buttons).
    pub category: Option<String>,
    /// Lets a notification service extension modify the content.
    pub mutable_content: bool,
    /// Overrides the topic (bundle id) configured on the client.
    pub topic: Option<String>,
}

/// Web-only refinements (FCM `webpush` block).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebpushOptions {
    /// Page opened when the user clicks the notification (must be HTTPS).
    pub link: Option<String>,
    /// Icon URL.
    pub icon: Option<String>,
}

/// One push notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushMessage {
    /// Recipient; `None` is refused as a message error.
    pub target: Option<PushTarget>,
    /// Visible title; a message with neither title nor body is data-only (silent).
    pub title: Option<String>,
    /// Visible text.
    pub body: Option<String>,
    /// Image URL shown in the notification, where the platform supports it.
    pub image: Option<String>,
    /// Key/value data for the app.
    pub data: BTreeMap<String, String>,
    /// Delivery urgency.
    pub priority: PushPriority,
    /// How long the platform may hold the message for an offline device; `Some(ZERO)` means
    /// deliver now or never. `None` leaves the platform default (four weeks for FCM, APNs's own
    /// choice).
    pub ttl: Option<Duration>,
    /// Newer messages with the same key replace older ones not yet shown.
    pub collapse_key: Option<String>,
    /// When our side last saw the device register this token. APNs reports when it found a token
    /// dead; a token registered again after that is not dropped.
    pub token_registered_at: Option<SystemTime>,
    /// Android refinements.
    pub android: AndroidOptions,
    /// iOS refinements.
    pub apns: ApnsOptions,
    /// Web refinements.
    pub webpush: WebpushOptions,
}

impl PushMessage {
    /// A visible notification to one device token.
    pub fn to_token(token: impl Into<String>, title: &str, body: &str) -> Self {
        Self {
            target: Some(PushTarget::Token(token.into())),
            title: Some(title.to_owned()),
            body: Some(body.to_owned()),
            ..Self::default()
        }
    }

    /// True when the message shows nothing and only carries data.
    pub fn is_data_only(&self) -> bool {
        self.title.is_none() && self.body.is_none()
    }
}
