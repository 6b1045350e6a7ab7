#include "console.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <thread>

namespace asteroid::exec {

void Console::line(const std::string& text) {
  if (tty_ && !bar_.empty()) std::fprintf(out_, "\r\033[K");
  std::fprintf(out_, "%s\n", text.c_str());
  if (tty_ && !bar_.empty()) std::fprintf(out_, "%s", bar_.c_str());
  std::fflush(out_);
}

void Console::progress(int round, int rounds, double samples_per_s, std::optional<double> loss,
                       double left_s) {
  char text[160];
  char loss_text[32] = "-";
  if (loss) std::snprintf(loss_text, sizeof loss_text, "%.4f", *loss);
  // Rounds are numbered from 0, as in the report, the events and rounds.csv (docs/formats.md).
  std::snprintf(text, sizeof text, "round %d of 0-%d  %.1f samples/s  loss %s  %s left (wall clock)", round, rounds - 1,
                samples_per_s, loss_text, duration_text(left_s).c_str());
  if (tty_) {
    bar_ = text;
    std::fprintf(out_, "\r\033[K%s", bar_.c_str());
  } else {
    std::fprintf(out_, "%s\n", text);
  }
  std::fflush(out_);
}

void Console::done() {
  if (tty_ && !bar_.empty()) std::fprintf(out_, "\n");
  bar_.clear();
  std::fflush(out_);
}

std::string duration_text(double s) {
  char buf[32];
  if (!(s >= 0) || std::isinf(s)) return "?";
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%d:%02d", int(s) / 60, int(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%d:%02d:%02d", int(s) / 3600, int(s) / 60 % 60, int(s) % 60);
  }
  return buf;
}

std::string fmt(const char* format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, format, v);
  return b;
}

std::string bytes_text(double b) {
  char buf[32];
  if (b < 1e6)
    std::snprintf(buf, sizeof buf, "%.1f kB", b / 1e3);
  else if (b < 1e9)
    std::snprintf(buf, sizeof buf, "%.1f MB", b / 1e6);
  else
    std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

namespace {

std::string this_cpu() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      auto at = line.find(':');
      return at == std::string::npos ? "" : line.substr(at + 2);
    }
  return "";
}

std::vector<std::string> prediction_gap_reasons(const Scenario& s, int local_workers, bool shaped,
                                                bool slower) {
  std::vector<std::string> why;
  const std::string cpu = this_cpu();
  std::set<std::string> seen;
  for (const DeviceSpec& d : s.devices) {
    if (!seen.insert(d.type).second) continue;
    const Profile& p = s.profiles.at(d.type);
    std::string kind = p.provenance.value("kind", "");
    std::string measured_on = p.provenance.value("cpu", "");
    if (kind != "measured")
      why.push_back("the " + d.type + " traces are " + (kind.empty() ? "not measured" : kind) +
                    ", not measured here: the workers compute at this machine's speed, not a " + d.type +
                    "'s");
    else if (!measured_on.empty() && !cpu.empty() && measured_on != cpu && local_workers > 0)
      why.push_back("the " + d.type + " traces were measured on " + measured_on + ", this machine is " + cpu);
  }
  for (const DeviceSpec& d : s.devices)
    if (d.speed_factor != 1.0) {
      why.push_back("the scenario scales " + d.name + "'s speed by " + std::to_string(d.speed_factor) +
                    ", which a real worker does not do");
      break;
    }
  const unsigned cores = std::thread::hardware_concurrency();
  if (slower && local_workers > int(cores) && cores > 0)
    why.push_back(std::to_string(local_workers) + " workers share this machine's " + std::to_string(cores) +
                  " cores");
  double load = 0;
  std::ifstream("/proc/loadavg") >> load;
  if (slower && local_workers > 0 && cores > 0 && load > cores) {
    char text[96];
    std::snprintf(text, sizeof text, "this machine is busy (load average %.1f on %u cores)", load, cores);
    why.push_back(text);
  }
  if (!slower && !shaped)
    why.push_back("messages go at this machine's loopback speed, not the scenario's links");
  return why;
}

}  // namespace

std::string prediction_warning(const Scenario& s, int local_workers, bool shaped, double measured_s,
                               double predicted_s) {
  const double ratio = measured_s / predicted_s;
  if (!(ratio > 2 || ratio < 0.5)) return "";
  std::string why;
  for (const std::string& r : prediction_gap_reasons(s, local_workers, shaped, ratio > 1))
    why += (why.empty() ? "" : "; ") + r;
  char text[160];
  std::snprintf(text, sizeof text, "warning: rounds take %.3f s, the cost model predicts %.3f s (%.1fx %s)",
                measured_s, predicted_s, ratio > 1 ? ratio : 1 / ratio, ratio > 1 ? "slower" : "faster");
  return text + (why.empty() ? ": the traces may not describe these devices" : ", likely because " + why);
}

}  // namespace asteroid::exec
