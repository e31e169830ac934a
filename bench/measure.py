"""Run one command; print its wall time and peak resident memory (of it and its children) as
JSON. A fresh process per measurement, so peak memory is that command's alone."""

import json
import resource
import subprocess
import sys
import time

start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"seconds": wall, "peak_mb": peak_kb / 1024, "rc": proc.returncode,
                  "stderr": proc.stderr.decode(errors="replace")[-500:]}))
