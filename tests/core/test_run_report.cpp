#include <catch2/catch.hpp>

#include "asteroid/run/backend_setup.hpp"
#include "asteroid/report/recovery_table.hpp"
#include "asteroid/report/report_compare.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/report/run_summary.hpp"

using namespace asteroid;

namespace {

// Two devices, three rounds of 1 s each (round 1 replayed once), one F and one B per round.
RunReport sample(double scale) {
  RunReport r;
  r.scenario = "toy";
  r.backend = "sim";
  r.config = {{"network_model", "textbook"}};
  r.devices = {"a", "b"};
  r.peak_memory_bytes = {1e9, 2e9};
  PlanRecord plan;
  plan.plan.microbatch_size = 4;
  plan.plan.microbatches = 2;
  plan.plan.stages = {{0, 3, {0}, {4}}, {4, 7, {1}, {4}}};
  r.plans = {plan};
  r.rounds_planned = 3;
  double t = 0;
  for (int round : {0, 1, 1, 2}) {
    RoundRecord record;
    record.round = round, record.start = t, record.end = t + scale, record.samples = 8;
    r.rounds.push_back(record);
    r.spans.push_back({0, "F", 0, 0, round, t, t + 0.25 * scale});
    r.spans.push_back({1, "B", 1, 0, round, t + 0.25 * scale, t + 0.75 * scale});
    t += scale;
  }
  RunEvent failure;
  failure.time = 1.5 * scale, failure.kind = EventKind::failure, failure.device = "b";
  r.events.push_back(failure);
  return r;
}

}  // namespace

TEST_CASE("run report: what report_to_json writes, report_from_json reads back", "[report]") {
  RunReport r = sample(1.0);
  auto back = report_from_json(report_to_json(r), "r.json");
  REQUIRE(back.ok());
  CHECK(back->devices == r.devices);
  CHECK(back->peak_memory_bytes == r.peak_memory_bytes);
  REQUIRE(back->rounds.size() == r.rounds.size());
  CHECK(back->rounds[2].round == 1);
  CHECK(back->rounds[2].end == Approx(3.0));
  REQUIRE(back->spans.size() == r.spans.size());
  CHECK(back->spans[1].op == "B");
  CHECK(back->devices[back->spans[1].device] == "b");
  REQUIRE(back->events.size() == 1);
  CHECK(back->events[0].device == "b");
  CHECK(back->evaluations.empty());
  CHECK_FALSE(report_to_json(r).contains("evaluations"));  // reports without a data set stay as they were
}

TEST_CASE("run report: a plan's recomputing stages are written and read back", "[report]") {
  // Before the format's fields were one table, the reader refused the "recompute" that plan_to_json
  // writes, so a run with recomputation could not be compared (asteroid-compare).
  RunReport r = sample(1.0);
  r.plans[0].plan.stages[1].recompute = true;
  auto back = report_from_json(report_to_json(r), "r.json");
  REQUIRE(back.ok());
  CHECK_FALSE(back->plans[0].plan.stages[0].recompute);
  CHECK(back->plans[0].plan.stages[1].recompute);
}

TEST_CASE("run report: how plan 0 was planned, with its proven gap, is written and read back", "[report]") {
  RunReport r = sample(1.0);
  CHECK_FALSE(report_to_json(r).contains("planning"));  // a plan from a file: nothing to say
  r.planning = PlanningRecord{"asteroid", 0.25, false, 1.6, 2.0};
  const nlohmann::json j = report_to_json(r);
  CHECK(j["planning"]["optimality_gap"].get<double>() == Approx(0.25));  // (2.0 - 1.6) / 1.6
  auto back = report_from_json(j, "r.json");
  REQUIRE(back.ok());
  REQUIRE(back->planning);
  CHECK(back->planning->strategy == "asteroid");
  CHECK_FALSE(back->planning->proven_optimal);
  CHECK(back->planning->lower_bound_s == 1.6);
  CHECK(back->planning->objective_s == 2.0);
  // A proven plan: gap 0; a baseline: no bound, no gap.
  r.planning = PlanningRecord{"asteroid", 0.25, true, 2.0, 2.0};
  CHECK(report_to_json(r)["planning"]["optimality_gap"].get<double>() == 0.0);
  r.planning = PlanningRecord{"pp", 0.01, true, 0, 0};
  CHECK_FALSE(report_to_json(r)["planning"].contains("optimality_gap"));
  nlohmann::json bad = j;
  bad["planning"]["unknown"] = 1;
  CHECK_FALSE(report_from_json(bad, "r.json").ok());
}

