// M31 arithmetic (p = 2^31 − 1) on canonical words (< p) for the field kernels, without 64-bit
// integers (WGSL has none).

const P: u32 = 0x7fffffffu;

// x mod P for any u32 (2^31 ≡ 1).
fn reduce32(x: u32) -> u32 {
    let r = (x & P) + (x >> 31u);
    return select(r, r - P, r >= P);
}

fn m31_add(a: u32, b: u32) -> u32 {
    return reduce32(a + b);
}

fn m31_sub(a: u32, b: u32) -> u32 {
    return select(a + P - b, a - b, a >= b);
}

// a·b mod P: 16-bit limbs, 2^32 ≡ 2.
fn m31_mul(a: u32, b: u32) -> u32 {
    let a0 = a & 0xffffu;
    let a1 = a >> 16u;
    let b0 = b & 0xffffu;
    let b1 = b >> 16u;
    let hi = a1 * b1;              // < 2^30, weight 2^32
    let mid = a1 * b0 + a0 * b1;   // < 2^32, weight 2^16
    let lo = a0 * b0;              // < 2^32
    let mid_hi = mid >> 16u;       // weight 2^32
    let mid_lo = (mid & 0xffffu) << 16u;
    let top = reduce32(2u * hi + 2u * mid_hi);
    return m31_add(m31_add(top, reduce32(mid_lo)), reduce32(lo));
}
