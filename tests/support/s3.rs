//! A real S3 API server for the tests that give starfarm `s3://` locations: s3rver, a
//! file-backed S3 server from npm (`scripts/s3-server.sh` installs it and prints the path
//! that STARFARM_S3_SERVER names). It listens on a free 127.0.0.1 port with its data in a
//! temporary folder, so a test can stop the process and start it again on the same port and
//! data; it is killed by its PID when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use object_store::path::Path;
use object_store::ObjectStore;

/// s3rver's built-in account: access key id and secret alike.
const ACCOUNT: &str = "S3RVER";
/// The region s3rver's listings accept in their continuation tokens.
const REGION: &str = "us-east-1";

pub struct S3Server {
    program: PathBuf,
    data: tempfile::TempDir,
    buckets: Vec<String>,
    port: u16,
    child: Option<Child>,
    lines: Arc<Mutex<Vec<String>>>,
}

impl S3Server {
    /// A server holding `buckets` (created empty), or `None` after a loud SKIPPED line when
    /// STARFARM_S3_SERVER is unset; unset with STARFARM_REQUIRE_S3_SERVER=1 is a failure.
    pub fn start(buckets: &[&str]) -> Option<Self> {
        let Some(program) = std::env::var_os("STARFARM_S3_SERVER") else {
            assert!(
                std::env::var("STARFARM_REQUIRE_S3_SERVER").as_deref() != Ok("1"),
                "STARFARM_REQUIRE_S3_SERVER=1 but STARFARM_S3_SERVER is unset (run scripts/s3-server.sh)"
            );
            eprintln!("SKIPPED: no S3 server (run scripts/s3-server.sh, set STARFARM_S3_SERVER)");
            return None;
        };
        let mut server = Self {
            program: PathBuf::from(program),
            data: tempfile::tempdir().expect("tempdir"),
            buckets: buckets.iter().map(|b| b.to_string()).collect(),
            port: 0,
            child: None,
            lines: Arc::default(),
        };
        server.launch();
        Some(server)
    }

    /// The environment starfarm's processes read S3 settings from (common/src/location.rs).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCOUNT.to_string()),
            ("AWS_SECRET_ACCESS_KEY", ACCOUNT.to_string()),
            ("AWS_REGION", REGION.to_string()),
            ("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
    }

    /// The store `url` (`s3://bucket/prefix`) names on this server, and the prefix, opened
    /// as starfarm's processes open it.
    pub fn store(&self, url: &str) -> (Arc<dyn ObjectStore>, Path) {
        let options = self
            .env()
            .into_iter()
            .map(|(key, value)| (key.to_ascii_lowercase(), value));
        starfarm_common::location::open_url(url, options).expect("the S3 store opens")
    }

    /// Kills the server (SIGKILL: nothing is flushed or closed politely) and reaps it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
        }
    }

    /// Starts the server again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The server's log: a line per answered request (`… PUT /bucket/key 200 …`).
    pub fn output(&self) -> String {
        self.lines.lock().expect("lines").join("\n")
    }

    /// Spawns s3rver on `self.port` (a free one the first time) and waits until it listens.
    fn launch(&mut self) {
        let listening_before = self.listening_lines();
        let mut command = Command::new(&self.program);
        command
            .args(["--directory", self.data.path().to_str().expect("UTF-8")])
            .args(["--address", "127.0.0.1", "--port", &self.port.to_string()]);
        for bucket in &self.buckets {
            command.args(["--configure-bucket", bucket]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", self.program.display()));
        super::collect(
            child.stdout.take().expect("stdout"),
            Arc::clone(&self.lines),
        );
        super::collect(
            child.stderr.take().expect("stderr"),
            Arc::clone(&self.lines),
        );
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.listening_lines().len() == listening_before.len() {
            assert!(
                Instant::now() < deadline,
                "s3rver does not listen:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let line = self.listening_lines().pop().expect("a listening line");
        self.port = line
            .rsplit(':')
            .next()
            .and_then(|port| port.trim().parse().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"));
    }

    fn listening_lines(&self) -> Vec<String> {
        let lines = self.lines.lock().expect("lines");
        lines
            .iter()
            .filter(|l| l.contains("S3rver listening on"))
            .cloned()
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
