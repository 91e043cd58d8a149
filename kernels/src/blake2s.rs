//! Blake2s-256 as the kernels use it: one compression over 16 little-endian `u32` message
//! words, counter below 2^32 bytes, no key. The round schedule is kept as data
//! ([`g_schedule`]) and rendered once into kernel text ([`rounds_source`]); the text is
//! valid WGSL and valid CUDA C at the same time, so both backends run literally the same
//! rounds. [`compress`] runs that schedule on the host: the unit tests check it against the
//! `blake2` implementation Stwo uses, which checks the schedule the kernels are built from.

/// Blake2s initialisation vector (the SHA-256 IV).
pub const IV: [u32; 8] = [
    0x6A09_E667,
    0xBB67_AE85,
    0x3C6E_F372,
    0xA54F_F53A,
    0x510E_527F,
    0x9B05_688C,
    0x1F83_D9AB,
    0x5BE0_CD19,
];

/// Parameter block word 0 for Blake2s-256 without key: digest length 32, fanout 1, depth 1.
pub const PARAM_WORD0: u32 = 0x0101_0020;

/// The chaining value every Blake2s-256 hash starts from.
pub const INITIAL_STATE: [u32; 8] = [
    IV[0] ^ PARAM_WORD0,
    IV[1],
    IV[2],
    IV[3],
    IV[4],
    IV[5],
    IV[6],
    IV[7],
];

const SIGMA: [[usize; 16]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

/// The working-vector lanes of the 8 `G` calls of a round (4 columns, then 4 diagonals).
const LANES: [[usize; 4]; 8] = [
    [0, 4, 8, 12],
    [1, 5, 9, 13],
    [2, 6, 10, 14],
    [3, 7, 11, 15],
    [0, 5, 10, 15],
    [1, 6, 11, 12],
    [2, 7, 8, 13],
    [3, 4, 9, 14],
];

/// One `G` call: working-vector indices `a, b, c, d` and message word indices `x, y`.
#[derive(Clone, Copy, Debug)]
pub struct G {
    pub a: usize,
    pub b: usize,
    pub c: usize,
    pub d: usize,
    pub x: usize,
    pub y: usize,
}

/// The 80 `G` calls of a compression, in order.
pub fn g_schedule() -> impl Iterator<Item = G> {
    SIGMA.iter().flat_map(|s| {
        LANES.iter().enumerate().map(move |(i, &[a, b, c, d])| G {
            a,
            b,
            c,
            d,
            x: s[2 * i],
            y: s[2 * i + 1],
        })
    })
}

/// The rounds as statements over `v: [u32; 16]` (working vector) and `m: [u32; 16]` (message),
/// using a `rotr(x, n)` helper that each language defines. Every index is a literal, so the
/// compilers keep `v` and `m` in registers.
pub fn rounds_source() -> String {
    let mut out = String::new();
    for G { a, b, c, d, x, y } in g_schedule() {
        out.push_str(&format!(
            "    v[{a}] = v[{a}] + v[{b}] + m[{x}]; v[{d}] = rotr(v[{d}] ^ v[{a}], 16u); \
             v[{c}] = v[{c}] + v[{d}]; v[{b}] = rotr(v[{b}] ^ v[{c}], 12u);\n"
        ));
        out.push_str(&format!(
            "    v[{a}] = v[{a}] + v[{b}] + m[{y}]; v[{d}] = rotr(v[{d}] ^ v[{a}], 8u); \
             v[{c}] = v[{c}] + v[{d}]; v[{b}] = rotr(v[{b}] ^ v[{c}], 7u);\n"
        ));
    }
    out
}

/// Substitutes the shared pieces into a kernel source template.
pub fn render(template: &str) -> String {
    template.replace("/*BLAKE2S_ROUNDS*/", &rounds_source())
}

/// Host run of the kernels' compression: `t0` is the byte counter including this block,
/// `last` marks the final block.
pub fn compress(h: [u32; 8], m: [u32; 16], t0: u32, last: bool) -> [u32; 8] {
    let mut v = [0u32; 16];
    v[..8].copy_from_slice(&h);
    v[8..].copy_from_slice(&IV);
    v[12] ^= t0;
    if last {
        v[14] = !v[14];
    }
    for G { a, b, c, d, x, y } in g_schedule() {
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(m[x]);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(12);
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(m[y]);
        v[d] = (v[d] ^ v[a]).rotate_right(8);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(7);
    }
    std::array::from_fn(|i| h[i] ^ v[i] ^ v[i + 8])
}

/// Little-endian bytes of a chaining value: a Blake2s-256 digest.
pub fn state_to_bytes(h: &[u32; 8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// Blake2s-256 of a word string (`4 * words.len()` bytes) with the kernels' block loop.
pub fn hash_words(words: &[u32]) -> [u32; 8] {
    let mut h = INITIAL_STATE;
    if words.is_empty() {
        return compress(h, [0; 16], 0, true);
    }
    let n_blocks = words.len().div_ceil(16);
    for (i, block) in words.chunks(16).enumerate() {
        let mut m = [0u32; 16];
        m[..block.len()].copy_from_slice(block);
        let end = (i * 16 + block.len()) as u32;
        h = compress(h, m, 4 * end, i + 1 == n_blocks);
    }
    h
}

#[cfg(test)]
mod tests {
    use stwo::core::vcs::blake2_hash::Blake2sHasher;

    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u32 {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 32) as u32
        }
    }

    #[test]
    fn host_compression_matches_stwo_blake2s() {
        let mut next = rng(1);
        for n_words in [0usize, 1, 2, 8, 15, 16, 17, 31, 32, 33, 100] {
            let words: Vec<u32> = (0..n_words).map(|_| next()).collect();
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            let expected = Blake2sHasher::hash(&bytes);
            assert_eq!(
                state_to_bytes(&hash_words(&words)),
                expected.0,
                "{n_words} words"
            );
        }
    }

    #[test]
    fn rounds_source_is_the_schedule() {
        let src = rounds_source();
        assert_eq!(src.lines().count(), 160);
        assert!(src.starts_with("    v[0] = v[0] + v[4] + m[0];"));
        assert!(!render("x /*BLAKE2S_ROUNDS*/ y").contains("BLAKE2S_ROUNDS"));
    }
}
