//! Writes `verifier/contracts/CairoLayout.sol` from starfarm-air's IR; with `--check`,
//! regenerates it in memory and fails when the committed file differs. Rebuild the contracts'
//! artifacts after writing (`verifier/contracts/build.sh`).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let check = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--check") => true,
        Some(other) => bail!("usage: verifier-codegen [--check] (got {other})"),
    };
    let air = starfarm_air::extract().context("extracting the AIR from cairo-air")?;
    let text = starfarm_verifier::layout::cairo_layout_sol(&air).context("generating")?;
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contracts/CairoLayout.sol");
    if check {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != text {
            bail!(
                "{} is stale: run `cargo run -p starfarm-verifier --bin verifier-codegen`, \
                 then verifier/contracts/build.sh, and commit",
                path.display()
            );
        }
    } else {
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    }
    eprintln!("{}: {} bytes", path.display(), text.len());
    Ok(())
}
