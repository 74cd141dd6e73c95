//! Kannel smsbox simulator: `/kannel/cgi-bin/sendsms` and Kannel-style DLR GETs.
//!
//! Unlike Kannel's own fake SMSC, which only ever reports success, this one can report
//! undelivered and buffered messages, chosen by the magic recipients in
//! [`super::sms_http`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;

use super::control::SimSms;
use super::sandbox::Sim;
use super::sms_http::{digits, DlrPlan};

pub(crate) fn routes() -> Router<Arc<Sim>> {
    Router::new().route("/cgi-bin/sendsms", get(sendsms).post(sendsms))
}

async fn sendsms(
    State(sim): State<Arc<Sim>>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> (StatusCode, String) {
    // Kannel takes parameters from the query string, or from a form body on POST.
    let mut params: Vec<(String, String)> =
        form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    params.extend(form_urlencoded::parse(&body).into_owned());
    let param = |names: &[&str]| {
        params
            .iter()
            .find(|(k, _)| names.contains(&k.as_str()))
            .map(|(_, v)| v.clone())
    };
    let cfg = &sim.config.sms;
    if param(&["username", "user"]).as_deref() != Some(cfg.kannel_username.as_str())
        || param(&["password", "pass"]).as_deref() != Some(cfg.kannel_password.as_str())
    {
        return (
            StatusCode::FORBIDDEN,
            "Authorization failed for sendsms".to_owned(),
        );
    }
    let Some(to) = param(&["to"]).filter(|t| !t.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            "Missing receiver number, rejected".to_owned(),
        );
    };
    let Some(text) = param(&["text"]) else {
        return (StatusCode::BAD_REQUEST, "Missing text, rejected".to_owned());
    };
    let plan = DlrPlan::for_recipient(&digits(&to));
    if plan == DlrPlan::Refuse {
        return (
            StatusCode::FORBIDDEN,
            "Number(s) has/have been denied by white- and/or black-lists.".to_owned(),
        );
    }
    let from = param(&["from"]).unwrap_or_else(|| "KANNEL".to_owned());
    let id = uuid::Uuid::now_v7().to_string();
    sim.outbox.lock().push(SimSms {
        provider: "kannel".to_owned(),
        id: id.clone(),
        to: to.clone(),
        from: from.clone(),
        text,
    });
    if let Some(url) = param(&["dlr-url"]) {
        let mask = param(&["dlr-mask"])
            .and_then(|m| m.parse::<u32>().ok())
            .unwrap_or(0);
        let sim = sim.clone();
        tokio::spawn(async move {
            for &kind in plan.kannel_types() {
                if mask & kind == 0 {
                    continue;
                }
                tokio::time::sleep(sim.config.sms.dlr_delay).await;
                let target = expand(&url, kind, &id, &to, &from);
                deliver(&sim, &target).await;
            }
        });
    }
    (StatusCode::ACCEPTED, "0: Accepted for delivery".to_owned())
}

/// Replaces Kannel's escape codes in a `dlr-url`, URL-encoding each substituted value as smsbox
/// does. In a report `%p` is the handset and `%P` the original sender.
fn expand(template: &str, kind: u32, id: &str, phone: &str, sender: &str) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let mut out = String::with_capacity(template.len() + 64);
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str(&kind.to_string()),
            Some('F') => out.push_str(&enc(id)),
            Some('I') => out.push_str(&enc(id)),
            Some('i') => out.push_str("SIM"),
            Some('p') => out.push_str(&enc(phone)),
            Some('P') => out.push_str(&enc(sender)),
            Some('T') => out.push_str(&now.to_string()),
            Some('A') => out.push_str(if kind == 8 { "ACK%2F" } else { "" }),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// GETs one report, retrying a failed delivery a few times as smsbox does when
/// `http-request-retry` is set.
async fn deliver(sim: &Sim, url: &str) {
    for attempt in 0..4u32 {
        match sim.callbacks.get(url).send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::debug!(status = r.status().as_u16(), url, "kannel dlr refused"),
            Err(error) => tracing::debug!(%error, url, "kannel dlr failed"),
        }
        tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt + 1))).await;
    }
}
