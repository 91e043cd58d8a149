// Proof-of-work search, Stwo's nonce order: nonce = (hi << 32) | lo with lo < 2^20. Invocation
// i tries hi = hi_base + (i >> 20), lo = i & (2^20 - 1), hashing
// prefixed_digest (8 words) || lo || hi (40 bytes), and keeps the smallest i whose first
// digest word has at least pow_bits trailing zeros.

struct GrindParams {
    digest: array<u32, 8>,
    hi_base: u32,
    n_tries: u32,
    pow_bits: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> params: GrindParams;
@group(0) @binding(1) var<storage, read_write> best: atomic<u32>;

@compute @workgroup_size(64)
fn grind(@builtin(global_invocation_id) gid: vec3<u32>,
         @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= params.n_tries) {
        return;
    }
    var m = array<u32, 16>();
    for (var k = 0u; k < 8u; k++) {
        m[k] = params.digest[k];
    }
    m[8] = i & 0xFFFFFu;
    m[9] = params.hi_base + (i >> 20u);
    let h = compress(initial_state(), m, 40u, true);
    if (countTrailingZeros(h[0]) >= params.pow_bits) {
        atomicMin(&best, i);
    }
}
