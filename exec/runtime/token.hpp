// The shared secret that lets a worker join a coordinator (exec/README.md, "Joining"). The token is
// a file of 64 hex digits (32 random bytes) readable by its owner only. A worker never sends it: it
// answers the coordinator's random nonce with HMAC-SHA256(token, nonce + device name) (OpenSSL's
// libcrypto), so a listener on the link learns no token, and a proof for one connection is worthless
// on another. The link itself is not encrypted: run it on a network you trust, or through a tunnel.
// Torch-free.
#pragma once

#include <string>

#include "asteroid/error.hpp"

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

}  // namespace asteroid::exec
