// One layer of Stwo's circle FFT, or the final scaling of an inverse FFT: the same kernel as
// circle_fft.wgsl (read its header). Needs m31.cu.

struct FftParams {
    uint32_t n_half;
    uint32_t layer;
    uint32_t mode;
    uint32_t scale;
};

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
