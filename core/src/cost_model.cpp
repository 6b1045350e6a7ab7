#include "asteroid/cost_model.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "asteroid/pipeline_schedule.hpp"
#include "asteroid/units.hpp"
#include "share_allocation.hpp"

namespace asteroid {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string over_by(const Device& d, double need) {
  return "device " + d.name + " needs " + units::format_bytes(need) + ", " +
         units::format_bytes(need - d.memory_bytes) + " more than its " + units::format_bytes(d.memory_bytes);
}

}  // namespace

CostModel::CostModel(Cluster cluster, CostOptions options) : cluster_(std::move(cluster)), options_(options) {
  assert(!cluster_.devices.empty() && "a cost model needs devices");
  num_layers_ = cluster_.devices[0].table->num_layers();
}

double CostModel::memory_static(int first, int last) const {
  // Weights, their gradients and the optimizer's state; the layer table is the same for all
  // devices as far as bytes go (checked when the scenario is loaded).
  double w = cluster_.devices[0].table->param_bytes(first, last);
  return w * (2.0 + optimizer_state_factor(options_.optimizer));
}

LinkSummary CostModel::group_links(const int* group, int n) const {
  LinkSummary s{kInf, 0};
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) {
      s.bandwidth_Bps = std::min(s.bandwidth_Bps, cluster_.bandwidth_Bps[group[i]][group[j]]);
      s.latency_s = std::max(s.latency_s, cluster_.latency_s[group[i]][group[j]]);
    }
  return s;
}

StageCost CostModel::stage(int first, int last, const int* group, int n, int beta, int in_flight,
                           const int* fixed_shares, const LinkSummary* links) const {
  StageCost out;
  out.shares.assign(n, 0);
  out.peak_memory_bytes.assign(n, 0);
  const LayerTable& t0 = *cluster_.devices[group[0]].table;
  double static_bytes = memory_static(first, last);
  double act_per_sample = in_flight * t0.stored_bytes_per_sample(first, last);

  // Memory caps: the most samples per micro-batch each device can hold.
  std::vector<long long> cap(n);
  for (int i = 0; i < n; ++i) {
    const Device& d = cluster_.devices[group[i]];
    if (options_.ignore_memory) {
      cap[i] = beta;
      continue;
    }
    if (static_bytes > d.memory_bytes) {
      out.feasible = false;
      out.reason = "stage with layers " + std::to_string(first) + "-" + std::to_string(last) + ": " +
                   over_by(d, static_bytes) + " for weights, gradients and optimizer state";
      out.over_bytes = static_bytes - d.memory_bytes;
      return out;
    }
    cap[i] =
        act_per_sample > 0 ? (long long)std::floor((d.memory_bytes - static_bytes) / act_per_sample) : beta;
    cap[i] = std::min<long long>(cap[i], beta);
  }

  if (fixed_shares) {
    for (int i = 0; i < n; ++i) {
      out.shares[i] = fixed_shares[i];
      if (!options_.ignore_memory && fixed_shares[i] > cap[i]) {
        const Device& d = cluster_.devices[group[i]];
        out.feasible = false;
        out.reason = "stage with layers " + std::to_string(first) + "-" + std::to_string(last) + ": " +
                     over_by(d, static_bytes + act_per_sample * fixed_shares[i]) + " for " +
                     std::to_string(fixed_shares[i]) + " samples with " + std::to_string(in_flight) +
                     " micro-batches in flight";
        out.over_bytes = static_bytes + act_per_sample * fixed_shares[i] - d.memory_bytes;
        return out;
      }
    }
  } else {
    long long room = 0;
    for (int i = 0; i < n; ++i) room += cap[i];
    if (room < beta) {
      // Name the device that would go over first with one more sample.
      int worst = 0;
      for (int i = 1; i < n; ++i)
        if (cluster_.devices[group[i]].memory_bytes > cluster_.devices[group[worst]].memory_bytes) worst = i;
      const Device& d = cluster_.devices[group[worst]];
      out.feasible = false;
      out.reason = "stage with layers " + std::to_string(first) + "-" + std::to_string(last) +
                   ": its devices hold only " + std::to_string(room) + " of " + std::to_string(beta) +
                   " samples per micro-batch with " + std::to_string(in_flight) +
                   " in flight; with one more, " +
                   over_by(d, static_bytes + act_per_sample * (cap[worst] + 1));
      out.over_bytes = static_bytes + act_per_sample * (cap[worst] + 1) - d.memory_bytes;
      return out;
    }
    // Alg. 1, exactly: what handing out samples one at a time to the device that would finish
    // soonest with one more gives, by water-filling (share_allocation.hpp).
    std::vector<const LayerTable*> tables(n);
    for (int i = 0; i < n; ++i) tables[i] = cluster_.devices[group[i]].table.get();
    detail::allocate_shares(tables.data(), cap.data(), n, first, last, beta, out.shares.data());
  }

  for (int i = 0; i < n; ++i) {
    const Device& d = cluster_.devices[group[i]];
    const LayerTable& t = *d.table;
    out.peak_memory_bytes[i] = static_bytes + act_per_sample * out.shares[i];
    // Identical devices with equal shares (the common case) have equal times.
    if (i > 0 && cluster_.devices[group[i - 1]].table == d.table && out.shares[i - 1] == out.shares[i])
      continue;
    BatchPoint b = t.locate(out.shares[i]);
    out.fwd_s = std::max(out.fwd_s, t.fwd_s(first, last, b));
    out.bwd_s = std::max(out.bwd_s, t.bwd_s(first, last, b));
    out.slowest_s = std::max(out.slowest_s, t.fwd_s(first, last, b) + t.bwd_s(first, last, b));
  }

  if (n > 1 && !options_.ignore_network) {
    LinkSummary s = links ? *links : group_links(group, n);
    double w = t0.param_bytes(first, last);
    out.allreduce_s = 2.0 * (n - 1) * (w / (n * s.bandwidth_Bps) + s.latency_s);
  }
  return out;
}

