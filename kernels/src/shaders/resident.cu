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

// dst[i * words + k] = src[rows[i] * words + k] for i < n, k < words: the queried rows of a
// column (values of `words` words each) gathered for a decommitment, one download for them all.
extern "C" __global__ void gather_rows(uint32_t n, uint32_t words, const uint32_t* rows,
                                       const uint32_t* src, uint32_t* dst) {
    uint32_t i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const uint32_t r = rows[i];
    for (uint32_t k = 0; k < words; k++) dst[i * words + k] = src[r * words + k];
}

// ---- Out-of-domain sampling and the FRI quotients (issue 21) ----
// QM31 = CM31[u]/(u² − 2 − i): 4 words (a, b, c, d) = (a + bi) + (c + di)u, as Stwo's
// `to_m31_array`. Cm31 and cm31_mul come from fri_fold.cu.

struct Qm31 {
    uint32_t v[4];
};

__device__ __forceinline__ Qm31 qm31_load(const uint32_t* p) { return {{p[0], p[1], p[2], p[3]}}; }

__device__ __forceinline__ Qm31 qm31_from_m31(uint32_t a) { return {{a, 0u, 0u, 0u}}; }

__device__ __forceinline__ Qm31 qm31_add(Qm31 x, Qm31 y) {
    return {{m31_add(x.v[0], y.v[0]), m31_add(x.v[1], y.v[1]), m31_add(x.v[2], y.v[2]),
             m31_add(x.v[3], y.v[3])}};
}

__device__ __forceinline__ Qm31 qm31_sub(Qm31 x, Qm31 y) {
    return {{m31_sub(x.v[0], y.v[0]), m31_sub(x.v[1], y.v[1]), m31_sub(x.v[2], y.v[2]),
             m31_sub(x.v[3], y.v[3])}};
}

__device__ __forceinline__ Qm31 qm31_mul_m31_scalar(Qm31 x, uint32_t m) {
    return {{m31_mul(x.v[0], m), m31_mul(x.v[1], m), m31_mul(x.v[2], m), m31_mul(x.v[3], m)}};
}

// (x0 + x1 u)(y0 + y1 u) = x0 y0 + (2 + i) x1 y1 + (x0 y1 + x1 y0) u, as fri_fold.cu.
__device__ __forceinline__ Qm31 qm31_mul(Qm31 x, Qm31 y) {
    Cm31 ac = cm31_mul({x.v[0], x.v[1]}, {y.v[0], y.v[1]});
    Cm31 bd = cm31_mul({x.v[2], x.v[3]}, {y.v[2], y.v[3]});
    Cm31 ad = cm31_mul({x.v[0], x.v[1]}, {y.v[2], y.v[3]});
    Cm31 bc = cm31_mul({x.v[2], x.v[3]}, {y.v[0], y.v[1]});
    Cm31 r = {m31_sub(m31_add(bd.a, bd.a), bd.b), m31_add(bd.a, m31_add(bd.b, bd.b))};
    return {{m31_add(ac.a, r.a), m31_add(ac.b, r.b), m31_add(ad.a, bc.a), m31_add(ad.b, bc.b)}};
}

// A QM31 times a CM31: both CM31 halves times it.
__device__ __forceinline__ Qm31 qm31_mul_cm31(Qm31 x, Cm31 z) {
    Cm31 lo = cm31_mul({x.v[0], x.v[1]}, z);
    Cm31 hi = cm31_mul({x.v[2], x.v[3]}, z);
    return {{lo.a, lo.b, hi.a, hi.b}};
}

// x^(p − 2) = x⁻¹ for x ≠ 0 (square and multiply over the bits of 2^31 − 3).
__device__ __forceinline__ uint32_t m31_inverse(uint32_t x) {
    uint32_t result = 1u;
    uint32_t base = x;
    uint32_t e = M31_P - 2u;
    while (e != 0u) {
        if (e & 1u) result = m31_mul(result, base);
        base = m31_mul(base, base);
        e >>= 1u;
    }
    return result;
}

