#!/bin/sh
# Test hosts on one machine: one network namespace per device of a scenario, each joined by a veth
# pair to a bridge (in a switch namespace of its own), each device's link shaped to the scenario's
# bandwidth with tc tbf, and one more veth from this (root) namespace to the bridge, where an
# asteroid-exec coordinator can listen. Needs root and iproute2.
#
#   tools/netns-cluster.sh up SCENARIO [--name ID] [--time-dilation F]
#                                                    prints the cluster (below), or one line and status 2
#   tools/netns-cluster.sh down --name ID            removes what `up` made (its printed cluster ID)
#
# `up` prints, for the caller to read:
#   cluster ID subnet 10.A.B.0/24 coordinator 10.A.B.254 topology star|wifi bandwidth BITS_PER_S
#   device NAME namespace NAMESPACE address 10.A.B.N
# Names: namespaces ID-sw and ID-d<N>; the root end of the coordinator's veth is IDc (so ID is at
# most 12 characters: interface names have 15). ID defaults to "ast" and the shell's pid in hex, so
# two runs do not collide; the subnet is the first 10.A.B.0/24 (A in 200..249) no interface here uses.
#
# Shaping (tbf: this kernel has no netem, see the limits below):
# - star (default): each device's upload (egress of its end) and download (egress of the switch's
#   end towards it) at the scenario's bandwidth; burst max(32 kbit, 1 ms of the rate), queue 50 ms.
#   (Measured here at 1 Gbit/s under a load of 14 on 2 cores: a 16 MiB transfer took 3.3x its time
#   with a 256 kbit burst, whose refills need a timer every 0.26 ms, and 1.04x with 1 Mbit.)
# - wifi: one medium: every frame a device sends goes through one tbf at the bandwidth (an ifb
#   device the switch ports redirect their ingress to), so all devices share it.
# --time-dilation F (for asteroid-exec --emulate --time-dilation F, docs/emulation.md): every rate is
# the scenario's bandwidth / F, so that a transfer takes F times its time, as compute does.
# The coordinator's veth is not shaped (control messages only).
# Limits: the star and wifi shorthands only (a scenario's graph of switches, media and links is
# refused); per-pair `overrides` are not shaped (every device gets the scenario's bandwidth); latency is not added (netem is absent from this kernel: each hop adds only the veth's
# own, about 0.05 ms); the tbf rate is an upper bound that TCP reaches to about 95%.
set -eu

usage() { echo "usage: $0 up SCENARIO [--name ID] [--time-dilation F] | down --name ID" >&2; exit 2; }
die() { echo "netns-cluster: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd="$1"; shift
scenario=""
id="ast$(printf %x $$)"
dilation=1
named=no
while [ $# -gt 0 ]; do
  case "$1" in
    --name) [ $# -ge 2 ] || usage; id="$2"; named=yes; shift 2 ;;
    --time-dilation) [ $# -ge 2 ] || usage; dilation="$2"; shift 2 ;;
    -*) usage ;;
    *) [ -z "$scenario" ] || usage; scenario="$1"; shift ;;
  esac
done
case "$id" in *[!a-zA-Z0-9]*|"") die "--name: letters and digits only" ;; esac
[ ${#id} -le 12 ] || die "--name: at most 12 characters"
case "$dilation" in ''|*[!0-9.]*|*.*.*|.) die "--time-dilation: expected a number in [1, 1000], got \"$dilation\"" ;; esac
awk -v f="$dilation" 'BEGIN { exit !(f >= 1 && f <= 1000) }' || die "--time-dilation: expected a number in [1, 1000], got $dilation"

down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$id-" || true); do
    # Processes left inside a namespace keep it alive: end them first.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "${id}c" 2>/dev/null || true
}

if [ "$cmd" = down ]; then
  [ -z "$scenario" ] || usage
  [ "$named" = yes ] || die "down needs --name ID: the ID that \`up\` printed (\"cluster ID ...\")"
  down
  exit 0
fi
[ "$cmd" = up ] && [ -n "$scenario" ] || usage
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
command -v ip >/dev/null && command -v tc >/dev/null || die "needs iproute2 (ip, tc)"

