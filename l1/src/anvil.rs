//! A local Ethereum node for tests and the devnet: anvil (npm `@foundry-rs/anvil`,
//! `scripts/anvil.sh` installs it and prints its path) on a free loopback port, killed by
//! its PID when dropped.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// anvil's first two default accounts (mnemonic "test test … junk"), funded at start.
pub const DEV_KEYS: [&str; 2] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
];

/// A running anvil.
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC endpoint.
    pub url: String,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Anvil {
    /// Starts `bin` on a free 127.0.0.1 port (three tries: another process may take the
    /// port between its lookup and anvil's bind).
    pub fn start(bin: &Path) -> std::io::Result<Self> {
        Self::start_with(bin, &[])
    }

    /// [`Anvil::start`] with more of anvil's options (e.g. `--hardfork cancun`). Every chain
    /// verifying proofs keeps anvil's default 30 M block gas limit: a verification's
    /// transactions are each under EIP-7825's 2^24 (`starfarm_l1::verify::MAX_TX_GAS`).
    pub fn start_with(bin: &Path, options: &[&str]) -> std::io::Result<Self> {
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let child = Command::new(bin)
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--silent",
                ])
                .args(options)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()?;
            let mut anvil = Anvil {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            if anvil.wait_listening(port)? {
                return Ok(anvil);
            }
        }
        Err(std::io::Error::other("anvil did not start on three ports"))
    }

    /// For tests: anvil from `STARFARM_ANVIL`, or `None` (the test is skipped, loudly) when
    /// it is unset. With `STARFARM_REQUIRE_ANVIL=1` (CI) a missing anvil panics instead.
    #[allow(clippy::panic)]
    pub fn for_tests() -> Option<Self> {
        let bin = Self::binary_for_tests()?;
        match Self::start(&bin) {
            Ok(anvil) => Some(anvil),
            Err(e) => panic!("starting anvil {}: {e}", bin.display()),
        }
    }

    /// For tests that start anvil through something else (the devnet): its path from
    /// `STARFARM_ANVIL`, with [`Anvil::for_tests`]'s skip rule.
    pub fn binary_for_tests() -> Option<PathBuf> {
        let Some(bin) = std::env::var_os("STARFARM_ANVIL").filter(|v| !v.is_empty()) else {
            assert!(
                std::env::var("STARFARM_REQUIRE_ANVIL").as_deref() != Ok("1"),
                "STARFARM_REQUIRE_ANVIL=1 but STARFARM_ANVIL is unset (run scripts/anvil.sh)"
            );
            // Straight to the process's stderr: the harness captures eprintln! of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: STARFARM_ANVIL is unset; settlement tests need anvil \
                 (STARFARM_ANVIL=$(scripts/anvil.sh)) ***\n"
            );
            return None;
        };
        Some(PathBuf::from(bin))
    }

    /// Whether anvil answers on `port` within 30 s (false: it exited, probably losing the port).
    fn wait_listening(&mut self, port: u16) -> std::io::Result<bool> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(false)
    }
}
