#include "joins.hpp"

#include <algorithm>
#include <vector>

namespace asteroid::exec {

std::string wait_for_joins(const Scenario& s, const LaunchOptions& o, ControlServer& server,
                           WorkerProcesses& processes, Console& console, double origin_s,
                           double* next_beat_s) {
  const int n = int(s.devices.size());
  auto name = [&](int d) { return s.devices[size_t(d)].name; };
  std::vector<bool> joined(size_t(n), false);
  int count = 0;
  // Devices whose first event is a join come later (the launcher starts or awaits them then).
  std::vector<bool> later(size_t(n), false);
  for (int d : o.coordinator.absent) later[size_t(d)] = true;
  const int expected = n - int(o.coordinator.absent.size());
  const bool all_local = o.local_workers == expected;
  if (!all_local) {
    std::string list;
    for (int d = 0; d < n; ++d)
      if (!later[size_t(d)]) list += " " + name(d);
    console.line("waiting for " + std::to_string(expected) + " workers to join:" + list);
  }
  double bound = 0;
  while (count < expected) {
    if (now_s() >= *next_beat_s) {  // the early ones must not take the wait for silence
      server.beat_all();
      *next_beat_s = now_s() + o.coordinator.heartbeat_interval_s * o.clock_scale();
    }
    for (const ServerEvent& e : server.poll(0.05)) {
      if (e.kind == ServerEvent::Kind::joined) {
        if (later[size_t(e.device)]) {  // early: it is welcome at its join, not before
          console.line(name(e.device) +
                       " joins only later in this scenario; its worker is turned away for now");
          server.forget(e.device);
          continue;
        }
        joined[size_t(e.device)] = true;
        ++count;
        const WorkerLink& l = server.link(e.device);
        bound = std::max(bound, double(l.clock_bound_ns) * 1e-9);
        if (!all_local)
          console.line(name(e.device) + " joined from " + l.from + " (host " + l.host + ", pid " +
                       std::to_string(l.pid) + "); its clock reads " +
                       fmt("%+.3f", double(l.clock_offset_ns) * 1e-6) + " ms from ours, within " +
                       fmt("%.3f", double(l.clock_bound_ns) * 1e-6) + " ms");
      } else if (e.kind == ServerEvent::Kind::closed && !later[size_t(e.device)]) {
        console.line(name(e.device) + " left before the run started (" + e.detail + ")");
        server.forget(e.device);
        joined[size_t(e.device)] = false;
        --count;
      }
    }
    for (const std::string& exited : processes.reap())
      return "the worker process of " + exited + " before the run started";
    if (o.interrupted && *o.interrupted) return "interrupted before the run started";
    if (now_s() - origin_s > o.timeout_s) {
      std::string missing;
      for (int d = 0; d < n; ++d)
        if (!joined[size_t(d)] && !later[size_t(d)]) missing += " " + name(d);
      return "workers did not join within " + std::to_string(int(o.timeout_s)) + " s (--timeout):" + missing;
    }
  }
  if (all_local)
    console.line(std::to_string(expected) + (expected == 1 ? " worker" : " workers") +
                 " joined; clocks within " + fmt("%.3f", bound * 1e3) + " ms");
  return "";
}

}  // namespace asteroid::exec
