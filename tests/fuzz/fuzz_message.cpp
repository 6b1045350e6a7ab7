// Fuzzes what asteroid-exec decodes from the network: the control protocol's frames (header, then a
// strictly checked JSON body; exec/runtime/control/control_protocol.hpp) and the job a worker is sent
// (exec_job.hpp's job_from_json). Every frame it accepts must survive a round trip: encoding the
// decoded message and decoding it again gives the same message, byte for byte once encoded again,
// so the coordinator and its workers cannot read one frame two ways.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "control_protocol.hpp"
#include "exec_job.hpp"

using namespace asteroid::exec;

namespace {

// One frame of every message type, with the fields set as a run sets them: the corpus's seeds.
std::vector<Message> seed_messages() {
  ExecJob job;
  job.devices = {"nano0", "tx2_0"};
  job.model = "lenet5";
  job.input = "cifar10_32";
  job.batch_size = 32;
  job.num_layers = 7;
  job.rounds = 3;
  job.addresses = {"127.0.0.1", "127.0.0.1"};
  job.workers = {0, 1};
  job.transfers = {JobTransfer{0, 1, 0, 3}};
  Round round;
  round.loss = 2.3;
  round.spans = {SpanRecord{"forward", 0, 1, 10, 20}, SpanRecord{"backward", 0, 1, 30, 45}};
  StoreRequest set;
  set.op = StoreOp::set;
  set.keys = {"rank0"};
  set.value = "\x01\x02gloo";
  StoreReply reply;
  reply.value = "bytes";
  return {Challenge{std::string(64, 'a')},
          Welcome{1, "tx2_0", 1, 30},
          Refuse{"wrong token"},
          ClockPing{3, 123456789},
          Job{job_to_json(job)},
          reply,
          Stop{2},
          Leave{},
          Finish{true},
          Hello{"nano0", std::string(64, 'b'), "host", 4242, "10.0.0.2", "/tmp/ckpt"},
          ClockPong{3, 123456789, 987654321},
          Restarted{2},
          set,
          Ready{1, 5, 0.25},
          round,
          Done{1},
          PeerLost{1, "connection closed"},
          Failed{1, 2, "bad input"},
          Beat{},
          EvalPart{1, 10, 23.5, 20, 32, 100, 200},
          Checkpointed{3, 5},
          CopyLanded{3, 7, 1}};
}

}  // namespace

// ASTEROID_FUZZ_WRITE_SEEDS=DIR: write the seeds, one file per frame, into DIR and exit (tools/fuzz.sh).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("ASTEROID_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  std::filesystem::create_directories(dir);
  int i = 0;
  for (const Message& m : seed_messages()) {
    std::ofstream(std::string(dir) + "/" + std::to_string(++i) + "_" + to_string(type_of(m)),
                  std::ios::binary)
        << encode(m);
  }
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // A stream: the reader takes frames off the front as frame_size() allows, as net.cpp does.
  std::string_view rest = bytes;
  while (!rest.empty()) {
    auto n = frame_size(rest);
    if (!n || *n == 0 || *n > rest.size()) break;
    auto m = decode(rest.substr(0, *n));
    rest.remove_prefix(*n);
    if (!m) continue;
    if (const auto* job = std::get_if<Job>(&*m)) (void)job_from_json(job->job, "fuzz job");
    const std::string once = encode(*m);
    auto again = decode(once);
    if (!again || encode(*again) != once) {
      std::cerr << "round trip failed for a " << to_string(type_of(*m)) << " frame: "
                << (again ? "re-encoded differently" : again.error().str()) << "\n";
      std::abort();
    }
  }
  return 0;
}
