//! The SMTP mailer against the sandbox's SMTP simulator (success, every reply class, timeouts,
//! bounces) and, when `scripts/smtp.sh` started one, against a real aiosmtpd writing a Maildir.

use std::sync::Arc;
use std::time::{Duration, Instant};

use oneclass_clients::email::mime::{decode_words, Part};
use oneclass_clients::email::{
    parse_dsn, Email, Language, LinkSigner, SmtpConfig, SmtpMailer, SmtpSecurity, Templates,
    VerpConfig,
};
use oneclass_clients::sim::{Fault, SandboxHandle};
use oneclass_clients::{Mailer, Outcome};
use serde_json::json;

use crate::support::{fast_config, peer, sandbox, sandbox_with};

const LINK_SECRET: &[u8] = b"tracking-secret-of-at-least-32-bytes";

fn verp() -> VerpConfig {
    VerpConfig {
        prefix: "bounce".into(),
        domain: "bounces.oneclass.test".into(),
        secret: b"verp-secret".to_vec().into(),
    }
}

fn signer() -> LinkSigner {
    LinkSigner::new(LINK_SECRET, "https://t.oneclass.test").unwrap()
}

fn config(host: &str, port: u16) -> SmtpConfig {
    SmtpConfig {
        host: host.into(),
        port,
        security: SmtpSecurity::Plaintext,
        credentials: None,
        from: "Mufakose High via OneClass <noreply@oneclass.test>".into(),
        domain: "oneclass.test".into(),
        pool_max_size: 4,
        timeout: Duration::from_millis(500),
        verp: Some(verp()),
        links: Some(signer()),
        unsubscribe_mailbox: Some("unsubscribe@oneclass.test".into()),
    }
}

fn mailer_for(sb: &SandboxHandle) -> SmtpMailer {
    let addr = sb.smtp().addr();
    SmtpMailer::new(
        config(&addr.ip().to_string(), addr.port()),
        Arc::new(Templates::builtin()),
    )
    .unwrap()
}

fn email(to: &str, reference: &str, language: Language) -> Email {
    Email {
        to: to.into(),
        to_name: Some("Amai Chipo Moyo".into()),
        reference: reference.into(),
        template: "announcement".into(),
        language,
        context: json!({
            "school": "Mufakose High",
            "name": "Amai Chipo Moyo",
            "title": "Musangano wevabereki — Chishanu",
            "body": "Tinokukokai kumusangano. See https://school.example/events?id=7&term=2",
        }),
        list: Some("school-7-announcements".into()),
    }
}

fn plain_text(message: &Part) -> String {
    message
        .walk()
        .into_iter()
        .find(|p| p.mime_type() == "text/plain" && p.parts().is_empty())
        .map(|p| p.text())
        .expect("a text/plain part")
}

fn html(message: &Part) -> String {
    message
        .walk()
        .into_iter()
        .find(|p| p.mime_type() == "text/html")
        .map(|p| p.text())
        .expect("a text/html part")
}

