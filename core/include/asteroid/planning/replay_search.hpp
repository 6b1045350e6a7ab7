// The plan with the shortest 1F1B replay (pipeline_schedule.hpp) in the planner's search space: the
// objective the simulator runs, not the closed form (docs/method.md §3.7).
//
// The replay is not a sum or a maximum of per-stage terms, so the closed form's dynamic program
// (planner.hpp) cannot minimise it. This is a branch and bound over the same space (every order of
// the device classes, groups contiguous in it, the last devices of the order idle, every stage
// count, every micro-batch size, the share rule and memory of the cost model):
// - Jobs: one per micro-batch size and stage count. Within a job, stages are placed first to last;
//   a partial plan's children (the next stage's layers and devices) are all priced, each with a
//   lower bound on the replay of every plan that completes it (replay_bound.hpp, with floors for
//   the stages not yet placed: the remaining layers' least time on the remaining devices, the
//   busiest later stage's compute and all-reduce, the messages of every boundary still to come,
//   the next sender's queue), and visited depth first, lowest bound first;
//   a child whose bound is no shorter than the best replay found is cut; a complete plan whose
//   bound passes is replayed.
// - Devices of one class are interchangeable: a group is the next devices of the class order,
//   and the orders of the classes are one tree (they branch where a class runs out), so a partial
//   plan shared by several orders (e.g. its devices all of the first class) is searched once.
// - Best first across jobs: the job with the lowest bound runs until its bound passes the next
//   job's, so the time limit is spent where the optimum can still be, not on the first job.
// - Proven bound: the lowest bound of any job's unvisited children (or of a job not yet started:
//   its busiest device's work) is no longer than any plan not yet replayed; with the best replay,
//   it bounds the optimum, so a cut search still says how far from optimal its plan can be.
// Starting from a good plan (the closed-form optimum and the per-stage-cap optima,
// replay_choice.hpp, and the plan of a smaller cluster of the same devices) keeps the tree small.
//
// Exact: with no time limit reached and every order of the device classes searched, no plan of the
// space (and none of the starting plans) replays shorter than the result
// (tests/core/test_replay_search.cpp checks it against exhaustive enumeration). Cost: a stage cost
// and a bound per child priced, a replay per complete plan the bound does not cut. Memory: the
// priced children of each open partial plan (16 bytes each); past kMaxStoredChildren the search
// stops switching jobs until the open ones have shrunk.
#pragma once

#include <functional>
#include <string>

#include "asteroid/model/cost_model.hpp"
#include "asteroid/planning/planner.hpp"

namespace asteroid {

struct ReplaySearchStats {
  long long partial_plans = 0;  // stages priced (each a stage cost and a bound)
  long long replays = 0;        // complete plans replayed
  long long peak_children = 0;  // the most priced children held at once (the search's memory)
};

struct ReplaySearchResult {
  Evaluation evaluation;        // the plan with the shortest replay found (schedule_latency_s)
  bool proven_optimal = true;   // the whole space searched
  bool improved = false;        // shorter than the starting plan
  // Seconds: no plan of the space replays shorter (proven by the bounds); equal to the plan's
  // replay when proven optimal. 0 when nothing is known (not every order of the device classes
  // was searched).
  double lower_bound_s = 0;
  ReplaySearchStats stats;
};

// The proven gap of a plan: (replay - lower bound) / lower bound, 0 when they meet (proven
// optimal), infinity when no bound is known.
double optimality_gap(double replay_s, double lower_bound_s);

// In words: "proven optimal", "within 2.3% of optimal (proven)", or "not proven optimal (no bound
// known)" when the lower bound is 0.
std::string optimality_text(bool proven_optimal, double value_s, double lower_bound_s);

// `start`: an evaluation with its replay (the best known plan; an infeasible one: none known).
// Requires the model's replay_schedule option; `options` as for plan_optimal (its time limit counts
// from the call). `max_partial_plans` > 0 stops the search after that many stages priced, as a
// time limit does (for tests: a cut that does not depend on the machine's speed).
ReplaySearchResult search_by_replay(const CostModel& model, const PlannerOptions& options, const Evaluation& start,
                                    long long max_partial_plans = 0);

// Every plan of the same space whose replay is at most `max_replay_s` (seconds), each passed to
// `visit` once (an Evaluation with its replay), in no set order. Devices of one class are
// interchangeable, so of plans that differ only by which devices of a class they use, one is
// visited. Exact as search_by_replay is: a partial plan is cut only when its lower bound passes
// `max_replay_s`, so no plan within it is missed. Returns false when the time limit
// (options.time_limit_s) cut the enumeration or not every order of the device classes was searched.
// Cost: as search_by_replay's with `max_replay_s` as the best replay, plus one replay per plan
// within it that the bounds do not cut.
bool enumerate_by_replay(const CostModel& model, const PlannerOptions& options, double max_replay_s,
                         const std::function<void(const Evaluation&)>& visit, ReplaySearchStats* stats = nullptr);
// As enumerate_by_replay, with a ceiling that `visit` may lower as it goes (the lifetime objective,
// objective_planner.cpp: each better plan found tightens its bound): every cut and every visit reads
// *max_replay_s as it stands then, so a plan is visited when it replays within the ceiling of the
// moment it is reached; none within the final ceiling is missed.
bool enumerate_by_replay_lowering(const CostModel& model, const PlannerOptions& options, const double* max_replay_s,
                                  const std::function<void(const Evaluation&)>& visit,
                                  ReplaySearchStats* stats = nullptr);

// The lower bound the search gives a partial plan: `partial`'s stages (its first stages, with
// layers, devices and micro-batch size; shares as the cost model gives them) in a plan of
// `total_stages`; no completion of it replays shorter (seconds; infinity when a stage does not
// fit in memory). For tests of the bound at every cut.
double replay_partial_bound(const CostModel& model, const PlannerOptions& options, const Plan& partial,
                            int total_stages);

// Asteroid's planner: the closed-form optimum (plan_optimal), the replay choice among the optima per
// micro-batch size and stage cap (replay_choice.hpp) and the plan of the smaller cluster made of
// the first half of each device class (planned the same way, with an equal share of the time for
// each level of halving below) as starting
// plans, then search_by_replay. Without the replay (the model's replay_schedule off) or under the
// paper's latency model, the closed-form optimum alone.
// Time: options.time_limit_s, else options.replay_time_limit_s, bounds the whole of it (every
// phase looks at the deadline); 0 for both: no limit. Errors as plan_optimal's, and "no plan found
// within the planner's time limit" when the limit passes before any plan is known.
struct PlannedByReplay {
  Evaluation evaluation;
  bool proven_optimal = true;  // under the objective: the replay, or the closed form without it
  // Seconds, under the same objective: no plan of the space is shorter (0: none known).
  double lower_bound_s = 0;
  PlanSearchStats stats;       // the closed-form searches'
  ReplaySearchStats search;
  int candidates = 0;          // closed-form optima replayed to choose the starting plan
  double optimum_replay_s = 0;  // the closed-form optimum's replay
  double smaller_cluster_replay_s = 0;  // the smaller cluster's plan's replay (0: none planned)
};
Result<PlannedByReplay> plan_by_replay(const CostModel& model, const PlannerOptions& options);

}  // namespace asteroid
