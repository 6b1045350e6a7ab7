#!/bin/sh
# Installs, with apt, whatever of the project's Debian 12 packages is missing. Quiet when all is there.
set -e
PKGS="cmake ninja-build g++ clang libclang-rt-14-dev pkg-config libboost-graph-dev nlohmann-json3-dev catch2 libsimgrid-dev libtorch-dev libgloo-dev libopenblas0-pthread libssl-dev iproute2 python3 python3-matplotlib python3-torch python3-torchvision dataset-fashion-mnist"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "error: packages missing ($missing) and not root; run as root or install them" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing
