// One FRI fold of Stwo (`FriOps::fold_line`, one step, and `fold_circle_into_line`): both
// compute, for pair p of a secure-field evaluation, f0 = v[2p] + v[2p+1] and
// f1 = (v[2p] − v[2p+1])·t[p] (Stwo's inverse butterfly with the inverse twiddle t[p]), and
// write f0 + α·f1. Values are QM31 by coordinates: 4 columns of M31 words, column c of the
// source at word c·2n, of the destination at c·n (n = n_half pairs). QM31 = CM31[u]/(u² − 2 − i),
// CM31 = M31[i]/(i² + 1), coordinates (a, b, c, d) = (a + b·i) + (c + d·i)·u, as Stwo's.
// Needs m31.wgsl before it.

struct FoldParams {
    n_half: u32,
    alpha0: u32,
    alpha1: u32,
    alpha2: u32,
    alpha3: u32,
}

@group(0) @binding(0) var<storage, read> params: FoldParams;
@group(0) @binding(1) var<storage, read> twiddles: array<u32>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;

fn cm31_mul(a: vec2<u32>, b: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(
        m31_sub(m31_mul(a.x, b.x), m31_mul(a.y, b.y)),
        m31_add(m31_mul(a.x, b.y), m31_mul(a.y, b.x)),
    );
}

fn qm31_mul(a: vec4<u32>, b: vec4<u32>) -> vec4<u32> {
    let ac = cm31_mul(a.xy, b.xy);
    let bd = cm31_mul(a.zw, b.zw);
    let ad = cm31_mul(a.xy, b.zw);
    let bc = cm31_mul(a.zw, b.xy);
    // (2 + i)·bd
    let r = vec2<u32>(m31_sub(m31_add(bd.x, bd.x), bd.y), m31_add(bd.x, m31_add(bd.y, bd.y)));
    return vec4<u32>(m31_add(ac.x, r.x), m31_add(ac.y, r.y), m31_add(ad.x, bc.x), m31_add(ad.y, bc.y));
}

@compute @workgroup_size(64)
fn fri_fold(@builtin(global_invocation_id) gid: vec3<u32>,
            @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = gid.y * (nwg.x * 64u) + gid.x;
    let n = params.n_half;
    if (p >= n) {
        return;
    }
    let t = twiddles[p];
    var f0: vec4<u32>;
    var f1: vec4<u32>;
    for (var c = 0u; c < 4u; c++) {
        let a = src[c * 2u * n + 2u * p];
        let b = src[c * 2u * n + 2u * p + 1u];
        f0[c] = m31_add(a, b);
        f1[c] = m31_mul(m31_sub(a, b), t);
    }
    let alpha = vec4<u32>(params.alpha0, params.alpha1, params.alpha2, params.alpha3);
    let af1 = qm31_mul(alpha, f1);
    for (var c = 0u; c < 4u; c++) {
        dst[c * n + p] = m31_add(f0[c], af1[c]);
    }
}
