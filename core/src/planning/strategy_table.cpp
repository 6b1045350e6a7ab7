// Every strategy on one scenario, side by side (strategy_table.hpp).
#include "asteroid/planning/strategy_table.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "asteroid/planning/strategies.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid {

std::string plan_one_line(const Plan& p, const Cluster& c) {
  std::string out = std::to_string(p.microbatches) + " x " + std::to_string(p.microbatch_size) + ":";
  for (const StagePlan& s : p.stages) {
    out += " [L" + std::to_string(s.first_layer) +
           (s.last_layer != s.first_layer ? "-" + std::to_string(s.last_layer) : "") + " on ";
    for (size_t i = 0; i < s.devices.size(); ++i)
      out += (i ? "," : "") + c.devices[s.devices[i]].name +
             (i < s.shares.size() ? ":" + std::to_string(s.shares[i]) : "");
    out += "]";
  }
  return out;
}

std::vector<StrategyRow> compare_strategies(const CostModel& model, const PlannerOptions& options) {
  std::vector<StrategyRow> rows;
  const double batch = model.options().batch_size;
  for (const auto& term : kStrategies.terms) {
    StrategyRow row;
    row.strategy = term.token;
    const auto t0 = std::chrono::steady_clock::now();
    StrategyResult r = run_strategy(term.value, model, options);
    row.planning_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    row.proven_optimal = r.proven_optimal;
    const Evaluation& e = r.evaluation;
    row.feasible = e.feasible && e.predicted_round_s() > 0;
    if (!row.feasible) {
      row.reason = e.reason.empty() ? "no plan" : e.reason;
      rows.push_back(row);
      continue;
    }
    row.round_s = e.predicted_round_s();
    row.closed_form_round_s = e.round_latency_s;
    row.throughput_samples_per_s = batch / row.round_s;
    row.per_1000_samples_s = 1000.0 / row.throughput_samples_per_s;
    row.memory_headroom = 1;
    for (const DeviceUse& u : e.devices) {
      const double free = u.memory_bytes > 0 ? (u.memory_bytes - u.peak_memory_bytes) / u.memory_bytes : 0;
      if (free < row.memory_headroom) {
        row.memory_headroom = free;
        row.tightest_device = model.cluster().devices[u.device].name;
      }
    }
    row.plan = plan_one_line(e.plan, model.cluster());
    rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(), [](const StrategyRow& a, const StrategyRow& b) {
    if (a.feasible != b.feasible) return a.feasible;
    return a.throughput_samples_per_s > b.throughput_samples_per_s;
  });
  return rows;
}

std::string strategy_table_text(const std::vector<StrategyRow>& rows) {
  std::string out =
      "strategy   samples/s  round (s)  per 1000 samples (s)  memory headroom  best is   plan\n";
  const double best = rows.empty() || !rows[0].feasible ? 0 : rows[0].throughput_samples_per_s;
  char line[512];
  for (const StrategyRow& r : rows) {
    if (!r.feasible) {
      std::snprintf(line, sizeof line, "%-9s  %s\n", r.strategy.c_str(), ("infeasible: " + r.reason).c_str());
      out += line;
      continue;
    }
    char headroom[96];
    std::snprintf(headroom, sizeof headroom, "%.1f%% (%s)", 100 * r.memory_headroom, r.tightest_device.c_str());
    std::snprintf(line, sizeof line, "%-9s  %9.2f  %9.4f  %20.2f  %-15s  %6.2fx%s  %s\n", r.strategy.c_str(),
                  r.throughput_samples_per_s, r.round_s, r.per_1000_samples_s, headroom,
                  best / r.throughput_samples_per_s, r.proven_optimal ? " " : "*", r.plan.c_str());
    out += line;
  }
  out += "round: the 1F1B replay (what asteroid-sim runs); best is: the first row's throughput over this row's; "
         "plan: M micro-batches x beta samples: [layers on device:its samples of a micro-batch]";
  const bool unproven =
      std::any_of(rows.begin(), rows.end(), [](const StrategyRow& r) { return r.feasible && !r.proven_optimal; });
  out += unproven ? "; *: the time limit cut its search (not proven optimal)\n" : "\n";
  return out;
}

nlohmann::json strategy_table_json(const std::vector<StrategyRow>& rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const StrategyRow& r : rows) {
    nlohmann::json j = {{"strategy", r.strategy}, {"feasible", r.feasible}};
    if (!r.feasible) {
      j["reason"] = r.reason;
    } else {
      j["round_latency_s"] = r.round_s;
      j["closed_form_round_latency_s"] = r.closed_form_round_s;
      j["throughput_samples_per_s"] = r.throughput_samples_per_s;
      j["per_1000_samples_s"] = r.per_1000_samples_s;
      j["memory_headroom"] = r.memory_headroom;
      j["tightest_device"] = r.tightest_device;
      j["plan"] = r.plan;
      j["proven_optimal"] = r.proven_optimal;
    }
    j["planning_time_s"] = r.planning_s;
    out.push_back(j);
  }
  return out;
}

std::string strategy_table_csv(const std::vector<StrategyRow>& rows) {
  std::string out =
      "strategy,feasible,throughput_samples_per_s,round_latency_s,closed_form_round_latency_s,per_1000_samples_s,"
      "memory_headroom,tightest_device,proven_optimal,planning_time_s,plan_or_reason\n";
  char line[256];
  for (const StrategyRow& r : rows) {
    std::snprintf(line, sizeof line, "%s,%s,%.6g,%.6g,%.6g,%.6g,%.4f,%s,%s,%.6g,", r.strategy.c_str(),
                  r.feasible ? "true" : "false", r.throughput_samples_per_s, r.round_s, r.closed_form_round_s,
                  r.per_1000_samples_s, r.memory_headroom, r.tightest_device.c_str(),
                  r.proven_optimal ? "true" : "false", r.planning_s);
    std::string text = r.feasible ? r.plan : r.reason;
    std::string quoted = "\"";
    for (char ch : text) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    out += line + quoted + "\"\n";
  }
  return out;
}

}  // namespace asteroid
