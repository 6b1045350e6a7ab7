#!/bin/sh
# asteroid-exec across hosts, on loopback: a coordinator that listens (--listen) and workers started
# by hand (`asteroid-exec worker`), as a person with several boards runs it. The run trains with the
# plan asteroid-plan wrote (--plan takes its --json output); workers that must not join (a wrong or
# missing token, a token file open to others, an unknown device, a second worker for a device, a
# peer that speaks garbage, a frame altered after the join) are refused with one line each and exit status 2, and the run goes on;
# a port in use, an address nobody answers at and one where something else answers are one line
# each; when the coordinator dies mid-run, every worker stops with one line (hand-started ones
# because their connection closes, the ones it started itself with it); Ctrl-C on the coordinator
# stops the run and writes its finished rounds.
# Usage: hosts_test.sh PATH/TO/asteroid-exec PATH/TO/asteroid-plan SOURCE_DIR
set -u
exe="$1"; plan="$2"; src="$3"
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
. "$src/tests/cli_checks.sh"

# wait_for PATTERN FILE SECONDS: until FILE holds PATTERN.
wait_for() {
  n=0
  while ! grep -q -- "$1" "$2" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -le $(($3 * 10)) ] || { fail "waited $3 s for \"$1\" in $2: $(cat "$2")"; return 1; }
    sleep 0.1
  done
}
# exits_within PID SECONDS: the process has ended by then (its status is in $status).
exits_within() {
  n=0
  while kill -0 "$1" 2>/dev/null; do
    n=$((n + 1))
    [ "$n" -le $(($2 * 10)) ] || return 1
    sleep 0.1
  done
  wait "$1"; status=$?
  return 0
}
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

scenario="$src/scenarios/local_mobilenetv2_2dev.json"
tok="$tmp/keys/token"
"$plan" "$scenario" --json -o "$tmp/plan.json" >/dev/null 2>&1 || fail "asteroid-plan --json -o"

# The coordinator: a free port on loopback, printed; the token file made, private.
"$exe" "$scenario" --plan "$tmp/plan.json" --rounds 4 --listen 127.0.0.1:0 --token-file "$tok" --timeout 240 \
  -o "$tmp/run" >"$tmp/coord.log" 2>&1 &
coord=$!; pids="$pids $coord"
wait_for "coordinator listening on" "$tmp/coord.log" 30
at=$(sed -n 's/.*coordinator listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/coord.log")
[ -n "$at" ] || fail "no address in: $(cat "$tmp/coord.log")"
[ "$(stat -c %a "$tok")" = 600 ] || fail "the token file's mode is $(stat -c %a "$tok"), expected 600"
grep -q "asteroid-exec worker --coordinator $at --device cpu1" "$tmp/coord.log" \
  || fail "the coordinator does not say what to run on each host: $(cat "$tmp/coord.log")"

# Workers that must not join.
printf '%064d\n' 0 >"$tmp/wrong"; chmod 600 "$tmp/wrong"
expect_error "a wrong token" "wrong token" "$exe" worker --coordinator "$at" --device cpu0 --token-file "$tmp/wrong"
expect_error "a missing token file" "cannot read the token file" \
  "$exe" worker --coordinator "$at" --device cpu0 --token-file "$tmp/absent"
cp "$tok" "$tmp/open"; chmod 644 "$tmp/open"
expect_error "a token file others can read" "chmod 600" "$exe" worker --coordinator "$at" --device cpu0 --token-file "$tmp/open"
expect_error "an unknown device" 'has no device "gpu9"' "$exe" worker --coordinator "$at" --device gpu9 --token-file "$tok"
/usr/bin/python3 - "$at" <<'PY' || fail "could not send garbage"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)))
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
time.sleep(0.3)
PY
wait_for "does not speak asteroid-exec's control protocol" "$tmp/coord.log" 10
# A peer with the token whose first frame after the welcome was altered on the way (its MAC no longer
# matches): refused in one line, and cpu1's real worker can still join below.
/usr/bin/python3 - "$at" "$tok" <<'PY' || fail "could not send an altered frame"
import hashlib, hmac, json, socket, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
token = open(sys.argv[2]).read().strip().encode()
s = socket.create_connection((host, int(port)))
version = None  # the protocol version the coordinator speaks: its first frame's third byte
def frame(kind, body):
    b = json.dumps(body).encode()
    return b"AX" + bytes([version, kind]) + struct.pack(">I", len(b)) + b
