// One layer of Stwo's circle FFT (`fft_layer_loop` in its CPU backend), or the final scaling
// of an inverse FFT. One invocation per butterfly: pair p of layer i joins values
// idx0 = ((p >> i) << (i + 1)) + (p & (2^i - 1)) and idx1 = idx0 + 2^i with twiddle
// twiddles[p >> i]. Mode 0: butterfly (v0 + v1·t, v0 − v1·t); mode 1: inverse butterfly
// (v0 + v1, (v0 − v1)·t); mode 2: both values times `scale`. Values are canonical M31 words
// (< 2^31 − 1) and stay canonical. Needs m31.wgsl before it.

struct FftParams {
    n_half: u32,
    layer: u32,
    mode: u32,
    scale: u32,
}

@group(0) @binding(0) var<storage, read> params: FftParams;
@group(0) @binding(1) var<storage, read> twiddles: array<u32>;
@group(0) @binding(2) var<storage, read_write> values: array<u32>;

@compute @workgroup_size(64)
fn circle_fft_layer(@builtin(global_invocation_id) gid: vec3<u32>,
                    @builtin(num_workgroups) nwg: vec3<u32>) {
    let p = gid.y * (nwg.x * 64u) + gid.x;
    if (p >= params.n_half) {
        return;
    }
    if (params.mode == 2u) {
        values[2u * p] = m31_mul(values[2u * p], params.scale);
        values[2u * p + 1u] = m31_mul(values[2u * p + 1u], params.scale);
        return;
    }
    let i = params.layer;
    let h = p >> i;
    let idx0 = (h << (i + 1u)) + (p & ((1u << i) - 1u));
    let idx1 = idx0 + (1u << i);
    let t = twiddles[h];
    let v0 = values[idx0];
    let v1 = values[idx1];
    if (params.mode == 0u) {
        let tv1 = m31_mul(v1, t);
        values[idx0] = m31_add(v0, tv1);
        values[idx1] = m31_sub(v0, tv1);
    } else {
        values[idx0] = m31_add(v0, v1);
        values[idx1] = m31_mul(m31_sub(v0, v1), t);
    }
}
