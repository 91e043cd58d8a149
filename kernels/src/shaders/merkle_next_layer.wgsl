// One invocation per parent node: Blake2s(left child || right child), one 64-byte block.

struct LayerParams {
    rows: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<storage, read> params: LayerParams;
@group(0) @binding(1) var<storage, read> children: array<u32>;
@group(0) @binding(2) var<storage, read_write> parents: array<u32>;

@compute @workgroup_size(64)
fn merkle_next_layer(@builtin(global_invocation_id) gid: vec3<u32>,
                     @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    var m = array<u32, 16>();
    for (var j = 0u; j < 16u; j++) {
        m[j] = children[i * 16u + j];
    }
    let h = compress(initial_state(), m, 64u, true);
    for (var k = 0u; k < 8u; k++) {
        parents[i * 8u + k] = h[k];
    }
}
