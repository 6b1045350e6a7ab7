// The c10d store the workers' Gloo groups meet through: the coordinator's key-value store, reached
// over the worker's control connection (control_client.hpp). There is no TCPStore: nothing listens
// but the coordinator and Gloo itself, each on the address it was given (libtorch 1.13's TCPStore
// server always listens on every interface), and the store needs no port of its own.
#pragma once

#include <torch/csrc/distributed/c10d/Store.hpp>

#include "control_client.hpp"

namespace asteroid::exec {

class ControlStore : public c10d::Store {
 public:
  ControlStore(ControlClient& control, std::chrono::milliseconds timeout)
      : Store(timeout), control_(control) {}

  void set(const std::string& key, const std::vector<uint8_t>& value) override;
  std::vector<uint8_t> get(const std::string& key) override;  // waits for the key, up to the timeout
  int64_t add(const std::string& key, int64_t value) override;
  bool deleteKey(const std::string& key) override;
  bool check(const std::vector<std::string>& keys) override;
  int64_t getNumKeys() override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  StoreReply call(StoreOp op, std::vector<std::string> keys, std::string value = "", int64_t delta = 0,
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  ControlClient& control_;
};

}  // namespace asteroid::exec
