//! `starfarm submit`: send a program to a scheduler, optionally wait for its proof.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Compiled program: the JSON written by `cairo-compile --proof_mode`.
    program: PathBuf,
    /// Program input: a JSON array of felts.
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Security profile: production, production-fast, l1 (Keccak channel, for Ethereum
    /// verifiers) or test (NOT SECURE).
    #[arg(long, default_value = "production")]
    profile: String,
    /// Higher is proven first.
    #[arg(long)]
    priority: Option<i32>,
    /// The scheduler's URL.
    #[arg(long, env = "STARFARM_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key: a `submit` (or `admin`) key of the scheduler.
    #[arg(long, env = "STARFARM_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Wait until the job finishes.
    #[arg(long)]
    wait: bool,
    /// Write the proof artifact here once done (implies --wait).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: SubmitArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(submit(args))
}

fn read_json(path: &PathBuf) -> anyhow::Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))
}

/// The body on success, or the server's `{"error": {"code", "reason"}}` as an error.
async fn check(response: reqwest::Response) -> anyhow::Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body: Value = response.json().await.unwrap_or(Value::Null);
    match body["error"]["reason"].as_str() {
        Some(reason) => bail!("{status}: {reason}"),
        None => bail!("{status}"),
    }
}

async fn submit(args: SubmitArgs) -> anyhow::Result<()> {
    let base = args.url.trim_end_matches('/').to_owned();
    let client = reqwest::Client::new();
    let mut body = json!({ "program": read_json(&args.program)?, "profile": args.profile });
    if let Some(input) = &args.input {
        body["input"] = read_json(input)?;
    }
    if let Some(priority) = args.priority {
        body["priority"] = json!(priority);
    }
    let response = client
        .post(format!("{base}/v1/jobs"))
        .bearer_auth(&args.api_key)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("sending the job to {base}"))?;
    let created = response.status() == reqwest::StatusCode::CREATED;
    let mut job: Value = check(response).await?.json().await?;
    let id = job["id"].as_i64().context("the answer has no job id")?;
    println!(
        "job {id} {} ({})",
        job["state"].as_str().unwrap_or("?"),
        if created { "new" } else { "existing" }
    );
    if !args.wait && args.output.is_none() {
        return Ok(());
    }

    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] job {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut last_state = String::new();
    loop {
        let state = job["state"].as_str().unwrap_or("?").to_owned();
        if state != last_state {
            match &bar {
                Some(bar) => bar.set_message(format!("{id}: {state}")),
                None => eprintln!("job {id}: {state}"),
            }
            last_state = state.clone();
        }
        if matches!(state.as_str(), "done" | "failed" | "cancelled") {
            break;
        }
        let response = client
            .get(format!("{base}/v1/jobs/{id}/wait?timeout_secs=30"))
            .bearer_auth(&args.api_key)
            .send()
            .await
            .context("waiting for the job")?;
        let waited: Value = check(response).await?.json().await?;
        job = waited["job"].clone();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    println!("job {id} {last_state}");
    if last_state != "done" {
        let error = job["last_error"].as_str().unwrap_or("no reason given");
        bail!("job {id} {last_state}: {error}");
    }
    if let Some(output) = &args.output {
        let response = client
            .get(format!("{base}/v1/jobs/{id}/artifact"))
            .bearer_auth(&args.api_key)
            .send()
            .await
            .context("downloading the artifact")?;
        let bytes = check(response).await?.bytes().await?;
        std::fs::write(output, &bytes).with_context(|| format!("writing {}", output.display()))?;
        println!(
            "proof artifact written to {} ({} bytes)",
            output.display(),
            bytes.len()
        );
    }
    Ok(())
}
