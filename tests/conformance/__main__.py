"""Run the ONNX conformance suite through dlc and print the pass count and
the per-op table.

    python -m tests.conformance                 # everything, on all cores
    python -m tests.conformance -k conv -v      # cases matching a regex, with errors
    python -m tests.conformance --show node/test_conv_with_strides_padding
    python -m tests.conformance --update        # rewrite passing.txt from this run

The checked-in ratchet (tests/conformance/passing.txt) lists the cases that
pass; tests/conformance/cannot_pass.txt lists the others with a reason each.
pytest (tests/conformance/test_conformance.py) fails if a listed case stops
passing.
"""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import os
import re
import sys
import time

from . import reasons, suite

CASE_TIMEOUT_S = 300


def _worker(conn):
    import warnings
    warnings.simplefilter("ignore")
    while True:
        case = conn.recv()
        if case is None:
            return
        conn.send(suite.run_case(case))


def run_all(cases: list[suite.Case], jobs: int, progress: bool = True) -> list[suite.Result]:
    """Run cases in `jobs` processes; a case that crashes its process (or
    runs past CASE_TIMEOUT_S) fails with stage "crash"."""
    ctx = mp.get_context("fork")
    todo = list(reversed(cases))
    results: list[suite.Result] = []
    workers = {}   # conn -> (process, case, started)

    def start():
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker, args=(child,), daemon=True)
        p.start()
        child.close()
        return parent, p

    def feed(conn, p):
        if todo:
            case = todo.pop()
            conn.send(case)
            workers[conn] = (p, case, time.monotonic())
        else:
            conn.send(None)
            p.join(5)

    for _ in range(min(jobs, len(cases)) or 1):
        feed(*start())
    from multiprocessing.connection import wait
    t0 = time.monotonic()
    while workers:
        ready = wait(list(workers), timeout=5)
        for conn in ready:
            p, case, _ = workers.pop(conn)
            try:
                res = conn.recv()
            except (EOFError, OSError):
                res = suite.Result(case.name, False, "crash", f"the process died (exit code {p.exitcode})")
                conn, p = start()
            results.append(res)
            feed(conn, p)
            if progress and len(results) % 100 == 0:
                print(f"  {len(results)}/{len(cases)} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
        now = time.monotonic()
        for conn, (p, case, started) in list(workers.items()):
            if now - started > CASE_TIMEOUT_S:
                p.kill()
                workers.pop(conn)
                results.append(suite.Result(case.name, False, "crash", f"timed out after {CASE_TIMEOUT_S} s"))
                feed(*start())
    return sorted(results, key=lambda r: r.name)


def table(cases, results, ops) -> str:
    by_op = collections.defaultdict(lambda: [0, 0, 0])
    for r in results:
        op = ops.get(r.name, "?")
        by_op[op][0] += 1
        by_op[op][1] += r.passed
        by_op[op][2] += r.passed and r.shapes_only
    width = max(len(o) for o in by_op)
    lines = [f"{'op':<{width}}  cases  pass  fail"]
    for op in sorted(by_op, key=lambda o: (o.startswith("("), o.lower())):
        n, p, shapes = by_op[op]
        note = f"  ({shapes} random: shapes and dtypes checked)" if shapes else ""
        lines.append(f"{op:<{width}}  {n:5d}  {p:4d}  {n - p:4d}" + ("" if p == n else "  *") + note)
    return "\n".join(lines)


def categories(results, cannot: dict) -> str:
    """Failing cases per category of their reason, node cases and model cases."""
    count = collections.Counter()
    for r in results:
        if not r.passed:
            reason = cannot.get(r.name, "[unlisted]")
            cat = reason[1:reason.index("]")] if reason.startswith("[") else "other"
            count[(cat, r.name.startswith("node/"))] += 1
    cats = sorted({c for c, _ in count}, key=lambda c: -(count[(c, True)] + count[(c, False)]))
    return "\n".join(f"  {count[(c, True)]:4d} node + {count[(c, False)]:2d} model cases  [{c}]" for c in cats)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-k", dest="pattern", help="only cases whose name matches this regex")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("-v", "--verbose", action="store_true", help="list every failure with its error")
    ap.add_argument("--show", metavar="CASE", help="run one case and print its graph, IR, kernels and error")
    ap.add_argument("--json", metavar="FILE", help="write every result to FILE")
    ap.add_argument("--update", action="store_true",
                    help="rewrite passing.txt with the cases that pass now (a full run only)")
    args = ap.parse_args(argv)

    cases = suite.all_cases()
    if args.show:
        name = args.show if "/" in args.show else f"node/{args.show}"
        case = next((c for c in cases if c.name == name), None)
        if case is None:
            print(f"no case named {name!r}", file=sys.stderr)
            return 2
        res = suite.run_case(case)
        print("PASS" if res.passed else suite.explain_failure(case, res))
        return 0 if res.passed else 1
    if args.pattern:
        cases = [c for c in cases if re.search(args.pattern, c.name)]
    t0 = time.monotonic()
    results = run_all(cases, args.jobs)
    elapsed = time.monotonic() - t0
    ops = suite.case_ops(cases)
    print(table(cases, results, ops))
    print()
    if args.verbose:
        for r in results:
            if not r.passed:
                print(f"FAIL {r.name} [{ops.get(r.name)}] {r.stage}: {r.error}")
        print()

    passing = set(suite.read_passing()) if os.path.exists(suite.PASSING_FILE) else set()
    cannot = suite.read_cannot_pass() if os.path.exists(suite.CANNOT_PASS_FILE) else {}
    now = {r.name for r in results if r.passed}
    ran = {r.name for r in results}
    lost = sorted((passing & ran) - now)
    gained = sorted(now - passing)
    unlisted = sorted(ran - now - set(cannot))
    by_kind = collections.Counter(r.name.split("/")[0] for r in results)
    ok_kind = collections.Counter(r.name.split("/")[0] for r in results if r.passed)
    for kind in ("node",) + suite.MODEL_KINDS:
        if by_kind[kind]:
            print(f"{kind:>18}: {ok_kind[kind]:5d} / {by_kind[kind]} pass")
    print(f"{'total':>18}: {len(now):5d} / {len(results)} pass   ({elapsed:.0f} s, {args.jobs} processes, "
          f"onnx {suite.onnx.__version__})")
    if lost:
        print(f"\nREGRESSIONS (listed in passing.txt, failing now): {len(lost)}")
        for n in lost:
            print("  " + n)
    if gained:
        print(f"\nnewly passing (not in passing.txt yet): {len(gained)}" + (" -- run with --update" if not args.update else ""))
    if unlisted:
        print(f"\nfailing and not in cannot_pass.txt: {len(unlisted)}")
        for n in unlisted[:50]:
            print("  " + n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([r.__dict__ | {"op": ops.get(r.name)} for r in results], f, indent=1)
    if args.update:
        if args.pattern:
            print("--update needs a full run (no -k)", file=sys.stderr)
            return 2
        with open(suite.PASSING_FILE, "w") as f:
            f.write(f"# Cases dlc passes (the ratchet: CI fails if one stops passing).\n"
                    f"# onnx {suite.onnx.__version__}; regenerate with: python -m tests.conformance --update\n")
            f.write("".join(n + "\n" for n in sorted(now)))
        print(f"\nwrote {len(now)} names to {os.path.relpath(suite.PASSING_FILE)}")
        cannot = {r.name: reasons.reason_for(r.name, ops.get(r.name, "?"), r.error) for r in results if not r.passed}
        with open(suite.CANNOT_PASS_FILE, "w") as f:
            f.write("# Cases dlc cannot pass yet, each with a one-line reason ([category] why).\n"
                    "# Generated by `python -m tests.conformance --update` from the failures, by the rules\n"
                    "# and hand-written OVERRIDES in tests/conformance/reasons.py (edit those, not this file).\n")
            f.write("".join(f"{n} {cannot[n]}\n" for n in sorted(cannot)))
        print(f"wrote {len(cannot)} names to {os.path.relpath(suite.CANNOT_PASS_FILE)}")
    if cannot and any(not r.passed for r in results):
        print("\nfailing cases by category:")
        print(categories(results, cannot))
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
