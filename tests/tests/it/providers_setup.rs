//! Provider wiring against a real `oneclass-hub sandbox` child process: the hub's registry,
//! configured the way `serve --sandbox-at URL` configures it, builds a client per simulator and
//! each one really reaches its simulator (read back through the sandbox's control API); a hub
//! started with `--sandbox-at` names its providers and, killed, leaves the simulators and their
//! records behind; a hub without providers says it delivers in-app only.
//!
//! Needs the hub binary built with the `sandbox` feature (`cargo build -p oneclass-hub
//! --features sandbox`); the whole module is compiled only with this crate's `sandbox` feature.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use oneclass_clients::email::{Email, Language, Templates};
use oneclass_clients::push::{PushMessage, PushTarget};
use oneclass_clients::sms::SmsMessage;
use oneclass_clients::whatsapp::{WaBody, WaMessage};
use oneclass_clients::{Outcome, SystemClock, ZwMobile};
use oneclass_hub::config::{ProviderKind, Settings};
use oneclass_hub::providers::{ProviderClient, ProviderRegistry, IN_APP_ONLY};
use oneclass_hub::sandbox::{settle, SandboxMode, SANDBOX_PROVIDERS};
use oneclass_tests::{hub_binary, within, SECRET};
use serde_json::Value;

/// A child process killed (and reaped) when dropped, even when the test fails.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `oneclass-hub sandbox --listen 127.0.0.1:0` on `data_dir`, and its base URL.
async fn start_sandbox(data_dir: &Path) -> (Reaped, String) {
    let mut child = Command::new(hub_binary())
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env("ONECLASS_DATA_DIR", data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start oneclass-hub sandbox");
    let stdout = child.stdout.take().expect("piped stdout");
    let line = within(
        60,
        tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        }),
    )
    .await
    .expect("join")
    .expect("read stdout");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (Reaped(child), format!("http://{addr}"))
}

/// Starts `oneclass-hub [--config file] serve ARGS` and reads its stderr until a line
/// contains every one of `wanted`; returns the process and the lines read. The rest of its
/// stderr is drained in the background until it exits.
async fn start_hub_until(
    data_dir: &Path,
    config: Option<&Path>,
    args: &[&str],
    wanted: &[&str],
) -> (Reaped, Vec<String>) {
    let mut command = Command::new(hub_binary());
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
        .arg("serve")
        .args(args)
        .env("ONECLASS_LISTEN", "127.0.0.1:0")
        .env("ONECLASS_DATA_DIR", data_dir)
        .env("ONECLASS_JWT_SECRET", SECRET)
        .env("ONECLASS_WORKERS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start oneclass-hub serve");
    let stderr = child.stderr.take().expect("piped stderr");
    let wanted: Vec<String> = wanted.iter().map(|w| (*w).to_owned()).collect();
    let lines = within(
        60,
        tokio::task::spawn_blocking(move || {
            let mut seen = Vec::new();
            let mut lines = BufReader::new(stderr).lines();
            let mut found = false;
            for line in lines.by_ref() {
                let line = line.expect("read stderr");
                found = wanted.iter().all(|w| line.contains(w.as_str()));
                seen.push(line);
                if found {
                    break;
                }
            }
            assert!(found, "the hub ended before saying {wanted:?}: {seen:#?}");
            // Keep draining: a hub whose stderr pipe closed would fail its next log line.
            std::thread::spawn(move || lines.for_each(drop));
            seen
        }),
    )
    .await
    .expect("join");
    (Reaped(child), lines)
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .expect("control API")
        .error_for_status()
        .expect("control API status")
        .json()
        .await
        .expect("control API json")
}