// 1 / (a + bi) = (a − bi) / (a² + b²).
__device__ __forceinline__ Cm31 cm31_inverse(Cm31 z) {
    uint32_t norm_inv = m31_inverse(m31_add(m31_mul(z.a, z.a), m31_mul(z.b, z.b)));
    return {m31_mul(z.a, norm_inv), m31_mul(m31_sub(0u, z.b), norm_inv)};
}

// The most coefficients one thread of m31_eval_point_chunks folds (its stack of partial folds).
#define EVAL_POINT_MAX_LOG_CHUNK 8u

// A polynomial's value at a point from its 2^log_n coefficients (natural order), Stwo's
// `eval_at_point` (`fold` over the evaluation mappings): coefficient i weighs by the product of
// factors[b] (QM31, 4 words each) over the set bits b of i (factors[0] = y, factors[1] = x,
// factors[b + 1] = the doubling of factors[b]'s x, computed on the host). Thread t folds the
// aligned chunk of 2^log_chunk coefficients at t · 2^log_chunk with the low factors (a stack of
// partial folds: no shared memory, so the emulation runs it as written), then weighs the result
// by the factors of its chunk index's bits: out[t] (QM31). qm31_sum_chunks adds the chunks.
extern "C" __global__ void m31_eval_point_chunks(uint32_t n_chunks, uint32_t log_chunk,
                                                 uint32_t log_n, const uint32_t* factors,
                                                 const uint32_t* coeffs, uint32_t* out) {
    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n_chunks || log_chunk > EVAL_POINT_MAX_LOG_CHUNK) return;
    Qm31 stack[EVAL_POINT_MAX_LOG_CHUNK + 1u];
    const uint32_t chunk = 1u << log_chunk;
    const uint32_t base = t << log_chunk;
    for (uint32_t i = 0; i < chunk; i++) {
        // Coefficient i closes the folds of the levels whose bit it completes: at level l,
        // left + right · factor_l (Stwo's fold: the upper half weighs by the factor).
        Qm31 v = qm31_from_m31(coeffs[base + i]);
        uint32_t l = 0;
        while (l < log_chunk && ((i >> l) & 1u)) {
            v = qm31_add(stack[l], qm31_mul(v, qm31_load(factors + 4u * l)));
            l++;
        }
        stack[l] = v;
    }
    Qm31 r = stack[log_chunk];
    for (uint32_t b = log_chunk; b < log_n; b++) {
        if ((t >> (b - log_chunk)) & 1u) r = qm31_mul(r, qm31_load(factors + 4u * b));
    }
    for (uint32_t c = 0; c < 4u; c++) out[4u * t + c] = r.v[c];
}

// dst[t] = Σ src[t · chunk ..][..chunk] (QM31 values, 4 words each; the last chunk stops at
// n_in) for t < n_out.
extern "C" __global__ void qm31_sum_chunks(uint32_t n_out, uint32_t chunk, uint32_t n_in,
                                           const uint32_t* src, uint32_t* dst) {
    uint32_t t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= n_out) return;
    Qm31 s = {{0u, 0u, 0u, 0u}};
    uint32_t end = t * chunk + chunk < n_in ? t * chunk + chunk : n_in;
    for (uint32_t i = t * chunk; i < end; i++) s = qm31_add(s, qm31_load(src + 4u * i));
    for (uint32_t c = 0; c < 4u; c++) dst[4u * t + c] = s.v[c];
}

// One column's share of a FRI quotient numerator (Stwo's `accumulate_numerators`): for r < n,
// acc[c · n + r] = (init ? consts[4 · init_index + c] : acc[c · n + r]) + consts[4 j + c] · col[r]
// (a QM31 coefficient times an M31 value, coordinate by coordinate; acc by coordinates). The
// caller puts −Σ b of the batch at init_index and starts with init = 1.
extern "C" __global__ void qm31_accumulate_column(uint32_t n, uint32_t j, uint32_t init,
                                                  uint32_t init_index, const uint32_t* consts,
                                                  const uint32_t* col, uint32_t* acc) {
    uint32_t r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n) return;
    const uint32_t v = col[r];
    for (uint32_t c = 0; c < 4u; c++) {
        uint32_t prev = init ? consts[4u * init_index + c] : acc[c * n + r];
        acc[c * n + r] = m31_add(prev, m31_mul(consts[4u * j + c], v));
    }
}

