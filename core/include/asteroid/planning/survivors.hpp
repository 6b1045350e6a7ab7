// The cluster that is left when devices leave: the same devices in the same order minus the dead
// ones, so that the planner can run on the survivors and its plan be mapped back.
#pragma once

#include <vector>

#include "asteroid/model/cost_model.hpp"

namespace asteroid {

struct SurvivorModel {
  CostModel model;
  std::vector<int> to_full;  // survivor index -> index in the full cluster
};

// `dead` holds indices of the full cluster. O(n^2) for the link matrices.
SurvivorModel survivors_model(const CostModel& full, const std::vector<int>& dead);

// A plan over the survivor cluster, with device indices mapped to the full cluster.
Plan to_full_indices(const Plan& p, const std::vector<int>& to_full);

}  // namespace asteroid
