//! Which hardware a proof's hot paths run on. Witness generation, FFTs and FRI folding run on
//! the CPU (`SimdBackend`) for every backend; with `cuda` or `wgpu`, Merkle hashing of the
//! trace commitments and proof-of-work grinding run on the GPU through
//! `starfarm_kernels::GpuBlake2sMerkleChannel`, whose proofs are the same bytes as the CPU's.
//! A kernel call that fails on the device (out of memory, device lost) is redone on the CPU
//! and counted ([`GpuUse::fallbacks`]): the proof goes on. The kernels hash with Blake2s only:
//! proofs with the Keccak channel run on the CPU ([`select_for`]).
//!
//! One word for where a proof runs: a [`Device`] (CPU, CUDA or wgpu). The operator asks for
//! one with a [`DeviceRequest`]; the kernels open a `starfarm_kernels::GpuDevice` chosen by a
//! `GpuSelection`. The CLI flag (`--backend`), the artifact header's `backend` field and the
//! metrics' `backend` label keep their published names.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use starfarm_kernels::device::{self as gpu, GpuSelection};

use crate::channel::ChannelKind;
use crate::error::ProveError;

/// What the operator asks for (`--backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeviceRequest {
    /// CUDA, then a hardware wgpu adapter, then the CPU.
    #[default]
    Auto,
    Cpu,
    Cuda,
    /// Any wgpu adapter, CPU implementations of Vulkan (lavapipe) included.
    Wgpu,
}

impl DeviceRequest {
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

impl fmt::Display for DeviceRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceRequest {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown backend {s:?}: expected auto, cpu, cuda or wgpu"))
    }
}

/// The device a proof's Merkle hashing and grinding run on (the artifact's `backend`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
    Wgpu,
}

impl Device {
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

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resolved [`DeviceRequest`] and why it resolved so, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selection {
    pub backend: Device,
    pub reason: String,
}

/// Resolves `choice`, opening the process-wide GPU if it names or finds one. `auto` never
/// fails (it falls back to the CPU and says why); `cuda` and `wgpu` fail when that device
/// cannot be opened. The device is chosen once per process: a later call with another choice
/// gets the first one's device, or an error if that is not the one asked for.
pub fn select(choice: DeviceRequest) -> Result<Selection, ProveError> {
    let device_choice = match choice {
        DeviceRequest::Cpu => {
            return Ok(Selection {
                backend: Device::Cpu,
                reason: "--backend cpu".into(),
            })
        }
        DeviceRequest::Auto => GpuSelection::Auto,
        DeviceRequest::Cuda => GpuSelection::Cuda,
        DeviceRequest::Wgpu => GpuSelection::Wgpu,
    };
    let opened = gpu::select(device_choice).map(|d| (kind_of(d.kind()), d.describe()));
    match (choice, opened) {
        (_, Ok((Some(backend), describe)))
            if choice == DeviceRequest::Auto || choice.as_str() == backend.as_str() =>
        {
            Ok(Selection {
                backend,
                reason: format!("{choice}: {describe}; {}", gpu::work_split()),
            })
        }
        (DeviceRequest::Auto, Err(reason)) => Ok(Selection {
            backend: Device::Cpu,
            reason: format!("auto: {reason}"),
        }),
        (_, Ok((_, describe))) => Err(ProveError::Device(format!(
            "--backend {choice}: this process already uses another device ({describe})"
        ))),
        (_, Err(reason)) => Err(ProveError::Device(format!("--backend {choice}: {reason}"))),
    }
}

/// [`select`] for proofs with `channel`. A channel without GPU kernels opens no device: `auto`
/// and `cpu` resolve to the CPU and say why; `cuda` and `wgpu` are refused, since they cannot
/// run any of such a proof.
pub fn select_for(choice: DeviceRequest, channel: ChannelKind) -> Result<Selection, ProveError> {
    if channel.has_gpu_kernels() {
        return select(choice);
    }
    let why = format!("the {channel} channel has no GPU kernels (they hash with Blake2s)");
    match choice {
        DeviceRequest::Auto | DeviceRequest::Cpu => Ok(Selection {
            backend: Device::Cpu,
            reason: format!("{choice}: {why}; Merkle hashing and grinding run on the CPU"),
        }),
        DeviceRequest::Cuda | DeviceRequest::Wgpu => Err(ProveError::Device(format!(
            "--backend {choice}: {why}; use --backend cpu or auto, or the blake2s channel"
        ))),
    }
}

fn kind_of(kind: &str) -> Option<Device> {
    match kind {
        "cuda" => Some(Device::Cuda),
        "wgpu" => Some(Device::Wgpu),
        _ => None,
    }
}

/// How much of one proof ran on the GPU: kernel calls made there (on the resident path, the
/// backend operations that ran on the device), and calls that failed there and were redone
/// on the CPU (on the resident path: 1 when a device fault sent the whole job to the CPU).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuUse {
    pub calls: u64,
    pub fallbacks: u64,
    /// 1 when the job was meant for the GPU but its memory estimate exceeded the device's
    /// free memory, so it was proven on the CPU ([`place`]) or, when the budget was the
    /// resident flow's, on the streamed GPU path; absent in older artifacts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub memory_fallbacks: u64,
}

