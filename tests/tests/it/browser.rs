//! The chat page in a real browser: headless Chromium driven by playwright-core
//! (`tests/browser/chat.mjs`). Needs `ONECLASS_TEST_BROWSER=1` (set by scripts/test.sh when
//! Chromium and the npm packages are installed); skipped with a notice otherwise, failed under CI.

use oneclass_actors::Role;
use oneclass_tests::{peer, token, TestHub};

#[tokio::test]
async fn two_people_chat_through_the_page_in_headless_chromium() {
    if peer(
        "ONECLASS_TEST_BROWSER",
        "headless Chromium and the npm packages (scripts/test.sh sets it to 1)",
    )
    .is_none()
    {
        return;
    }
    let hub = TestHub::spawn();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/browser");
    let shot = std::env::temp_dir().join("oneclass-chat.png");
    let out = tokio::process::Command::new("node")
        .current_dir(dir)
        .arg("chat.mjs")
        .arg(format!("http://{}", hub.addr))
        .arg(token("t1", "s1", Role::Teacher, &["c1"]))
        .arg(token("p1", "s1", Role::Parent, &["c1"]))
        .arg(&shot)
        .output()
        .await
        .expect("run node");
    assert!(
        out.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
