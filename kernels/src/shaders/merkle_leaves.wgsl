// One invocation per leaf of a tile: continues the leaf's Blake2s chain over the columns
// [col_begin, col_end). Mirrors `plan::run_pass_on_host` and `merkle_leaves` in blake2s.cu.

struct LeafParams {
    rows: u32,
    row_offset: u32,
    lifting_log_size: u32,
    col_begin: u32,
    col_end: u32,
    n_cols: u32,
    first: u32,
    pad: u32,
}

struct ColumnDesc {
    offset: u32,
    log_size: u32,
    start: u32,
    pad: u32,
}

@group(0) @binding(0) var<storage, read> params: LeafParams;
@group(0) @binding(1) var<storage, read> descs: array<ColumnDesc>;
@group(0) @binding(2) var<storage, read> data: array<u32>;
@group(0) @binding(3) var<storage, read_write> states: array<u32>;

@compute @workgroup_size(64)
fn merkle_leaves(@builtin(global_invocation_id) gid: vec3<u32>,
                 @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = linear_id(gid, nwg);
    if (i >= params.rows) {
        return;
    }
    let leaf = params.row_offset + i;
    var h = initial_state();
    if (params.first == 0u) {
        for (var k = 0u; k < 8u; k++) {
            h[k] = states[i * 8u + k];
        }
    }
    for (var c = params.col_begin; c < params.col_end; c += 16u) {
        let block_end = min(c + 16u, params.n_cols);
        var m = array<u32, 16>();
        for (var j = 0u; j < 16u; j++) {
            if (c + j < block_end) {
                let d = descs[c + j - params.col_begin];
                let shift = params.lifting_log_size - d.log_size + 1u;
                let pos = ((leaf >> shift) << 1u) | (leaf & 1u);
                m[j] = data[d.offset + pos - d.start];
            }
        }
        h = compress(h, m, 4u * block_end, block_end == params.n_cols);
    }
    for (var k = 0u; k < 8u; k++) {
        states[i * 8u + k] = h[k];
    }
}
