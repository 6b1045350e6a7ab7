#include "asteroid/model/cost_model.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "asteroid/model/memory_breakdown.hpp"
#include "asteroid/model/pipeline_schedule.hpp"
#include "asteroid/model/schedule.hpp"
#include "asteroid/input/units.hpp"
#include "model/share_allocation.hpp"

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
  if (!cluster_.network) attach_network_from_matrices(cluster_);
}

double CostModel::memory_static(int first, int last) const {
  // Weights, their gradients and the optimizer's state; the layer table is the same for all
  // devices as far as bytes go (checked when the scenario is loaded).
  return cluster_.devices[0].table->static_bytes(first, last, optimizer_state_factor(options_.optimizer));
}

LinkSummary CostModel::group_links(const int* group, int n) const {
  LinkSummary s{kInf, 0};
  if (n < 2) return s;
  const Network& net = *cluster_.network;
  if (net.star_center() >= 0 && !net.has_shared_channels()) {
    // A star of full-duplex links: flow i -> i+1 crosses i's uplink and i+1's downlink, which no
    // other flow of the ring crosses.
    for (int i = 0; i < n; ++i) {
      int a = group[i], b = group[(i + 1) % n];
      s.bandwidth_Bps = std::min(s.bandwidth_Bps, cluster_.bandwidth_Bps[a][b]);
      s.latency_s = std::max(s.latency_s, cluster_.latency_s[a][b]);
    }
    return s;
  }
  std::vector<int> used;
  for (int i = 0; i < n; ++i) {
    int a = group[i], b = group[(i + 1) % n];
    cluster_.route_channels(a, b, &used);
    s.latency_s = std::max(s.latency_s, cluster_.latency_s[a][b]);
  }
  std::sort(used.begin(), used.end());
  const auto& channels = cluster_.network->channels();
  for (size_t i = 0; i < used.size();) {
    size_t j = i;
    while (j < used.size() && used[j] == used[i]) ++j;
    s.bandwidth_Bps = std::min(s.bandwidth_Bps, channels[used[i]].capacity_Bps / double(j - i));
    i = j;
  }
  return s;
}

bool CostModel::directions_share_channel(const int* a, int na, const int* b, int nb) const {
  // Without shared channels, a route and a route back to one of its ends never take a directed
  // channel the same way (both are shortest paths): only two groups of several devices can, and
  // not on a star (a device's uplink carries only what it sends).
  const Network& net = *cluster_.network;
  if (!net.has_shared_channels() && (na == 1 || nb == 1 || net.star_center() >= 0)) return false;
  std::vector<int> down, up;
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < nb; ++j) {
      cluster_.route_channels(a[i], b[j], &down);
      cluster_.route_channels(b[j], a[i], &up);
    }
  std::sort(down.begin(), down.end());
  std::sort(up.begin(), up.end());
  std::vector<int> both;
  std::set_intersection(down.begin(), down.end(), up.begin(), up.end(), std::back_inserter(both));
  return !both.empty();
}

StageCost CostModel::stage(int first, int last, const int* group, int n, int beta, int in_flight,
                           const int* fixed_shares, const LinkSummary* links, bool recompute) const {
  StageCost out;
  stage(out, first, last, group, n, beta, in_flight, fixed_shares, links, recompute);
  return out;
}

bool CostModel::can_recompute(int first, int last) const {
  return options_.recomputation != Recomputation::off &&
         cluster_.devices[0].table->stored_bytes_per_sample(first, last) > 0;
}

void CostModel::stage(StageCost& out, int first, int last, const int* group, int n, int beta, int in_flight,
                      const int* fixed_shares, const LinkSummary* links, bool recompute) const {
  const bool can = can_recompute(first, last);
  const bool forced = can && (recompute || options_.recomputation == Recomputation::all);
  stage_with(out, first, last, group, n, beta, in_flight, fixed_shares, links, forced);
  // Under `auto`, recompute only where the shares do not fit without: a stage that fits is never
  // made slower by it.
  if (forced || out.feasible || !can || in_flight == 0 || options_.ignore_memory ||
      options_.recomputation != Recomputation::automatic)
    return;
  const LayerTable& t = *cluster_.devices[group[0]].table;
  if (activation_bytes_per_sample(t, first, last, in_flight, true) >=
      activation_bytes_per_sample(t, first, last, in_flight, false))
    return;  // keeping the inputs would take as much (e.g. one micro-batch in flight)
  stage_with(out, first, last, group, n, beta, in_flight, fixed_shares, links, true);
}

