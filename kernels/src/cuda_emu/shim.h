// Just enough of CUDA's device environment to compile blake2s.cu as ordinary C++ and run
// every "thread" of a launch in a loop (tests/cuda_emulated.rs). Semantics follow the CUDA
// programming guide for the intrinsics used.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

struct EmuDim3 {
    unsigned int x, y, z;
};
// Per host thread: the in-process emulated device (`emulated_device.rs`) runs launches from
// several host threads at once, each looping over its own grid.
static thread_local EmuDim3 blockIdx, blockDim, threadIdx;

#define __global__
#define __device__
#define __forceinline__ inline

// Funnel shift right: the low 32 bits of (hi:lo) >> (shift & 31).
static inline unsigned int __funnelshift_r(unsigned int lo, unsigned int hi, unsigned int shift) {
    shift &= 31u;
    return shift == 0u ? lo : (lo >> shift) | (hi << (32u - shift));
}
// Position of the least significant set bit, 1-based; 0 for 0.
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline unsigned int atomicMin(unsigned int* address, unsigned int value) {
    unsigned int old = *address;
    if (value < old) *address = value;
    return old;
}

// Runs every block and thread of a launch of `threads` threads on the calling host thread,
// in 256-thread blocks as the CUDA backend launches them (the test harness and the
// in-process launchers both use it).
template <typename F>
static void emu_grid(unsigned int threads, F kernel) {
    const unsigned int block = 256u;
    unsigned int grid = (threads + block - 1u) / block;
    if (grid == 0u) grid = 1u;
    blockDim = {block, 1u, 1u};
    for (unsigned int b = 0; b < grid; b++) {
        for (unsigned int t = 0; t < block; t++) {
            blockIdx = {b, 0u, 0u};
            threadIdx = {t, 0u, 0u};
            kernel();
        }
    }
}
