// What coordinator.cpp and coordinator_plans.cpp share.
#pragma once

#include <limits>
#include <string>

#include "asteroid/coordinator.hpp"

namespace asteroid::coordinator_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Bytes of weights and optimizer state of layers [first, last].
inline double state_bytes(const CostModel& m, int first, int last) {
  return m.cluster().devices[0].table->param_bytes(first, last) *
         (1.0 + optimizer_state_factor(m.options().optimizer));
}

inline std::string layers_text(int first, int last) {
  return first == last ? "layer " + std::to_string(first)
                       : "layers " + std::to_string(first) + "-" + std::to_string(last);
}

inline Action action(ActionKind k) {
  Action a;
  a.kind = k;
  return a;
}

}  // namespace asteroid::coordinator_detail