#[tokio::test]
async fn a_list_email_is_accepted_with_unsubscribe_headers_verp_sender_and_signed_tracking() {
    let sb = sandbox().await;
    let reference = "0190f3a4-5b6c-7d8e-9f00-112233445566";
    let outcome = mailer_for(&sb)
        .send(&email("chipo@example.org", reference, Language::Shona))
        .await;
    assert_eq!(outcome, Outcome::Sent(format!("{reference}@oneclass.test")));
    let [received] = sb.smtp().emails().try_into().unwrap();
    assert_eq!(received.rcpt_to, ["chipo@example.org"]);
    assert_eq!(verp().reference(&received.mail_from).unwrap(), reference);
    let message = Part::parse(received.data.as_bytes());
    assert_eq!(
        message.header("Message-ID"),
        Some(format!("<{reference}@oneclass.test>").as_str())
    );
    assert_eq!(message.header("Content-Language"), Some("sn"));
    assert_eq!(
        message.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = message.header("List-Unsubscribe").unwrap();
    let https = unsubscribe
        .split(['<', '>'])
        .find(|s| s.starts_with("https://"))
        .unwrap();
    let token = https.strip_prefix("https://t.oneclass.test/u/").unwrap();
    let unsub = signer().verify_unsubscribe(token).unwrap();
    assert_eq!(unsub.list, "school-7-announcements");
    assert_eq!(unsub.recipient, "chipo@example.org");
    assert!(unsubscribe.contains("<mailto:unsubscribe@oneclass.test?subject=unsubscribe%20"));
    assert_eq!(
        decode_words(message.header("Subject").unwrap()),
        "Mufakose High: Musangano wevabereki — Chishanu"
    );
    assert!(plain_text(&message).starts_with("Mhoro Amai Chipo Moyo,"));
    let html = html(&message);
    // The unsubscribe link stays as it is; the pixel and other links are signed.
    assert!(html.contains(&format!("href=\"{}\"", https.replace('/', "&#x2f;"))));
    let pixel = html
        .split("<img src=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let open = pixel.strip_prefix("https://t.oneclass.test/o/").unwrap();
    assert_eq!(signer().verify_open(open).unwrap(), reference);
    let recorded = &sb.recorder().requests("smtp")[0];
    assert_eq!(recorded.header("rcpt-to"), Some("chipo@example.org"));
}

#[tokio::test]
async fn smtp_replies_for_magic_recipients_map_to_their_classes() {
    let sb = sandbox().await;
    let mailer = mailer_for(&sb);
    for (to, class) in [
        ("sim-unknown@example.org", "drop_recipient"),
        ("sim-full@example.org", "drop_recipient"),
        ("sim-greylist@example.org", "retry_backoff"),
        ("sim-toobig@example.org", "fix_message"),
        ("sim-policy@example.org", "fix_config"),
        ("ok@example.org", "sent"),
    ] {
        let outcome = mailer.send(&email(to, "r-magic", Language::English)).await;
        assert_eq!(outcome.class(), class, "{to}: {outcome:?}");
    }
    assert_eq!(sb.smtp().emails().len(), 1);
}

#[tokio::test]
async fn bad_input_is_refused_before_any_connection() {
    let sb = sandbox().await;
    let mailer = mailer_for(&sb);
    let mut bad_template = email("a@example.org", "r1", Language::English);
    bad_template.template = "no-such-template".into();
    assert!(matches!(
        mailer.send(&bad_template).await,
        Outcome::FixMessage(_)
    ));
    let bad_address = email("not an address", "r2", Language::English);
    assert!(matches!(
        mailer.send(&bad_address).await,
        Outcome::DropRecipient(_)
    ));
    let addr = sb.smtp().addr();
    let mut cfg = config(&addr.ip().to_string(), addr.port());
    cfg.links = None;
    let unsigned = SmtpMailer::new(cfg, Arc::new(Templates::builtin())).unwrap();
    let outcome = unsigned
        .send(&email("a@example.org", "r3", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
    assert!(sb.smtp().emails().is_empty());
}

#[tokio::test]
async fn wrong_credentials_are_a_configuration_error_and_right_ones_send() {
    let mut sim = fast_config();
    sim.smtp.require_auth = true;
    let sb = sandbox_with(sim).await;
    let addr = sb.smtp().addr();
    let with = |password: &str| {
        let mut cfg = config(&addr.ip().to_string(), addr.port());
        cfg.credentials = Some(("sandbox".into(), password.into()));
        SmtpMailer::new(cfg, Arc::new(Templates::builtin())).unwrap()
    };
    let outcome = with("wrong")
        .send(&email("a@example.org", "r1", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::FixConfig(_)), "{outcome:?}");
    let outcome = with("sandbox")
        .send(&email("a@example.org", "r2", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    let anonymous = mailer_for(&sb)
        .send(&email("a@example.org", "r3", Language::English))
        .await;
    assert!(matches!(anonymous, Outcome::FixConfig(_)), "{anonymous:?}");
}

#[tokio::test]
async fn a_silent_server_times_out_and_a_421_retries() {
    let sb = sandbox().await;
    let mailer = mailer_for(&sb);
    sb.faults().push(
        "smtp",
        Fault::Status {
            status: 421,
            retry_after: None,
            body: "4.3.2 Service shutting down".into(),
        },
    );
    let outcome = mailer
        .send(&email("a@example.org", "r1", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::RetryBackoff(_)), "{outcome:?}");
    sb.faults().push("smtp", Fault::Hang);
    let started = Instant::now();
    let outcome = mailer
        .send(&email("a@example.org", "r2", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::RetryBackoff(_)), "{outcome:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let outcome = mailer
        .send(&email("a@example.org", "r3", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
}

#[tokio::test]
async fn an_unreachable_server_is_retried_later() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mailer =
        SmtpMailer::new(config("127.0.0.1", port), Arc::new(Templates::builtin())).unwrap();
    let outcome = mailer
        .send(&email("a@example.org", "r1", Language::English))
        .await;
    assert!(matches!(outcome, Outcome::RetryBackoff(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_later_bounce_comes_back_as_a_dsn_that_names_the_recipient_through_verp() {
    let sb = sandbox().await;
    let mailer = mailer_for(&sb);
    let reference = "0190f3a4-0000-7000-8000-00000000b0b0";
    let outcome = mailer
        .send(&email(
            "sim-bounce@example.org",
            reference,
            Language::Ndebele,
        ))
        .await;
    assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    let [bounce] = sb.smtp().bounces().try_into().unwrap();
    let dsn = parse_dsn(bounce.data.as_bytes()).unwrap();
    assert_eq!(verp().reference(&dsn.to[0]).unwrap(), reference);
    assert_eq!(
        dsn.original_message_id.as_deref(),
        Some(format!("{reference}@oneclass.test").as_str())
    );
    assert_eq!(dsn.recipients[0].final_recipient, "sim-bounce@example.org");
    assert!(dsn.recipients[0].is_hard_bounce());
    assert!(matches!(
        dsn.recipients[0].outcome(),
        Outcome::DropRecipient(_)
    ));
}

#[tokio::test]
async fn concurrent_sends_share_the_connection_pool() {
    let sb = sandbox().await;
    let mailer = Arc::new(mailer_for(&sb));
    let sends = (0..12).map(|i| {
        let mailer = mailer.clone();
        tokio::spawn(async move {
            mailer
                .send(&email(
                    &format!("p{i}@example.org"),
                    &format!("r{i}"),
                    Language::English,
                ))
                .await
        })
    });
    for send in sends {
        assert!(matches!(send.await.unwrap(), Outcome::Sent(_)));
    }
    assert_eq!(sb.smtp().emails().len(), 12);
}

/// Reads the Maildir file holding the message with this Message-ID.
fn find_in_maildir(dir: &str, message_id: &str) -> Option<Vec<u8>> {
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(format!("{dir}/{sub}")) else {
            continue;
        };
        for entry in entries.flatten() {
            let raw = std::fs::read(entry.path()).ok()?;
            if Part::parse(&raw).header("message-id") == Some(&format!("<{message_id}>")) {
                return Some(raw);
            }
        }
    }
    None
}

#[tokio::test]
async fn a_real_smtp_server_receives_templated_mail_intact_in_all_three_languages() {
    let Some(addr) = peer("ONECLASS_TEST_SMTP", "an SMTP server (scripts/smtp.sh)") else {
        return;
    };
    let maildir = std::env::var("ONECLASS_TEST_SMTP_MAILDIR")
        .expect("ONECLASS_TEST_SMTP_MAILDIR is set with ONECLASS_TEST_SMTP");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let templates = Arc::new(Templates::builtin());
    let mailer = SmtpMailer::new(config(host, port.parse().unwrap()), templates.clone()).unwrap();
    let run = uuid::Uuid::now_v7().simple().to_string();
    for language in Language::ALL {
        let reference = format!("{run}-{}", language.code());
        let mail = email("vabereki@example.org", &reference, language);
        let outcome = mailer.send(&mail).await;
        let message_id = format!("{reference}@oneclass.test");
        assert_eq!(outcome, Outcome::Sent(message_id.clone()));

        let raw = {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if let Some(raw) = find_in_maildir(&maildir, &message_id) {
                    break raw;
                }
                assert!(
                    Instant::now() < deadline,
                    "{message_id} never reached {maildir}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let message = Part::parse(&raw);
        let mut context = mail.context.clone();
        context["unsubscribe_url"] =
            json!(signer().unsubscribe_url("school-7-announcements", "vabereki@example.org"));
        let expected = templates
            .render("announcement", language, &context)
            .unwrap();
        assert_eq!(message.header("Content-Language"), Some(language.code()));
        assert_eq!(
            decode_words(message.header("Subject").unwrap()),
            expected.subject
        );
        assert_eq!(
            plain_text(&message).replace("\r\n", "\n").trim_end(),
            expected.text.trim_end(),
            "{language:?} text was altered on the way"
        );
        assert_eq!(
            message.header("List-Unsubscribe-Post"),
            Some("List-Unsubscribe=One-Click")
        );
        let unsubscribe = message.header("List-Unsubscribe").unwrap();
        assert!(
            unsubscribe.contains(context["unsubscribe_url"].as_str().unwrap()),
            "{unsubscribe}"
        );
        assert!(html(&message).contains(&format!("<html lang=\"{}\">", language.code())));
    }
}
