#include "control_store.hpp"

namespace asteroid::exec {

StoreReply ControlStore::call(StoreOp op, std::vector<std::string> keys, std::string value,
                              std::chrono::milliseconds timeout) {
  StoreRequest r;
  r.op = op;
  r.keys = std::move(keys);
  r.value = std::move(value);
  // Operations that do not wait for keys are answered at once; a minute covers a busy coordinator.
  double wait_s = timeout.count() > 0 ? double(timeout.count()) / 1000 : 60;
  return control_.store(std::move(r), wait_s);
}

void ControlStore::set(const std::string& key, const std::vector<char>& data) {
  call(StoreOp::set, {key}, std::string(data.begin(), data.end()));
}

std::vector<char> ControlStore::get(const std::string& key) {
  StoreReply a = call(StoreOp::get, {key}, "", timeout_);
  return std::vector<char>(a.value.begin(), a.value.end());
}

void ControlStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  call(StoreOp::wait, keys, "", timeout);
}

}  // namespace asteroid::exec
