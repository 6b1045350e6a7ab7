#include "exec_job.hpp"

#include "asteroid/input/json_reader.hpp"

namespace asteroid::exec {
namespace {

using nlohmann::json;

json plan_json(const Plan& p) {
  json stages = json::array();
  for (const StagePlan& s : p.stages)
    stages.push_back({{"first_layer", s.first_layer},
                      {"last_layer", s.last_layer},
                      {"devices", s.devices},
                      {"shares", s.shares}});
  return {{"microbatch_size", p.microbatch_size}, {"microbatches", p.microbatches}, {"stages", stages}};
}

int index_in(const JsonReader& r, int n) {
  long long v = r.integer();
  if (v < 0 || v >= n) r.fail("expected a device index in 0.." + std::to_string(n - 1));
  return int(v);
}

Plan plan_of(const JsonReader& r, int num_devices) {
  r.allow_only({"microbatch_size", "microbatches", "stages"});
  Plan p;
  p.microbatch_size = int(r.at("microbatch_size").positive_integer());
  p.microbatches = int(r.at("microbatches").positive_integer());
  JsonReader stages = r.at("stages");
  for (size_t i = 0; i < stages.size(); ++i) {
    JsonReader s = stages.at(i);
    s.allow_only({"first_layer", "last_layer", "devices", "shares"});
    StagePlan sp;
    sp.first_layer = int(s.at("first_layer").integer());
    sp.last_layer = int(s.at("last_layer").integer());
    for (size_t k = 0; k < s.at("devices").size(); ++k)
      sp.devices.push_back(index_in(s.at("devices").at(k), num_devices));
    // A share may be 0: the device holds the stage's weights but none of its samples (a group
    // larger than the micro-batch, as a re-plan after failures can give).
    JsonReader shares = s.at("shares");
    int total = 0;
    for (size_t k = 0; k < shares.size(); ++k) {
      sp.shares.push_back(shares.at(k).integer_in(0, p.microbatch_size));
      total += sp.shares.back();
    }
    if (sp.shares.size() != sp.devices.size()) shares.fail("one share per device");
    if (total != p.microbatch_size)
      shares.fail("shares add up to " + std::to_string(total) + ", not the micro-batch size " +
                  std::to_string(p.microbatch_size));
    p.stages.push_back(sp);
  }
  return p;
}

json program_json(const std::vector<std::vector<Instruction>>& program) {
  json out = json::array();
  for (const auto& list : program) {
    json tokens = json::array();
    for (const Instruction& i : list) tokens.push_back(to_string(i));
    out.push_back(tokens);
  }
  return out;
}

std::vector<std::vector<Instruction>> program_of(const JsonReader& r, int num_devices) {
  if (int(r.size()) != num_devices) r.fail("one instruction list per device");
  std::vector<std::vector<Instruction>> out(num_devices);
  for (int d = 0; d < num_devices; ++d) {
    JsonReader list = r.at(d);
    for (size_t k = 0; k < list.size(); ++k) {
      auto i = parse_instruction(list.at(k).string());
      if (!i) list.at(k).fail(i.error().message);
      if (i->peer >= num_devices) list.at(k).fail("its peer is not a device");
      out[d].push_back(i.value());
    }
  }
  return out;
}

}  // namespace

json job_to_json(const ExecJob& j) {
  json replicas = json::array(), transfers = json::array(), budgets = json::array();
  for (const ComputeBudget& b : j.budgets) budgets.push_back(json::array({b.forward_s, b.backward_s, b.optimizer_s}));
  for (const ReplicaAssignment& r : j.replicas)
    replicas.push_back({{"stage", r.stage}, {"owner", r.owner}, {"backup", r.backup}});
  for (const JobTransfer& t : j.transfers)
    transfers.push_back(
        {{"from", t.from}, {"to", t.to}, {"first_layer", t.first_layer}, {"last_layer", t.last_layer}});
  return {{"devices", j.devices},
          {"model", j.model},
          {"input", j.input},
          {"model_archive", j.model_archive},
          {"optimizer", to_string(j.optimizer)},
          {"batch_size", j.batch_size},
          {"num_layers", j.num_layers},
          {"rounds", j.rounds},
          {"learning_rate", j.learning_rate},
          {"seed", j.seed},
          {"data", kDataSources.token(j.data)},
          {"data_dir", j.data_dir},
          {"augment", j.augment},
          {"eval_every", j.eval_every},
          {"eval_samples", j.eval_samples},
          {"train_samples", j.train_samples},
          {"test_samples", j.test_samples},
          {"plan", plan_json(j.plan)},
          {"program", program_json(j.program)},
          {"program_with_copies", program_json(j.program_with_copies)},
          {"addresses", j.addresses},
          {"accelerators", j.accelerators},
          {"timeout_s", j.timeout_s},
          {"generation", j.generation},
          {"start_round", j.start_round},
          {"workers", j.workers},
          {"replicas", replicas},
          {"replicate_every", j.replicate_every},
          {"transfers", transfers},
          {"survive_peer_failure", j.survive_peer_failure},
          {"time_dilation", j.time_dilation},
          {"budgets", budgets}};
}

Result<ExecJob> job_from_json(const json& j, const std::string& where) {
  try {
    JsonReader r(j, "");
    // The writer's keys are the format's fields: one list, so writer and reader cannot part.
    static const std::vector<std::string> fields = [] {
      std::vector<std::string> keys;
      const json every = job_to_json(ExecJob{});  // named: items() does not keep a temporary alive
      for (const auto& item : every.items()) keys.push_back(item.key());
      return keys;
    }();
    r.allow_only(fields);
    ExecJob out;
    JsonReader devices = r.at("devices");
    for (size_t i = 0; i < devices.size(); ++i) out.devices.push_back(devices.at(i).string());
    const int n = int(out.devices.size());
    if (n == 0) devices.fail("no devices");
    out.model = r.at("model").string();
    out.input = r.at("input").string();
    out.model_archive = r.at("model_archive").string();
    out.optimizer = r.at("optimizer").token(kOptimizers);
    out.batch_size = int(r.at("batch_size").positive_integer());
    out.num_layers = int(r.at("num_layers").positive_integer());
    out.rounds = int(r.at("rounds").positive_integer());
    out.learning_rate = r.at("learning_rate").number();
    out.seed = uint64_t(r.at("seed").integer());
    out.data = r.at("data").token(kDataSources);
    out.data_dir = r.at("data_dir").string();
    out.augment = r.at("augment").boolean();
    out.eval_every = int(r.at("eval_every").integer());
    out.eval_samples = int(r.at("eval_samples").integer());
    if (out.eval_every < 0) r.at("eval_every").fail("negative");
    if (out.eval_samples < 0) r.at("eval_samples").fail("negative");
    out.train_samples = r.at("train_samples").integer();
    out.test_samples = r.at("test_samples").integer();
    if (out.data == DataSource::fashion_mnist && (out.train_samples < out.batch_size || out.test_samples < 1))
      r.at("train_samples").fail("a data set smaller than one mini-batch, or without test samples");
    out.plan = plan_of(r.at("plan"), n);
    out.program = program_of(r.at("program"), n);
    out.program_with_copies = program_of(r.at("program_with_copies"), n);
    JsonReader addresses = r.at("addresses");
    if (int(addresses.size()) != n) addresses.fail("one address per device");
    for (int i = 0; i < n; ++i) out.addresses.push_back(addresses.at(i).string());
    JsonReader accelerators = r.at("accelerators");
    if (accelerators.size() != 0 && int(accelerators.size()) != n)
      accelerators.fail("one accelerator per device, or none (every worker on its CPU)");
    for (size_t i = 0; i < accelerators.size(); ++i) {
      out.accelerators.push_back(accelerators.at(i).string());
      if (!is_accelerator_name(out.accelerators.back()))
        accelerators.at(i).fail("expected \"cpu\", \"cuda\" or \"cuda:N\"");
    }
    out.timeout_s = r.at("timeout_s").number();
    out.generation = int(r.at("generation").integer());
    out.start_round = int(r.at("start_round").integer());
    JsonReader w = r.at("workers");
    for (size_t i = 0; i < w.size(); ++i) out.workers.push_back(index_in(w.at(i), n));
    JsonReader reps = r.at("replicas");
    for (size_t i = 0; i < reps.size(); ++i) {
      JsonReader x = reps.at(i);
      x.allow_only({"stage", "owner", "backup"});
      out.replicas.push_back(
          {int(x.at("stage").integer()), index_in(x.at("owner"), n), index_in(x.at("backup"), n)});
    }
    out.replicate_every = int(r.at("replicate_every").integer());
    JsonReader ts = r.at("transfers");
    for (size_t i = 0; i < ts.size(); ++i) {
      JsonReader x = ts.at(i);
      x.allow_only({"from", "to", "first_layer", "last_layer"});
      out.transfers.push_back({index_in(x.at("from"), n), index_in(x.at("to"), n),
                               int(x.at("first_layer").integer()), int(x.at("last_layer").integer())});
    }
    out.survive_peer_failure = r.at("survive_peer_failure").boolean();
    out.time_dilation = r.at("time_dilation").number();
    if (!(out.time_dilation == 0 || (out.time_dilation >= 1 && out.time_dilation <= 1000)))
      r.at("time_dilation").fail("expected 0 (not emulated) or a factor in [1, 1000]");
    JsonReader budgets = r.at("budgets");
    if (budgets.size() != 0 && int(budgets.size()) != n) budgets.fail("one budget per device, or none");
    if (out.time_dilation > 0 && budgets.size() == 0) budgets.fail("an emulated job without budgets");
    for (size_t i = 0; i < budgets.size(); ++i) {
      JsonReader b = budgets.at(i);
      if (b.size() != 3) b.fail("a budget is [forward_s, backward_s, optimizer_s]");
      ComputeBudget c{b.at(0).number(), b.at(1).number(), b.at(2).number()};
      for (double x : {c.forward_s, c.backward_s, c.optimizer_s})
        if (!(x >= 0 && x <= 3600)) b.fail("a time outside [0 s, 3600 s]");
      out.budgets.push_back(c);
    }
    // What the worker indexes with: stages, layers, shares.
    for (const StagePlan& sp : out.plan.stages) {
      int sum = 0;
      for (int x : sp.shares) sum += x;
      if (sp.first_layer < 0 || sp.last_layer < sp.first_layer || sp.last_layer >= out.num_layers ||
          sum != out.plan.microbatch_size)
        r.at("plan").fail("a stage whose layers or shares do not fit the model and the micro-batch");
    }
    for (const ReplicaAssignment& x : out.replicas)
      if (x.stage < 0 || x.stage >= out.plan.num_stages()) reps.fail("a replica of a stage the plan lacks");
    for (const JobTransfer& t : out.transfers)
      if (t.first_layer < 0 || t.last_layer < t.first_layer || t.last_layer >= out.num_layers)
        ts.fail("a transfer of layers the model lacks");
    return out;
  } catch (const InputError& e) {
    return Error{where, e.path, e.message};
  }
}

}  // namespace asteroid::exec
