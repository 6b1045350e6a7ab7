#include "token.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "control_protocol.hpp"

namespace asteroid::exec {
namespace {

Result<std::string> check_token_text(const std::string& file, std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  if (text.size() != 64 || !from_hex(text))
    return Error{file, "", "a token file holds 64 hex digits (asteroid-exec writes one when it is absent)"};
  return text;
}

Result<std::string> read_token_file(const std::string& file) {
  if (file == "-") {
    std::string line;
    std::getline(std::cin, line);
    return check_token_text("standard input", line);
  }
  struct stat st;
  if (stat(file.c_str(), &st) != 0)
    return Error{file, "", std::string("cannot read the token file: ") + std::strerror(errno)};
  if (st.st_mode & (S_IRWXG | S_IRWXO)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%03o", unsigned(st.st_mode & 0777));
    return Error{file, "",
                 std::string("the token file is open to other users (mode ") + mode + "); chmod 600 it"};
  }
  std::ifstream in(file);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) return Error{file, "", "cannot read the token file"};
  return check_token_text(file, text);
}

}  // namespace

std::string default_token_file() {
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  std::string base = xdg && *xdg ? xdg : std::string(home && *home ? home : ".") + "/.config";
  return base + "/asteroid/token";
}

std::string random_nonce() {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof b) != 1) {
    std::cerr << "asteroid-exec: no randomness from OpenSSL\n";
    std::abort();
  }
  return to_hex(std::string_view(reinterpret_cast<char*>(b), sizeof b));
}

Result<std::string> load_or_create_token(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return read_token_file(file);
  std::filesystem::path dir = std::filesystem::path(file).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Error{file, "", "cannot create its directory: " + ec.message()};
    chmod(dir.c_str(), 0700);
  }
  // Written whole under a private name, then linked into place: link() fails when another
  // coordinator got there first, and then its token is the one.
  std::string tmp = file + ".tmp" + std::to_string(getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return Error{file, "", std::string("cannot create the token file: ") + std::strerror(errno)};
  std::string text = random_nonce() + "\n";
  bool ok = write(fd, text.data(), text.size()) == ssize_t(text.size());
  ok = fsync(fd) == 0 && ok;
  close(fd);
  if (!ok) {
    unlink(tmp.c_str());
    return Error{file, "", "cannot write the token file"};
  }
  int linked = link(tmp.c_str(), file.c_str());
  int err = errno;
  unlink(tmp.c_str());
  if (linked != 0 && err != EEXIST)
    return Error{file, "", std::string("cannot create the token file: ") + std::strerror(err)};
  return read_token_file(file);
}

Result<std::string> load_token(const std::string& file) { return read_token_file(file); }

std::string token_proof(const std::string& token, const std::string& nonce, const std::string& device) {
  std::string message = nonce + device;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), token.data(), int(token.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &n);
  return to_hex(std::string_view(reinterpret_cast<char*>(mac), n));
}

std::string frame_key(const std::string& token, const std::string& nonce, const std::string& device) {
  const std::string message = std::string("asteroid-exec frames") + nonce + device;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), token.data(), int(token.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &n);
  return std::string(reinterpret_cast<char*>(mac), n);
}

std::string frame_mac(const std::string& key, char direction, uint64_t sequence, std::string_view frame) {
  std::string message(9 + frame.size(), '\0');
  message[0] = direction;
  for (int i = 0; i < 8; ++i) message[size_t(1 + i)] = char(uint8_t(sequence >> (56 - 8 * i)));
  message.replace(9, frame.size(), frame);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(EVP_sha256(), key.data(), int(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &n);
  return std::string(reinterpret_cast<char*>(mac), n);
}

bool same_proof(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace asteroid::exec
