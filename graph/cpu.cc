#include "graph/cpu.h"

#include "absl/strings/str_cat.h"
#include "oneapi/dnnl/dnnl.hpp"

namespace dlf {
namespace {

bool HasIsa(dnnl_cpu_isa_t wanted) {
  const int isa = static_cast<int>(dnnl::get_effective_cpu_isa());
  return (isa & wanted) == wanted;
}

}  // namespace

bool Bf16Supported() { return HasIsa(dnnl_cpu_isa_avx512_core); }
bool NativeBf16() { return HasIsa(dnnl_cpu_isa_avx512_core_bf16); }
int64_t ChannelBlock() { return HasIsa(dnnl_cpu_isa_avx512_core) ? 16 : 8; }

std::string DnnlIsaName() {
  switch (static_cast<int>(dnnl::get_effective_cpu_isa())) {
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_sse41: return "sse41";
    default: return absl::StrCat("isa 0x", absl::Hex(static_cast<int>(dnnl::get_effective_cpu_isa())));
  }
}

}  // namespace dlf
