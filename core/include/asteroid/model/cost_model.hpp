// The HPP cost model (the paper's Alg. 1 and Eq. 4-8; docs/method.md §3): intra-stage allocation
// (Alg. 1) under memory caps, step times (Eq. 8), communication steps, 1F1B memory with
// K = min(M, 2(P-p)-1) in-flight micro-batches, and the round latency of Eq. 4-6 with the dominant
// step and ring all-reduce at the group's slowest link.
//
// Choices that are ours (docs/method.md §8):
// - Alg. 1 is solved exactly: the shares are those of handing out samples one at a time to the
//   device whose stage time (forward + backward) after taking it is smallest, never past its
//   memory cap, computed by water-filling over the trace's batch sizes (src/share_allocation.hpp).
//   Time functions grow with the sample count (layer_table.hpp raises a measured point below an
//   earlier one), so this minimises the slowest device, which is what Alg. 1's "proportional
//   split, then move samples off the straggler" approximates.
// - Links are the network graph's routes (network.hpp). A communication step moves beta x
//   (activation bytes of the boundary layer) over the slowest route between the two groups, plus
//   that route's latency; forward and backward alike. In steady 1F1B its activations and gradients
//   travel at once: on full-duplex links they take opposite directions and the step holds each for
//   one transfer per micro-batch (its period is max(E_f, E_b)); where the two directions share a
//   channel (a half-duplex link, a medium) they queue behind each other (E_f + E_b).
// - Ring all-reduce: 2(g-1) ring steps, each moving w/g bytes from every member to the next at once;
//   a ring step takes w/g over the rate of its slowest flow (a channel crossed by k of the ring's
//   flows gives each 1/k of its rate: a medium all of them) plus the largest latency on the ring.
//   On a star that is the paper's T_a with its latency term.
// - Traffic of different steps that meets on a channel (a middle stage's switch port carrying its
//   activations and its gradients, a medium, an uplink between two switches) is not in the closed
//   form: the 1F1B replay (pipeline_schedule.hpp) shares every channel flow by flow, as the
//   simulator does (Evaluation::network_use).
// - Memory of a device: weights + trainable parameters x (1 + optimizer state factor) + K x share x
//   stored activations (fine_tuning.hpp: under full training, parameters x (2 + factor)),
//   K = min(M, 2(P-p)-1): a round has only M micro-batches to keep (program.hpp runs exactly that).
// - Activation recomputation (docs/method.md §3.5): a stage that recomputes keeps, per micro-batch
//   in flight, only its input (the boundary activation it received; none for stage 0, whose input
//   is the sample, not counted as elsewhere) and runs that micro-batch's forward again just before
//   its backward: memory K x share x input bytes + share x stored activations (one micro-batch's),
//   time E_b = max over devices of (forward + backward) of its share. Under `auto` (the default) a
//   stage recomputes only where its shares do not fit without, so a plan that fits without is
//   priced as before; `all` makes every stage whose backward keeps activations recompute; `off`
//   none. A plan's stage can ask for it too (StagePlan::recompute). The shares are Alg. 1's by
//   forward + backward in every case (the recompute's forward does not move them).
// - The optimizer step (T_o, ours: Eq. 4-8 leave it out): after its all-reduce, every device of a
//   stage updates the stage's weights; the stage's round ends when its slowest device has (traces
//   give each layer's step per optimizer, profile.hpp). It follows the all-reduce in each form.
// - dm is the first step with the largest period (`paper`: the largest E_f + E_b).
// - The latency model (docs/method.md §3.6). Eq. 4-6 as we read them (`paper`) assume the dominant step
//   never waits for its first gradient, and its terms for steps after dm subtract their backward
//   times: with one micro-batch it counts the dominant step alone, so a planner minimising it
//   prefers deep pipelines with one or two micro-batches that are three to four times slower when run.
//   The default (`pipeline`) keeps Eq. 4-8's steps, memory and all-reduce and replaces the round
//   formula by the classic pipeline bound: the first micro-batch's trip through every step, plus
//   M - 1 periods of the dominant step; each stage's all-reduce starts when its last backward ends,
//   that is sum_{i<s} E_b^i before step 0's:
//     latency = sum_s (E_f^s + E_b^s) + (M - 1) period^dm + max_s (T_a^s + T_o^s - sum_{i<s} E_b^i)
//   with a step's period as above (E_f + E_b for a compute step). It is exact
//   for equal steps and for a dominant last step, and errs on the slow side otherwise
//   (pipeline_schedule.hpp replays the schedule itself and reports the difference), as long as each
//   communication step has channels of its own. Where steps share channels (a middle stage's port
//   on a star, a medium) the replay shares them (schedule_latency_s) and this formula does not.
#pragma once

