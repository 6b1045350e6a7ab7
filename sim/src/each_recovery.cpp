// One run per recovery strategy, side by side (each_recovery.hpp).
#include "each_recovery.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "asteroid/input/json_reader.hpp"
#include "asteroid/report/recovery_table.hpp"
#include "asteroid/report/report_files.hpp"
#include "asteroid/report/run_report.hpp"
#include "asteroid/input/vocabulary.hpp"

namespace asteroid::sim {
namespace {

// The command line of one strategy's run: `args` without --recovery, -o and the table formats.
std::vector<std::string> run_args(const std::vector<std::string>& args, const std::string& recovery,
                                  const std::string& out) {
  std::vector<std::string> a;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--recovery" || args[i] == "-o" || args[i] == "--output") {
      ++i;  // and its value
      continue;
    }
    if (args[i] == "--json" || args[i] == "--csv") continue;
    a.push_back(args[i]);
  }
  a.insert(a.end(), {"--recovery", recovery, "-o", out});
  return a;
}

// Runs the program with `args`, stdout and stderr to `console`. Returns the exit status, or -1
// when it could not start or was killed.
int run_child(const std::vector<std::string>& args, const std::string& console) {
  std::vector<char*> argv;
  std::string self = "/proc/self/exe";
  argv.push_back(self.data());
  std::vector<std::string> copy = args;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    const int fd = open(console.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, 1), dup2(fd, 2), close(fd);
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

std::string last_line(const std::string& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

}  // namespace

std::string each_recovery_refusal(const Scenario& s) {
  const bool leave = std::any_of(s.faults.events.begin(), s.faults.events.end(),
                                 [](const FaultEvent& e) { return e.kind == FaultKind::leave; });
  const bool battery = std::any_of(s.devices.begin(), s.devices.end(), [](const DeviceSpec& d) { return d.battery; });
  if (leave || battery) return "";  // a battery reaching its floor is a departure too
  return Error{s.file, "faults.events",
               "--recovery all: no \"leave\" event and no battery, so there is nothing to recover from (add one, e.g. "
               "{\"at\": \"20s\", \"device\": \"" +
                   (s.devices.empty() ? std::string("NAME") : s.devices[0].name) + "\", \"kind\": \"leave\"})"}
      .str();
}

int run_each_recovery(const Scenario& s, const std::vector<std::string>& args, const std::string& dir,
                      TableFormat format, void (*fail)(const std::string&)) {
  std::vector<RecoveryRow> rows;
  for (const auto& term : kRecoveries.terms) {
    const std::string out = dir + "/" + term.token, console = out + "/console.txt";
    std::error_code ec;
    std::filesystem::create_directories(out, ec);
    if (ec) fail(out + ": cannot create the output directory: " + ec.message());
    const int status = run_child(run_args(args, term.token, out), console);
    if (status != 0 && status != 1)  // 1: the run stopped (no plan fits, ...); its table row says why
      fail(std::string("--recovery all: the ") + term.token + " run " +
           (status < 0 ? "did not finish" : "exited with status " + std::to_string(status)) + ": " +
           last_line(console));
    auto j = read_json_file(out + "/report.json");
    if (!j) fail(j.error().str());
    auto report = report_from_json(j.value(), out + "/report.json");
    if (!report) fail(report.error().str());
    rows.push_back(recovery_row(term.token, summarize_run(report.value())));
  }
  sort_recovery_rows(rows);
  const std::string json = recovery_table_json(rows).dump(2) + "\n", csv = recovery_table_csv(rows);
  for (const auto& [file, text] : {std::pair{dir + "/recoveries.json", json}, std::pair{dir + "/recoveries.csv", csv}}) {
    auto w = write_file_atomically(file, text);
    if (!w) fail(w.error().str());
  }
  if (format == TableFormat::json)
    std::cout << json;
  else if (format == TableFormat::csv)
    std::cout << csv;
  else
    std::cout << "scenario " << s.name << ": " << s.model << ", " << s.devices.size()
              << " devices, every recovery strategy (one run each, fastest recovery first)\n"
              << recovery_table_text(rows, "sim") << "wrote " << dir << "/recoveries.json, recoveries.csv and "
              << dir << "/<recovery>/ (each run's report.json, trace.json, rounds.csv, console.txt)\n";
  return 0;
}

}  // namespace asteroid::sim
