// Fuzzes the trace (device profile) reader, and what the cost model asks of a trace once read.
#include <cstddef>
#include <cstdint>
#include <string>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/layer_table.hpp"
#include "asteroid/input/profile.hpp"

using namespace asteroid;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = parse_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!j) return 0;
  auto p = parse_profile(*j, "fuzz.json");
  if (!p) return 0;
  (void)layer_list_mismatch(*p, *p);
  (void)profile_to_json(*p).dump();
  for (const LayerProfile& l : p->layers)
    for (double y : {0.5, 1.0, p->batch_sizes.back() * 2})
      (void)interpolate_time(p->batch_sizes, l.fwd_s, y);
  return 0;
}
