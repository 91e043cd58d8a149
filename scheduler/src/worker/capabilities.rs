//! What this machine offers a scheduler: memory for one job (host and device), CPU cores,
//! prover backends.

use starfarm_prover::Device;

use crate::job::{JobKind, WorkerCapabilities};

/// Memory a job may use when the operator does not say: what the OS reports as available,
/// less a margin for the worker itself and the rest of the machine.
pub fn detect_memory_bytes() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib =
        meminfo_kib(&meminfo, "MemAvailable:").or_else(|| meminfo_kib(&meminfo, "MemTotal:"))?;
    Some(kib.saturating_mul(1024) / 10 * 9)
}

fn meminfo_kib(meminfo: &str, key: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

pub fn cpu_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A CPU worker's capabilities: `memory_bytes` for one job, the `cpu` backend, `kinds` (all
/// when empty).
pub fn cpu(memory_bytes: u64, kinds: Vec<JobKind>) -> WorkerCapabilities {
    for_backend(memory_bytes, Device::Cpu, kinds)
}

/// A worker's capabilities when it proves on `backend`: a GPU worker also advertises `cpu`,
/// since the CPU is always there (and takes over any kernel call the GPU fails).
pub fn for_backend(memory_bytes: u64, backend: Device, kinds: Vec<JobKind>) -> WorkerCapabilities {
    let mut backends = vec![backend.as_str().to_owned()];
    if backend.is_gpu() {
        backends.push(Device::Cpu.as_str().to_owned());
    }
    WorkerCapabilities {
        memory_bytes,
        device_memory_bytes: 0,
        backends,
        kinds,
    }
}

/// `capabilities` with the device memory a job may use on `backend`'s device (what the prover
/// would give it, `starfarm_prover::device::device_memory_bytes`), so that the scheduler
/// routes GPU jobs by it.
pub fn with_device_memory(mut capabilities: WorkerCapabilities, bytes: u64) -> WorkerCapabilities {
    capabilities.device_memory_bytes = bytes;
    capabilities
}

/// A name for this worker: host name and process id.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_owned());
    format!("{host}-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_meminfo_lines() {
        let sample = "MemTotal:       24576000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(meminfo_kib(sample, "MemTotal:"), Some(24_576_000));
        assert_eq!(meminfo_kib(sample, "MemAvailable:"), Some(20_000_000));
        assert_eq!(meminfo_kib(sample, "SwapTotal:"), None);
    }

    #[test]
    fn gpu_workers_advertise_their_gpu_and_the_cpu() {
        assert_eq!(cpu(1, vec![]).backends, ["cpu"]);
        assert_eq!(
            for_backend(1, Device::Cuda, vec![]).backends,
            ["cuda", "cpu"]
        );
        assert_eq!(
            for_backend(1, Device::Wgpu, vec![]).backends,
            ["wgpu", "cpu"]
        );
    }
}
