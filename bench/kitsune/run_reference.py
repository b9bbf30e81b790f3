#!/usr/bin/python3
"""Runs the Kitsune reference implementation (ymirsky/Kitsune-py, MIT) on one capture for
bench/packets.ts: trains KitNET on the first FM+AD packets, scores the rest, stops at a
packet cap or a time limit, and writes per-packet scores and cumulative processing times
(float64, little-endian) so that the benchmark can compute ROC figures and rates per segment.

The reference code is fetched at bench time into a cache directory outside the repository
(never copied into it). Its feature extractor parses the capture with tshark into a TSV file
next to the capture (so give it a capture in a temporary directory); that parse is not
counted in the packet rate, which is generous to the reference.

Usage: run_reference.py KITSUNE_DIR CAPTURE FM_GRACE AD_GRACE MAX_PACKETS TIME_LIMIT_S OUT_PREFIX
"""
import json
import resource
import sys
import time
import types


def main():
    kitsune_dir, capture, fm, ad, cap, limit, out = sys.argv[1:8]
    fm, ad, cap, limit = int(fm), int(ad), int(cap), float(limit)
    # netStat.py imports pyximport (Cython) only to compile an optional extension it does not
    # use by default; a stub keeps Cython out of the requirements.
    stub = types.ModuleType("pyximport")
    stub.install = lambda *a, **k: None
    sys.modules["pyximport"] = stub
    sys.path.insert(0, kitsune_dir)
    import numpy as np
    import io
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):
        from Kitsune import Kitsune

        t_parse = time.perf_counter()
        k = Kitsune(capture, cap, 10, fm, ad)
        parse_seconds = time.perf_counter() - t_parse
    scores = []
    times = []
    start = time.perf_counter()
    stopped = "end of capture"
    with contextlib.redirect_stdout(io.StringIO()):
        while True:
            if len(scores) >= cap:
                stopped = "packet cap"
                break
            now = time.perf_counter() - start
            if now > limit:
                stopped = "time limit"
                break
            s = k.proc_next_packet()
            if s == -1:
                break
            scores.append(float(s))
            times.append(time.perf_counter() - start)
    seconds = time.perf_counter() - start
    np.asarray(scores, dtype="<f8").tofile(out + ".scores")
    np.asarray(times, dtype="<f8").tofile(out + ".times")
    print(json.dumps({
        "packets": len(scores),
        "seconds": seconds,
        "tshark_parse_seconds": parse_seconds,
        "stopped": stopped,
        "max_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
