// asteroid-exec's entry. One binary, so that a board needs one file: `asteroid-exec worker ...` is
// a worker process (worker/worker_main.cpp), anything else the coordinator the user starts
// (coordinator/exec_main.cpp). The two never include each other's headers; these declarations
// are the only place they meet.
#include <string>

namespace asteroid::exec {
int coordinator_main(int argc, char** argv);
int worker_main(int argc, char** argv);
}  // namespace asteroid::exec

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "worker") return asteroid::exec::worker_main(argc, argv);
  return asteroid::exec::coordinator_main(argc, argv);
}