long long CostModel::max_in_flight(int first, int last, const int* group, int n, const int* shares) const {
  constexpr long long kMany = 1LL << 40;
  if (options_.ignore_memory) return kMany;
  double static_bytes = memory_static(first, last);
  double stored = cluster_.devices[group[0]].table->stored_bytes_per_sample(first, last);
  long long k = kMany;
  for (int i = 0; i < n; ++i) {
    double room = cluster_.devices[group[i]].memory_bytes - static_bytes;
    if (room < 0) return 0;
    if (shares[i] > 0 && stored > 0)
      k = std::min<long long>(k, (long long)std::floor(room / (shares[i] * stored)));
  }
  return k;
}

double CostModel::transfer_s(int boundary_layer, const int* a, int na, const int* b, int nb, int beta,
                             double* latency_s) const {
  if (latency_s) *latency_s = 0;
  if (options_.ignore_network) return 0;
  double bw = kInf, lat = 0;
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < nb; ++j) {
      bw = std::min(bw, cluster_.bandwidth_Bps[a[i]][b[j]]);
      lat = std::max(lat, cluster_.latency_s[a[i]][b[j]]);
    }
  double bytes = beta * cluster_.devices[a[0]].table->output_bytes_per_sample(boundary_layer);
  if (latency_s) *latency_s = lat;
  return lat + bytes / bw;
}

double round_latency(std::vector<StepCost>& steps, int M, LatencyModel model, int* dominant_step) {
  int S = int(steps.size());
  int dm = 0;
  for (int s = 1; s < S; ++s)
    if (steps[s].E_f + steps[s].E_b > steps[dm].E_f + steps[dm].E_b) dm = s;
  double c_dm = steps[dm].E_f + steps[dm].E_b;
  double all_steps = 0;
  for (const auto& st : steps) all_steps += st.E_f + st.E_b;
  double latency = 0;
  double warmup = 0, backward_before = 0;
  for (int s = 0; s < S; ++s) {
    StepCost& st = steps[s];
    st.T_w = warmup;
    if (model == LatencyModel::paper) {
      double te = M * c_dm;
      if (s < dm)
        for (int i = s; i < dm; ++i) te += steps[i].E_f + steps[i].E_b;
      else
        for (int i = dm; i < s; ++i) te -= steps[i].E_f + steps[i].E_b;
      st.T_e = te;
    } else {
      st.T_e = all_steps + (M - 1) * c_dm - backward_before - warmup;
    }
    latency = std::max(latency, st.total());
    warmup += st.E_f;
    backward_before += st.E_b;
  }
  if (dominant_step) *dominant_step = dm;
  return latency;
}

Evaluation CostModel::evaluate(const Plan& plan) const {
  Evaluation ev;
  ev.plan = plan;
  ev.latency_model = options_.latency_model;
  int P = plan.num_stages();
  int beta = plan.microbatch_size;
  for (int p = 0; p < P; ++p) {
    StagePlan& sp = ev.plan.stages[p];
    int K = std::min(plan.microbatches, 2 * (P - p) - 1);
    StageCost sc = stage(sp.first_layer, sp.last_layer, sp.devices.data(), int(sp.devices.size()), beta, K,
                         sp.shares.empty() ? nullptr : sp.shares.data());
    if (!sc.feasible) {
      ev.feasible = false;
      ev.reason = "out of memory: stage " + std::to_string(p) + " " + sc.reason;
      return ev;
    }
    sp.shares = sc.shares;
    if (p > 0) {
      const StagePlan& prev = ev.plan.stages[p - 1];
      double lat = 0;
      double x = transfer_s(prev.last_layer, prev.devices.data(), int(prev.devices.size()), sp.devices.data(),
                            int(sp.devices.size()), beta, &lat);
      StepCost comm;
      comm.L = lat;
      comm.kind = StepKind::communication;
      comm.stage = p - 1;
      comm.E_f = comm.E_b = x;
      ev.steps.push_back(comm);
    }
    StepCost st;
    st.stage = p;
    st.E_f = sc.fwd_s;
    st.E_b = sc.bwd_s;
    st.T_a = sc.allreduce_s;
    ev.steps.push_back(st);
    for (size_t i = 0; i < sp.devices.size(); ++i) {
      DeviceUse u;
      u.device = sp.devices[i];
      u.stage = p;
      u.samples = sc.shares[i];
      u.peak_memory_bytes = sc.peak_memory_bytes[i];
      u.memory_bytes = cluster_.devices[u.device].memory_bytes;
      ev.devices.push_back(u);
    }
  }
  ev.round_latency_s = round_latency(ev.steps, plan.microbatches, options_.latency_model, &ev.dominant_step);
  ev.throughput_samples_per_s =
      ev.round_latency_s > 0 ? plan.microbatch_size * plan.microbatches / ev.round_latency_s : 0;
  if (options_.replay_schedule) ev.schedule_latency_s = schedule_latency(ev.steps, plan.microbatches).latency_s;
  ev.feasible = true;
  return ev;
}

}  // namespace asteroid
