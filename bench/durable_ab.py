#!/usr/bin/env python3
"""Interleaved A/B of durable fan-out: two muxchatd builds with --data_dir and one in memory.

Each variant's server is started once per cell on a fresh data directory and kept for the cell's rounds (as
bench/compare does); each round runs muxchat-bench against every variant, rotating the order. Prints the
median msgs/s and server CPU s per million deliveries of each, and the same-run ratios.

  bench/durable_ab.py --a OLD/muxchatd --b NEW/muxchatd --bench build/bench/muxchat-bench --rounds 5
"""
import argparse, json, os, shutil, statistics, subprocess, tempfile

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--a", required=True, help="muxchatd before (durable, and the in-memory variant)")
ap.add_argument("--b", required=True, help="muxchatd after (durable)")
ap.add_argument("--bench", default="build/bench/muxchat-bench")
ap.add_argument("--cells", default="64x10,64x100,1024x10", help="PAYLOADxSUBSCRIBERS,...")
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--duration", type=float, default=2)
a = ap.parse_args()

variants = {"a": (a.a, True), "b": (a.b, True), "memory": (a.a, False)}
for cell in a.cells.split(","):
    payload, subs = (int(x) for x in cell.split("x"))
    servers, runs = {}, {name: [] for name in variants}
    try:
        for name, (binary, durable) in variants.items():
            d = tempfile.mkdtemp(prefix=f"durable-ab-{name}-")
            args = [binary, "--listen=127.0.0.1:0", "--messages_per_second=0", "--log_level=warn", "--metrics=off"]
            args += [f"--data_dir={d}/data"] if durable else ["--memory"]
            p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            port = int(p.stdout.readline().strip().rsplit(":", 1)[1])  # "muxchatd listening on HOST:PORT"
            servers[name] = (p, port, d)
        names = list(variants)
        for r in range(a.rounds):
            for name in names[r % 3:] + names[:r % 3]:
                p, port, _ = servers[name]
                out = subprocess.run([a.bench, "--target=muxchat", f"--port={port}", f"--subscribers={subs}",
                                      f"--payload={payload}", f"--duration={a.duration}", f"--server_pid={p.pid}",
                                      "--json", f"--run_id={name}{r}"], capture_output=True, text=True, check=True)
                j = json.loads(out.stdout)
                if j["lost"] or j["duplicates"] or j["reordered"]:
                    raise SystemExit(f"{name} {cell}: lost/dup/reordered {j['lost']}/{j['duplicates']}/{j['reordered']}")
                runs[name].append((j["msgs_per_s"], j["server_cpu_s_per_million"]))
    finally:
        for p, _, d in servers.values():
            p.terminate()
            p.wait()
            shutil.rmtree(d, ignore_errors=True)
    med = {n: statistics.median(x[0] for x in runs[n]) for n in variants}
    cpu = {n: statistics.median(x[1] for x in runs[n]) for n in variants}
    # Same-round ratios: each round ran every variant within seconds, so
    # these see less of the shared machine's drift than ratios of medians.
    round_msgs = statistics.median(b[0] / a[0] for a, b in zip(runs["a"], runs["b"]))
    round_cpu = statistics.median(b[1] / a[1] for a, b in zip(runs["a"], runs["b"]) if a[1] > 0)
    print(f"{payload} B x {subs}: " + "  ".join(f"{n} {med[n]:,.0f} ({cpu[n]:.3f} s/M)" for n in variants) +
          f"  b/a {med['b'] / med['a']:.2f}  b/memory {med['b'] / med['memory']:.2f}"
          f"  a/memory {med['a'] / med['memory']:.2f}  same-round b/a msgs/s x{round_msgs:.2f} s/M x{round_cpu:.2f}"
          f"  load {os.getloadavg()[0]:.1f}", flush=True)
