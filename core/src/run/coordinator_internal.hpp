// What coordinator.cpp and coordinator_plans.cpp share.
#pragma once

#include <limits>
#include <string>

#include "asteroid/run/coordinator.hpp"

namespace asteroid::coordinator_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Bytes of what training changes in layers [first, last]: trainable parameters and their optimizer
// state (the checkpoint; frozen weights never change, fine_tuning.hpp).
inline double state_bytes(const CostModel& m, int first, int last) {
  return m.cluster().devices[0].table->trainable_bytes(first, last) *
         (1.0 + optimizer_state_factor(m.options().optimizer));
}

// Bytes of the frozen weights of layers [first, last] (0 under full training).
inline double frozen_bytes(const CostModel& m, int first, int last) {
  const LayerTable& t = *m.cluster().devices[0].table;
  return t.weight_bytes(first, last) - t.trainable_bytes(first, last);
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