def recv_exactly(n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            sys.exit("the coordinator closed the connection")
        out += chunk
    return out
def read_frame():
    global version
    head = recv_exactly(8)
    version = head[2]
    n = struct.unpack(">I", head[4:8])[0]
    return head[3], json.loads(recv_exactly(n))
kind, challenge = read_frame()
assert kind == 1, kind
proof = hmac.new(token, (challenge["nonce"] + "cpu1").encode(), hashlib.sha256).hexdigest()
s.sendall(frame(20, {"device": "cpu1", "proof": proof, "host": "forged", "pid": 1, "address": "",
                     "checkpoint_dir": "/nonexistent"}))
kind, welcome = read_frame()
assert kind == 2, (kind, welcome)
key = hmac.new(token, ("asteroid-exec frames" + challenge["nonce"] + "cpu1").encode(), hashlib.sha256).digest()
f = frame(40, {})
mac = bytearray(hmac.new(key, b"W" + struct.pack(">Q", 0) + f, hashlib.sha256).digest())
mac[0] ^= 1  # altered on the way
s.sendall(f + bytes(mac))
try:
    s.recv(1 << 16)  # the clock question, then the coordinator closes
except OSError:
    pass
PY
wait_for "fails its authentication" "$tmp/coord.log" 10
[ "$(grep -c "fails its authentication" "$tmp/coord.log")" -eq 1 ] || fail "the altered frame: $(cat "$tmp/coord.log")"

# The real workers, by hand; a second one for a device that has joined is refused.
"$exe" worker --coordinator "$at" --device cpu0 --token-file "$tok" --checkpoints "$tmp/ck0" >"$tmp/w0.log" 2>&1 &
w0=$!; pids="$pids $w0"
wait_for "cpu0 joined from" "$tmp/coord.log" 60
expect_error "a second worker for cpu0" "has already joined" "$exe" worker --coordinator "$at" --device cpu0 --token-file "$tok"
"$exe" worker --coordinator "$at" --device cpu1 --token-file "$tok" --checkpoints "$tmp/ck1" >"$tmp/w1.log" 2>&1 &
w1=$!; pids="$pids $w1"
exits_within "$coord" 240 || fail "the coordinator did not finish"
[ "$status" -eq 0 ] || fail "the run: exit status $status: $(cat "$tmp/coord.log")"
for w in "$w0" "$w1"; do
  exits_within "$w" 20 || fail "worker $w did not stop at the end of the run"
  [ "$status" -eq 0 ] || fail "worker $w: exit status $status"
done
refusals=$(grep -c "^refused" "$tmp/coord.log")
[ "$refusals" -eq 5 ] || fail "the coordinator logged $refusals refusals, expected 5: $(cat "$tmp/coord.log")"
[ -e "$tmp/ck0" ] || [ -e "$tmp/ck1" ] && fail "checkpoints left behind: $(ls -R "$tmp"/ck*)"
/usr/bin/python3 - "$tmp/run/report.json" "$tmp/coord.log" "$tmp/run/rounds.csv" <<'PY' || fail "the by-hand run's report"
import csv, json, re, sys
r = json.load(open(sys.argv[1]))
assert r["summary"]["completed"], r["summary"]
assert [x["round"] for x in r["rounds"]] == [0, 1, 2, 3], r["rounds"]
assert all("loss" in x for x in r["rounds"]), r["rounds"]
assert {s["device"] for s in r["spans"]} == {"cpu0", "cpu1"}
bounds = r["clock_offset_bound_s"]
assert set(bounds) == {"cpu0", "cpu1"} and all(0 < b < 0.05 for b in bounds.values()), bounds
assert r["summary"]["clock_offset_bound_s"] == max(bounds.values())
# One machine, one clock: every measured offset must lie within its bound of zero.
joins = re.findall(r"(cpu\d) joined .* reads ([-+0-9.]+) ms from ours, within ([0-9.]+) ms", open(sys.argv[2]).read())
assert len(joins) == 2, joins
for dev, offset, bound in joins:
    assert abs(float(offset)) <= float(bound) + 0.001, (dev, offset, bound)
rows = list(csv.DictReader(open(sys.argv[3])))
assert len(rows) == 4 and all(row["loss"] for row in rows), rows
print("clock bounds (ms):", {d: round(b * 1e3, 4) for d, b in bounds.items()})
PY

# A port in use, an address nobody answers at.
/usr/bin/python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$tmp/held" &
holder=$!; pids="$pids $holder"
wait_for "[0-9]" "$tmp/held" 10
expect_error "a port in use" "Address already in use" \
  "$exe" "$scenario" --listen "127.0.0.1:$(cat "$tmp/held")" --token-file "$tok" -o "$tmp/busy"
kill "$holder"
nobody=$(free_port)
"$exe" worker --coordinator "127.0.0.1:$nobody" --device cpu0 --token-file "$tok" --wait 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 1 ] || fail "an address that does not answer: exit status $rc, expected 1"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "nothing answers at 127.0.0.1:$nobody" "$tmp/err" \
  || fail "an address that does not answer: $(cat "$tmp/err")"

