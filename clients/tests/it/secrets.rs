//! No provider configuration shows a credential in its `Debug` output: every secret is a
//! `secrecy` type, whose `Debug` is redacted. Each config below carries a distinctive secret, and
//! its formatted form must not contain it (nor its first half, in case of truncation).

use std::time::Duration;

use oneclass_clients::email::{LinkSigner, SmtpConfig, SmtpSecurity, VerpConfig};
use oneclass_clients::pay::ecocash::{EcocashConfig, EcocashEnvironment};
use oneclass_clients::pay::paynow::PaynowConfig;
use oneclass_clients::push::apns::ApnsConfig;
use oneclass_clients::push::fcm::ServiceAccount;
use oneclass_clients::sms::econet::EconetConfig;
use oneclass_clients::sms::kannel::KannelConfig;
use oneclass_clients::sms::telone::TeloneConfig;
use oneclass_clients::whatsapp::WhatsAppConfig;

/// Asserts that `debug` (a config's `{:?}`) holds no part of `secret`.
fn assert_hidden(name: &str, debug: &str, secret: &str) {
    let half = &secret[..secret.len() / 2];
    assert!(
        !debug.contains(half),
        "{name}'s Debug shows its secret: {debug}"
    );
}

#[test]
fn no_provider_config_shows_a_secret_in_its_debug_output() {
    let kannel = KannelConfig {
        base_url: "http://127.0.0.1:13013".into(),
        username: "tester".into(),
        password: "kannel-password-b4c1".into(),
        sender: None,
        dlr_url: None,
        dlr_mask: 31,
        smsc: None,
        hourly_rate_limit: None,
    };
    let telone = TeloneConfig {
        api_url: "https://bulksms.telone.co.zw".into(),
        username: "school".into(),
        password: "telone-password-77aa".into(),
        sender_id: "ONECLASS".into(),
        rate_limit: None,
    };
    let econet = EconetConfig {
        api_url: "https://econet.example".into(),
        api_key: "econet-api-key-9f3e".into(),
        sender_id: "ONECLASS".into(),
        rate_limit: None,
    };
    let paynow = PaynowConfig {
        base_url: "https://www.paynow.co.zw".into(),
        integration_id: "1201".into(),
        integration_key: "paynow-integration-key-5d2c".into(),
        result_url: "https://hub/result".into(),
        return_url: "https://hub/return".into(),
        default_auth_email: None,
    };
    let ecocash = EcocashConfig {
        base_url: "https://ecocash.example".into(),
        api_key: "ecocash-api-key-03bd".into(),
        environment: EcocashEnvironment::Sandbox,
        currency: "USD".into(),
        client_name: "OneClass".into(),
    };
    let whatsapp = WhatsAppConfig {
        base_url: "https://graph.facebook.com".into(),
        api_version: "v23.0".into(),
        phone_number_id: "1234".into(),
        access_token: "whatsapp-access-token-e61f".into(),
    };
    let apns = ApnsConfig::new(
        "KEYID12345",
        "TEAMID1234",
        "-----BEGIN PRIVATE KEY-----apns-signing-key-81c0",
        "zw.co.oneclass",
    );
    let account: ServiceAccount = serde_json::from_value(serde_json::json!({
        "type": "service_account",
        "project_id": "oneclass",
        "private_key_id": "kid",
        "private_key": "-----BEGIN PRIVATE KEY-----fcm-private-key-2a9b",
        "client_email": "fcm@oneclass.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }))
    .unwrap();
    let links = LinkSigner::new(b"link-signing-secret-6e4d", "https://t.oneclass.co.zw").unwrap();
    let verp = VerpConfig {
        prefix: "bounce".into(),
        domain: "bounces.oneclass.co.zw".into(),
        secret: b"verp-signing-secret-c3f8".to_vec().into(),
    };
    let smtp = SmtpConfig {
        host: "smtp.example".into(),
        port: 587,
        security: SmtpSecurity::StartTls,
        credentials: Some(("mailer".into(), "smtp-password-4b7a".into())),
        from: "OneClass <noreply@oneclass.co.zw>".into(),
        domain: "oneclass.co.zw".into(),
        pool_max_size: 4,
        timeout: Duration::from_secs(10),
        verp: Some(verp.clone()),
        links: Some(links.clone()),
        unsubscribe_mailbox: None,
    };

    let cases: [(&str, String, &str); 11] = [
        (
            "KannelConfig",
            format!("{kannel:?}"),
            "kannel-password-b4c1",
        ),
        (
            "TeloneConfig",
            format!("{telone:?}"),
            "telone-password-77aa",
        ),
        ("EconetConfig", format!("{econet:?}"), "econet-api-key-9f3e"),
        (
            "PaynowConfig",
            format!("{paynow:?}"),
            "paynow-integration-key-5d2c",
        ),
        (
            "EcocashConfig",
            format!("{ecocash:?}"),
            "ecocash-api-key-03bd",
        ),
        (
            "WhatsAppConfig",
            format!("{whatsapp:?}"),
            "whatsapp-access-token-e61f",
        ),
        ("ApnsConfig", format!("{apns:?}"), "apns-signing-key-81c0"),
        (
            "ServiceAccount",
            format!("{account:?}"),
            "fcm-private-key-2a9b",
        ),
        (
            "LinkSigner",
            format!("{links:?}"),
            "link-signing-secret-6e4d",
        ),
        (
            "VerpConfig",
            format!("{verp:?}"),
            "verp-signing-secret-c3f8",
        ),
        ("SmtpConfig", format!("{smtp:?}"), "smtp-password-4b7a"),
    ];
    for (name, debug, secret) in &cases {
        assert_hidden(name, debug, secret);
    }
    // The SMTP config also holds the signing keys; neither shows through it.
    assert_hidden("SmtpConfig", &cases[10].1, "link-signing-secret-6e4d");
    assert_hidden("SmtpConfig", &cases[10].1, "verp-signing-secret-c3f8");
    // The redaction hides values, not the fields that are not secret.
    assert!(cases[0].1.contains("tester"), "{}", cases[0].1);
}
