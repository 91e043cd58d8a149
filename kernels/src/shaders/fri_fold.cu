// One FRI fold of Stwo: the same kernel as fri_fold.wgsl (read its header). Needs m31.cu.

struct FoldParams {
    uint32_t n_half;
    uint32_t alpha[4];
};

struct Cm31 {
    uint32_t a, b;
};

__device__ __forceinline__ Cm31 cm31_mul(Cm31 x, Cm31 y) {
    return {m31_sub(m31_mul(x.a, y.a), m31_mul(x.b, y.b)),
            m31_add(m31_mul(x.a, y.b), m31_mul(x.b, y.a))};
}

extern "C" __global__ void fri_fold(const FoldParams* params_ptr, const uint32_t* twiddles,
                                    const uint32_t* src, uint32_t* dst) {
    const uint32_t n = params_ptr->n_half;
    uint32_t p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    const uint32_t t = twiddles[p];
    uint32_t f0[4], f1[4];
    for (uint32_t c = 0; c < 4u; c++) {
        uint32_t a = src[c * 2u * n + 2u * p];
        uint32_t b = src[c * 2u * n + 2u * p + 1u];
        f0[c] = m31_add(a, b);
        f1[c] = m31_mul(m31_sub(a, b), t);
    }
    const uint32_t* al = params_ptr->alpha;
    Cm31 ac = cm31_mul({al[0], al[1]}, {f1[0], f1[1]});
    Cm31 bd = cm31_mul({al[2], al[3]}, {f1[2], f1[3]});
    Cm31 ad = cm31_mul({al[0], al[1]}, {f1[2], f1[3]});
    Cm31 bc = cm31_mul({al[2], al[3]}, {f1[0], f1[1]});
    // (2 + i)·bd
    Cm31 r = {m31_sub(m31_add(bd.a, bd.a), bd.b), m31_add(bd.a, m31_add(bd.b, bd.b))};
    uint32_t af1[4] = {m31_add(ac.a, r.a), m31_add(ac.b, r.b), m31_add(ad.a, bc.a),
                       m31_add(ad.b, bc.b)};
    for (uint32_t c = 0; c < 4u; c++) dst[c * n + p] = m31_add(f0[c], af1[c]);
}
