// The rendezvous store the workers' Gloo groups meet through (gloo_group.hpp): the coordinator's
// key-value store, reached over the worker's control connection (control_client.hpp). There is no
// separate store server: nothing listens but the coordinator and Gloo itself, each on the address
// it was given, and the store needs no port of its own.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <gloo/rendezvous/store.h>

#include "control_client.hpp"

namespace asteroid::exec {

class ControlStore : public gloo::rendezvous::Store {
 public:
  // `timeout`: how long get() and wait() wait for keys that are not there yet.
  ControlStore(ControlClient& control, std::chrono::milliseconds timeout) : control_(control), timeout_(timeout) {}

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;  // waits for the key, up to the timeout
  void wait(const std::vector<std::string>& keys) override { wait(keys, timeout_); }
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  StoreReply call(StoreOp op, std::vector<std::string> keys, std::string value = "",
                  std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
  ControlClient& control_;
  std::chrono::milliseconds timeout_;
};

}  // namespace asteroid::exec
