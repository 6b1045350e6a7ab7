#include "control_store.hpp"

namespace asteroid::exec {

StoreReply ControlStore::call(StoreOp op, std::vector<std::string> keys, std::string value, int64_t delta,
                              std::chrono::milliseconds timeout) {
  StoreRequest r;
  r.op = op;
  r.keys = std::move(keys);
  r.value = std::move(value);
  r.delta = delta;
  // Operations that do not wait for keys are answered at once; a minute covers a busy coordinator.
  double wait_s = timeout.count() > 0 ? double(timeout.count()) / 1000 : 60;
  return control_.store(std::move(r), wait_s);
}

void ControlStore::set(const std::string& key, const std::vector<uint8_t>& value) {
  call(StoreOp::set, {key}, std::string(value.begin(), value.end()));
}

std::vector<uint8_t> ControlStore::get(const std::string& key) {
  StoreReply a = call(StoreOp::get, {key}, "", 0, timeout_);
  return std::vector<uint8_t>(a.value.begin(), a.value.end());
}

int64_t ControlStore::add(const std::string& key, int64_t value) {
  return call(StoreOp::add, {key}, "", value).number;
}

bool ControlStore::deleteKey(const std::string& key) { return call(StoreOp::remove, {key}).number != 0; }

bool ControlStore::check(const std::vector<std::string>& keys) {
  return call(StoreOp::check, keys).number != 0;
}

int64_t ControlStore::getNumKeys() { return call(StoreOp::count, {}).number; }

void ControlStore::wait(const std::vector<std::string>& keys) { wait(keys, timeout_); }

void ControlStore::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) {
  call(StoreOp::wait, keys, "", 0, timeout);
}

}  // namespace asteroid::exec
