#include "blas_core.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace asteroid::exec {

std::string openblas_core() {
  // Exported by libopenblas; looked up so that another BLAS links too.
  using CoreName = char* (*)();
  auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  const char* name = f ? f() : nullptr;
  return name ? std::string(name) : std::string();
}

std::string better_openblas_core() {
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  const std::string core = openblas_core();
  if (core != "Prescott" && core != "prescott") return "";
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      for (std::string w; words >> w;) flags.insert(w);
      break;
    }
  auto has = [&](std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (!flags.count(n)) return false;
    return true;
  };
  if (has({"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"})) return "SkylakeX";
  if (has({"avx2", "fma"})) return "Haswell";
  return "";
}

}  // namespace asteroid::exec
