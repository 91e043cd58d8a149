// Blake2s-256 compression shared by the kernels below. The round statements are generated
// (src/blake2s.rs) and are the same text as in blake2s.cu.

const IV0: u32 = 0x6A09E667u;
const IV1: u32 = 0xBB67AE85u;
const IV2: u32 = 0x3C6EF372u;
const IV3: u32 = 0xA54FF53Au;
const IV4: u32 = 0x510E527Fu;
const IV5: u32 = 0x9B05688Cu;
const IV6: u32 = 0x1F83D9ABu;
const IV7: u32 = 0x5BE0CD19u;
// IV0 ^ 0x01010020: digest length 32, no key, fanout 1, depth 1.
const H0: u32 = 0x6B08E647u;
const WORKGROUP_SIZE: u32 = 64u;

fn rotr(x: u32, n: u32) -> u32 {
    return (x >> n) | (x << (32u - n));
}

fn initial_state() -> array<u32, 8> {
    return array<u32, 8>(H0, IV1, IV2, IV3, IV4, IV5, IV6, IV7);
}

// `t0`: bytes hashed including this block; `last`: final block.
fn compress(h: array<u32, 8>, m: array<u32, 16>, t0: u32, last: bool) -> array<u32, 8> {
    var v = array<u32, 16>(
        h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
        IV0, IV1, IV2, IV3, IV4 ^ t0, IV5, select(IV6, ~IV6, last), IV7
    );
/*BLAKE2S_ROUNDS*/
    return array<u32, 8>(
        h[0] ^ v[0] ^ v[8], h[1] ^ v[1] ^ v[9], h[2] ^ v[2] ^ v[10], h[3] ^ v[3] ^ v[11],
        h[4] ^ v[4] ^ v[12], h[5] ^ v[5] ^ v[13], h[6] ^ v[6] ^ v[14], h[7] ^ v[7] ^ v[15]
    );
}

// Linear invocation index of a 2D dispatch (x up to the per-dimension limit, then y).
fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.y * (nwg.x * WORKGROUP_SIZE) + gid.x;
}
