// The Program's validator and dry run (program.hpp).
#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "asteroid/program/program.hpp"

namespace asteroid {
namespace {

using Lists = std::vector<std::vector<Instruction>>;

// What pairs a send with its receive: (from, to, channel, micro-batch, stage of the payload).
using MessageKey = std::tuple<int, int, char, int, int>;

bool is_send(Op op) { return op == Op::send_activation || op == Op::send_gradient || op == Op::replicate; }
bool is_recv(Op op) { return op == Op::recv_activation || op == Op::recv_gradient || op == Op::recv_replica; }

MessageKey key_of(int device, const Instruction& i) {
  switch (i.op) {
    case Op::send_activation: return {device, i.peer, 'F', i.microbatch, i.stage};
    case Op::send_gradient: return {device, i.peer, 'B', i.microbatch, i.stage};
    case Op::replicate: return {device, i.peer, 'R', -1, i.stage};
    case Op::recv_activation: return {i.peer, device, 'F', i.microbatch, i.stage - 1};
    case Op::recv_gradient: return {i.peer, device, 'B', i.microbatch, i.stage + 1};
    case Op::recv_replica: return {i.peer, device, 'R', -1, i.stage};
    default: return {-1, -1, '?', -1, -1};
  }
}

// A step x device grid of the program up to a little past `step`, the offending row marked.
std::string grid(const Lists& p, int device, int step, const std::string& why) {
  std::vector<int> cols;
  for (int d = 0; d < int(p.size()); ++d)
    if (!p[d].empty()) cols.push_back(d);
  const int first = std::max(0, step - 10), last = step + 2;
  std::ostringstream os;
  os << why << " (device " << device << ", step " << step << ")\n";
  os << "step";
  for (int d : cols)
    os << "\t"
       << "dev" << d;
  os << "\n";
  for (int s = first; s <= last; ++s) {
    bool any = false;
    std::ostringstream row;
    row << s;
    for (int d : cols) {
      row << "\t";
      if (s < int(p[d].size())) {
        any = true;
        std::string tok = to_string(p[d][s]);
        row << (d == device && s == step ? "[" + tok + "]" : tok);
      }
    }
    if (!any && s != step) continue;
    os << row.str() << (s == step ? "\t<-- ERROR HERE" : "") << "\n";
  }
  return os.str();
}

}  // namespace

Result<bool> validate_program(const Lists& p) {
  auto fail = [&](int d, int s, const std::string& why) -> Result<bool> {
    return Error{"", "", grid(p, d, s, why)};
  };
  // Pairing: every message key sent once is received once, and the slices agree.
  std::map<MessageKey, std::pair<int, int>> sends, recvs;  // key -> (device, step)
  for (int d = 0; d < int(p.size()); ++d)
    for (int s = 0; s < int(p[d].size()); ++s) {
      const Instruction& i = p[d][s];
      if (!is_send(i.op) && !is_recv(i.op)) continue;
      if (i.peer < 0 || i.peer >= int(p.size()) || i.peer == d)
        return fail(d, s, "peer " + std::to_string(i.peer) + " is not another device");
      auto& table = is_send(i.op) ? sends : recvs;
      if (!table.emplace(key_of(d, i), std::make_pair(d, s)).second)
        return fail(d, s, "the same message appears twice");
    }
  for (const auto& [k, where] : sends) {
    auto r = recvs.find(k);
    if (r == recvs.end()) return fail(where.first, where.second, "send without a matching receive");
    const Instruction& a = p[where.first][where.second];
    const Instruction& b = p[r->second.first][r->second.second];
    if (a.samples != b.samples || a.bytes != b.bytes)
      return fail(r->second.first, r->second.second, "receive's slice differs from its send's");
  }
  for (const auto& [k, where] : recvs)
    if (!sends.count(k)) return fail(where.first, where.second, "receive without a matching send");

  // Per-device order.
  int M = 0;
  for (const auto& list : p)
    for (const Instruction& i : list) M = std::max(M, i.microbatch + 1);
  for (int d = 0; d < int(p.size()); ++d) {
    std::map<int, int> fwd_at, bwd_at, rec_at;
    int stage = -1, opt_at = -1;
    for (int s = 0; s < int(p[d].size()); ++s) {
      const Instruction& i = p[d][s];
      if (i.op == Op::forward || i.op == Op::backward || i.op == Op::recompute) {
        if (stage >= 0 && i.stage != stage) return fail(d, s, "a device runs two stages");
        stage = i.stage;
      }
      if (opt_at >= 0 && i.op != Op::replicate && i.op != Op::recv_replica)
        return fail(d, s, "work after the optimizer step");
      const int mb = i.microbatch;
      switch (i.op) {
        case Op::forward:
          if (!fwd_at.emplace(mb, s).second) return fail(d, s, "micro-batch forwarded twice");
          break;
        case Op::recompute:
          if (!fwd_at.count(mb) || bwd_at.count(mb)) return fail(d, s, "recompute outside its forward..backward");
          if (!rec_at.emplace(mb, s).second) return fail(d, s, "micro-batch recomputed twice");
          break;
        case Op::backward:
          if (!fwd_at.count(mb)) return fail(d, s, "backward before its forward");
          // A device that recomputes keeps no stored activations: every backward needs its recompute.
          if (!rec_at.empty() && !rec_at.count(mb)) return fail(d, s, "backward without its recompute");
          if (!bwd_at.emplace(mb, s).second) return fail(d, s, "micro-batch backwarded twice");
          break;
        case Op::recv_activation:
          if (fwd_at.count(mb)) return fail(d, s, "activation received after its forward");
          break;
        case Op::send_activation:
          if (!fwd_at.count(mb)) return fail(d, s, "activation sent before its forward");
          break;
        case Op::recv_gradient:
          if (!fwd_at.count(mb) || bwd_at.count(mb))
            return fail(d, s, "gradient received outside its forward..backward");
          break;
        case Op::send_gradient:
          if (!bwd_at.count(mb)) return fail(d, s, "gradient sent before its backward");
          break;
        case Op::all_reduce:
        case Op::optimizer_step:
          if (int(bwd_at.size()) != M || int(fwd_at.size()) != M)
            return fail(d, s, std::string(op_token(i.op)) + " before every micro-batch's backward");
          if (i.op == Op::optimizer_step) opt_at = s;
          break;
        case Op::replicate:
          if (opt_at < 0) return fail(d, s, "replica sent before the optimizer step");
          break;
        case Op::recv_replica: break;
      }
    }
    if (!rec_at.empty() && rec_at.size() != bwd_at.size())
      return fail(d, int(p[d].size()) - 1, "some micro-batches recomputed, not all");
    if (stage >= 0 && opt_at < 0) return fail(d, int(p[d].size()) - 1, "no optimizer step");
  }
  return true;
}

Result<int> dry_run(const Lists& p) {
  const int D = int(p.size());
  std::vector<size_t> pc(D, 0);
  std::multiset<MessageKey> in_flight;
  // The members of each stage's all-reduce: the devices whose list has it.
  std::map<int, std::set<int>> group;
  for (int d = 0; d < D; ++d)
    for (const Instruction& i : p[d])
      if (i.op == Op::all_reduce) group[i.stage].insert(d);

  int steps = 0;
  for (;;) {
    bool progress = false, done = true;
    for (int d = 0; d < D; ++d) {
      while (pc[d] < p[d].size()) {
        const Instruction& i = p[d][pc[d]];
        if (is_send(i.op)) {
          in_flight.insert(key_of(d, i));
        } else if (is_recv(i.op)) {
          auto it = in_flight.find(key_of(d, i));
          if (it == in_flight.end()) break;
          in_flight.erase(it);
        } else if (i.op == Op::all_reduce) {
          bool all_there = true;
          for (int m : group[i.stage]) {
            bool there =
                pc[m] < p[m].size() && p[m][pc[m]].op == Op::all_reduce && p[m][pc[m]].stage == i.stage;
            all_there = all_there && there;
          }
          if (!all_there) break;
          for (int m : group[i.stage])
            if (m != d) ++pc[m];
        }
        ++pc[d];
        progress = true;
      }
      if (pc[d] < p[d].size()) done = false;
    }
    ++steps;
    if (done) return steps;
    if (progress) continue;
    std::ostringstream os;
    os << "deadlock after " << steps << " sweeps:";
    for (int d = 0; d < D; ++d)
      if (pc[d] < p[d].size())
        os << " device " << d << " waits at step " << pc[d] << " (" << to_string(p[d][pc[d]]) << ");";
    return Error{"", "", os.str()};
  }
}

}  // namespace asteroid
