#!/usr/bin/env python3
"""The clustered peers of bench/compare --cluster (issue 12), started and
smoke-tested on loopback (bench/compare imports this file for its
Processes, start_socketio_cluster and start_nats_cluster):

  * Socket.IO 4 with @socket.io/redis-adapter: N node processes
    (bench/peers/node/socketio_cluster_server.js) sharing one redis-server
    (bench/peers/redis.conf) for their broadcasts;
  * a NATS cluster: N nats-server processes (bench/peers/nats.conf) on
    loopback, each with a cluster (route) port and the same --routes list,
    so they form a full mesh.

The smoke test publishes on node A and expects the message on node C (the
last node), once per peer; a publish is repeated every 100 ms until it
arrives, because both systems propagate interest asynchronously after start-up
(at most 5 s). Everything started is stopped by PID (SIGTERM, then SIGKILL).

  bench/peers/start-cluster-peers.sh              start, smoke-test, stop
  bench/peers/start-cluster-peers.sh --hold       start, smoke-test, print the
                                                  addresses as JSON, keep running
                                                  until SIGINT/SIGTERM
  bench/peers/start-cluster-peers.sh --only nats  one peer only (socketio|nats)

Python 3 standard library only; node and the npm packages from
scripts/install-bench-peers.sh. Exit status 0: every smoke test passed.
"""

import argparse
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Processes:
    """What this script started, by name; stop_all() ends them by PID."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []  # (name, Popen, port)

    def spawn(self, name, argv, port):
        logf = open(os.path.join(self.workdir, name + ".log"), "w")
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        self.procs.append((name, proc, port))
        if not wait_port(port, proc):
            raise RuntimeError(f"{name} did not start; see {logf.name}")
        log(f"started {name} pid {proc.pid} on 127.0.0.1:{port}")
        return port

    def stop_all(self):
        for name, proc, _ in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc, _ in reversed(self.procs):
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log(f"stopped {name} pid {proc.pid}")
        self.procs = []


def start_socketio_cluster(procs, nodes):
    redis_port = free_port()
    procs.spawn("socketio-redis", ["redis-server", os.path.join(HERE, "redis.conf"), "--port", str(redis_port)],
                redis_port)
    node = shutil.which("node") or "node"
    ports = []
    for i in range(nodes):
        port = free_port()
        procs.spawn(f"socketio-{chr(ord('a') + i)}",
                    [node, os.path.join(HERE, "node", "socketio_cluster_server.js"), str(port), str(redis_port)],
                    port)
        ports.append(port)
    return {"redis": redis_port, "nodes": ports}


def start_nats_cluster(procs, nodes):
    client_ports = [free_port() for _ in range(nodes)]
    route_ports = [free_port() for _ in range(nodes)]
    routes = ",".join(f"nats://127.0.0.1:{p}" for p in route_ports)
    for i in range(nodes):
        procs.spawn(f"nats-{chr(ord('a') + i)}",
                    ["nats-server", "-c", os.path.join(HERE, "nats.conf"), "-p", str(client_ports[i]),
                     "--cluster_name", "muxchat-bench", "--cluster", f"nats://127.0.0.1:{route_ports[i]}",
                     "--routes", routes], client_ports[i])
    return {"nodes": client_ports, "routes": route_ports}


class NatsClient:
    """The few lines of the NATS text protocol the smoke test needs."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        if not self.read_line(5).startswith(b"INFO "):
            raise RuntimeError("nats: no INFO")
        self.sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nPING\r\n')
        if self.read_line(5) != b"PONG":
            raise RuntimeError("nats: no PONG after CONNECT")

    def read_line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("nats: connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def smoke_nats(ports):
    a, c = NatsClient(ports[0]), NatsClient(ports[-1])
    subject = f"smoke.{os.getpid()}".encode()
    c.send(b"SUB " + subject + b" 1\r\nPING\r\n")
    if c.read_line(5) != b"PONG":
        raise RuntimeError("nats: no PONG after SUB")
    started = time.monotonic()
    tries = 0
    try:
        while time.monotonic() - started < 5:
            tries += 1
            payload = f"hello from A #{tries}".encode()
            a.send(b"PUB " + subject + b" %d\r\n" % len(payload) + payload + b"\r\n")
            line = c.read_line(0.1)
            while line == b"PING":
                c.send(b"PONG\r\n")
                line = c.read_line(0.1)
            if line is not None and line.startswith(b"MSG " + subject):
                body = c.read_line(1)
                ms = (time.monotonic() - started) * 1000
                print(f"nats A->C ok: \"{body.decode()}\" after {tries} publish(es), {ms:.0f} ms")
                return True
    finally:
        a.close()
        c.close()
    print(f"nats A->C FAILED: nothing after {tries} publishes")
    return False


def smoke_socketio(ports):
    node = shutil.which("node") or "node"
    r = subprocess.run([node, os.path.join(HERE, "node", "cluster_smoke.js"), str(ports[0]), str(ports[-1])],
                       capture_output=True, text=True, timeout=30)
    print((r.stdout + r.stderr).strip())
    return r.returncode == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=3, help="nodes per cluster (default 3)")
    ap.add_argument("--only", choices=["socketio", "nats"], help="start one of the two only")
    ap.add_argument("--hold", action="store_true", help="keep running after the smoke test until a signal")
    args = ap.parse_args()
    if args.nodes < 2:
        ap.error("--nodes must be at least 2")

    workdir = tempfile.mkdtemp(prefix="muxchat-cluster-peers-")
    procs = Processes(workdir)
    # A signal ends the hold (or an interrupted start) through the finally below.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    ok = True
    addresses = {}
    try:
        if args.only in (None, "socketio"):
            addresses["socketio"] = start_socketio_cluster(procs, args.nodes)
        if args.only in (None, "nats"):
            addresses["nats"] = start_nats_cluster(procs, args.nodes)
        if "socketio" in addresses:
            ok = smoke_socketio(addresses["socketio"]["nodes"]) and ok
        if "nats" in addresses:
            ok = smoke_nats(addresses["nats"]["nodes"]) and ok
        if args.hold:
            print(json.dumps(addresses), flush=True)
            log(f"holding (logs in {workdir}); SIGINT or SIGTERM stops everything")
            while True:
                signal.pause()
    except KeyboardInterrupt:
        pass
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        log(f"cluster peers: {e}")
        ok = False
    finally:
        procs.stop_all()
    if ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"logs kept in {workdir}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
