// Fuzzes the scenario reader: any bytes are either a Scenario or one Error, never a crash, a hang or
// a sanitizer report. Trace paths resolve against scenarios/ (the seeds name real traces).
#include <cstddef>
#include <cstdint>
#include <string>

#include "asteroid/input/cluster.hpp"
#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/scenario.hpp"

using namespace asteroid;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto j = parse_json_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
  if (!j) return 0;
  auto s = parse_scenario(*j, "fuzz.json", ASTEROID_SOURCE_DIR "/scenarios");
  if (!s) {
    (void)s.error().str();
    return 0;
  }
  // What every backend does next with a loaded scenario.
  (void)absent_at_start(s->devices, s->faults);
  Cluster c = make_cluster(*s);
  (void)c.index_of(s->devices.front().name);
  return 0;
}
