// Element-wise QM31 kernels of the resident backend (kernels/src/resident), on columns that
// stay on the device. QM31 values are 4 consecutive canonical M31 words. Needs m31.cu.

// out[i] = weights[i] * evals[i] for i < n: a QM31 times an M31, coordinate by coordinate.
extern "C" __global__ void qm31_mul_m31(uint32_t n, const uint32_t* weights, const uint32_t* evals,
                                        uint32_t* out) {
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const uint32_t e = evals[i];
    for (uint32_t c = 0; c < 4u; c++) out[4u * i + c] = m31_mul(weights[4u * i + c], e);
}

// values[i] += values[i + n_half] for i < n_half: one halving of a QM31 sum (field addition is
// exact, so the order of the additions does not change the result).
extern "C" __global__ void qm31_fold_sum(uint32_t n_half, uint32_t* values) {
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n_half) return;
    for (uint32_t c = 0; c < 4u; c++) {
        values[4u * i + c] = m31_add(values[4u * i + c], values[4u * (i + n_half) + c]);
    }
}

// dst[i] += src[j(i)] for i < n, with j(i) Stwo's lifting of a column 2^log_ratio times
// shorter (consecutive pairs stay together): j(i) = ((i >> (log_ratio + 1)) << 1) | (i & 1).
// log_ratio = 0 adds two columns of the same length.
extern "C" __global__ void m31_add_lifted(uint32_t n, uint32_t log_ratio, const uint32_t* src,
                                          uint32_t* dst) {
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    uint32_t j = ((i >> (log_ratio + 1u)) << 1u) | (i & 1u);
    dst[i] = m31_add(dst[i], src[j]);
}

// dst[r] = src[r * stride + offset] for r < n (Stwo's leaf packing of FRI layers).
extern "C" __global__ void m31_gather(uint32_t n, uint32_t stride, uint32_t offset,
                                      const uint32_t* src, uint32_t* dst) {
    uint32_t r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    dst[r] = src[r * stride + offset];
}
