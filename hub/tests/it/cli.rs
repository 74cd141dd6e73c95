//! The `oneclass-hub` command line: `token` mints with the same development secret `serve` uses.

use std::path::PathBuf;
use std::process::Command;

use oneclass_actors::Authenticator;
use oneclass_hub::auth::{JwtAuthenticator, DEV_SECRET_FILE};
use oneclass_hub::config::AuthSettings;

/// A fresh empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "oneclass-cli-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn hub(data_dir: &TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_oneclass-hub"));
    cmd.env("ONECLASS_DATA_DIR", &data_dir.0)
        .env_remove("ONECLASS_JWT_SECRET")
        .env_remove("ONECLASS_LISTEN");
    cmd
}

#[test]
fn token_without_a_secret_creates_the_dev_secret_and_prints_a_jwt_signed_with_it() {
    let dir = TempDir::new("token");
    let out = hub(&dir)
        .args([
            "token",
            "--user",
            "u",
            "--school",
            "s1",
            "--role",
            "teacher",
            "--classes",
            "c1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let jwt = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "not a JWT: {jwt:?}");
    let secret_file = dir.0.join(DEV_SECRET_FILE);
    let secret = std::fs::read_to_string(&secret_file)
        .unwrap_or_else(|e| panic!("{} was not created: {e}", secret_file.display()));
    // What `serve` would verify with (the same file) accepts the printed token.
    let verifier = JwtAuthenticator::new(&AuthSettings::default(), Some(secret.trim())).unwrap();
    let p = verifier.verify(&jwt).unwrap();
    assert_eq!((p.user.as_str(), p.school.as_str()), ("u", "s1"));
    assert_eq!(p.classes, vec!["c1".to_string()]);

    // A second run reuses the secret instead of making a new one.
    let again = hub(&dir)
        .args([
            "token", "--user", "u2", "--school", "s1", "--role", "parent",
        ])
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&secret_file).unwrap(), secret);
    let jwt2 = String::from_utf8(again.stdout).unwrap();
    assert!(verifier.verify(jwt2.trim()).is_ok());
}

#[test]
fn token_with_an_unknown_role_fails_naming_the_role() {
    let dir = TempDir::new("role");
    let out = hub(&dir)
        .args(["token", "--user", "u", "--school", "s1", "--role", "wizard"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wizard"), "stderr: {stderr}");
    assert!(out.stdout.is_empty(), "printed a token anyway");
}

#[test]
fn token_for_a_reserved_or_unusable_id_is_not_minted() {
    let dir = TempDir::new("ids");
    for (user, school, says) in [
        ("system", "s1", "reserved"),
        ("a:b", "s1", "`sub`"),
        ("u", "s 1", "`school`"),
    ] {
        let out = hub(&dir)
            .args([
                "token", "--user", user, "--school", school, "--role", "parent",
            ])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{user}@{school}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "stderr: {stderr}");
        assert!(out.stdout.is_empty(), "printed a token anyway");
    }
}

#[cfg(feature = "sandbox")]
#[test]
fn sandbox_serves_the_simulators_and_writes_an_fcm_account_that_points_at_them() {
    use std::io::BufRead;
    let dir = TempDir::new("sandbox");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oneclass-hub"))
        .args(["sandbox", "--listen", "127.0.0.1:0"])
        .env("ONECLASS_DATA_DIR", &dir.0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_owned();

    let account: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.0.join(oneclass_hub::sandbox::FCM_ACCOUNT_FILE)).unwrap(),
    )
    .unwrap();
    assert_eq!(account["token_uri"], format!("http://{addr}/oauth2/token"));
    assert_eq!(account["type"], "service_account");

    // The simulators answer: the control API lists what the Paynow simulator received.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /_sim/requests/paynow HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Runs `args` in a build without the simulators and checks it fails at once, naming the
/// feature, having printed nothing on stdout (so no "listening on" line) and created nothing.
#[cfg(not(feature = "sandbox"))]
fn refuses_without_the_sandbox_feature(name: &str, args: &[&str]) {
    let dir = TempDir::new(name);
    let data_dir = dir.0.join("data");
    let mut child = hub(&dir)
        .env("ONECLASS_DATA_DIR", &data_dir)
        .env("ONECLASS_LISTEN", "127.0.0.1:0")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A build that wrongly starts would run until killed: give it ten seconds, not forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(oneclass_hub::sandbox::UNAVAILABLE),
        "stderr: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!data_dir.exists(), "{args:?} touched the data directory");
}

#[cfg(not(feature = "sandbox"))]
#[test]
fn serve_with_sandbox_in_a_build_without_the_feature_fails_before_listening_and_names_it() {
    refuses_without_the_sandbox_feature("serve-sandbox", &["serve", "--sandbox"]);
}

#[cfg(not(feature = "sandbox"))]
#[test]
fn the_sandbox_command_in_a_build_without_the_feature_fails_and_names_it() {
    refuses_without_the_sandbox_feature("sandbox-off", &["sandbox", "--listen", "127.0.0.1:0"]);
}
