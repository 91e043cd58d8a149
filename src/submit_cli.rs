//! `starfarm submit`: send a program to a scheduler, optionally wait for its proof.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{bail, Context};
use indicatif::ProgressBar;
use serde_json::{json, Value};

#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Compiled program: the JSON written by `cairo-compile --proof_mode`.
    program: PathBuf,
    /// Program input: a JSON array of felts.
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Security profile: production, production-fast, l1 (Keccak channel, for Ethereum
    /// verifiers), test or l1-test (Keccak channel, 20 bits) (both NOT SECURE).
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
    let job: Value = check(response).await?.json().await?;
    let id = job["id"].as_i64().context("the answer has no job id")?;
    println!(
        "job {id} {} ({})",
        job["state"].as_str().unwrap_or("?"),
        if created { "new" } else { "existing" }
    );
    if !args.wait && args.output.is_none() {
        return Ok(());
    }

    let server = Server {
        client: &client,
        base: &base,
        key: &args.api_key,
    };
    let mut progress = Progress::new(id);
    let job = server.follow(id, job, &mut progress).await?;
    let last_state = progress.finish();
    println!("job {id} {last_state}");
    if last_state != "done" {
        let error = job["last_error"].as_str().unwrap_or("no reason given");
        bail!("job {id} {last_state}: {error}");
    }
    if let Some(output) = &args.output {
        let response = server
            .get(&format!("/v1/jobs/{id}/artifact"))
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

fn is_terminal(job: &Value) -> bool {
    matches!(job["state"].as_str(), Some("done" | "failed" | "cancelled"))
}

/// Where the job is, on stderr: a spinner on a terminal, else one line per state.
struct Progress {
    id: i64,
    bar: Option<ProgressBar>,
    last_state: String,
}

impl Progress {
    fn new(id: i64) -> Self {
        let bar = std::io::stderr()
            .is_terminal()
            .then(crate::progress::spinner);
        Self {
            id,
            bar,
            last_state: String::new(),
        }
    }

    fn show(&mut self, job: &Value) {
        let state = job["state"].as_str().unwrap_or("?");
        if state == self.last_state {
            return;
        }
        match &self.bar {
            Some(bar) => bar.set_message(format!("job {}: {state}", self.id)),
            None => eprintln!("job {}: {state}", self.id),
        }
        self.last_state = state.to_owned();
    }

    /// Clears the spinner; the last state shown.
    fn finish(self) -> String {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
        self.last_state
    }
}

/// A scheduler and the key to call it with.
struct Server<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    key: &'a str,
}

impl Server<'_> {
    /// An authenticated GET of `path`.
    async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        let url = format!("{}{path}", self.base);
        self.client.get(url).bearer_auth(self.key).send().await
    }

    /// The job once done, failed or cancelled: followed on its event stream (a new one each
    /// time the server ends one), and by long-polls if a stream cannot be opened or breaks.
    async fn follow(&self, id: i64, job: Value, progress: &mut Progress) -> anyhow::Result<Value> {
        progress.show(&job);
        if is_terminal(&job) {
            return Ok(job);
        }
        loop {
            // The server ends a stream after its longest wait: follow a new one.
            match self.stream(id, progress).await {
                Ok(Some(job)) => return Ok(job),
                Ok(None) => {}
                Err(e) => {
                    eprintln!("job {id}: event stream broke ({e:#}); long-polling instead");
                    return self.long_poll(id, progress).await;
                }
            }
        }
    }

    /// Follows `GET /v1/jobs/{id}/events`; `None` when the server ends it before a terminal
    /// state (after its longest wait).
    async fn stream(&self, id: i64, progress: &mut Progress) -> anyhow::Result<Option<Value>> {
        let response = self
            .get(&format!("/v1/jobs/{id}/events"))
            .await
            .context("opening the job's event stream")?;
        let mut response = check(response).await?;
        let mut events = SseBuffer::default();
        let mut followed = false;
        while let Some(chunk) = response.chunk().await.context("reading the event stream")? {
            for (name, data) in events.push(&chunk) {
                match name.as_str() {
                    "state" => {
                        let job: Value = serde_json::from_str(&data)
                            .with_context(|| format!("a `state` event that is not JSON: {data}"))?;
                        progress.show(&job);
                        if is_terminal(&job) {
                            return Ok(Some(job));
                        }
                        followed = true;
                    }
                    "error" => bail!("the server ended the stream: {data}"),
                    _ => {}
                }
            }
        }
        // A stream that ends without a word is not worth reopening.
        anyhow::ensure!(followed, "the stream ended without an event");
        Ok(None)
    }

    /// Long-polls `GET /v1/jobs/{id}/wait` until the job is done, failed or cancelled.
    async fn long_poll(&self, id: i64, progress: &mut Progress) -> anyhow::Result<Value> {
        loop {
            let response = self
                .get(&format!("/v1/jobs/{id}/wait?timeout_secs=30"))
                .await
                .context("waiting for the job")?;
            let waited: Value = check(response).await?.json().await?;
            let job = waited["job"].clone();
            progress.show(&job);
            if is_terminal(&job) {
                return Ok(job);
            }
        }
    }
}

/// Server-sent events, cut out of the bytes as they arrive.
#[derive(Default)]
struct SseBuffer {
    pending: Vec<u8>,
}

impl SseBuffer {
    /// Adds `bytes`; the complete events so far, as (event name, data). Comments (keep-alives)
    /// and events without data are dropped.
    fn push(&mut self, bytes: &[u8]) -> Vec<(String, String)> {
        // Kept as bytes until an event is whole: a chunk may end inside a UTF-8 character.
        self.pending.extend(bytes.iter().filter(|b| **b != b'\r'));
        let mut events = Vec::new();
        while let Some(end) = self.pending.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            if let Some(event) = parse_event(&String::from_utf8_lossy(&block)) {
                events.push(event);
            }
        }
        events
    }
}

fn parse_event(block: &str) -> Option<(String, String)> {
    let mut name = "message".to_owned();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            name = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    (!data.is_empty()).then(|| (name, data.join("\n")))
}

#[cfg(test)]
mod tests {
    use super::SseBuffer;

    #[test]
    fn events_split_across_chunks_and_keep_alives() {
        let mut buffer = SseBuffer::default();
        assert!(buffer
            .push(b":\n\nevent: state\ndata: {\"state\":")
            .is_empty());
        let events = buffer.push(b"\"queued\"}\r\n\r\nevent: state\ndata: 1\ndata: 2\n\n");
        assert_eq!(
            events,
            [
                ("state".to_owned(), "{\"state\":\"queued\"}".to_owned()),
                ("state".to_owned(), "1\n2".to_owned())
            ]
        );
    }
}
