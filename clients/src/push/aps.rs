//! The iOS side shared by FCM's `apns` block and the APNs client: the `aps` dictionary and the
//! `apns-expiration` header value.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::PushMessage;

fn put(map: &mut Map<String, Value>, key: &str, value: Option<&String>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), Value::String(value.clone()));
    }
}

/// APNs's `apns-expiration`: `0` for "now or never", else the absolute epoch second.
pub(crate) fn apns_expiration(now: SystemTime, ttl: Duration) -> String {
    if ttl.is_zero() {
        return "0".to_owned();
    }
    let at = (now + ttl)
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    at.as_secs().to_string()
}

/// The `aps` dictionary for the iOS side of a message (shared with the APNs client).
pub(crate) fn aps(m: &PushMessage) -> Value {
    let o = &m.apns;
    let mut aps = Map::new();
    if !m.is_data_only() {
        let mut alert = Map::new();
        put(&mut alert, "title", m.title.as_ref());
        put(&mut alert, "body", m.body.as_ref());
        aps.insert("alert".into(), Value::Object(alert));
    } else {
        aps.insert("content-available".into(), json!(1));
    }
    if let Some(badge) = o.badge {
        aps.insert("badge".into(), json!(badge));
    }
    put(&mut aps, "sound", o.sound.as_ref());
    put(&mut aps, "thread-id", o.thread_id.as_ref());
    put(&mut aps, "category", o.category.as_ref());
    if o.mutable_content {
        aps.insert("mutable-content".into(), json!(1));
    }
    Value::Object(aps)
}