// The parameters of quotient_combine: a header, then one record per sample point.
struct CombineHeader {
    uint32_t n;          // subdomain points
    uint32_t log_n;      // log2(n)
    uint32_t n_samples;  // records after the header
    uint32_t log_half;   // log2(n / 2): step multiples in the point table
};
struct CombineSample {
    uint32_t prx[2], pry[2], pix[2], piy[2];  // the sample point's x = prx + pix u, y likewise
    uint32_t a[4];                            // the accumulated first linear term
    uint32_t log_ratio;                       // log2(n / acc length)
    uint32_t offset;                          // the accumulation's first word in accs
    uint32_t len;                             // the accumulation's length (by coordinates)
    uint32_t pad;
};

// Stwo's `compute_quotients_and_combine` before its interpolation: for each point d < n of the
// canonic subdomain in bit-reversed order, out[c · n + d] = coordinate c of
//   Σ_s (lift(acc_s)[d] − a_s · y) / ((prx − x) · piy − (pry − y) · pix).
// The point is computed here: points[0] is the half coset's initial point and points[1 + b]
// its step times 2^b (x, y words each); the second half of the domain is the first's
// conjugate. Lifting as m31_add_lifted (pairs kept together).
extern "C" __global__ void quotient_combine(const uint32_t* params, const uint32_t* points,
                                            const uint32_t* accs, uint32_t* out) {
    const CombineHeader* h = (const CombineHeader*)params;
    const CombineSample* samples = (const CombineSample*)(params + 4u);
    uint32_t d = blockIdx.x * blockDim.x + threadIdx.x;
    if (d >= h->n) return;
    // Bit reversal of d over log_n bits.
    uint32_t i = 0;
    for (uint32_t b = 0; b < h->log_n; b++) i |= ((d >> b) & 1u) << (h->log_n - 1u - b);
    const uint32_t half = h->n >> 1;
    const bool conjugate = i >= half;
    const uint32_t k = conjugate ? i - half : i;
    uint32_t x = points[0], y = points[1];
    for (uint32_t b = 0; b < h->log_half; b++) {
        if ((k >> b) & 1u) {
            uint32_t sx = points[2u + 2u * b], sy = points[3u + 2u * b];
            uint32_t nx = m31_sub(m31_mul(x, sx), m31_mul(y, sy));
            uint32_t ny = m31_add(m31_mul(x, sy), m31_mul(y, sx));
            x = nx;
            y = ny;
        }
    }
    if (conjugate) y = m31_sub(0u, y);
    Qm31 q = {{0u, 0u, 0u, 0u}};
    for (uint32_t s = 0; s < h->n_samples; s++) {
        const CombineSample* p = samples + s;
        uint32_t j = ((d >> (p->log_ratio + 1u)) << 1u) | (d & 1u);
        Qm31 lifted = {{accs[p->offset + j], accs[p->offset + p->len + j],
                        accs[p->offset + 2u * p->len + j], accs[p->offset + 3u * p->len + j]}};
        Qm31 numerator = qm31_sub(lifted, qm31_mul_m31_scalar(qm31_load(p->a), y));
        Cm31 dx = {m31_sub(p->prx[0], x), p->prx[1]};
        Cm31 dy = {m31_sub(p->pry[0], y), p->pry[1]};
        Cm31 l = cm31_mul(dx, {p->piy[0], p->piy[1]});
        Cm31 r = cm31_mul(dy, {p->pix[0], p->pix[1]});
        Cm31 den = {m31_sub(l.a, r.a), m31_sub(l.b, r.b)};
        q = qm31_add(q, qm31_mul_cm31(numerator, cm31_inverse(den)));
    }
    for (uint32_t c = 0; c < 4u; c++) out[c * h->n + d] = q.v[c];
}