/// Keeps an artifact without a memory fallback byte-identical to one from before the field.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl GpuUse {
    /// Counts since `before` (a snapshot of [`gpu::stats`]).
    pub(crate) fn since(before: gpu::DispatchStats) -> Self {
        let now = gpu::stats();
        Self {
            calls: now.gpu_calls.saturating_sub(before.gpu_calls),
            fallbacks: now.fallbacks.saturating_sub(before.fallbacks),
            memory_fallbacks: 0,
        }
    }
}

/// Device memory one job may use on the process's device for `backend`: the kernels' budget
/// (a share of the memory free now, see `starfarm_kernels`' `GpuDevice::memory_budget`); 0 for
/// the CPU or when no device is open. Workers advertise it to the scheduler.
pub fn device_memory_bytes(backend: Device) -> u64 {
    if !backend.is_gpu() {
        return 0;
    }
    gpu::global().map_or(0, |d| d.memory_budget().total)
}

/// Where a job meant for the GPU runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On the device: its estimate fits.
    Device,
    /// On the CPU: it needs `needed` bytes, the device has `available`.
    Cpu { needed: u64, available: u64 },
}

/// The placement of a job whose device memory estimate is `needed` on a device with
/// `available` bytes for it. The estimate is the job's memory estimate
/// (`crate::memory_estimate`, measured on the CPU): the resident backend keeps the proof's
/// columns (trace, interaction trace, composition, FRI layers) on the device as `SimdBackend`
/// keeps them in host memory, so the host figure bounds the device's; no device peak has been
/// measured yet.
pub fn place(needed: u64, available: u64) -> Placement {
    if needed <= available {
        Placement::Device
    } else {
        Placement::Cpu { needed, available }
    }
}

static MEMORY_FALLBACKS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_memory_fallback() {
    MEMORY_FALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// Jobs of this process proven on the CPU because they did not fit the device's memory.
pub fn memory_fallbacks() -> u64 {
    MEMORY_FALLBACKS.load(Ordering::Relaxed)
}

static FAULT_FALLBACKS: AtomicU64 = AtomicU64::new(0);

pub(crate) fn count_fault_fallback() {
    FAULT_FALLBACKS.fetch_add(1, Ordering::Relaxed);
}

/// Jobs of this process the resident flow ([`crate::resident`]) did not prove (a device
/// fault mid-proof), proven on the CPU instead.
pub fn fault_fallbacks() -> u64 {
    FAULT_FALLBACKS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_goes_to_the_device_only_if_its_estimate_fits() {
        assert_eq!(place(6 << 30, 8 << 30), Placement::Device);
        assert_eq!(place(8 << 30, 8 << 30), Placement::Device);
        assert_eq!(
            place(9 << 30, 8 << 30),
            Placement::Cpu {
                needed: 9 << 30,
                available: 8 << 30
            }
        );
        assert!(
            matches!(place(1, 0), Placement::Cpu { .. }),
            "no device memory"
        );
        assert_eq!(device_memory_bytes(Device::Cpu), 0);
    }

    #[test]
    fn choices_parse_and_name_themselves() {
        for choice in DeviceRequest::ALL {
            assert_eq!(choice.as_str().parse::<DeviceRequest>(), Ok(choice));
        }
        let err = "gpu".parse::<DeviceRequest>().unwrap_err();
        assert!(err.contains("auto, cpu, cuda or wgpu"), "{err}");
    }

    #[test]
    fn cpu_opens_no_device() {
        let selected = select(DeviceRequest::Cpu).unwrap();
        assert_eq!(selected.backend, Device::Cpu);
    }

    #[test]
    fn keccak_proofs_run_on_the_cpu_and_say_why() {
        for choice in [DeviceRequest::Auto, DeviceRequest::Cpu] {
            let selected = select_for(choice, ChannelKind::Keccak).unwrap();
            assert_eq!(selected.backend, Device::Cpu);
            assert!(
                selected.reason.contains("no GPU kernels"),
                "{}",
                selected.reason
            );
        }
        for choice in [DeviceRequest::Cuda, DeviceRequest::Wgpu] {
            let err = select_for(choice, ChannelKind::Keccak)
                .unwrap_err()
                .to_string();
            assert!(err.contains("keccak channel has no GPU kernels"), "{err}");
            assert!(err.contains("--backend cpu or auto"), "{err}");
        }
    }
}
