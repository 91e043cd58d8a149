//! Which hardware a proof's hot paths run on. Witness generation, FFTs and FRI folding run on
//! the CPU (`SimdBackend`) for every backend; with `cuda` or `wgpu`, Merkle hashing of the
//! trace commitments and proof-of-work grinding run on the GPU through
//! `starfarm_kernels::GpuBlake2sMerkleChannel`, whose proofs are the same bytes as the CPU's.
//! A kernel call that fails on the device (out of memory, device lost) is redone on the CPU
//! and counted ([`GpuUse::fallbacks`]): the proof goes on. The kernels hash with Blake2s only:
//! proofs with the Keccak channel run on the CPU ([`select_for`]).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use starfarm_kernels::device::{self, DeviceChoice};

use crate::channel::ChannelKind;
use crate::error::ProveError;

/// What the operator asks for (`--backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendChoice {
    /// CUDA, then a hardware wgpu adapter, then the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    /// Any wgpu adapter, CPU implementations of Vulkan (lavapipe) included.
    Wgpu,
}

impl BackendChoice {
    pub const ALL: [Self; 4] = [Self::Auto, Self::Cpu, Self::Cuda, Self::Wgpu];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
        }
    }
}

impl fmt::Display for BackendChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown backend {s:?}: expected auto, cpu, cuda or wgpu"))
    }
}

/// The backend proofs are made with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Cpu,
    Cuda,
    Wgpu,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
        }
    }

    /// Whether the GPU glue is used.
    pub fn is_gpu(self) -> bool {
        self != Self::Cpu
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved [`BackendChoice`] and why it resolved so, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub backend: Backend,
    pub reason: String,
}

/// Resolves `choice`, opening the process-wide GPU if it names or finds one. `auto` never
/// fails (it falls back to the CPU and says why); `cuda` and `wgpu` fail when that device
/// cannot be opened. The device is chosen once per process: a later call with another choice
/// gets the first one's device, or an error if that is not the one asked for.
pub fn select(choice: BackendChoice) -> Result<Selection, ProveError> {
    let device_choice = match choice {
        BackendChoice::Cpu => {
            return Ok(Selection {
                backend: Backend::Cpu,
                reason: "--backend cpu".into(),
            })
        }
        BackendChoice::Auto => DeviceChoice::Auto,
        BackendChoice::Cuda => DeviceChoice::Cuda,
        BackendChoice::Wgpu => DeviceChoice::Wgpu,
    };
    let opened = device::select(device_choice).map(|d| (kind_of(d.kind()), d.describe()));
    match (choice, opened) {
        (_, Ok((Some(backend), describe)))
            if choice == BackendChoice::Auto || choice.as_str() == backend.as_str() =>
        {
            Ok(Selection {
                backend,
                reason: format!("{choice}: {describe}; {}", device::work_split()),
            })
        }
        (BackendChoice::Auto, Err(reason)) => Ok(Selection {
            backend: Backend::Cpu,
            reason: format!("auto: {reason}"),
        }),
        (_, Ok((_, describe))) => Err(ProveError::Backend(format!(
            "--backend {choice}: this process already uses another device ({describe})"
        ))),
        (_, Err(reason)) => Err(ProveError::Backend(format!("--backend {choice}: {reason}"))),
    }
}

/// [`select`] for proofs with `channel`. A channel without GPU kernels opens no device: `auto`
/// and `cpu` resolve to the CPU and say why; `cuda` and `wgpu` are refused, since they cannot
/// run any of such a proof.
pub fn select_for(choice: BackendChoice, channel: ChannelKind) -> Result<Selection, ProveError> {
    if channel.has_gpu_kernels() {
        return select(choice);
    }
    let why = format!("the {channel} channel has no GPU kernels (they hash with Blake2s)");
    match choice {
        BackendChoice::Auto | BackendChoice::Cpu => Ok(Selection {
            backend: Backend::Cpu,
            reason: format!("{choice}: {why}; Merkle hashing and grinding run on the CPU"),
        }),
        BackendChoice::Cuda | BackendChoice::Wgpu => Err(ProveError::Backend(format!(
            "--backend {choice}: {why}; use --backend cpu or auto, or the blake2s channel"
        ))),
    }
}

fn kind_of(kind: &str) -> Option<Backend> {
    match kind {
        "cuda" => Some(Backend::Cuda),
        "wgpu" => Some(Backend::Wgpu),
        _ => None,
    }
}

/// How much of one proof ran on the GPU: kernel calls made there, and calls that failed
/// there and were redone on the CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuUse {
    pub calls: u64,
    pub fallbacks: u64,
}

impl GpuUse {
    /// Counts since `before` (a snapshot of [`device::stats`]).
    pub(crate) fn since(before: device::DispatchStats) -> Self {
        let now = device::stats();
        Self {
            calls: now.gpu_calls.saturating_sub(before.gpu_calls),
            fallbacks: now.fallbacks.saturating_sub(before.fallbacks),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_name_themselves() {
        for choice in BackendChoice::ALL {
            assert_eq!(choice.as_str().parse::<BackendChoice>(), Ok(choice));
        }
        let err = "gpu".parse::<BackendChoice>().unwrap_err();
        assert!(err.contains("auto, cpu, cuda or wgpu"), "{err}");
    }

    #[test]
    fn cpu_opens_no_device() {
        let selected = select(BackendChoice::Cpu).unwrap();
        assert_eq!(selected.backend, Backend::Cpu);
    }

    #[test]
    fn keccak_proofs_run_on_the_cpu_and_say_why() {
        for choice in [BackendChoice::Auto, BackendChoice::Cpu] {
            let selected = select_for(choice, ChannelKind::Keccak).unwrap();
            assert_eq!(selected.backend, Backend::Cpu);
            assert!(
                selected.reason.contains("no GPU kernels"),
                "{}",
                selected.reason
            );
        }
        for choice in [BackendChoice::Cuda, BackendChoice::Wgpu] {
            let err = select_for(choice, ChannelKind::Keccak)
                .unwrap_err()
                .to_string();
            assert!(err.contains("keccak channel has no GPU kernels"), "{err}");
            assert!(err.contains("--backend cpu or auto"), "{err}");
        }
    }
}
