// M31 arithmetic (p = 2^31 − 1) on canonical words (< p) for the field kernels: the functions of
// m31.wgsl, with 64-bit products.

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