# A coordinator's address where something else answers: one line, exit status 2.
/usr/bin/python3 -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept(); c.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n"); c.close()' >"$tmp/web" &
web=$!; pids="$pids $web"
wait_for "[0-9]" "$tmp/web" 10
"$exe" worker --coordinator "127.0.0.1:$(cat "$tmp/web")" --device cpu0 --token-file "$tok" --wait 5 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "does not speak asteroid-exec's control protocol" "$tmp/err" \
  || fail "a coordinator address where something else answers: exit status $rc: $(cat "$tmp/err")"
kill "$web"

# The coordinator dies mid-run: hand-started workers stop, one line each.
"$exe" "$scenario" --rounds 500 --listen 127.0.0.1:0 --token-file "$tok" --timeout 240 -o "$tmp/gone" \
  >"$tmp/gone.log" 2>&1 &
coord=$!; pids="$pids $coord"
wait_for "coordinator listening on" "$tmp/gone.log" 30
at=$(sed -n 's/.*coordinator listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/gone.log")
"$exe" worker --coordinator "$at" --device cpu0 --token-file "$tok" --checkpoints "$tmp/g0" >"$tmp/g0.log" 2>&1 &
w0=$!; pids="$pids $w0"
"$exe" worker --coordinator "$at" --device cpu1 --token-file "$tok" --checkpoints "$tmp/g1" >"$tmp/g1.log" 2>&1 &
w1=$!; pids="$pids $w1"
wait_for "round 1 of 0-499" "$tmp/gone.log" 120
kill -9 "$coord"
for w in "$w0" "$w1"; do
  exits_within "$w" 15 || fail "a worker went on after its coordinator died"
  [ "$status" -eq 1 ] || fail "a worker whose coordinator died: exit status $status"
done
for f in "$tmp/g0.log" "$tmp/g1.log"; do
  grep -q "the coordinator closed the connection; stopping" "$f" || fail "worker's last words: $(cat "$f")"
  [ "$(grep -vc "joined the coordinator" "$f")" -eq 1 ] || fail "not one line: $(cat "$f")"
done

# ... and the workers it started itself go with it.
"$exe" "$scenario" --rounds 500 --token-file "$tok" --timeout 240 -o "$tmp/local" >"$tmp/local.log" 2>&1 &
coord=$!; pids="$pids $coord"
wait_for "round 1 of 0-499" "$tmp/local.log" 120
at=$(sed -n 's/.*coordinator listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/local.log")
kill -9 "$coord"
n=0
while pgrep -f -- "--coordinator $at" >/dev/null; do
  n=$((n + 1))
  [ "$n" -le 100 ] || { fail "workers outlived their coordinator: $(pgrep -af -- "--coordinator $at")"; break; }
  sleep 0.1
done

# Ctrl-C on the coordinator: the run stops, its workers are told so and go, and the finished rounds
# are written.
"$exe" "$scenario" --rounds 500 --token-file "$tok" --timeout 240 -o "$tmp/int" >"$tmp/int.log" 2>&1 &
coord=$!; pids="$pids $coord"
wait_for "round 1 of 0-499" "$tmp/int.log" 120
at=$(sed -n 's/.*coordinator listening on \([0-9.]*:[0-9]*\).*/\1/p' "$tmp/int.log")
kill -INT "$coord"
if exits_within "$coord" 30; then
  [ "$status" -eq 1 ] || fail "an interrupted run: exit status $status, expected 1: $(cat "$tmp/int.log")"
else
  fail "the coordinator did not stop on SIGINT: $(cat "$tmp/int.log")"
fi
grep -q "interrupted; workers stopped" "$tmp/int.log" || fail "an interrupted run: $(cat "$tmp/int.log")"
pgrep -f -- "--coordinator $at" >/dev/null && fail "workers outlived an interrupted run: $(pgrep -af -- "--coordinator $at")"
/usr/bin/python3 - "$tmp/int/report.json" <<'PY' || fail "the interrupted run's report"
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["summary"]["completed"] and len(r["rounds"]) >= 2, (r["summary"], r["rounds"])
assert [x["round"] for x in r["rounds"]] == list(range(len(r["rounds"]))), r["rounds"]
assert r["events"][-1]["kind"] == "stop" and "interrupted" in r["events"][-1]["detail"], r["events"]
PY

finish "hosts_test"