void CostModel::stage_with(StageCost& out, int first, int last, const int* group, int n, int beta, int in_flight,
                           const int* fixed_shares, const LinkSummary* links, bool recompute) const {
  out.feasible = true;
  out.recompute = recompute;
  out.reason.clear();
  out.over_bytes = out.fwd_s = out.bwd_s = out.allreduce_s = out.optimizer_s = out.slowest_s = 0;
  out.shares.assign(n, 0);
  out.peak_memory_bytes.assign(n, 0);
  const LayerTable& t0 = *cluster_.devices[group[0]].table;
  double static_bytes = memory_static(first, last);
  double act_per_sample = activation_bytes_per_sample(t0, first, last, in_flight, recompute);
  const std::string recomputing = recompute ? " (recomputing)" : "";

  // Memory caps: the most samples per micro-batch each device can hold (scratch kept across calls:
  // the planner makes millions).
  thread_local std::vector<long long> cap;
  thread_local std::vector<const LayerTable*> tables;
  cap.assign(n, 0);
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
      return;
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
                     " micro-batches in flight" + recomputing;
        out.over_bytes = static_bytes + act_per_sample * fixed_shares[i] - d.memory_bytes;
        return;
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
                   " in flight" + recomputing + "; with one more, " +
                   over_by(d, static_bytes + act_per_sample * (cap[worst] + 1));
      out.over_bytes = static_bytes + act_per_sample * (cap[worst] + 1) - d.memory_bytes;
      return;
    }
    // Alg. 1, exactly: what handing out samples one at a time to the device that would finish
    // soonest with one more gives, by water-filling (share_allocation.hpp).
    tables.resize(n);
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
    out.optimizer_s = std::max(out.optimizer_s, t.optimizer_s(first, last));
    BatchPoint b = t.locate(out.shares[i]);
    const double f = t.fwd_s(first, last, b);
    // With recomputation the device runs the share's forward again right before its backward.
    const double bw = t.bwd_s(first, last, b) + (recompute ? f : 0);
    out.fwd_s = std::max(out.fwd_s, f);
    out.bwd_s = std::max(out.bwd_s, bw);
    out.slowest_s = std::max(out.slowest_s, f + bw);
  }

  if (n > 1 && !options_.ignore_network) {
    LinkSummary s = links ? *links : group_links(group, n);
    double w = t0.trainable_bytes(first, last);  // frozen weights need no all-reduce
    out.allreduce_s = 2.0 * (n - 1) * (w / (n * s.bandwidth_Bps) + s.latency_s);
  }
}

long long CostModel::max_in_flight(int first, int last, const int* group, int n, const int* shares) const {
  constexpr long long kMany = 1LL << 40;
  if (options_.ignore_memory) return kMany;
  double static_bytes = memory_static(first, last);
  // K = 0 is priced without recomputation except under `all` (stage()): the same here. Bytes per
  // sample: fixed_part + K x per_k (recomputing: one micro-batch's stored activations, and the
  // input of each in flight).
  const LayerTable& t = *cluster_.devices[group[0]].table;
  const bool recompute = options_.recomputation == Recomputation::all && can_recompute(first, last);
  const double input = first > 0 ? t.output_bytes_per_sample(first - 1) : 0;
  const double per_k = recompute ? input : t.stored_bytes_per_sample(first, last);
  const double fixed_part = recompute ? t.stored_bytes_per_sample(first, last) : 0;
  long long k = kMany;
  for (int i = 0; i < n; ++i) {
    double room = cluster_.devices[group[i]].memory_bytes - static_bytes - shares[i] * fixed_part;
    if (room < 0) return 0;
    if (shares[i] > 0 && per_k > 0) k = std::min<long long>(k, (long long)std::floor(room / (shares[i] * per_k)));
  }
  return k;
}

double CostModel::transfer_s(int boundary_layer, const int* a, int na, const int* b, int nb, int beta,
                             double* latency_s, bool gradient) const {
  if (latency_s) *latency_s = 0;
  if (options_.ignore_network) return 0;
  double bw = kInf, lat = 0;
  for (int i = 0; i < na; ++i)
    for (int j = 0; j < nb; ++j) {
      bw = std::min(bw, cluster_.bandwidth_Bps[a[i]][b[j]]);
      lat = std::max(lat, cluster_.latency_s[a[i]][b[j]]);
    }
  const LayerTable& t = *cluster_.devices[a[0]].table;
  double bytes = beta * (gradient ? t.gradient_bytes_per_sample(boundary_layer) : t.output_bytes_per_sample(boundary_layer));
  if (latency_s) *latency_s = lat;
  return lat + bytes / bw;
}

double round_latency(std::vector<StepCost>& steps, int M, LatencyModel model, int* dominant_step) {
  int S = int(steps.size());
  auto period = [&](const StepCost& st) {
    return model == LatencyModel::paper ? st.E_f + st.E_b : st.period();
  };
  int dm = 0;
  for (int s = 1; s < S; ++s)
    if (period(steps[s]) > period(steps[dm])) dm = s;
  double c_dm = period(steps[dm]);
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

NetworkUse CostModel::network_use(const Plan& plan) const {
  NetworkUse use;
  for (const Channel& ch : cluster_.network->channels()) use.capacity_Bps.push_back(ch.capacity_Bps);
  const int P = plan.num_stages();
  use.comm.resize(schedule::pipeline_steps(P));
  use.ring.resize(schedule::pipeline_steps(P));
  use.members.resize(schedule::pipeline_steps(P));
  for (int p = 0; p < P; ++p) stage_network_use(plan, p, use);
  return use;
}

void CostModel::stage_network_use(const Plan& plan, int p, NetworkUse& use) const {
  auto flow = [&](int from, int to, double bytes) {
    NetFlow f;
    f.sender = from;
    f.receiver = to;
    f.bytes = bytes;
    f.latency_s = cluster_.latency_s[from][to];
    cluster_.route_channels(from, to, &f.channels);
    return f;
  };
  const StagePlan& sp = plan.stages[p];
  const LayerTable& t = *cluster_.devices[sp.devices[0]].table;
  const int g = int(sp.devices.size());
  StageMembers& members = use.members[2 * p];
  members = StageMembers{};
  use.ring[2 * p] = RingFlows{};
  for (int i = 0; i < g; ++i) {
    const LayerTable& own = *cluster_.devices[sp.devices[i]].table;
    const bool idle = sp.shares[i] == 0;
    BatchPoint b = own.locate(idle ? 1 : sp.shares[i]);
    members.devices.push_back(sp.devices[i]);
    members.fwd_s.push_back(idle ? 0 : own.fwd_s(sp.first_layer, sp.last_layer, b));
    // A recomputing stage runs the forward again before each backward (the Program's RECOMPUTE).
    members.bwd_s.push_back(idle ? 0
                                 : own.bwd_s(sp.first_layer, sp.last_layer, b) +
                                       (sp.recompute ? own.fwd_s(sp.first_layer, sp.last_layer, b) : 0));
  }
  if (g > 1) {
    RingFlows& r = use.ring[2 * p];
    r.steps = 2 * (g - 1);
    double chunk = std::floor(t.trainable_bytes(sp.first_layer, sp.last_layer) / g);  // as the Program sends it
    for (int i = 0; i < g; ++i) r.flows.push_back(flow(sp.devices[i], sp.devices[(i + 1) % g], chunk));
  }
  if (p == 0) return;
  // The slices of the Program (program.hpp): each pair whose sample ranges overlap (schedule.hpp).
  const StagePlan& up = plan.stages[p - 1];
  auto up_r = schedule::sample_ranges(up.shares), mine = schedule::sample_ranges(sp.shares);
  StepFlows& f = use.comm[2 * p - 1];
  f = StepFlows{};
  const double per_sample = t.output_bytes_per_sample(up.last_layer);
  const double gradient_per_sample = t.gradient_bytes_per_sample(up.last_layer);
  for (size_t i = 0; i < up.devices.size(); ++i)
    for (size_t j = 0; j < sp.devices.size(); ++j) {
      const int n = schedule::overlap(up_r[i], mine[j]);
      if (n == 0) continue;
      f.forward.push_back(flow(up.devices[i], sp.devices[j], n * per_sample));
    }
  for (size_t j = 0; j < sp.devices.size(); ++j)
    for (size_t i = 0; i < up.devices.size(); ++i) {
      const int n = schedule::overlap(up_r[i], mine[j]);
      if (n == 0) continue;
      f.backward.push_back(flow(sp.devices[j], up.devices[i], n * gradient_per_sample));
    }
}

StepCost CostModel::communication_step(const StagePlan& from, const StagePlan& to, int beta, int p) const {
  StepCost comm;
  comm.kind = StepKind::communication;
  comm.stage = p - 1;
  comm.E_f = transfer_s(from.last_layer, from.devices.data(), int(from.devices.size()), to.devices.data(),
                        int(to.devices.size()), beta, &comm.L);
  // The same routes back (their bandwidths are the same both ways), with the gradients' bytes.
  comm.E_b = transfer_s(from.last_layer, from.devices.data(), int(from.devices.size()), to.devices.data(),
                        int(to.devices.size()), beta, nullptr, true);
  if (!directions_share_channel(from.devices.data(), int(from.devices.size()), to.devices.data(),
                                int(to.devices.size())))
    comm.period_s = std::max(comm.E_f, comm.E_b);
  return comm;
}

StepCost CostModel::compute_step(const StageCost& cost, int p) const {
  StepCost st;
  st.stage = p;
  st.E_f = cost.fwd_s;
  st.E_b = cost.bwd_s;
  st.T_a = cost.allreduce_s;
  st.T_o = cost.optimizer_s;
  return st;
}

Evaluation CostModel::evaluate(const Plan& plan) const {
  Evaluation ev;
  ev.plan = plan;
  ev.latency_model = options_.latency_model;
  ev.schedule = options_.schedule;
  int P = plan.num_stages();
  int beta = plan.microbatch_size;
  for (int p = 0; p < P; ++p) {
    StagePlan& sp = ev.plan.stages[p];
    int K = schedule::in_flight(options_.schedule, plan.microbatches, P, p);
    StageCost sc = stage(sp.first_layer, sp.last_layer, sp.devices.data(), int(sp.devices.size()), beta, K,
                         sp.shares.empty() ? nullptr : sp.shares.data(), nullptr, sp.recompute);
    if (!sc.feasible) {
      ev.feasible = false;
      ev.reason = "out of memory: stage " + std::to_string(p) + " " + sc.reason;
      return ev;
    }
    sp.shares = sc.shares;
    sp.recompute = sc.recompute;
    if (p > 0) ev.steps.push_back(communication_step(ev.plan.stages[p - 1], sp, beta, p));
    ev.steps.push_back(compute_step(sc, p));
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
  if (options_.replay_schedule && !options_.ignore_network) ev.network_use = network_use(ev.plan);
  if (options_.replay_schedule)
    ev.schedule_latency_s = ev.network_use.empty()
                                ? schedule_latency(ev.steps, plan.microbatches, true, options_.schedule).latency_s
                                : schedule_latency(ev.steps, plan.microbatches, ev.network_use, options_.schedule).latency_s;
  ev.feasible = true;
  return ev;
}

CostModel make_cost_model(const Scenario& s) {
  CostOptions o;
  o.batch_size = s.training.batch_size;
  o.optimizer = s.training.optimizer;
  o.recomputation = s.training.recomputation;
  o.latency_model = s.planner.latency_model;
  o.schedule = s.planner.schedule;
  return CostModel(make_cluster(s), o);
}

}  // namespace asteroid