/// The requests the simulator under `prefix` received.
async fn recorded(base: &str, prefix: &str) -> Vec<Value> {
    get_json(&format!("{base}/_sim/requests/{prefix}"))
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The hub's provider settings under `--sandbox-at base` (with `file`), the way `serve` loads
/// them.
async fn sandbox_at_settings(base: &str, file: Option<&Path>) -> Settings {
    let (settings, in_process) =
        settle(Settings::default(), file, &SandboxMode::At(base.to_owned()))
            .await
            .expect("settings over the sandbox");
    assert!(in_process.is_none(), "--sandbox-at starts no simulators");
    settings
}

fn assert_sent(name: &str, outcome: Outcome) -> String {
    match outcome {
        Outcome::Sent(id) => id,
        other => panic!("{name}: not sent: {other:?}"),
    }
}

#[actix_rt::test]
async fn every_client_the_registry_builds_over_a_sandbox_at_url_reaches_its_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, base) = start_sandbox(dir.path()).await;
    let settings = sandbox_at_settings(&base, None).await;
    let mut templates = Templates::new();
    templates
        .add(
            "wiring",
            Language::English,
            "Wiring check",
            "Hello {{ name }}",
            None,
        )
        .unwrap();
    let registry = ProviderRegistry::build(
        &settings.providers,
        SystemClock::shared(),
        Arc::new(templates),
    )
    .expect("registry");
    let names: Vec<&str> = registry.all().iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["telone", "econet", "kannel", "whatsapp", "email", "fcm", "apns"],
        "by kind, then priority"
    );
    assert_eq!(names.len(), SANDBOX_PROVIDERS.len());
    let sms: Vec<(&str, u32)> = registry
        .of_kind(ProviderKind::Sms)
        .map(|p| (p.name.as_str(), p.priority))
        .collect();
    assert_eq!(sms, [("telone", 1), ("econet", 2), ("kannel", 3)]);

    let to = ZwMobile::parse("+263771234567").unwrap();
    for provider in registry.all() {
        let name = provider.name.as_str();
        let reference = format!("wiring-{name}");
        match &provider.client {
            ProviderClient::Sms(gateway) => {
                let message = SmsMessage {
                    to: to.clone(),
                    text: format!("wiring check via {name}"),
                    reference,
                    sender: None,
                };
                assert_sent(name, gateway.send(&message).await);
            }
            ProviderClient::WhatsApp(client) => {
                let body = WaBody::Text {
                    body: "wiring check via whatsapp".to_owned(),
                    preview_url: false,
                };
                let message = WaMessage::to_mobile(&to, reference, body);
                assert!(assert_sent(name, client.send(&message).await).starts_with("wamid"));
            }
            ProviderClient::Email(mailer) => {
                let email = Email {
                    to: "parent@example.org".to_owned(),
                    to_name: None,
                    reference,
                    template: "wiring".to_owned(),
                    language: Language::English,
                    context: serde_json::json!({ "name": "Parent" }),
                    list: None,
                };
                assert_sent(name, mailer.send(&email).await);
            }
            ProviderClient::Push(sender) => {
                let token = match provider.kind {
                    ProviderKind::PushApns => "ab12".repeat(16),
                    _ => "fcm-wiring-token".to_owned(),
                };
                let message = PushMessage {
                    target: Some(PushTarget::Token(token)),
                    title: Some("Wiring".to_owned()),
                    body: Some(format!("check via {name}")),
                    ..PushMessage::default()
                };
                assert_sent(name, sender.send(&message).await);
            }
        }
    }

    // Read everything back from the sandbox process's records.
    let outbox = get_json(&format!("{base}/_sim/sms")).await;
    for gateway in ["telone", "econet", "kannel"] {
        let texts: Vec<&str> = outbox
            .as_array()
            .unwrap()
            .iter()
            .filter(|sms| sms["provider"] == gateway)
            .filter_map(|sms| sms["text"].as_str())
            .collect();
        assert_eq!(texts, [format!("wiring check via {gateway}")], "{gateway}");
    }
    for prefix in ["whatsapp", "smtp", "fcm", "oauth2", "apns"] {
        assert!(
            !recorded(&base, prefix).await.is_empty(),
            "the {prefix} simulator saw nothing"
        );
    }
    let smtp = recorded(&base, "smtp").await;
    assert!(
        smtp[0].to_string().contains("parent@example.org"),
        "{smtp:?}"
    );
}

