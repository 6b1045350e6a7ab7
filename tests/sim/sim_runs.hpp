// What the whole-run tests share (test_sim_runs.cpp, test_sim_reports.cpp): a scratch folder, the
// repository's scenarios with absolute trace paths, and asteroid-sim run as a subprocess (one
// SimGrid simulation per process).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace asteroid::sim_testing {

namespace fs = std::filesystem;
using nlohmann::json;

inline const std::string kScenarios = std::string(ASTEROID_SOURCE_DIR) + "/scenarios/";

inline fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("asteroid_sim_test_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

inline json read(const fs::path& f) {
  std::ifstream in(f);
  return json::parse(in);
}

inline void write(const fs::path& f, const json& j) { std::ofstream(f) << j.dump(1); }

// A scenario file from scenarios/, with trace paths made absolute so that it can live elsewhere.
inline json scenario(const std::string& name) {
  json s = read(kScenarios + name + ".json");
  for (auto& [type, path] : s["traces"].items()) path = kScenarios + path.get<std::string>();
  return s;
}

// Runs asteroid-sim; returns its exit status and fills `report` from DIR/report.json.
inline int run_sim(const fs::path& scenario_file, const fs::path& out, const std::string& extra, json* report) {
  std::string cmd = std::string(ASTEROID_SIM_BIN) + " " + scenario_file.string() + " -o " + out.string() +
                    " --no-spans " + extra + " > " + (out / "stdout.txt").string() + " 2>&1";
  fs::create_directories(out);
  int status = std::system(cmd.c_str());
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (report && fs::exists(out / "report.json")) *report = read(out / "report.json");
  return code;
}

// What asteroid-sim printed in a run_sim run.
inline std::string stdout_of(const fs::path& out) {
  std::ifstream in(out / "stdout.txt");
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace asteroid::sim_testing
