// The planning strategies a scenario or a command line may name.
#pragma once

#include <string>
#include <vector>

namespace asteroid {

const std::vector<std::string>& strategy_names();
bool is_strategy_name(const std::string& name);
std::string strategy_name_list();  // "asteroid, device, dp, ..."

}  // namespace asteroid
