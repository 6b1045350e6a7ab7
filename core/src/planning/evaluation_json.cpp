#include "asteroid/planning/evaluation_json.hpp"

#include <cstdio>
#include <sstream>

#include "asteroid/input/units.hpp"

namespace asteroid {

nlohmann::json evaluation_to_json(const Evaluation& e, const Cluster& c) {
  nlohmann::json j;
  j["feasible"] = e.feasible;
  if (!e.feasible) {
    j["reason"] = e.reason;
    j["round_latency_s"] = nullptr;
    j["closed_form_round_latency_s"] = nullptr;
    j["throughput_samples_per_s"] = 0;
    return j;
  }
  // The predicted round and throughput, one pair: of the replay where there is one (what asteroid
  // minimises, what the backends' reports and consoles give), else of the closed form. The closed
  // form keeps fields of its own.
  j["round_latency_s"] = e.predicted_round_s();
  j["throughput_samples_per_s"] = e.plan.microbatch_size * e.plan.microbatches / e.predicted_round_s();
  j["schedule_latency_s"] = e.schedule_latency_s;  // the 1F1B replay (0: not replayed)
  j["closed_form_round_latency_s"] = e.round_latency_s;  // under latency_model
  j["closed_form_throughput_samples_per_s"] = e.throughput_samples_per_s;
  j["latency_model"] = to_string(e.latency_model);
  j["plan"] = plan_to_json(e.plan, c);
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : e.steps)
    steps.push_back({{"kind", s.kind == StepKind::compute ? "compute" : "communication"},
                     {"stage", s.stage},
                     {"E_f_s", s.E_f},
                     {"E_b_s", s.E_b},
                     {"T_w_s", s.T_w},
                     {"T_e_s", s.T_e},
                     {"T_a_s", s.T_a},
                     {"T_o_s", s.T_o}});
  j["steps"] = steps;
  j["dominant_step"] = e.dominant_step;
  nlohmann::json devs = nlohmann::json::array();
  for (const auto& d : e.devices)
    devs.push_back({{"device", c.devices[d.device].name},
                    {"stage", d.stage},
                    {"samples_per_microbatch", d.samples},
                    {"peak_memory_bytes", d.peak_memory_bytes},
                    {"memory_bytes", d.memory_bytes}});
  j["devices"] = devs;
  return j;
}

std::string evaluation_to_text(const Evaluation& e, const Cluster& c, const std::vector<std::string>& layer_names) {
  std::ostringstream o;
  char buf[512];
  if (!e.feasible) {
    o << "infeasible: " << e.reason << "\n";
    return o.str();
  }
  o << plan_to_text(e.plan, c, layer_names);
  if (e.schedule_latency_s > 0) {
    std::snprintf(buf, sizeof buf, "round latency %.4f s (%s replay), throughput %.2f samples/s\n",
                  e.schedule_latency_s, e.schedule == PipelineSchedule::gpipe ? "GPipe" : "1F1B",
                  e.plan.microbatch_size * e.plan.microbatches / e.predicted_round_s());
    o << buf;
  }
  std::snprintf(buf, sizeof buf, "%s %.4f s (%s latency model), throughput %.2f samples/s\n",
                e.schedule_latency_s > 0 ? "closed form" : "round latency", e.round_latency_s,
                to_string(e.latency_model), e.throughput_samples_per_s);
  o << buf;
  // A scenario names no data set, so no epoch: the time per 1000 samples scales to any.
  std::snprintf(buf, sizeof buf,
                "time per 1000 samples %.2f s at the predicted round (an epoch of N samples: N / 1000 times that)\n",
                1000 * e.predicted_round_s() / (e.plan.microbatch_size * e.plan.microbatches));
  o << buf;
  o << "steps, in seconds (docs/method.md §3): a stage's compute, or a send between two stages\n"
       "  E_f, E_b  forward and backward time of one micro-batch (a stage: its slowest device; a send: "
       "the transfer)\n"
       "  T_w       warm-up: the forward times of the steps before it\n"
       "  T_e       from its warm-up's end to its last backward's end (the round's micro-batches)\n"
       "  T_a, T_o  the stage's ring all-reduce and optimizer step after that (the closed form: the "
       "largest T_w + T_e + T_a + T_o)\n";
  std::snprintf(buf, sizeof buf, "  %-10s %9s %9s %9s %9s %9s %9s\n", "step", "E_f", "E_b", "T_w", "T_e", "T_a",
                "T_o");
  o << buf;
  for (size_t i = 0; i < e.steps.size(); ++i) {
    const StepCost& s = e.steps[i];
    std::string name = s.kind == StepKind::compute
                           ? "stage " + std::to_string(s.stage)
                           : "send " + std::to_string(s.stage) + "->" + std::to_string(s.stage + 1);
    std::snprintf(buf, sizeof buf, "  %-10s %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f%s\n", name.c_str(), s.E_f, s.E_b,
                  s.T_w, s.T_e, s.T_a, s.T_o, int(i) == e.dominant_step ? "  <- dominant" : "");
    o << buf;
  }
  o << "peak memory per device:\n";
  for (const auto& d : e.devices) {
    std::snprintf(buf, sizeof buf, "  %-10s %10s of %10s (%4.0f%%)\n", c.devices[d.device].name.c_str(),
                  units::format_bytes(d.peak_memory_bytes).c_str(),
                  units::format_bytes(d.memory_bytes).c_str(), 100.0 * d.peak_memory_bytes / d.memory_bytes);
    o << buf;
  }
  return o.str();
}

}  // namespace asteroid
