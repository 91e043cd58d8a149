//! `starfarm keys add|list|revoke` against a real `starfarm scheduler`: a key made on the
//! command line authenticates at once, shows its secret only when made, and is refused
//! (401) from the request after its revocation, with no restart. Kills what it starts.

use std::process::{Command, Output};

use serde_json::Value;
use support::{url_in, Proc};

mod support;

fn starfarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(args)
        .output()
        .expect("starfarm starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_made_on_the_command_line_work_until_revoked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("scheduler");
    let data = data.to_str().expect("UTF-8 path");

    let refused = starfarm(&["scheduler", "--data", data, "--listen", "127.0.0.1:0"]);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("starfarm keys add"),
        "{}",
        text(&refused.stderr)
    );

    let added = starfarm(&[
        "keys",
        "add",
        "--name",
        "tenant-a",
        "--role",
        "submit",
        "--max-active-jobs",
        "5",
        "--data",
        data,
    ]);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let secret = text(&added.stdout).trim().to_owned();
    assert!(
        secret.starts_with("sfk_") && secret.len() == 68,
        "{secret:?}"
    );
    let bad_role = starfarm(&[
        "keys", "add", "--name", "x", "--role", "root", "--data", data,
    ]);
    assert!(!bad_role.status.success());
    assert!(text(&bad_role.stderr).contains("unknown role"));
    let taken = starfarm(&[
        "keys", "add", "--name", "tenant-a", "--role", "admin", "--data", data,
    ]);
    assert!(!taken.status.success());
    assert!(
        text(&taken.stderr).contains("exists already"),
        "{}",
        text(&taken.stderr)
    );

    let listed = starfarm(&["keys", "list", "--json", "--data", data]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(
        !text(&listed.stdout).contains(&secret),
        "list shows no secret"
    );
    let keys: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(keys[0]["name"], "tenant-a");
    assert_eq!(keys[0]["role"], "submit");
    assert_eq!(keys[0]["quota"]["max_active_jobs"], 5);

    // No --api-key: the stored key alone lets the scheduler start.
    let scheduler = Proc::spawn(&["scheduler", "--data", data, "--listen", "127.0.0.1:0"]);
    let url = url_in(&scheduler.line_with("listening on http://").await);
    let http = reqwest::Client::new();
    let list = |key: &str| http.get(format!("{url}/v1/jobs")).bearer_auth(key).send();
    assert_eq!(list(&secret).await.expect("answer").status(), 200);
    let claim = http
        .post(format!("{url}/v1/workers/claim"))
        .bearer_auth(&secret)
        .json(&serde_json::json!({"worker_id": "w", "capabilities": {"memory_bytes": 1}}))
        .send()
        .await
        .expect("answer");
    assert_eq!(claim.status(), 403, "a submit key does not claim");

    let revoked = starfarm(&["keys", "revoke", "tenant-a", "--data", data]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert_eq!(list(&secret).await.expect("answer").status(), 401);
    let unknown = starfarm(&["keys", "revoke", "nobody", "--data", data]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("nobody"));
    drop(scheduler);
}
