//! The devnet's child processes: each writes its output to `<data>/logs/<name>.log`, dies
//! with the devnet (Linux `PR_SET_PDEATHSIG`, so a killed devnet leaves nothing behind),
//! and is stopped in order with SIGTERM, then SIGKILL after a grace period.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// A running child.
pub struct Proc {
    pub name: String,
    child: Child,
    log: PathBuf,
}

/// The signal a child gets when the devnet dies without stopping it.
#[derive(Clone, Copy)]
pub enum OnParentDeath {
    /// Our own processes are crash-safe: they stop at once, as in a crash.
    Kill,
    /// anvil keeps its chain only when it exits cleanly (it dumps its state then).
    Terminate,
}

impl Proc {
    /// Starts `command` as `name`, its stdout and stderr appended to `<logs>/<name>.log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        logs: &Path,
        on_death: OnParentDeath,
    ) -> Result<Self> {
        std::fs::create_dir_all(logs).with_context(|| format!("creating {}", logs.display()))?;
        let log = logs.join(format!("{name}.log"));
        let out = append(&log)?;
        let err = out.try_clone().context("duplicating a log file handle")?;
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        // Its own process group: Ctrl-C reaches the devnet only, which stops children in order.
        command.process_group(0);
        die_with_parent(&mut command, on_death);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name} ({command:?})"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log,
        })
    }

    /// The exit status, if it exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of its log.
    pub fn tail(&self, n: usize) -> String {
        let lines = read_lines(&self.log);
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Waits until its log has a line containing `needle` written by this run (after
    /// `skip` lines) and returns that line; fails if it exits first or `timeout` passes.
    pub async fn line_with(
        &mut self,
        needle: &str,
        skip: usize,
        timeout: Duration,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = read_lines(&self.log);
            if let Some(line) = lines.iter().skip(skip).find(|l| l.contains(needle)) {
                return Ok(line.clone());
            }
            if let Some(status) = self.exited() {
                bail!("{} exited ({status}):\n{}", self.name, self.tail(20));
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not say {needle:?} within {timeout:?}:\n{}",
                    self.name,
                    self.tail(20)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub async fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.exited().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{} did not stop within {grace:?}; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Lines of a log file so far (none if it cannot be read).
pub fn read_lines(path: &Path) -> Vec<String> {
    match File::open(path) {
        Ok(file) => BufReader::new(file).lines().map_while(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}

fn append(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

#[allow(unsafe_code)]
fn die_with_parent(command: &mut Command, on_death: OnParentDeath) {
    let signal = match on_death {
        OnParentDeath::Kill => libc::SIGKILL,
        OnParentDeath::Terminate => libc::SIGTERM,
    };
    // SAFETY: between fork and exec only async-signal-safe calls are allowed; prctl is a
    // plain system call that touches no memory of ours. The signal fires when the thread
    // that spawned the child exits: the devnet spawns every child from its main thread.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
