// The shared secret that lets a worker join a coordinator (exec/README.md, "Joining"). The token is
// a file of 64 hex digits (32 random bytes) readable by its owner only. A worker never sends it: it
// answers the coordinator's random nonce with HMAC-SHA256(token, nonce + device name) (OpenSSL's
// libcrypto), so a listener on the link learns no token, and a proof for one connection is worthless
// on another. From the join on, every frame of the connection is authenticated (frame_key,
// frame_mac; net.hpp). The link itself is not encrypted: run it on a network you trust, or through
// a tunnel. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "asteroid/input/error.hpp"

namespace asteroid::exec {

// Where the token lives unless --token-file says: $XDG_CONFIG_HOME/asteroid/token, else
// ~/.config/asteroid/token.
std::string default_token_file();

// The token in `file`, creating the file (mode 0600, its directory 0700) with a new random token when
// it does not exist; safe when two coordinators create it at once. An Error when the file cannot be
// made or read, is readable by group or others, or does not hold 64 hex digits.
Result<std::string> load_or_create_token(const std::string& file);

// The token in `file`, which must exist ("-": the first line of standard input). Same checks.
Result<std::string> load_token(const std::string& file);

// 64 hex digits of fresh randomness.
std::string random_nonce();

// HMAC-SHA256(token, nonce + device), as 64 hex digits.
std::string token_proof(const std::string& token, const std::string& nonce, const std::string& device);

// Compares two proofs in constant time.
bool same_proof(const std::string& a, const std::string& b);

constexpr size_t kFrameMacBytes = 32;

// The key that authenticates one connection's frames after its join: HMAC-SHA256(token,
// "asteroid-exec frames" + nonce + device), 32 raw bytes. Both ends know the token and saw the
// nonce and the device name, a listener sees only the last two; every connection gets its own key.
std::string frame_key(const std::string& token, const std::string& nonce, const std::string& device);

// HMAC-SHA256(key, direction + 8-byte big-endian sequence number + frame), 32 raw bytes. The
// direction ('C': coordinator to worker, 'W': worker to coordinator) keeps a frame from being
// reflected back; the sequence number (frames sent that way since the join) from being replayed,
// dropped or reordered.
std::string frame_mac(const std::string& key, char direction, uint64_t sequence, std::string_view frame);

}  // namespace asteroid::exec