TEST_CASE("run report: test-set evaluations are written and read back", "[report]") {
  RunReport r = sample(1.0);
  r.evaluations = {{99, 0.5, 12.5, 0.625, 1.125, 10000}, {199, 1.0, 25.0, 0.75, 0.5, 10000}};
  auto back = report_from_json(report_to_json(r), "r.json");
  REQUIRE(back.ok());
  REQUIRE(back->evaluations.size() == 2);
  CHECK(back->evaluations[1].round == 199);
  CHECK(back->evaluations[1].epoch == 1.0);
  CHECK(back->evaluations[1].time_s == 25.0);
  CHECK(back->evaluations[1].accuracy == 0.75);
  CHECK(back->evaluations[1].loss == 0.5);
  CHECK(back->evaluations[1].samples == 10000);
  nlohmann::json j = report_to_json(r);
  j["evaluations"][0]["accuracy"] = 1.5;
  auto bad = report_from_json(j, "r.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().path == "evaluations[0].accuracy");
  j = report_to_json(r);
  j["evaluations"][1].erase("loss");
  CHECK_FALSE(report_from_json(j, "r.json").ok());
}

TEST_CASE("run report: an emulated run's dilation and over-budget counts are written, read back and summed up",
          "[report]") {
  RunReport r = sample(1.0);
  CHECK_FALSE(report_to_json(r).contains("emulation"));
  r.emulation = EmulationRecord{3, 64, 2, 0.0025};
  nlohmann::json j = report_to_json(r);
  CHECK(j["summary"]["over_budget_steps"] == 2);
  CHECK(j["summary"]["time_dilation"] == 3.0);
  auto back = report_from_json(j, "r.json");
  REQUIRE(back.ok());
  REQUIRE(back->emulation);
  CHECK(back->emulation->budgeted_steps == 64);
  CHECK(back->emulation->worst_overrun_s == 0.0025);
  CHECK(summary_to_text(summarize_run(*back), "exec").find("2 of 64 compute steps over budget") !=
        std::string::npos);
  j["emulation"]["over_budget_steps"] = 65;  // more than were budgeted
  auto bad = report_from_json(j, "r.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().path == "emulation.over_budget_steps");
}

TEST_CASE("run report: copies through host memory (workers on an accelerator) are written, read back and summed up",
          "[report]") {
  RunReport r = sample(1.0);
  CHECK_FALSE(report_to_json(r).contains("host_copies"));
  r.host_copies = HostCopyRecord{96, 12.5e6, 0.042};
  nlohmann::json j = report_to_json(r);
  CHECK(j["summary"]["host_copies"] == 96);
  auto back = report_from_json(j, "r.json");
  REQUIRE(back.ok());
  REQUIRE(back->host_copies);
  CHECK(back->host_copies->bytes == 12.5e6);
  CHECK(back->host_copies->seconds == 0.042);
  CHECK(summary_to_text(summarize_run(*back), "exec").find("96 copies between device and host memory, 12.5 MB") !=
        std::string::npos);
  j["host_copies"]["copies"] = -1;
  auto bad = report_from_json(j, "r.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().path == "host_copies.copies");
}

TEST_CASE("run report: bad reports are refused with the file and the JSON path", "[report]") {
  nlohmann::json j = report_to_json(sample(1.0));
  j["rounds"][1]["speed"] = 3;
  auto bad = report_from_json(j, "r.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().str().find("r.json: rounds[1].speed") != std::string::npos);
  nlohmann::json k = report_to_json(sample(1.0));
  k["spans"][0]["end_s"] = -1;
  auto back = report_from_json(k, "r.json");
  REQUIRE_FALSE(back.ok());
  CHECK(back.error().path == "spans[0].end_s");
  nlohmann::json m = report_to_json(sample(1.0));
  m.erase("rounds");
  CHECK_FALSE(report_from_json(m, "r.json").ok());
}

TEST_CASE("report comparison: a report against itself, and against one 10% slower", "[report]") {
  ReportComparison same = compare_reports(sample(1.0), sample(1.0));
  CHECK(same.rounds.size() == 4);  // the replayed round is matched by occurrence
  CHECK(same.mean_abs_round_error == 0);
  CHECK(same.rounds_only_a == 0);
  CHECK(same.rounds_only_b == 0);
  for (const OpDiff& o : same.ops) CHECK(o.a_s == o.b_s);

  ReportComparison slower = compare_reports(sample(1.0), sample(1.1));
  CHECK(slower.mean_abs_round_error == Approx(0.1));
  CHECK(slower.max_abs_round_error == Approx(0.1));
  CHECK(slower.length_b_s == Approx(4.4));
  REQUIRE(slower.ops.size() == 2);
  for (const OpDiff& o : slower.ops) {
    CHECK(o.count_a == 4);
    CHECK(o.count_b == 4);
    CHECK(o.error() == Approx(0.1));
  }
  REQUIRE(slower.events.size() == 1);
  CHECK(slower.events[0].b_s - slower.events[0].a_s == Approx(0.15));

  RunReport shorter = sample(1.0);
  shorter.rounds.pop_back();
  ReportComparison missing = compare_reports(sample(1.0), shorter);
  CHECK(missing.rounds.size() == 3);
  CHECK(missing.rounds_only_a == 1);
  nlohmann::json j = comparison_to_json(missing);
  CHECK(j["rounds_only_a"] == 1);
  CHECK(comparison_to_text(slower, 5).find("mean |e| 10.00%") != std::string::npos);
}

TEST_CASE("report comparison: rounds of A that last no time are counted, not scored", "[report]") {
  CHECK(compare_reports(sample(1.0), sample(1.1)).zero_rounds_a == 0);
  RunReport zero = sample(1.0);
  zero.rounds[2].end = zero.rounds[2].start;
  ReportComparison c = compare_reports(zero, sample(1.1));
  CHECK(c.zero_rounds_a == 1);
  CHECK(c.first_zero_round_a == zero.rounds[2].round);
  CHECK(comparison_to_json(c)["zero_rounds_a"] == 1);
}

TEST_CASE("run report: fault events after the run's end are warnings, written and read back", "[report][faults]") {
  // Ten rounds of 1.56 s; a leave at 5 s (inside the run) and one at 30 s (after its end).
  RunReport r;
  r.scenario = "toy";
  r.backend = "sim";
  r.devices = {"nx0", "nano0"};
  for (int i = 0; i < 10; ++i) r.rounds.push_back({i, 1.56 * i, 1.56 * (i + 1), 8, 0, std::nullopt, -1});
  r.end_s = 15.6;
  FaultSpec f;
  f.events = {{5, "nano0", FaultKind::leave}, {30, "nx0", FaultKind::leave}};
  auto warnings = unreached_fault_warnings(f, r, 1.0);
  REQUIRE(warnings.size() == 1);
  // 30 s at 1.56 s a round falls in round 19: a run of 20 rounds reaches it.
  CHECK(warnings[0] ==
        "the leave of nx0 at 30.000 s did not happen: the run ended at 15.600 s, after 10 rounds; about 20 "
        "rounds (training.rounds or --rounds) would reach it");
  // A run that committed nothing estimates from the predicted round.
  RunReport none;
  none.end_s = 2;
  auto early = unreached_fault_warnings(f, none, 0.5);
  REQUIRE(early.size() == 2);
  CHECK_THAT(early[1], Catch::Contains("after 0 rounds; about 61 rounds"));

  r.warnings = warnings;
  const nlohmann::json j = report_to_json(r);
  REQUIRE(j.contains("warnings"));
  auto back = report_from_json(j, "r.json");
  REQUIRE(back.ok());
  CHECK(back->warnings == warnings);
  CHECK_FALSE(report_to_json(sample(1.0)).contains("warnings"));  // none: left out
}

TEST_CASE("run summary: the replay's rounds are printed as a range only when rounds were run again", "[report]") {
  // Rounds of 1 s; a failure at 6.5 s in round 6; resumed at 10 s from round `replay`.
  auto text_for = [](int replay) {
    RunReport r;
    r.scenario = "toy";
    r.backend = "sim";
    r.devices = {"a", "b"};
    for (int i = 0; i < 6; ++i) r.rounds.push_back({i, double(i), i + 1.0, 8, 0, std::nullopt, -1});
    if (replay > 6) r.rounds.push_back({6, 6, 7, 8, 0, std::nullopt, -1});  // round 6 went on
    for (int i = replay; i < 9; ++i) r.rounds.push_back({i, 10.0 + i - replay, 11.0 + i - replay, 8, 0, std::nullopt, -1});
    r.rounds_planned = 9;
    r.end_s = r.rounds.back().end;
    r.add_event(6.5, EventKind::failure, "b", "b leaves").round = 6;
    r.add_event(9.5, EventKind::detection, "b", "missed heartbeats");
    r.add_event(9.6, EventKind::replan, "", "re-plan", 0.001);
    r.add_event(9.7, EventKind::replay, "", "replay").round = replay;
    r.add_event(10, EventKind::resume, "", "resume");
    return summary_to_text(summarize_run(r), "sim");
  };
  CHECK_THAT(text_for(4), Catch::Contains("(rounds 4-6, from the checkpoint to the interrupted round)"));
  CHECK_THAT(text_for(6), Catch::Contains("(round 6, from the checkpoint to the interrupted round)"));
  const std::string none = text_for(7);
  CHECK_THAT(none, Catch::Contains("replay         none (round 6 was committed; training went on from round 7)"));
  CHECK_THAT(none, !Catch::Contains("rounds 7-6"));
}

TEST_CASE("run report: the Chrome trace names each span in words, the token as its category", "[report]") {
  auto span = [](const char* op, int stage, int mb) { return Span{0, op, stage, mb, 0, 0.0, 1.0}; };
  CHECK(span_slice_name(span("F", 0, 3)) == "forward mb 3");
  CHECK(span_slice_name(span("B", 1, 0)) == "backward mb 0");
  CHECK(span_slice_name(span("SEND_F", 0, 2)) == "send act mb 2");
  CHECK(span_slice_name(span("RECV_B", 0, 2)) == "recv grad mb 2");
  CHECK(span_slice_name(span("ALLREDUCE", 0, -1)) == "all-reduce");
  CHECK(span_slice_name(span("TRANSFER", -1, -1)) == "state transfer");
  CHECK(span_slice_name(span("NEW_OP", 0, 1)) == "NEW_OP mb 1");  // an unlisted token is kept, not dropped
  RunReport r = sample(1.0);
  const nlohmann::json trace = nlohmann::json::parse(report_to_chrome_trace(r));
  int forwards = 0;
  for (const auto& e : trace["traceEvents"])
    if (e["ph"] == "X" && e.value("cat", "") == "F") {
      CHECK(e["name"] == "forward mb " + std::to_string(e["args"]["microbatch"].get<int>()));
      CHECK(e["args"]["op"] == "F");
      ++forwards;
    }
  CHECK(forwards > 0);
}

TEST_CASE("recovery table: rows sum a run's failures and sort by total recovery, runs that stopped last",
          "[report]") {
  auto failure = [](double detection, double total, double after, int first, int interrupted) {
    FailureSummary f;
    f.detection_s = detection, f.replan_s = 0.5, f.state_transfer_s = 1, f.replay_s = total - detection - 1.5;
    f.recovery_s = total, f.throughput_before = 10, f.throughput_after = after;
    f.replay_round = first, f.interrupted_round = interrupted;
    return f;
  };
  RunSummary two;  // two failures: times and replayed rounds summed, before the first, after the last
  two.completed = true;
  two.failures = {failure(2, 4, 8, 5, 6), failure(3, 5, 6, 9, 9)};
  RecoveryRow r = recovery_row("replan", two);
  CHECK(r.failures == 2);
  CHECK(*r.detection_s == 5);
  CHECK(*r.total_s == 9);
  CHECK(r.replan_s == 1);
  CHECK(r.rounds_replayed == 3);
  CHECK(r.throughput_before == 10);
  CHECK(*r.throughput_after == 6);

  RunSummary stopped;  // no plan fit: no recovery time, no throughput after
  stopped.failures = {failure(2, 4, 8, 5, 6)};
  stopped.failures[0].recovery_s.reset();
  stopped.failures[0].throughput_after.reset();
  stopped.stop_reason = "no plan fits on the survivors";
  RunSummary fast, tie;
  fast.completed = tie.completed = true;
  fast.failures = {failure(2, 3, 7, 5, 5)};
  tie.failures = {failure(2, 3, 9, 5, 5)};  // as fast, more samples/s after: first
  std::vector<RecoveryRow> rows = {recovery_row("restart", stopped), recovery_row("replan", two),
                                   recovery_row("lightweight", fast), recovery_row("adaptive", tie)};
  sort_recovery_rows(rows);
  std::vector<std::string> order;
  for (const RecoveryRow& x : rows) order.push_back(x.recovery);
  CHECK(order == std::vector<std::string>{"adaptive", "lightweight", "replan", "restart"});
  const std::string text = recovery_table_text(rows, "sim");
  CHECK_THAT(text, Catch::Contains("(stopped: no plan fits on the survivors)"));
  CHECK_THAT(text, Catch::Contains("several failures: times and rounds summed"));
  const nlohmann::json j = recovery_table_json(rows);
  CHECK(j[3]["recovery_s"].is_null());
  CHECK(j[2]["summary"] == summary_to_json(two));
  CHECK(recovery_table_csv(rows).find("restart,1,2,0.5,1,0.5,,10,,2,false,false\n") != std::string::npos);
}
