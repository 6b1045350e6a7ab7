#include "asteroid/program/program.hpp"

#include <algorithm>
#include <cassert>
#include <cctype>
#include <sstream>

#include "asteroid/model/schedule.hpp"

namespace asteroid {
namespace {

struct OpName {
  Op op;
  const char* token;
};
constexpr OpName kOps[] = {
    {Op::forward, "F"},
    {Op::backward, "B"},
    {Op::send_activation, "SEND_F"},
    {Op::recv_activation, "RECV_F"},
    {Op::send_gradient, "SEND_B"},
    {Op::recv_gradient, "RECV_B"},
    {Op::all_reduce, "ALLREDUCE"},
    {Op::optimizer_step, "OPT"},
    {Op::replicate, "REPLICATE"},
    {Op::recv_replica, "RECV_REPLICA"},
    {Op::recompute, "RECOMPUTE"},
};

bool has_microbatch(Op op) {
  return op != Op::all_reduce && op != Op::optimizer_step && op != Op::replicate && op != Op::recv_replica;
}
bool has_peer(Op op) {
  return op != Op::forward && op != Op::backward && op != Op::recompute && op != Op::all_reduce &&
         op != Op::optimizer_step;
}

}  // namespace

const char* op_token(Op op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.token;
  assert(false && "every Op has a token");
  return "?";
}

std::string to_string(const Instruction& i) {
  std::string s = std::to_string(i.stage) + op_token(i.op);
  if (has_microbatch(i.op)) s += std::to_string(i.microbatch);
  if (has_peer(i.op)) s += "@" + std::to_string(i.peer);
  return s;
}

Result<Instruction> parse_instruction(const std::string& t) {
  auto bad = [&](const std::string& why) { return Error{"", "", "instruction \"" + t + "\": " + why}; };
  size_t k = 0;
  auto digits = [&]() {
    size_t start = k;
    while (k < t.size() && std::isdigit((unsigned char)t[k])) ++k;
    return t.substr(start, k - start);
  };
  std::string stage = digits();
  if (stage.empty()) return bad("must start with the stage number");
  size_t start = k;
  while (k < t.size() && (std::isupper((unsigned char)t[k]) || t[k] == '_')) ++k;
  std::string kind = t.substr(start, k - start);
  Instruction in;
  bool known = false;
  for (const auto& o : kOps)
    if (kind == o.token) in.op = o.op, known = true;
  if (!known) return bad("unknown kind \"" + kind + "\"");
  in.stage = std::stoi(stage);
  if (has_microbatch(in.op)) {
    std::string mb = digits();
    if (mb.empty()) return bad("needs a micro-batch number");
    in.microbatch = std::stoi(mb);
  }
  if (has_peer(in.op)) {
    if (k >= t.size() || t[k] != '@') return bad("needs a peer device (\"@<index>\")");
    ++k;
    std::string peer = digits();
    if (peer.empty()) return bad("needs a peer device index after '@'");
    in.peer = std::stoi(peer);
  }
  if (k != t.size()) return bad("unexpected \"" + t.substr(k) + "\"");
  return in;
}

std::vector<int> Program::stage_of_device() const {
  std::vector<int> s(device.size(), -1);
  for (int p = 0; p < plan.num_stages(); ++p)
    for (int d : plan.stages[p].devices) s[d] = p;
  return s;
}

Program make_program(const CostModel& model, const Plan& plan_in,
                     const std::vector<ReplicaAssignment>& replicas) {
  Evaluation ev = model.evaluate(plan_in);
  assert(ev.feasible && "make_program needs a feasible plan");
  Program prog;
  prog.plan = ev.plan;
  prog.device.assign(model.num_devices(), {});
  const Plan& plan = prog.plan;
  const Cluster& c = model.cluster();
  const int P = plan.num_stages(), M = plan.microbatches;
  const double opt_factor = optimizer_state_factor(model.options().optimizer);

  for (int p = 0; p < P; ++p) {
    const StagePlan& sp = plan.stages[p];
    auto mine = sample_ranges(sp.shares);
    const StagePlan* up = p > 0 ? &plan.stages[p - 1] : nullptr;
    const StagePlan* down = p + 1 < P ? &plan.stages[p + 1] : nullptr;
    auto up_r = up ? sample_ranges(up->shares) : std::vector<std::pair<int, int>>{};
    auto down_r = down ? sample_ranges(down->shares) : std::vector<std::pair<int, int>>{};
    const std::vector<schedule::Pass> order = schedule::stage_order(M, schedule::in_flight(model.options().schedule, M, P, p));

    for (size_t gi = 0; gi < sp.devices.size(); ++gi) {
      const int d = sp.devices[gi];
      const LayerTable& t = *c.devices[d].table;
      const int y = sp.shares[gi];
      BatchPoint bp = t.locate(y);
      const double fwd = t.fwd_s(sp.first_layer, sp.last_layer, bp);
      const double bwd = t.bwd_s(sp.first_layer, sp.last_layer, bp);
      std::vector<Instruction>& out = prog.device[d];

      // Messages to or from the devices of a neighbouring stage whose slices overlap ours.
      auto exchange = [&](Op op, int mb, const StagePlan& other,
                          const std::vector<std::pair<int, int>>& other_r, int boundary_layer) {
        for (size_t j = 0; j < other.devices.size(); ++j) {
          int n = schedule::overlap(mine[gi], other_r[j]);
          if (n == 0) continue;
          Instruction in{op, p, mb, other.devices[j], n, 0, 0};
          const bool gradient = op == Op::send_gradient || op == Op::recv_gradient;
          in.bytes = n * (gradient ? t.gradient_bytes_per_sample(boundary_layer) : t.output_bytes_per_sample(boundary_layer));
          out.push_back(in);
        }
      };
      auto forward = [&](int mb) {
        if (up) exchange(Op::recv_activation, mb, *up, up_r, up->last_layer);
        out.push_back({Op::forward, p, mb, -1, y, 0, fwd});
        if (down) exchange(Op::send_activation, mb, *down, down_r, sp.last_layer);
      };
      auto backward = [&](int mb) {
        if (down) exchange(Op::recv_gradient, mb, *down, down_r, sp.last_layer);
        if (sp.recompute) out.push_back({Op::recompute, p, mb, -1, y, 0, fwd});
        out.push_back({Op::backward, p, mb, -1, y, 0, bwd});
        if (up) exchange(Op::send_gradient, mb, *up, up_r, up->last_layer);
      };

      for (const schedule::Pass& pass : order) pass.backward ? backward(pass.microbatch) : forward(pass.microbatch);
      if (sp.devices.size() > 1)
        out.push_back({Op::all_reduce, p, -1, -1, 0, t.trainable_bytes(sp.first_layer, sp.last_layer), 0});
      out.push_back({Op::optimizer_step, p, -1, -1, 0, 0, t.optimizer_s(sp.first_layer, sp.last_layer)});
    }
  }

  // Copies go out after the optimizer step, so they carry this round's weights.
  for (const ReplicaAssignment& r : replicas) {
    const StagePlan& sp = plan.stages[r.stage];
    // What changes: trainable parameters and their optimizer state (frozen weights never do).
    double bytes = c.devices[r.owner].table->trainable_bytes(sp.first_layer, sp.last_layer) * (1.0 + opt_factor);
    prog.device[r.owner].push_back({Op::replicate, r.stage, -1, r.backup, 0, bytes, 0});
    prog.device[r.backup].push_back({Op::recv_replica, r.stage, -1, r.owner, 0, bytes, 0});
  }
  return prog;
}

std::string program_to_text(const Program& p) {
  std::ostringstream os;
  for (int d = 0; d < p.num_devices(); ++d) {
    if (p.device[d].empty()) continue;
    os << d << ":";
    for (const Instruction& i : p.device[d]) os << " " << to_string(i);
    os << "\n";
  }
  return os.str();
}

Result<std::vector<std::vector<Instruction>>> parse_program_text(const std::string& text, int num_devices) {
  std::vector<std::vector<Instruction>> out(num_devices);
  std::istringstream is(text);
  std::string line;
  int line_no = 0;
  while (std::getline(is, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream ls(line);
    std::string head;
    ls >> head;
    auto where = "line " + std::to_string(line_no);
    if (head.empty() || head.back() != ':') return Error{"", where, "must start with \"<device>:\""};
    int d = -1;
    try {
      d = std::stoi(head.substr(0, head.size() - 1));
    } catch (...) {
      return Error{"", where, "bad device \"" + head + "\""};
    }
    if (d < 0 || d >= num_devices) return Error{"", where, "device " + std::to_string(d) + " out of range"};
    std::string tok;
    while (ls >> tok) {
      auto in = parse_instruction(tok);
      if (!in) return Error{"", where, in.error().message};
      out[d].push_back(in.value());
    }
  }
  return out;
}

int peak_in_flight(const std::vector<Instruction>& list) {
  int now = 0, peak = 0;
  for (const Instruction& i : list) {
    if (i.op == Op::forward) peak = std::max(peak, ++now);
    if (i.op == Op::backward) --now;
  }
  return peak;
}

}  // namespace asteroid
