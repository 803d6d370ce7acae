"""The ONNX backend conformance suite as tests (see suite.py).

Every case of the installed onnx package runs: a case listed in passing.txt
must pass (a failure prints its graph, dlc's IR and the kernels); a case
listed in cannot_pass.txt runs as an expected failure carrying its reason
(pytest reports it as XPASS if it starts passing: add it to passing.txt);
a case in neither list fails, so none is silently dropped.
"""
import os

import onnx
import pytest

from tests.conformance import suite

CASES = suite.all_cases()
PASSING = set(suite.read_passing())
CANNOT = suite.read_cannot_pass()
RATCHET_ONNX = suite.ratchet_onnx_version()
SAME_ONNX = RATCHET_ONNX == onnx.__version__


def _param(case):
    if case.name in CANNOT:
        return pytest.param(case, id=case.name, marks=pytest.mark.xfail(reason=CANNOT[case.name], strict=False))
    if case.name not in PASSING and not SAME_ONNX:
        reason = f"not in the ratchet, which was made with onnx {RATCHET_ONNX} (installed: {onnx.__version__})"
        return pytest.param(case, id=case.name, marks=pytest.mark.xfail(reason=reason, strict=False))
    return pytest.param(case, id=case.name)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case):
    if case.name not in PASSING and case.name not in CANNOT and SAME_ONNX:
        pytest.fail(f"{case.name} is in neither tests/conformance/passing.txt nor cannot_pass.txt: "
                    f"run `python -m tests.conformance -k {case.short}` and list it", pytrace=False)
    res = suite.run_case(case)
    if not res.passed:
        pytest.fail(suite.explain_failure(case, res), pytrace=False)


def test_lists_are_consistent():
    both = PASSING & set(CANNOT)
    assert not both, f"listed both as passing and as cannot-pass: {sorted(both)[:10]}"
    bad = [n for n, r in CANNOT.items() if not r or "\n" in r]
    assert not bad, f"cannot_pass.txt entries without a one-line reason: {bad[:10]}"
    if SAME_ONNX:
        names = {c.name for c in CASES}
        stale = sorted((PASSING | set(CANNOT)) - names)
        assert not stale, f"listed cases the suite does not have: {stale[:10]}"


def test_readme_states_the_ratchet_count():
    """README's pass count is the number of node cases in passing.txt."""
    n_node = sum(1 for n in PASSING if n.startswith("node/"))
    readme = open(os.path.join(suite.ROOT, "README.md")).read()
    if SAME_ONNX:
        n_all = sum(1 for c in CASES if c.kind == "node")
        assert f"**{n_node:,} of {n_all:,}**" in readme, \
            f"README should say **{n_node:,} of {n_all:,}** ONNX node conformance cases pass"
    else:    # another onnx has other cases: the ratchet's count still stands
        assert f"**{n_node:,} of " in readme
