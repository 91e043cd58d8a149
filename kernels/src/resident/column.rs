//! [`DeviceColumn`]: a column of field elements or hashes in a device buffer, as words.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Mutex;

use stwo::core::fields::m31::BaseField;
use stwo::core::fields::qm31::SecureField;
use stwo::core::vcs::blake2_hash::Blake2sHash;
use stwo::prover::backend::Column;

use super::{device, ok, with_crossing, Crossing, ResidentDevice};
use crate::error::{KernelError, Result};

/// A value a column holds, and its device layout: `WORDS` little-endian `u32`s each (an M31
/// element: its canonical word; a QM31: its 4 M31 coordinates; a Blake2s hash: its 8 state
/// words, as the Merkle kernels write them).
pub trait DeviceElement: Copy + std::fmt::Debug + Send + Sync + 'static {
    const WORDS: usize;
    /// Whether columns of it are Merkle layers (a decommitment reads nodes' children from
    /// them), not committed values.
    const MERKLE_NODE: bool = false;
    fn to_words(values: &[Self]) -> Vec<u32>;
    fn from_words(words: &[u32]) -> Vec<Self>;
}

impl DeviceElement for BaseField {
    const WORDS: usize = 1;
    fn to_words(values: &[Self]) -> Vec<u32> {
        bytemuck::cast_slice::<BaseField, u32>(values).to_vec()
    }
    fn from_words(words: &[u32]) -> Vec<Self> {
        words
            .iter()
            .map(|&w| BaseField::from_u32_unchecked(w))
            .collect()
    }
}

impl DeviceElement for SecureField {
    const WORDS: usize = 4;
    fn to_words(values: &[Self]) -> Vec<u32> {
        values
            .iter()
            .flat_map(|v| v.to_m31_array().map(|c| c.0))
            .collect()
    }
    fn from_words(words: &[u32]) -> Vec<Self> {
        words
            .chunks_exact(4)
            .map(|w| {
                SecureField::from_m31_array(std::array::from_fn(|i| {
                    BaseField::from_u32_unchecked(w[i])
                }))
            })
            .collect()
    }
}

impl DeviceElement for Blake2sHash {
    const WORDS: usize = 8;
    const MERKLE_NODE: bool = true;
    fn to_words(values: &[Self]) -> Vec<u32> {
        crate::gpu_device::words_from_hashes(values)
    }
    fn from_words(words: &[u32]) -> Vec<Self> {
        crate::gpu_device::hashes_from_words(words)
    }
}

/// `len` values of type `T` in a buffer of device `D`. The buffer may be longer than the
/// values (a zero-length column still has one word: devices refuse empty allocations).
pub struct DeviceColumn<D: ResidentDevice, T> {
    buf: D::Buffer,
    len: usize,
    /// Rows gathered for a decommitment (`super::decommit`); dropped on every write.
    prefetched: Mutex<Prefetched<T>>,
    _values: PhantomData<fn() -> T>,
}

/// The rows of a column gathered under one query plan (`plan` 0: none).
struct Prefetched<T> {
    plan: u64,
    values: HashMap<usize, T>,
}

impl<T> Default for Prefetched<T> {
    fn default() -> Self {
        Self {
            plan: 0,
            values: HashMap::new(),
        }
    }
}

impl<D: ResidentDevice, T: DeviceElement> DeviceColumn<D, T> {
    /// Wraps a device buffer holding at least `len` values.
    pub fn from_buffer(buf: D::Buffer, len: usize) -> Self {
        Self {
            buf,
            len,
            prefetched: Mutex::default(),
            _values: PhantomData,
        }
    }

    pub fn buffer(&self) -> &D::Buffer {
        &self.buf
    }

    pub fn buffer_mut(&mut self) -> &mut D::Buffer {
        self.forget_prefetched();
        &mut self.buf
    }

    fn forget_prefetched(&mut self) {
        *self.prefetched.get_mut().unwrap_or_else(|e| e.into_inner()) = Prefetched::default();
    }