#include <string>
#include <vector>

#include "asteroid/input/cluster.hpp"
#include "asteroid/model/network_use.hpp"
#include "asteroid/model/plan.hpp"
#include "asteroid/model/step_cost.hpp"
#include "asteroid/input/scenario.hpp"

namespace asteroid {

struct CostOptions {
  int batch_size = 0;
  LatencyModel latency_model = LatencyModel::pipeline;
  Optimizer optimizer = Optimizer::sgd_momentum;
  bool ignore_memory = false;   // plan as if memory were unlimited (baselines that do)
  bool ignore_network = false;  // plan as if links were infinitely fast (baselines that do)
  bool replay_schedule = true;  // evaluate() also replays the 1F1B schedule (schedule_latency_s)
  Recomputation recomputation = Recomputation::automatic;  // which stages recompute (see above)
  // The order of a round's passes (schedule.hpp): how many micro-batches each stage keeps, the
  // replay's order and the Program's.
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;
};

// One stage's compute step with its devices' shares.
struct StageCost {
  bool feasible = true;
  std::string reason;       // why not, naming the device and the bytes over
  double over_bytes = 0;    // when not feasible: how many bytes that device lacks
  double fwd_s = 0;         // E_f: slowest device's forward time for its share
  double bwd_s = 0;         // E_b; with recompute, the forward run again before each backward included
  bool recompute = false;   // the stage recomputes its activations (see above)
  double allreduce_s = 0;   // T_a
  double optimizer_s = 0;   // T_o: the slowest device's optimizer step over the stage's layers
  double tail_s() const { return allreduce_s + optimizer_s; }  // after the stage's last backward
  double slowest_s = 0;     // max over devices of its forward + backward (what Alg. 1 minimises)
  std::vector<int> shares;  // per device of the group, sum = beta
  std::vector<double> peak_memory_bytes;
};

// The slowest link and the largest latency among a group's pairs, when the caller already knows them.
struct LinkSummary {
  double bandwidth_Bps = 0;
  double latency_s = 0;
};

struct DeviceUse {
  int device = 0;
  int stage = 0;
  int samples = 0;  // per micro-batch
  double peak_memory_bytes = 0;
  double memory_bytes = 0;
};

struct Evaluation {
  bool feasible = false;
  std::string reason;
  Plan plan;  // with shares filled in
  LatencyModel latency_model = LatencyModel::pipeline;
  PipelineSchedule schedule = PipelineSchedule::one_f_one_b;  // the order the replay ran
  double round_latency_s = 0;           // under latency_model: what the planner minimises
  double throughput_samples_per_s = 0;  // B / round_latency_s
  // The same steps replayed under 1F1B (pipeline_schedule.hpp): no shorter than the real round of
  // this plan can be on links without contention. Eq. 4-6 leaves out the wait of the dominant step
  // for its first gradient, so it can be lower.
  double schedule_latency_s = 0;
  // The round a backend runs, as predicted: the replay where there is one (what asteroid's planner
  // minimises, replay_search.hpp), else the closed form.
  double predicted_round_s() const { return schedule_latency_s > 0 ? schedule_latency_s : round_latency_s; }
  std::vector<StepCost> steps;
  int dominant_step = 0;
  std::vector<DeviceUse> devices;
  NetworkUse network_use;  // the round's flows on the network's channels (empty when ignored)
};

class CostModel {
 public:
  CostModel(Cluster cluster, CostOptions options);

  const Cluster& cluster() const { return cluster_; }
  const CostOptions& options() const { return options_; }
  int num_layers() const { return num_layers_; }
  int num_devices() const { return cluster_.size(); }

