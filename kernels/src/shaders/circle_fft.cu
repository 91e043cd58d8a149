// One layer of Stwo's circle FFT, or the final scaling of an inverse FFT: the same kernel as
// circle_fft.wgsl (read its header), with 64-bit products.

struct FftParams {
    uint32_t n_half;
    uint32_t layer;
    uint32_t mode;
    uint32_t scale;
};

#define M31_P 0x7fffffffu

__device__ __forceinline__ uint32_t m31_reduce64(unsigned long long x) {
    // x < 2^62: fold twice (2^31 ≡ 1), then one conditional subtraction.
    unsigned long long r = (x & M31_P) + (x >> 31);
    r = (r & M31_P) + (r >> 31);
    return (uint32_t)(r >= M31_P ? r - M31_P : r);
}

__device__ __forceinline__ uint32_t m31_add(uint32_t a, uint32_t b) {
    uint32_t s = a + b;
    return s >= M31_P ? s - M31_P : s;
}

__device__ __forceinline__ uint32_t m31_sub(uint32_t a, uint32_t b) {
    return a >= b ? a - b : a + M31_P - b;
}

__device__ __forceinline__ uint32_t m31_mul(uint32_t a, uint32_t b) {
    return m31_reduce64((unsigned long long)a * (unsigned long long)b);
}

extern "C" __global__ void circle_fft_layer(const FftParams* params_ptr, const uint32_t* twiddles,
                                            uint32_t* values) {
    const FftParams params = *params_ptr;
    uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= params.n_half) return;
    if (params.mode == 2u) {
        values[2u * p] = m31_mul(values[2u * p], params.scale);
        values[2u * p + 1u] = m31_mul(values[2u * p + 1u], params.scale);
        return;
    }
    uint32_t i = params.layer;
    uint32_t h = p >> i;
    uint32_t idx0 = (h << (i + 1u)) + (p & ((1u << i) - 1u));
    uint32_t idx1 = idx0 + (1u << i);
    uint32_t t = twiddles[h];
    uint32_t v0 = values[idx0];
    uint32_t v1 = values[idx1];
    if (params.mode == 0u) {
        uint32_t tv1 = m31_mul(v1, t);
        values[idx0] = m31_add(v0, tv1);
        values[idx1] = m31_sub(v0, tv1);
    } else {
        values[idx0] = m31_add(v0, v1);
        values[idx1] = m31_mul(m31_sub(v0, v1), t);
    }
}
