//! A Postgres server of the test's own, in a temporary folder on a free loopback port, that
//! the test may stop and start again (a database restart or outage) without touching the
//! shared one other tests use. Found the way scripts/postgres.sh finds Debian's tools; as
//! root, run as the `postgres` user (initdb refuses root). Stopped when dropped.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Postgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
}

impl Postgres {
    /// A fresh cluster, started; `None` when no Postgres server tools are installed (a
    /// failure instead when `STARFARM_REQUIRE_POSTGRES=1`, as in CI).
    pub fn start() -> Option<Self> {
        let Some(bin) = find_bin() else {
            let why = "no Postgres server tools (initdb, pg_ctl): run scripts/postgres.sh once";
            assert!(
                std::env::var("STARFARM_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "{why}"
            );
            eprintln!("skipped: {why}");
            return None;
        };
        let as_postgres_user = run_ok(Command::new("id").arg("-u")).trim() == "0";
        let dir = tempfile::tempdir().expect("tempdir");
        if as_postgres_user {
            run_ok(Command::new("chown").arg("postgres:").arg(dir.path()));
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = Self {
            bin,
            dir,
            port,
            as_postgres_user,
        };
        let data = server.data();
        server.tool(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        );
        server.up();
        Some(server)
    }

    /// The URL of its `postgres` database (trust authentication).
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Starts the server (again) on its port; returns once it accepts connections.
    pub fn up(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let log = log.to_str().expect("UTF-8 path");
        let data = self.data();
        self.tool(
            "pg_ctl",
            &[
                "-D", &data, "-l", log, "-w", "-t", "60", "-o", &options, "start",
            ],
        );
    }

    /// Stops the server (fast: open connections are cut, as in a restart or failover).
    pub fn down(&self) {
        let data = self.data();
        self.tool("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn tool(&self, name: &str, args: &[&str]) -> String {
        run_ok(self.command(name).args(args))
    }

    /// One of the server's tools, run as the user that owns the cluster, in its folder (the
    /// postgres user may not enter the caller's).
    fn command(&self, name: &str) -> Command {
        let path = self.bin.join(name);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.dir.path().join("data/postmaster.pid").exists() {
            let data = self.data();
            let _ = self
                .command("pg_ctl")
                .args(["-D", &data, "-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

/// Debian's /usr/lib/postgresql/<newest>/bin, else the folder of `pg_ctl` on the PATH.
fn find_bin() -> Option<PathBuf> {
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .and_then(|versions| {
            versions
                .filter_map(Result::ok)
                .filter_map(|v| v.file_name().to_str()?.parse::<u32>().ok())
                .max()
                .map(|v| PathBuf::from(format!("/usr/lib/postgresql/{v}/bin")))
        });
    let on_path = || {
        let out = Command::new("sh")
            .args(["-c", "command -v pg_ctl"])
            .output()
            .ok()?;
        let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
        Some(std::fs::canonicalize(path).ok()?.parent()?.to_path_buf())
    };
    debian
        .or_else(on_path)
        .filter(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn run_ok(command: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("the command starts");
    assert!(
        status.success(),
        "{command:?}: {status}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    String::from_utf8_lossy(&stdout).into_owned()
}
