//! [`GpuBlake2sMerkleChannel`]: Stwo's `Blake2sMerkleChannel` with the GPU glue. Its channel,
//! [`GpuBlake2sChannel`], is a `Blake2sChannel` under a project type (every draw and mix is
//! the inner channel's), so that `SimdBackend`'s proof-of-work search for it can run on the
//! GPU. Transcripts, roots and nonces are those of `Blake2sMerkleChannel`: proofs made with it
//! verify with Stwo's verifier for `Blake2sMerkleChannel`.

use stwo::core::channel::{Blake2sChannel, Channel, MerkleChannel};
use stwo::core::fields::qm31::SecureField;
use stwo::core::proof_of_work::GrindOps;
use stwo::core::vcs::blake2_hash::{Blake2sHash, Blake2sHasher};
use stwo::core::vcs_lifted::blake2_merkle::Blake2sMerkleChannel;
use stwo::prover::backend::simd::SimdBackend;
use stwo::prover::backend::BackendForChannel;

use crate::device;
use crate::merkle::GpuBlake2sHasher;

/// A `Blake2sChannel` whose grinding may run on the GPU.
#[derive(Clone, Debug, Default)]
pub struct GpuBlake2sChannel(pub Blake2sChannel);

impl Channel for GpuBlake2sChannel {
    const BYTES_PER_HASH: usize = Blake2sChannel::BYTES_PER_HASH;

    fn verify_pow_nonce(&self, n_bits: u32, nonce: u64) -> bool {
        self.0.verify_pow_nonce(n_bits, nonce)
    }

    fn mix_u32s(&mut self, data: &[u32]) {
        self.0.mix_u32s(data)
    }

    fn mix_felts(&mut self, felts: &[SecureField]) {
        self.0.mix_felts(felts)
    }

    fn mix_u64(&mut self, value: u64) {
        self.0.mix_u64(value)
    }

    fn draw_secure_felt(&mut self) -> SecureField {
        self.0.draw_secure_felt()
    }

    fn draw_secure_felts(&mut self, n_felts: usize) -> Vec<SecureField> {
        self.0.draw_secure_felts(n_felts)
    }

    fn draw_u32s(&mut self) -> Vec<u32> {
        self.0.draw_u32s()
    }
}

/// `H(POW_PREFIX, [0; 12], digest, pow_bits)` as words: what every nonce is hashed with.
pub fn pow_prefixed_digest(channel: &Blake2sChannel, pow_bits: u32) -> [u32; 8] {
    let mut hasher = Blake2sHasher::new();
    hasher.update(&Blake2sChannel::POW_PREFIX.to_le_bytes());
    hasher.update(&[0u8; 12]);
    hasher.update(&channel.digest().0);
    hasher.update(&pow_bits.to_le_bytes());
    let digest = hasher.finalize();
    std::array::from_fn(|i| {
        u32::from_le_bytes([
            digest.0[4 * i],
            digest.0[4 * i + 1],
            digest.0[4 * i + 2],
            digest.0[4 * i + 3],
        ])
    })
}

impl GrindOps<GpuBlake2sChannel> for SimdBackend {
    /// The nonce `SimdBackend::grind` finds for the inner channel.
    fn grind(channel: &GpuBlake2sChannel, pow_bits: u32) -> u64 {
        if pow_bits <= 32 && pow_bits >= device::min_pow_bits() {
            if let Some(gpu) = device::global() {
                let nonce = device::run("grinding", || {
                    let nonce = gpu.grind(pow_prefixed_digest(&channel.0, pow_bits), pow_bits)?;
                    if !channel.0.verify_pow_nonce(pow_bits, nonce) {
                        return Err(crate::KernelError::Device {
                            backend: gpu.kind(),
                            message: format!("nonce {nonce} does not verify"),
                        });
                    }
                    Ok(nonce)
                });
                if let Some(nonce) = nonce {
                    return nonce;
                }
            }
        }
        <SimdBackend as GrindOps<Blake2sChannel>>::grind(&channel.0, pow_bits)
    }
}

/// `Blake2sMerkleChannel` with GPU Merkle hashing and grinding for `SimdBackend`.
#[derive(Default)]
pub struct GpuBlake2sMerkleChannel;

impl MerkleChannel for GpuBlake2sMerkleChannel {
    type C = GpuBlake2sChannel;
    type H = GpuBlake2sHasher;

    fn mix_root(channel: &mut GpuBlake2sChannel, root: Blake2sHash) {
        Blake2sMerkleChannel::mix_root(&mut channel.0, root)
    }
}

impl BackendForChannel<GpuBlake2sMerkleChannel> for SimdBackend {}
