#ifndef DLF_GRAPH_VERSION_H_
#define DLF_GRAPH_VERSION_H_

namespace dlf {

// The framework's version, recorded in every checkpoint and printed by --version.
inline constexpr char kVersion[] = "0.3.0";

// How this translation unit was compiled: "optimized" or "debug", plus the sanitizers.
inline const char* BuildMode() {
#if defined(__SANITIZE_ADDRESS__)
  return "debug, AddressSanitizer";
#elif defined(__OPTIMIZE__)
  return "optimized";
#else
  return "debug";
#endif
}

}  // namespace dlf

#endif  // DLF_GRAPH_VERSION_H_
