#!/usr/bin/env python3
"""Times a transfer of a known size over TCP, for checking shaped links (tests/exec/netns_test.sh).

  link_probe.py serve ADDRESS PORT        accepts connections; reads each sender's bytes, answers one byte
  link_probe.py send ADDRESS PORT BYTES   sends BYTES, waits for the answer, prints the seconds it took
"""
import socket
import sys
import threading
import time


def serve(address, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((address, port))
    s.listen(8)
    print("ready", flush=True)

    def drain(c):
        with c:
            want = int.from_bytes(c.recv(8, socket.MSG_WAITALL), "big")
            while want > 0:
                b = c.recv(min(1 << 20, want))
                if not b:
                    return
                want -= len(b)
            c.sendall(b"k")

    while True:
        c, _ = s.accept()
        threading.Thread(target=drain, args=(c,), daemon=True).start()


def send(address, port, n):
    c = socket.create_connection((address, port), timeout=60)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    chunk = b"\0" * (1 << 20)
    t0 = time.perf_counter()
    c.sendall(n.to_bytes(8, "big"))
    left = n
    while left > 0:
        k = min(len(chunk), left)
        c.sendall(chunk[:k])
        left -= k
    assert c.recv(1) == b"k"
    print(f"{time.perf_counter() - t0:.6f}")


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
