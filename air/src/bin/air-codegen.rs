//! Extracts the Cairo AIR and writes the committed files under air/generated/; with
//! `--check`, regenerates them in memory and fails when the committed ones differ.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;

#[derive(Parser)]
#[command(about = "Regenerates air/generated/ from cairo-air (or checks it is up to date)")]
struct Args {
    /// Compare instead of writing; exit non-zero when a generated file is stale.
    #[arg(long)]
    check: bool,
    /// Also write the IR as JSON to this path.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let air = starfarm_air::extract().context("extracting the AIR from cairo-air")?;
    if let Some(path) = &args.json {
        let json = serde_json::to_vec(&air)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated");
    let files = starfarm_air::codegen::generated_files(&air).context("generating code")?;
    let mut stale = vec![];
    for (name, text) in &files {
        let path = dir.join(name);
        if args.check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != *text {
                stale.push(name.clone());
            }
        } else {
            std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        if !name.ends_with(".hex") {
            eprintln!("{name}: {} bytes", text.len());
        }
    }
    // Files no generator writes any more.
    for path in files_under(&dir) {
        let name = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        if files.iter().any(|(n, _)| *n == name) {
            continue;
        }
        if args.check {
            stale.push(format!("{name} (no longer generated)"));
        } else {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let programs: usize = files
        .iter()
        .filter(|(n, _)| n.ends_with(".hex"))
        .map(|(_, t)| t.len())
        .sum();
    eprintln!("evm/*.hex: {programs} bytes of hex in all");
    if !stale.is_empty() {
        bail!(
            "stale generated files (run `cargo run -p starfarm-air --bin air-codegen` and commit): {}",
            stale.join(", ")
        );
    }
    Ok(())
}

fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .flatten()
        .flat_map(|e| {
            let path = e.path();
            if path.is_dir() {
                files_under(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}
