//! FCM v1 request and error shapes (private to the FCM module).

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::push::aps::{apns_expiration, aps};
use crate::push::{PushMessage, PushPriority, PushTarget};

#[derive(Serialize)]
pub(super) struct SendRequest<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub validate_only: bool,
    pub message: WireMessage<'a>,
}

#[derive(Serialize, Default)]
pub(super) struct WireMessage<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    topic: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    condition: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<Notification<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    android: Option<Android<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apns: Option<Apns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webpush: Option<Webpush<'a>>,
}

#[derive(Serialize)]
struct Notification<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
}

#[derive(Serialize)]
struct Android<'a> {
    priority: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    collapse_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    restricted_package_name: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    direct_boot_ok: bool,
    #[serde(skip_serializing_if = "Map::is_empty")]
    notification: Map<String, Value>,
}

#[derive(Serialize)]
struct Apns {
    headers: BTreeMap<&'static str, String>,
    payload: Value,
}

#[derive(Serialize)]
struct Webpush<'a> {
    headers: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    notification: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fcm_options: Option<WebpushFcmOptions<'a>>,
}

#[derive(Serialize)]
struct WebpushFcmOptions<'a> {
    link: &'a str,
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), Value::String(value.clone()));
    }
}

/// Maps the neutral message onto FCM's, with per-platform blocks derived from the neutral
/// priority, time to live and collapse key. `now` turns the TTL into APNs's absolute expiry.
pub(super) fn message(m: &PushMessage, now: SystemTime) -> Result<WireMessage<'_>, String> {
    let mut wire = WireMessage::default();
    match &m.target {
        Some(PushTarget::Token(t)) => wire.token = Some(t),
        Some(PushTarget::Topic(t)) => wire.topic = Some(t.trim_start_matches("/topics/")),
        Some(PushTarget::Condition(c)) => wire.condition = Some(c),
        None => return Err("push message has no target".to_owned()),
    }
    if !m.is_data_only() || m.image.is_some() {
        wire.notification = Some(Notification {
            title: m.title.as_deref(),
            body: m.body.as_deref(),
            image: m.image.as_deref(),
        });
    }
    wire.data = m
        .data
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();

    let high = m.priority == PushPriority::High;
    let mut android_notification = Map::new();
    let a = &m.android;
    put(
        &mut android_notification,
        "channel_id",
        a.channel_id.as_ref(),
    );
    put(&mut android_notification, "icon", a.icon.as_ref());
    put(&mut android_notification, "color", a.color.as_ref());
    put(&mut android_notification, "sound", a.sound.as_ref());
    put(&mut android_notification, "tag", a.tag.as_ref());
    put(
        &mut android_notification,
        "click_action",
        a.click_action.as_ref(),
    );
    wire.android = Some(Android {
        priority: if high { "HIGH" } else { "NORMAL" },
        ttl: m.ttl.map(|ttl| format!("{}s", ttl.as_secs())),
        collapse_key: m.collapse_key.as_deref(),
        restricted_package_name: a.restricted_package_name.as_deref(),
        direct_boot_ok: a.direct_boot_ok,
        notification: android_notification,
    });

    let mut headers = BTreeMap::new();
    // Apple requires priority 5 for a push that only wakes the app.
    let apns_priority = if high && !m.is_data_only() { "10" } else { "5" };
    headers.insert("apns-priority", apns_priority.to_owned());
    if let Some(ttl) = m.ttl {
        headers.insert("apns-expiration", apns_expiration(now, ttl));
    }
    if let Some(collapse) = &m.collapse_key {
        headers.insert("apns-collapse-id", collapse.clone());
    }
    wire.apns = Some(Apns {
        headers,
        payload: json!({ "aps": aps(m) }),
    });

    let w = &m.webpush;
    let mut web_headers = BTreeMap::new();
    if let Some(ttl) = m.ttl {
        web_headers.insert("TTL", ttl.as_secs().to_string());
    }
    web_headers.insert("Urgency", if high { "high" } else { "normal" }.to_owned());
    let mut web_notification = Map::new();
    put(&mut web_notification, "icon", w.icon.as_ref());
    wire.webpush = Some(Webpush {
        headers: web_headers,
        notification: web_notification,
        fcm_options: w.link.as_deref().map(|link| WebpushFcmOptions { link }),
    });
    Ok(wire)
}

#[derive(Deserialize)]
pub(super) struct SendReply {
    pub name: String,
}

#[derive(Deserialize)]
pub(super) struct ErrorReply {
    pub error: ErrorBody,
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
pub(super) struct ErrorDetail {
    #[serde(rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(rename = "fieldViolations", default)]
    pub field_violations: Vec<FieldViolation>,
}

#[derive(Deserialize)]
pub(super) struct FieldViolation {
    #[serde(default)]
    pub field: String,
}

impl ErrorBody {
    /// The FCM error code from the `FcmError` detail, if any.
    pub fn fcm_code(&self) -> Option<&str> {
        self.details.iter().find_map(|d| d.error_code.as_deref())
    }

    /// True when a `BadRequest` detail blames the registration token.
    pub fn blames_token(&self) -> bool {
        self.details
            .iter()
            .flat_map(|d| &d.field_violations)
            .any(|v| v.field == "message.token")
    }
}
