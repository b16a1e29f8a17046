#ifndef DLF_GRAPH_CPU_H_
#define DLF_GRAPH_CPU_H_

// What oneDNN runs on this CPU.

#include <cstdint>
#include <string>

namespace dlf {

// oneDNN 2.6.3 has bf16 kernels from AVX-512 (ISA avx512_core) on; below it (AVX2) it creates no
// bf16 primitive at all, so ExecutorOptions::bf16 is refused there.
bool Bf16Supported();
// bf16 dot products are native with AVX512-BF16 or AMX; on plain AVX-512 oneDNN emulates them
// (correct, but slower than f32).
bool NativeBf16();
std::string DnnlIsaName();  // e.g. "avx512_core_bf16"
// The channels per block of oneDNN's blocked activation layouts here: 16 with AVX-512 (nChw16c,
// what its convolutions choose), 8 below (nChw8c, AVX2's 256-bit vectors). oneDNN 2.6.3 has jit
// batch normalization only for the block of its ISA: the other one runs its reference loop.
int64_t ChannelBlock();

}  // namespace dlf

#endif  // DLF_GRAPH_CPU_H_
