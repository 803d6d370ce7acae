"""Why a case cannot pass: one line per case in cannot_pass.txt, written by
these rules from the failure (and kept when already written by hand).

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


_ops("part 2: control flow", "If/Loop/Scan subgraphs are not compiled yet", "If", "Loop", "Scan")
_ops("part 2: sequences", "sequence and optional values are not supported yet", "SequenceAt", "SequenceConstruct",
     "SequenceEmpty", "SequenceErase", "SequenceInsert", "SequenceLength", "SequenceMap", "SplitToSequence",
     "ConcatFromSequence", "Optional", "OptionalGetElement", "OptionalHasElement")
_ops("part 2: data-dependent shapes", "the output shape depends on the input data", "NonZero", "Unique", "Compress",
     "NonMaxSuppression", "StringSplit")
_ops("strings", "string tensors are not supported", "StringNormalizer", "StringConcat", "RegexFullMatch",
     "StringSplit")
_ops("out of scope", "decodes encoded image files", "ImageDecoder")
_ops("ai.onnx.ml", "ai.onnx.ml operators are not implemented", "LabelEncoder", "TreeEnsemble", "Binarizer",
     "ArrayFeatureExtractor")
_ops("training", "the Gradient op needs autodiff (the training work adds gradient rules)", "Gradient")


def reason_for(name: str, op: str, error: str) -> str:
    """A one-line reason for a failing case, from its op and error."""
    m = re.search(r"input \d+ \((\w+)\) must be a constant", error)
    if m:
        return (f"[part 2: data-dependent shapes] input {m.group(1)!r} is a run-time input and the output "
                f"shape depends on its value")
    if "depends on input data rather than input shapes" in error:
        return ("[part 2: data-dependent shapes] a shape input (sizes, scales, pads, repeats...) is a run-time "
                "input, so an output shape depends on its value")
    if "only tensor inputs are supported" in error:
        return "[part 2: sequences] a sequence or optional graph input"
    if "dtype string" in error or "dtype object" in error:
        return "[strings] string tensors are not supported"
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
