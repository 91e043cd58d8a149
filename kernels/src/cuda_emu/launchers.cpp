// Extern "C" launchers of the CUDA kernels for the in-process emulated device
// (`emulated_device.rs`): compiled after the shim and the CUDA source into a shared library.
// Each launcher runs every block and thread of its grid on the calling host thread, with the
// same 256-thread blocks as the CUDA backend's launches. Buffer sizes are checked by the Rust
// side before the call.

extern "C" {

void emu_merkle_leaves(const uint32_t* params, const uint32_t* descs, const uint32_t* data,
                       uint32_t* states, uint32_t rows) {
    emu_grid(rows, [&] {
        merkle_leaves((const LeafParams*)params, (const ColumnDesc*)descs, data, states);
    });
}

void emu_merkle_next_layer(uint32_t rows, const uint32_t* children, uint32_t* parents) {
    emu_grid(rows, [&] { merkle_next_layer(rows, children, parents); });
}

void emu_grind(const uint32_t* params, uint32_t* best, uint32_t n_tries) {
    emu_grid(n_tries, [&] { grind((const GrindParams*)params, best); });
}

void emu_circle_fft_layer(const uint32_t* params, const uint32_t* twiddles, uint32_t* values,
                          uint32_t n_half) {
    emu_grid(n_half, [&] { circle_fft_layer((const FftParams*)params, twiddles, values); });
}

void emu_fri_fold(const uint32_t* params, const uint32_t* twiddles, const uint32_t* src,
                  uint32_t* dst, uint32_t n_half) {
    emu_grid(n_half, [&] { fri_fold((const FoldParams*)params, twiddles, src, dst); });
}

void emu_qm31_mul_m31(uint32_t n, const uint32_t* weights, const uint32_t* evals, uint32_t* out) {
    emu_grid(n, [&] { qm31_mul_m31(n, weights, evals, out); });
}

void emu_qm31_fold_sum(uint32_t n_half, uint32_t* values) {
    emu_grid(n_half, [&] { qm31_fold_sum(n_half, values); });
}

void emu_m31_add_lifted(uint32_t n, uint32_t log_ratio, const uint32_t* src, uint32_t* dst) {
    emu_grid(n, [&] { m31_add_lifted(n, log_ratio, src, dst); });
}

void emu_m31_gather(uint32_t n, uint32_t stride, uint32_t offset, const uint32_t* src,
                    uint32_t* dst) {
    emu_grid(n, [&] { m31_gather(n, stride, offset, src, dst); });
}

void emu_gather_rows(uint32_t n, uint32_t words, const uint32_t* rows, const uint32_t* src,
                     uint32_t* dst) {
    emu_grid(n, [&] { gather_rows(n, words, rows, src, dst); });
}

void emu_m31_eval_point_chunks(uint32_t n_chunks, uint32_t log_chunk, uint32_t log_n,
                               const uint32_t* factors, const uint32_t* coeffs, uint32_t* out) {
    emu_grid(n_chunks, [&] { m31_eval_point_chunks(n_chunks, log_chunk, log_n, factors, coeffs, out); });
}

void emu_qm31_sum_chunks(uint32_t n_out, uint32_t chunk, uint32_t n_in, const uint32_t* src,
                         uint32_t* dst) {
    emu_grid(n_out, [&] { qm31_sum_chunks(n_out, chunk, n_in, src, dst); });
}

void emu_qm31_accumulate_column(uint32_t n, uint32_t j, uint32_t init, uint32_t init_index,
                                const uint32_t* consts, const uint32_t* col, uint32_t* acc) {
    emu_grid(n, [&] { qm31_accumulate_column(n, j, init, init_index, consts, col, acc); });
}

void emu_quotient_combine(uint32_t n, const uint32_t* params, const uint32_t* points,
                          const uint32_t* accs, uint32_t* out) {
    emu_grid(n, [&] { quotient_combine(params, points, accs, out); });
}

}
