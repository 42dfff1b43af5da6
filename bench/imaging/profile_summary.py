#!/usr/bin/env python3
"""The summary of bench/imaging/profile_uploads: per worker, the requests (TCP data segments)
and bytes it sent the Kafka broker and got back over the window, from two `ss -tinp` snapshots;
with --perf, each process's perf samples by what they were in (a library, or the syscall for
kernel time), as a share of all samples."""
import collections
import re
import subprocess
import sys
from pathlib import Path

out = Path(sys.argv[1])
names = dict(line.split() for line in (out / "pids.txt").read_text().splitlines() if line.strip())
broker = next(p for p, n in names.items() if n == "kafka")


def address(text):
    return text.replace("[::ffff:", "").replace("]", "")


def sockets(path):
    found = {}
    lines = path.read_text().splitlines()
    for head, info in zip(lines, lines[1:]):
        if head.startswith((" ", "\t")) or not head.strip():
            continue
        parts = head.split()
        pid = re.search(r"pid=(\d+)", head)
        counts = {k: int(m.group(1)) if (m := re.search(k + r":(\d+)", info)) else 0
                  for k in ("bytes_received", "bytes_acked", "data_segs_in")}
        found[(address(parts[2]), address(parts[3]))] = (pid.group(1) if pid else None, counts)
    return found


before, after = sockets(out / "ss0.txt"), sockets(out / "ss1.txt")
owner = {local: pid for (local, _), (pid, _) in after.items()}
per = collections.defaultdict(collections.Counter)
for key, (pid, counts) in after.items():
    client = owner.get(key[1])
    if pid != broker or client == broker or client not in names:
        continue
    start = before.get(key, (None, collections.Counter()))[1]
    for k, v in counts.items():
        per[names[client]][k] += v - start.get(k, 0)
stats = {names[p]: (out / f"stat.{p}.txt").read_text() for p in names}
uploads = 0
for text in [stats.get("upload", "")]:
    m = re.search(r"([\d,]+)\s+syscalls:sys_enter_link", text)
    uploads = int(m.group(1).replace(",", "")) if m else 0
print(f"uploads in the window: {uploads}")
total = collections.Counter()
for name, c in sorted(per.items()):
    total.update(c)
    print(f"  to the broker from {name}: {c['data_segs_in']} requests, {c['bytes_received']} bytes;"
          f" back {c['bytes_acked']} bytes")
if uploads:
    print(f"  per upload: {total['data_segs_in'] / uploads:.1f} requests, "
          f"{total['bytes_received'] / uploads:.0f} bytes to the broker, "
          f"{total['bytes_acked'] / uploads:.0f} bytes back")

if "--perf" in sys.argv:
    script = subprocess.run(["perf", "script", "-i", str(out / "perf.data"), "-F",
                             "pid,tid,comm,ip,sym,dso"], capture_output=True, text=True).stdout
    kernel = [("fsync", "fsync"), ("ksys_write", "write"), ("openat", "open"),
              ("unlink", "unlink"), ("rename", "rename"), ("sys_link", "link"),
              ("sendmsg", "net send"), ("sendto", "net send"), ("recv", "net recv"),
              ("ksys_read", "read"), ("epoll", "poll"), ("poll", "poll"), ("futex", "futex"),
              ("page_fault", "page fault"), ("schedule", "sched"), ("munmap", "munmap")]
    per = collections.defaultdict(collections.Counter)
    n = 0
    for sample in script.split("\n\n"):
        lines = [l.strip() for l in sample.strip().splitlines()]
        if not lines:
            continue
        m = re.match(r".*?\s+(\d+)/\d+", lines[0])
        if not m:
            continue
        stack = " ".join(lines[1:])
        dso = re.search(r"\(([^)]*)\)\s*$", lines[1]) if len(lines) > 1 else None
        what = dso.group(1).split("/")[-1] if dso else "?"
        if "kernel" in what:
            what = "k:" + next((v for k, v in kernel if k in stack), "other")
        per[m.group(1)][what] += 1
        n += 1
    print("perf samples by process (% of all):")
    for pid, c in sorted(per.items(), key=lambda x: -sum(x[1].values())):
        share = 100 * sum(c.values()) / n
        top = ", ".join(f"{k} {100 * v / n:.1f}" for k, v in c.most_common(8))
        print(f"  {names.get(pid, pid)} {share:.1f}%: {top}")
