// Runs one kernel launch of the CUDA source on the CPU: every block and thread of the grid, in
// order. Arguments: KERNEL INPUT... OUTPUT THREADS. Buffers are files of little-endian u32
// words; the output buffer is written back in place.

static std::vector<uint32_t> emu_read(const char* path) {
    std::vector<uint32_t> words;
    FILE* f = std::fopen(path, "rb");
    if (!f) { std::perror(path); std::exit(2); }
    uint32_t w;
    while (std::fread(&w, 4, 1, f) == 1) words.push_back(w);
    std::fclose(f);
    return words;
}

static void emu_write(const char* path, const std::vector<uint32_t>& words) {
    FILE* f = std::fopen(path, "wb");
    if (!f) { std::perror(path); std::exit(2); }
    if (!words.empty()) std::fwrite(words.data(), 4, words.size(), f);
    std::fclose(f);
}

int main(int argc, char** argv) {
    if (argc < 2) return 2;
    std::string kernel = argv[1];
    if (kernel == "leaves" && argc == 7) {
        auto params = emu_read(argv[2]);
        auto descs = emu_read(argv[3]);
        auto data = emu_read(argv[4]);
        auto states = emu_read(argv[5]);
        unsigned int rows = (unsigned int)std::strtoul(argv[6], nullptr, 10);
        emu_grid(rows, [&] {
            merkle_leaves((const LeafParams*)params.data(), (const ColumnDesc*)descs.data(), data.data(), states.data());
        });
        emu_write(argv[5], states);
        return 0;
    }
    if (kernel == "next_layer" && argc == 5) {
        auto children = emu_read(argv[2]);
        auto parents = emu_read(argv[3]);
        unsigned int rows = (unsigned int)std::strtoul(argv[4], nullptr, 10);
        emu_grid(rows, [&] { merkle_next_layer(rows, children.data(), parents.data()); });
        emu_write(argv[3], parents);
        return 0;
    }
    if (kernel == "grind" && argc == 5) {
        auto params = emu_read(argv[2]);
        auto best = emu_read(argv[3]);
        unsigned int n_tries = (unsigned int)std::strtoul(argv[4], nullptr, 10);
        emu_grid(n_tries, [&] { grind((const GrindParams*)params.data(), best.data()); });
        emu_write(argv[3], best);
        return 0;
    }
    if (kernel == "fft_layer" && argc == 6) {
        auto params = emu_read(argv[2]);
        auto twiddles = emu_read(argv[3]);
        auto values = emu_read(argv[4]);
        unsigned int n_half = (unsigned int)std::strtoul(argv[5], nullptr, 10);
        emu_grid(n_half, [&] {
            circle_fft_layer((const FftParams*)params.data(), twiddles.data(), values.data());
        });
        emu_write(argv[4], values);
        return 0;
    }
    if (kernel == "fri_fold" && argc == 7) {
        auto params = emu_read(argv[2]);
        auto twiddles = emu_read(argv[3]);
        auto src = emu_read(argv[4]);
        auto dst = emu_read(argv[5]);
        unsigned int n_half = (unsigned int)std::strtoul(argv[6], nullptr, 10);
        emu_grid(n_half, [&] {
            fri_fold((const FoldParams*)params.data(), twiddles.data(), src.data(), dst.data());
        });
        emu_write(argv[5], dst);
        return 0;
    }
    std::fprintf(stderr, "usage: leaves|next_layer|grind|fft_layer|fri_fold INPUT... OUTPUT THREADS\n");
    return 2;
}