    /// Value `index` from the rows gathered for the current decommitment, gathering them
    /// first (one launch) if the query plan names `index` and this column has not been
    /// gathered under it; `None`: read it alone.
    fn prefetched(&self, index: usize) -> Option<T> {
        let plan = super::decommit::current_plan()?;
        let mut cache = self.prefetched.lock().unwrap_or_else(|e| e.into_inner());
        if cache.plan != plan.id {
            *cache = Prefetched {
                plan: plan.id,
                values: HashMap::new(),
            };
            let rows = if T::MERKLE_NODE {
                plan.node_rows(self.len)
            } else {
                plan.value_rows(self.len)
            }?;
            // One row: a single read is one transfer, a gather two.
            if rows.len() < 2 || rows.binary_search(&index).is_err() {
                return None;
            }
            let values = match super::kernels::gather_rows(self, &rows) {
                Ok(values) => values,
                Err(KernelError::InvalidInput(_) | KernelError::OutOfMemory(_)) => return None,
                Err(e) => super::fault(e),
            };
            cache.values = rows.into_iter().zip(values).collect();
        }
        cache.values.get(&index).copied()
    }

    /// A column of `len` zeros on the device.
    pub fn try_zeros(len: usize) -> Result<Self> {
        let buf = D::instance()?.zeros((len * T::WORDS).max(1))?;
        Ok(Self::from_buffer(buf, len))
    }

    /// Uploads `values`.
    pub fn from_host(values: &[T]) -> Result<Self> {
        let mut words = T::to_words(values);
        if words.is_empty() {
            words.push(0);
        }
        let buf = with_crossing(Crossing::Columns, || D::instance()?.upload(&words))?;
        Ok(Self::from_buffer(buf, values.len()))
    }

    /// Downloads the values.
    pub fn to_host(&self) -> Result<Vec<T>> {
        let words = with_crossing(Crossing::ColumnDownloads, || {
            D::instance()?.download_range(&self.buf, 0, self.len * T::WORDS)
        })?;
        Ok(T::from_words(&words))
    }

    /// A copy on the device of values `start..start + len`.
    pub fn try_slice(&self, start: usize, len: usize) -> Result<Self> {
        let mut out = Self::try_zeros(len)?;
        if len > 0 {
            D::instance()?.copy_range(
                &self.buf,
                start * T::WORDS,
                &mut out.buf,
                0,
                len * T::WORDS,
            )?;
        }
        Ok(out)
    }
}

impl<D: ResidentDevice, T: DeviceElement> Clone for DeviceColumn<D, T> {
    fn clone(&self) -> Self {
        ok(self.try_slice(0, self.len))
    }
}

impl<D: ResidentDevice, T> std::fmt::Debug for DeviceColumn<D, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DeviceColumn<{}, {}>(len {})",
            D::NAME,
            std::any::type_name::<T>(),
            self.len
        )
    }
}

impl<D: ResidentDevice, T: DeviceElement> FromIterator<T> for DeviceColumn<D, T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let values: Vec<T> = iter.into_iter().collect();
        ok(Self::from_host(&values))
    }
}

impl<D: ResidentDevice, T: DeviceElement> Column<T> for DeviceColumn<D, T> {
    fn zeros(len: usize) -> Self {
        ok(Self::try_zeros(len))
    }

    /// Zeros: device allocations are cheap to clear, and a column read before it is written
    /// then reads zeros rather than another proof's data. (`unsafe` only because Stwo's trait
    /// declares it so; nothing unsafe happens here.)
    #[allow(unsafe_code)]
    unsafe fn uninitialized(len: usize) -> Self {
        ok(Self::try_zeros(len))
    }

    fn to_cpu(&self) -> Vec<T> {
        ok(self.to_host())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn at(&self, index: usize) -> T {
        assert!(
            index < self.len,
            "index {index} of a column of {}",
            self.len
        );
        if let Some(value) = self.prefetched(index) {
            return value;
        }
        let words = ok(with_crossing(Crossing::ColumnReads, || {
            device::<D>().download_range(&self.buf, index * T::WORDS, T::WORDS)
        }));
        T::from_words(&words)[0]
    }

    fn set(&mut self, index: usize, value: T) {
        assert!(
            index < self.len,
            "index {index} of a column of {}",
            self.len
        );
        self.forget_prefetched();
        ok(with_crossing(Crossing::Columns, || {
            device::<D>().upload_range(&mut self.buf, index * T::WORDS, &T::to_words(&[value]))
        }));
    }

    fn split_at_mid(self) -> (Self, Self) {
        let half = self.len / 2;
        let left = ok(self.try_slice(0, half));
        let right = ok(self.try_slice(half, self.len - half));
        (left, right)
    }
}