#[actix_rt::test]
async fn the_config_file_overrides_the_sandbox_providers_key_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, base) = start_sandbox(dir.path()).await;
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        "[providers.telone]\nrate_per_hour = 60\n[providers.econet]\npriority = 0\n",
    )
    .unwrap();
    let settings = sandbox_at_settings(&base, Some(&file)).await;
    let registry = ProviderRegistry::build(
        &settings.providers,
        SystemClock::shared(),
        Arc::new(Templates::new()),
    )
    .unwrap();
    let sms: Vec<&str> = registry
        .of_kind(ProviderKind::Sms)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(sms, ["econet", "telone", "kannel"], "econet moved first");
    let telone = registry.get("telone").unwrap();
    assert_eq!(telone.rate_per_hour, 60);
    let ProviderClient::Sms(gateway) = &telone.client else {
        panic!("telone is an SMS gateway");
    };
    assert_eq!(
        gateway.hourly_rate_limit(),
        Some(60),
        "the client got the file's rate"
    );
    // The rest still points at the simulator: a send goes through.
    let message = SmsMessage {
        to: ZwMobile::parse("+263771234567").unwrap(),
        text: "override check".to_owned(),
        reference: "override".to_owned(),
        sender: None,
    };
    assert_sent("telone", gateway.send(&message).await);
}

#[actix_rt::test]
async fn a_hub_started_with_sandbox_at_names_its_providers_and_dies_without_taking_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let (_sandbox, base) = start_sandbox(&dir.path().join("sandbox")).await;
    // Something for the records before the hub even starts.
    let settings = sandbox_at_settings(&base, None).await;
    let registry = ProviderRegistry::build(
        &settings.providers,
        SystemClock::shared(),
        Arc::new(Templates::new()),
    )
    .unwrap();
    let ProviderClient::Sms(telone) = &registry.get("telone").unwrap().client else {
        panic!("telone is an SMS gateway");
    };
    let message = SmsMessage {
        to: ZwMobile::parse("+263771234567").unwrap(),
        text: "kept after the hub dies".to_owned(),
        reference: "kept".to_owned(),
        sender: None,
    };
    assert_sent("telone", telone.send(&message).await);

    let (hub, lines) = start_hub_until(
        &dir.path().join("hub"),
        None,
        &["--sandbox-at", &base],
        &["delivery providers configured", "telone(1)", "econet(2)"],
    )
    .await;
    let all = lines.join("\n");
    assert!(all.contains(&format!("simulators on {base}")), "{all}");
    assert!(!all.contains(IN_APP_ONLY), "{all}");
    drop(hub); // SIGKILL

    let outbox = get_json(&format!("{base}/_sim/sms")).await;
    assert!(
        outbox.to_string().contains("kept after the hub dies"),
        "{outbox}"
    );
}

#[actix_rt::test]
async fn a_hub_without_providers_says_it_delivers_in_app_only() {
    let dir = tempfile::tempdir().unwrap();
    let (_hub, lines) = start_hub_until(dir.path(), None, &[], &[IN_APP_ONLY]).await;
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("delivery providers configured")),
        "{lines:#?}"
    );
}

#[actix_rt::test]
async fn a_hub_with_a_broken_provider_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hub.toml");
    std::fs::write(
        &file,
        "[providers.fcm]\nkind = \"push_fcm\"\nbase_url = \"http://127.0.0.1:1\"\n\
         credentials = { service_account = \"not json\" }\n\
         cost = { currency = \"USD\", push = \"0\" }\n",
    )
    .unwrap();
    let out = within(
        60,
        tokio::task::spawn_blocking(move || {
            Command::new(hub_binary())
                .arg("--config")
                .arg(&file)
                .arg("serve")
                .env("ONECLASS_LISTEN", "127.0.0.1:0")
                .env("ONECLASS_DATA_DIR", file.parent().unwrap())
                .env("ONECLASS_JWT_SECRET", SECRET)
                .output()
                .expect("run oneclass-hub")
        }),
    )
    .await
    .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("providers.fcm") && stderr.contains("service account"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "reported a port anyway");
}

#[actix_rt::test]
async fn serve_sandbox_listen_puts_the_in_process_simulators_where_it_says() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was free a moment ago; only another process grabbing it in between could
    // make this fail, and then the hub's start fails loudly rather than the assertion.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let (_hub, lines) = start_hub_until(
        dir.path(),
        None,
        &["--sandbox", "--sandbox-listen", &listen],
        &["delivery providers configured"],
    )
    .await;
    let base = format!("http://{listen}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("simulators on {base}"))),
        "{lines:#?}"
    );
    let credentials = get_json(&format!("{base}/_sim/credentials")).await;
    assert_eq!(credentials["base_url"], base.as_str());
    assert!(credentials["fcm_service_account"]
        .as_str()
        .unwrap()
        .contains(&format!("{base}/oauth2/token")));
}
