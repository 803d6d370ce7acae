"""Why a case cannot pass: one line per case in cannot_pass.txt, written by
these rules from the failure, or taken from OVERRIDES (reasons written by
hand, for failures the rules cannot explain).

A reason starts with its category in brackets; ``python -m tests.conformance``
counts the failures per category for the README.
"""
from __future__ import annotations

import re

# op type -> (category, reason)
_OPS = {}


def _ops(category: str, reason: str, *ops: str) -> None:
    for op in ops:
        _OPS[op] = (category, reason)


_ops("part 2: data-dependent shapes", "the grid's size is a run-time input, and the rank of a value in its "
     "function body depends on it (a Squeeze without axes of [N, 1, 3], N from the size)", "AffineGrid")


_F16_CHAIN = ("the expected output is the fused op's, rounded to float16 once; this expanded graph rounds every "
              "float16 intermediate (as its ops define, and dlc does): 1-2 float16 ulps apart, beyond rtol 1e-3")
OVERRIDES = {
    "node/test_attention_4d_causal_fp16_expanded": f"[numerics] {_F16_CHAIN}",
    "node/test_attention_4d_fp16_expanded": f"[numerics] {_F16_CHAIN}",
    "node/test_attention_4d_gqa_with_past_and_present_fp16_expanded": f"[numerics] {_F16_CHAIN}",
    "node/test_causal_conv_with_state_silu_fp16_expanded": f"[numerics] {_F16_CHAIN}",
    "node/test_maxunpool_export_with_output_shape": "[reference disagrees] dlc puts each value at its index in "
                                                    "the given 5x5 output, as onnxruntime does; the reference "
                                                    "reads the indices in the unpadded 4x4 output",
    "node/test_resize_downsample_scales_linear_align_corners": "[reference disagrees] align_corners divides by "
                                                               "the output length - 1 in dlc and onnxruntime, by "
                                                               "scale * input length - 1 in the reference",
    "node/test_resize_downsample_scales_cubic_align_corners": "[reference disagrees] as the linear align_corners "
                                                              "case",
    "node/test_dft_inverse": "[numerics] the expected output carries float32 round-off (~2e-7) where the exact "
                             "result (which dlc computes) is ~1e-15: beyond atol 1e-7",
    "node/test_dft_inverse_opset19": "[numerics] the expected output carries float32 round-off (~2e-7) where the "
                                     "exact result (which dlc computes) is ~1e-15: beyond atol 1e-7",
}


def reason_for(name: str, op: str, error: str) -> str:
    """A one-line reason for a failing case, from its op and error."""
    if name in OVERRIDES:
        return OVERRIDES[name]
    m = re.search(r"cannot run as a host step: the rank of its output '(\w+)", error)
    if m:
        return (f"[part 2: data-dependent shapes] the rank of output {m.group(1)!r} depends on the value of a "
                f"run-time input, and the IR needs ranks when the graph is built")
    m = re.search(r"input \d+ \((\w+)\) must be a constant", error)
    if m:
        return (f"[part 2: data-dependent shapes] input {m.group(1)!r} is a run-time input and the output "
                f"shape depends on its value")
    if "depends on input data rather than input shapes" in error:
        return ("[part 2: data-dependent shapes] a shape input (sizes, scales, pads, repeats...) is a run-time "
                "input, so an output shape depends on its value")
    for bad in re.findall(r"(?:ops (?:at opset \d+|\(no default opset\)): |; )([\w.]+) \(nodes", error) + \
            re.findall(r"op (\w+) is not supported at opset", error):
        key = bad.rsplit(".", 1)[-1]
        if key in _OPS:
            cat, why = _OPS[key]
            return f"[{cat}] {key}: {why}"
    if op in _OPS:
        cat, why = _OPS[op]
        return f"[{cat}] {op}: {why}"
    m = re.search(r"unsupported ops [^:]*: ([\w.]+) \(nodes", error)
    if m:
        return f"[not implemented] {m.group(1)} is not implemented yet"
    if error.startswith("AssertionError"):
        return f"[numerics] {op}: results differ from the reference beyond the suite's tolerance"
    return f"[not implemented] {op}: {error[:150]}"
