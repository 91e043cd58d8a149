//! The `starfarm` binary end to end, and agreement with cairo-lang's own tools.
//!
//! Needs cairo-lang 0.14.0.1: `scripts/test.sh` sets STARFARM_CAIRO_LANG_BIN to its venv
//! (made by `scripts/cairo-env.sh`); without it the tests look in `.venv/bin`.

use std::path::PathBuf;
use std::process::{Command, Output};

use num_bigint::BigUint;
use serde_json::Value;

const EXAMPLES: [&str; 4] = ["fibonacci", "poseidon_chain", "pedersen_chain", "signature"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn starfarm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("starfarm starts")
}

fn cairo_lang(tool: &str) -> Command {
    let bin = std::env::var_os("STARFARM_CAIRO_LANG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin"));
    let path = bin.join(tool);
    assert!(
        path.exists(),
        "{} missing: run scripts/cairo-env.sh",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.current_dir(root());
    cmd
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn cairo_prime() -> BigUint {
    (BigUint::from(1u8) << 251) + (BigUint::from(17u8) << 192) + BigUint::from(1u8)
}

/// cairo-run prints felts in signed form; reduce them mod P.
fn reduce(printed: &str) -> BigUint {
    let p = cairo_prime();
    match printed.strip_prefix('-') {
        Some(abs) => &p - abs.parse::<BigUint>().expect("number") % &p,
        None => printed.parse::<BigUint>().expect("number"),
    }
}

fn json_felt(v: &Value) -> BigUint {
    let s = v.as_str().expect("felt as string");
    BigUint::parse_bytes(s.trim_start_matches("0x").as_bytes(), 16).expect("hex felt")
}

#[test]
fn program_hash_matches_cairo_hash_program() {
    for name in EXAMPLES {
        let program = format!("examples/{name}.json");
        let ours = starfarm(&[
            "run",
            &program,
            "-i",
            &format!("examples/{name}.input.json"),
            "--json",
        ]);
        assert!(ours.status.success(), "{name}: {}", stderr(&ours));
        let report: Value = serde_json::from_str(&stdout(&ours)).expect("json report");
        let theirs = cairo_lang("cairo-hash-program")
            .args(["--program", &program])
            .output()
            .expect("cairo-hash-program runs");
        assert!(theirs.status.success(), "{}", stderr(&theirs));
        let expected = BigUint::parse_bytes(
            stdout(&theirs).trim().trim_start_matches("0x").as_bytes(),
            16,
        );
        assert_eq!(Some(json_felt(&report["program_hash"])), expected, "{name}");
    }
}

#[test]
fn output_matches_cairo_run() {
    for name in ["fibonacci", "signature"] {
        let program = format!("examples/{name}.json");
        let input = format!("examples/{name}.input.json");
        let ours = starfarm(&["run", &program, "-i", &input, "--json"]);
        assert!(ours.status.success(), "{}", stderr(&ours));
        let report: Value = serde_json::from_str(&stdout(&ours)).expect("json report");
        let ours: Vec<BigUint> = report["output"]
            .as_array()
            .expect("array")
            .iter()
            .map(json_felt)
            .collect();

        let theirs = cairo_lang("cairo-run")
            .args(["--program", &program, "--program_input", &input])
            .args([
                "--layout",
                "starknet_with_keccak",
                "--proof_mode",
                "--print_output",
            ])
            .output()
            .expect("cairo-run runs");
        assert!(theirs.status.success(), "{}", stderr(&theirs));
        let text = stdout(&theirs);
        let theirs: Vec<BigUint> = text
            .lines()
            .skip_while(|l| !l.starts_with("Program output:"))
            .skip(1)
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .map(reduce)
            .collect();
        assert!(!theirs.is_empty(), "no output in {text}");
        assert_eq!(ours, theirs, "{name}");
    }
}

#[test]
fn prove_verify_inspect_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let proof = dir.path().join("fib.proof");
    let proof_arg = proof.to_str().expect("utf-8 path");
    let out = starfarm(&[
        "prove",
        "examples/fibonacci.json",
        "-i",
        "examples/fibonacci.input.json",
        "--profile",
        "test",
        "-o",
        proof_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("Verified and written"),
        "{}",
        stdout(&out)
    );

    let out = starfarm(&["verify", proof_arg]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).starts_with("valid proof"), "{}", stdout(&out));

    let out = starfarm(&["inspect", proof_arg, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let header: Value = serde_json::from_str(&stdout(&out)).expect("header json");
    assert_eq!(header["output"][1], "0x1333db76a7c594bfc3"); // fib(100)
    assert_eq!(header["profile"], "test");

    let bytes = std::fs::read(&proof).expect("read proof");
    let tampered = dir.path().join("tampered.proof");
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last - 100] ^= 0x10;
    std::fs::write(&tampered, &flipped).expect("write");
    let out = starfarm(&["verify", tampered.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).contains("INVALID"), "{}", stdout(&out));

    let truncated = dir.path().join("truncated.proof");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).expect("write");
    let out = starfarm(&["verify", truncated.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("truncated"), "{}", stderr(&out));

    let out = starfarm(&[
        "verify",
        &dir.path().join("missing.proof").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = starfarm(&["verify"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    let out = starfarm(&["verify", proof_arg, "--min-security-bits", "96"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a test-profile proof is below 96 bits"
    );
}

#[test]
fn bad_programs_and_inputs_are_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{ not json").expect("write");
    let bad_input = dir.path().join("input.json");
    std::fs::write(&bad_input, r#"{"n": 5}"#).expect("write");
    let cases: [(&[&str], &str); 4] = [
        (
            &["run", garbage.to_str().expect("utf-8")],
            "not valid JSON (line 1",
        ),
        (
            &["run", "tests/programs/not_proof_mode.json"],
            "--proof_mode",
        ),
        (
            &[
                "run",
                "examples/fibonacci.json",
                "-i",
                bad_input.to_str().expect("utf-8"),
            ],
            "must be a JSON array",
        ),
        (
            &[
                "run",
                "examples/fibonacci.json",
                "-i",
                "examples/fibonacci.input.json",
                "--max-steps",
                "100",
            ],
            "step limit of 100",
        ),
    ];
    for (args, expected) in cases {
        let out = starfarm(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// A worker on a machine without a GPU probes the devices quietly: no
/// `XDG_RUNTIME_DIR is invalid` lines from Mesa's Vulkan device-select layer, and no colour
/// codes in a log that goes to a file.
#[test]
fn a_worker_log_is_plain_and_free_of_gpu_probe_noise() {
    // A port with nothing listening: the worker probes its devices, then fails to claim.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_starfarm"))
        .args(["worker", "--api-key", "k", "--backend", "auto"])
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .env_remove("NODEVICE_SELECT")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("RUST_LOG")
        .stdout(log.reopen().expect("log file"))
        .stderr(log.reopen().expect("log file"))
        .spawn()
        .expect("starfarm starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let text = loop {
        let text = std::fs::read_to_string(log.path()).expect("log readable");
        if text.contains("cannot claim") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    child.kill().expect("the worker is stopped by its PID");
    child.wait().expect("the worker is reaped");
    assert!(
        text.contains("cannot claim"),
        "no claim attempt within 120 s:\n{text}"
    );
    assert!(
        text.contains("backend: "),
        "the chosen backend is reported:\n{text}"
    );
    assert!(
        !text.contains("XDG_RUNTIME_DIR"),
        "GPU probe noise:\n{text}"
    );
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a piped log:\n{text}"
    );
}