# The devices, the bandwidth in bit/s and the topology, read with the scenario's own rules of units.
info=$(python3 - "$scenario" "$dilation" <<'PY'
import json, re, sys
try:
    s = json.load(open(sys.argv[1]))
    net = s["cluster"]["network"]
    if net.get("topology", "star") not in ("star", "wifi") or any(k in net for k in ("switches", "media", "links")):
        raise ValueError("cluster.network: a graph; this script shapes the star and wifi shorthands only")
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][-+]?[0-9]+)?)\s*([kMG]?)(bps|Bps)\s*", str(net["bandwidth"]))
    if not m:
        raise ValueError("cluster.network.bandwidth: expected a bandwidth such as \"100Mbps\"")
    bits = float(m.group(1)) * {"": 1, "k": 1e3, "M": 1e6, "G": 1e9}[m.group(2)] * (8 if m.group(3) == "Bps" else 1)
    bits /= float(sys.argv[2])
    if bits < 8000:
        raise ValueError("cluster.network.bandwidth: %s / time dilation %s is below 8 kbit/s, which tc cannot shape" % (net["bandwidth"], sys.argv[2]))
    print(int(bits), net.get("topology", "star"), "overrides" if net.get("overrides") else "-")
    for d in s["cluster"]["devices"]:
        print(d["name"])
except Exception as e:
    print(f"{sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(2)
PY
) || exit 2
set -- $info
rate="$1"; topology="$2"; overrides="$3"; shift 3
devices="$*"
[ "$overrides" = "-" ] || echo "netns-cluster: note: the scenario's per-pair overrides are not shaped" >&2

# A /24 nobody here uses, from a start that depends on the id.
used=$(ip -4 -o addr show | awk '{print $4}')
start=$(printf '%s' "$id" | cksum | awk '{print $1 % 12800}')
subnet=""
i=0
while [ $i -lt 12800 ]; do
  n=$(( (start + i) % 12800 ))
  cand="10.$((200 + n / 256)).$((n % 256))"
  if ! printf '%s\n' "$used" | grep -q "^$cand\."; then subnet="$cand"; break; fi
  i=$((i + 1))
done
[ -n "$subnet" ] || die "no free 10.x.y.0/24 subnet"
ip netns list | awk '{print $1}' | grep -q "^$id-" && die "namespaces named $id-* exist already (down --name $id)"

trap 'down' EXIT  # a half-made cluster is removed
burst_kbit=$(( rate / 1000000 ))  # one millisecond of traffic
[ "$burst_kbit" -ge 32 ] || burst_kbit=32
tbf() {  # namespace device
  ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "${rate}bit" burst "${burst_kbit}kbit" latency 50ms
}

sw="$id-sw"
ip netns add "$sw"
ip -n "$sw" link set lo up
ip -n "$sw" link add br0 type bridge
ip -n "$sw" link set br0 up
if [ "$topology" = wifi ]; then
  ip -n "$sw" link add air type ifb
  ip -n "$sw" link set air up
  tbf "$sw" air
fi
# The coordinator's way in, from the root namespace.
ip link add "${id}c" type veth peer name coord netns "$sw"
ip -n "$sw" link set coord master br0
ip -n "$sw" link set coord up
ip addr add "$subnet.254/24" dev "${id}c"
ip link set "${id}c" up
echo "cluster $id subnet $subnet.0/24 coordinator $subnet.254 topology $topology bandwidth $rate"
k=1
for name in $devices; do
  ns="$id-d$k"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add eth0 netns "$ns" type veth peer name "d$k" netns "$sw"
  ip -n "$sw" link set "d$k" master br0
  ip -n "$sw" link set "d$k" up
  ip -n "$ns" addr add "$subnet.$k/24" dev eth0
  ip -n "$ns" link set eth0 up
  if [ "$topology" = star ]; then
    tbf "$ns" eth0      # upload
    tbf "$sw" "d$k"     # download
  else
    ip netns exec "$sw" tc qdisc add dev "d$k" handle ffff: ingress
    ip netns exec "$sw" tc filter add dev "d$k" parent ffff: protocol all u32 match u32 0 0 \
      action mirred egress redirect dev air
  fi
  echo "device $name namespace $ns address $subnet.$k"
  k=$((k + 1))
done
trap - EXIT