  // Compute step of layers [first, last] on `group` (n devices) for beta samples with K = in_flight
  // micro-batches kept (0: activations take no memory, a bound the planners use). `fixed_shares`
  // (n values summing to beta) skips the allocation; `links` saves the O(n^2) scan of the group's
  // pairs; `recompute` makes the stage recompute whatever the options say (except `off`), else
  // options().recomputation decides (under `auto`: only when it does not fit without, which costs
  // a second allocation). O(n C + C K log(C K)) for C kinds of device (same table and memory)
  // among the n and K trace batch sizes.
  StageCost stage(int first, int last, const int* group, int n, int beta, int in_flight,
                  const int* fixed_shares = nullptr, const LinkSummary* links = nullptr,
                  bool recompute = false) const;
  // The same into `out`, reusing its buffers (the planner's inner loop).
  void stage(StageCost& out, int first, int last, const int* group, int n, int beta, int in_flight,
             const int* fixed_shares = nullptr, const LinkSummary* links = nullptr, bool recompute = false) const;

  // Whether layers [first, last] can recompute at all: recomputation is not `off` and their
  // backward keeps activations (a frozen prefix keeps none: nothing to save).
  bool can_recompute(int first, int last) const;

  // The ring all-reduce's links in `group` (in that order, a ring): the rate of its slowest flow
  // when every member sends to the next at once (a channel crossed by k of the ring's flows gives
  // each 1/k), and the largest latency among them. O(n x hops log).
  LinkSummary group_links(const int* group, int n) const;

  // The most in-flight micro-batches for which every device of `group` can hold its share
  // (shares[i] samples) of layers [first, last] as stage() prices them at K = 0, i.e. up to which
  // stage(..., K) is the same as stage(..., 0): without recomputation, except under `all` (with
  // it where the layers can recompute). A large number when activations take no memory.
  long long max_in_flight(int first, int last, const int* group, int n, const int* shares) const;

  // One direction of the communication step after `boundary_layer`, from group a to group b:
  // the activations forward, or with `gradient` their gradients back (no bytes inside a frozen
  // prefix, layer_table.hpp: the latency alone); `latency_s`, when given, receives the latency part.
  double transfer_s(int boundary_layer, const int* a, int na, const int* b, int nb, int beta,
                    double* latency_s = nullptr, bool gradient = false) const;

  // Whether the communication step between groups a and b has its two directions on a common
  // channel (a half-duplex link or a medium on some route): then its period is E_f + E_b, else
  // max(E_f, E_b) (full duplex).
  bool directions_share_channel(const int* a, int na, const int* b, int nb) const;

  // The steps of stage p of a plan whose stages 0..p have shares: its compute step from its
  // StageCost, and (p > 0) the communication step from stage p-1, as evaluate() builds them.
  StepCost compute_step(const StageCost& cost, int p) const;
  StepCost communication_step(const StagePlan& from, const StagePlan& to, int beta, int p) const;

  // Scores a plan: fills in shares, checks memory, computes every step and the round latency.
  Evaluation evaluate(const Plan& plan) const;

  // The flows of one round of `plan` (shares filled in) on the network's channels: the Program's
  // slices between neighbouring stages and each group's ring all-reduce.
  NetworkUse network_use(const Plan& plan) const;
  // The same for stage p alone, into `use` (sized for the plan's 2P-1 steps, capacities set):
  // its members (step 2p), its ring (step 2p) and, for p > 0, the slices from stage p-1 (step
  // 2p-1). Stages 0..p of `plan` need shares; later stages are not read (a partial plan will do).
  void stage_network_use(const Plan& plan, int p, NetworkUse& use) const;

 private:
  double memory_static(int first, int last) const;
  void stage_with(StageCost& out, int first, int last, const int* group, int n, int beta, int in_flight,
                  const int* fixed_shares, const LinkSummary* links, bool recompute) const;

  Cluster cluster_;
  CostOptions options_;
  int num_layers_ = 0;
};

// The round latency from the per-step E_f, E_b and T_a, with M micro-batches; fills in T_w (the
// warm-up before the step's first forward) and T_e (from then to its last backward's end) and
// returns the latency. Shared by the evaluator and by tests.
double round_latency(std::vector<StepCost>& steps, int microbatches, LatencyModel model, int* dominant_step);

// The scenario's cluster (make_cluster) and cost options.
CostModel make_cost_model(const Scenario& s);

}  // namespace asteroid
