#include "asteroid/model/plan.hpp"

#include <set>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/input/limits.hpp"

namespace asteroid {

std::vector<std::string> device_names(const Cluster& c) {
  std::vector<std::string> names;
  for (const Device& d : c.devices) names.push_back(d.name);
  return names;
}

nlohmann::json plan_to_json(const Plan& p, const Cluster& c) { return plan_to_json(p, device_names(c)); }

std::string plan_to_text(const Plan& p, const Cluster& c, const std::vector<std::string>& layer_names) {
  return plan_to_text(p, device_names(c), layer_names);
}

std::string plan_to_text(const Plan& p, const std::vector<std::string>& device_names,
                         const std::vector<std::string>& layer_names) {
  std::string t = "micro-batch " + std::to_string(p.microbatch_size) + " x " +
                  std::to_string(p.microbatches) +
                  (p.microbatches == 1 ? " micro-batch, " : " micro-batches, ") +
                  std::to_string(p.num_stages()) + (p.num_stages() == 1 ? " stage\n" : " stages\n");
  for (int s = 0; s < p.num_stages(); ++s) {
    const StagePlan& sp = p.stages[s];
    t += "  stage " + std::to_string(s) + ": layers " + std::to_string(sp.first_layer) + "-" +
         std::to_string(sp.last_layer);
    if (sp.first_layer >= 0 && size_t(sp.last_layer) < layer_names.size())
      t += " (" + layer_names[size_t(sp.first_layer)] +
           (sp.last_layer > sp.first_layer ? " .. " + layer_names[size_t(sp.last_layer)] : "") + ")";
    t += " on ";
    for (size_t i = 0; i < sp.devices.size(); ++i)
      t += (i ? ", " : "") + device_names[sp.devices[i]] +
           (i < sp.shares.size() ? " (" + std::to_string(sp.shares[i]) + ")" : "");
    if (sp.recompute) t += ", recomputes";
    t += "\n";
  }
  return t;
}

nlohmann::json plan_to_json(const Plan& p, const std::vector<std::string>& device_names) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : p.stages) {
    nlohmann::json names = nlohmann::json::array();
    for (int d : s.devices) names.push_back(device_names[d]);
    nlohmann::json js = {{"layers", {s.first_layer, s.last_layer}}, {"devices", names}};
    if (!s.shares.empty()) js["shares"] = s.shares;
    if (s.recompute) js["recompute"] = true;
    stages.push_back(js);
  }
  return {{"microbatch_size", p.microbatch_size}, {"microbatches", p.microbatches}, {"stages", stages}};
}

Result<Plan> plan_from_json(const nlohmann::json& j, const Cluster& c, int num_layers, int batch_size,
                            const std::string& file, const std::string& path) {
  try {
    JsonReader r(j, path);
    // A plan may carry the planner's report beside it; only the plan's own keys are read.
    r.allow_only({"microbatch_size", "microbatches", "stages", "strategy", "predicted"});
    Plan p;
    p.microbatch_size = r.at("microbatch_size").integer_in(1, limits::kMaxBatchSize);
    p.microbatches = r.at("microbatches").integer_in(1, limits::kMaxBatchSize);
    const long long product = (long long)p.microbatch_size * p.microbatches;  // < 2^40: no overflow
    if (product != batch_size)
      r.fail("microbatch_size x microbatches = " + std::to_string(product) + ", but the scenario's batch_size is " +
             std::to_string(batch_size));
    JsonReader stages = r.at("stages");
    if (stages.size_at_most(size_t(num_layers)) == 0) stages.fail("a plan needs at least one stage");
    std::set<int> used;
    int next_layer = 0;
    for (size_t i = 0; i < stages.size(); ++i) {
      JsonReader s = stages.at(i);
      s.allow_only({"layers", "devices", "shares", "recompute"});
      StagePlan sp;
      JsonReader layers = s.at("layers");
      if (layers.size() != 2) layers.fail("must be [first, last] (inclusive, 0-based)");
      sp.first_layer = layers.at(0).integer_in(0, num_layers - 1);
      sp.last_layer = layers.at(1).integer_in(0, num_layers - 1);
      if (sp.first_layer != next_layer)
        layers.at(0).fail("stage starts at layer " + std::to_string(sp.first_layer) +
                          " but the previous stage ended at " + std::to_string(next_layer - 1));
      if (sp.last_layer < sp.first_layer || sp.last_layer >= num_layers)
        layers.at(1).fail("last layer must be in [" + std::to_string(sp.first_layer) + ", " +
                          std::to_string(num_layers - 1) + "]");
      next_layer = sp.last_layer + 1;
      JsonReader devs = s.at("devices");
      if (devs.size_at_most(size_t(c.size())) == 0) devs.fail("a stage needs at least one device");
      for (size_t k = 0; k < devs.size(); ++k) {
        std::string name = devs.at(k).string();
        int d = c.index_of(name);
        if (d < 0) devs.at(k).fail("unknown device \"" + name + "\"");
        if (!used.insert(d).second) devs.at(k).fail("device \"" + name + "\" is in two stages");
        sp.devices.push_back(d);
      }
      if (s.has("shares")) {
        JsonReader sh = s.at("shares");
        if (sh.size() != sp.devices.size()) sh.fail("needs one share per device");
        long long sum = 0;  // at most devices x kMaxBatchSize: no overflow
        for (size_t k = 0; k < sh.size(); ++k) {
          int v = sh.at(k).integer_in(0, p.microbatch_size);
          sp.shares.push_back(v);
          sum += v;
        }
        if (sum != p.microbatch_size)
          sh.fail("shares add up to " + std::to_string(sum) + ", not the micro-batch size " +
                  std::to_string(p.microbatch_size));
      }
      if (s.has("recompute")) sp.recompute = s.at("recompute").boolean();
      p.stages.push_back(sp);
    }
    if (next_layer != num_layers)
      stages.fail("stages cover layers 0.." + std::to_string(next_layer - 1) + " but the model has " +
                  std::to_string(num_layers) + " layers");
    return p;
  } catch (const InputError& e) {
    return Error{file, e.path, e.message};
  } catch (const nlohmann::json::exception& e) {
    return Error{file, path, std::string("unreadable JSON value: ") + e.what()};
  }
}

}  // namespace asteroid
