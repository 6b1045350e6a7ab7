// A worker's copies of its stage's state to its backup, in the background (worker_internal.hpp;
// exec/README.md, "Copies"). A REPLICATE takes a snapshot of the stage's layers (weights and
// optimizer state, in host memory) and hands it to a thread that sends it on the copies' own Gloo
// group, so the round goes on at once; while a copy is still in flight, the next round's copy is
// skipped (the link cannot keep up, and the next one carries newer weights anyway). A backup
// receives each owner's copies on a thread of its own, saves them as its checkpoint files of that
// round and tells the coordinator (CopyLanded), which makes a round whose copies all landed the
// checkpoint. A copy is a header (the round, or -1: no more copies) and one message per layer.
#include "worker_internal.hpp"

namespace asteroid::exec::detail {
namespace {

constexpr uint64_t kCopyHeaderTag = 1 << 23;
constexpr uint64_t kCopyLayerTag = 1 << 21;  // + the layer

}  // namespace

void Worker::start_copies() {
  for (const ReplicaAssignment& a : job_.replicas)
    if (a.backup == device_) copy_receivers_.emplace_back([this, a] { receive_copies(a); });
}

void Worker::send_copy(const Instruction& ins, int round) {
  if (!copy_gate_.begin()) return;  // the previous copy is still in flight (round_book.hpp)
  if (copy_sender_.joinable()) copy_sender_.join();  // the previous copy's thread, finished
  std::vector<Tensor> layers;
  for (int l = first_; l <= last_; ++l) layers.push_back(to_host(state_->flat(l)));
  const int backup = ins.peer;
  copy_sender_ = std::thread([this, layers = std::move(layers), backup, round] {
    try {
      int64_t header = round;
      std::vector<GlooMessage> out;
      out.push_back(copies_->send(&header, sizeof header, rank_of(backup), kCopyHeaderTag));
      for (size_t i = 0; i < layers.size(); ++i)
        out.push_back(copies_->send(layers[i].data_ptr(), layers[i].nbytes(), rank_of(backup),
                                    kCopyLayerTag + uint64_t(first_) + i));
      for (GlooMessage& m : out) m.wait();
      copy_gate_.through();
    } catch (const std::exception& e) {
      // The backup (or the link) failed: the coordinator finds it by its heartbeats and stops this
      // generation; no later copy goes out of this one. Anything else is this worker's failure.
      if (!is_transport_error(e)) control_.fail(std::string("a copy to its backup: ") + e.what(), 1, job_.generation);
    }
  });
}

void Worker::receive_copies(const ReplicaAssignment& a) {
  const StagePlan& owner = plan_.stages[size_t(a.stage)];
  try {
    for (;;) {
      int64_t round = -1;
      copies_->recv(&round, sizeof round, rank_of(a.owner), kCopyHeaderTag).wait();
      if (round < 0) return;  // the owner's last copy was sent before
      for (int l = owner.first_layer; l <= owner.last_layer; ++l) {
        Tensor flat = torch::empty({StageState::flat_size(net_, l, job_.optimizer)});
        copies_->recv(flat.data_ptr(), flat.nbytes(), rank_of(a.owner), kCopyLayerTag + uint64_t(l)).wait();
        save_tensor(flat, layer_file(l, int(round)));
      }
      control_.send(CopyLanded{job_.generation, int(round), a.stage});
    }
  } catch (const std::exception& e) {
    // The owner failed: as above, the coordinator stops the generation. A copy that cannot be
    // saved (a full disk) is this worker's failure.
    if (!is_transport_error(e)) control_.fail(std::string("a copy from its owner: ") + e.what(), 1, job_.generation);
  }
}

// After the last round: the last copy through, then "no more" to the backup, and every owner's
// "no more" received, before the group may be torn down.
void Worker::finish_copies() {
  if (copy_sender_.joinable()) copy_sender_.join();
  for (const ReplicaAssignment& a : job_.replicas)
    if (a.owner == device_) {
      int64_t end = -1;
      copies_->send(&end, sizeof end, rank_of(a.backup), kCopyHeaderTag).wait();
    }
  for (std::thread& t : copy_receivers_) t.join();
  copy_receivers_.clear();
}

}  // namespace asteroid::exec::detail
