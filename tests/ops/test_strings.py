"""String tensors (ir/ops/text.py; Equal and Cast on strings) against
onnxruntime: host steps on numpy object arrays of str; numeric results
flow on into compiled code."""
import numpy as np
import pytest
from onnx import TensorProto, helper

import dlc
from dlc.ir import ShapeError
from dlc.ir.errors import InputError, ModelError
from dlc.staged import Segment
from tests.util import make_model, run_onnx_reference, run_ort

S, F, I64, B = TensorProto.STRING, TensorProto.FLOAT, TensorProto.INT64, TensorProto.BOOL
ML = helper.make_opsetid("ai.onnx.ml", 4)


def vi(name, elem, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def strings(*xs):
    return np.array(xs, dtype=object)


def check(model, feeds, reference=run_ort):
    want = reference(model, feeds)
    m = dlc.compile(model)
    got = m.run(None, feeds)
    for g, w, o in zip(got, want, model.graph.output):
        w = np.asarray(w)
        assert g.shape == w.shape, f"{o.name}: {g!r} vs {w!r}"
        if w.dtype.kind in "OU":
            assert g.dtype == object and g.tolist() == w.astype(object).tolist(), f"{o.name}: {g!r} vs {w!r}"
        else:
            assert g.dtype == w.dtype, f"{o.name}: {g!r} vs {w!r}"
            np.testing.assert_allclose(g, w, rtol=1e-6, err_msg=o.name)
    return m, got


def one_node(op, inputs, outputs, opset=20, domain="", **attrs):
    node = helper.make_node(op, [n for n, _, _ in inputs], [n for n, _ in outputs], domain=domain, **attrs)
    opsets = [ML] if domain else []
    model = make_model([node], [vi(*i) for i in inputs], [vi(n, e) for n, e in outputs], opset=opset)
    model.opset_import.extend(opsets)
    return model


@pytest.mark.parametrize("x, attrs", [
    (strings("monday", "Tuesday", "MONDAY", "wed"), {"case_change_action": "LOWER", "stopwords": ["monday"]}),
    (strings("monday", "Tuesday", "MONDAY", "wed"), {"case_change_action": "UPPER", "stopwords": ["monday"],
                                                     "is_case_sensitive": 1}),
    (strings("monday", "monday"), {"stopwords": ["monday"], "is_case_sensitive": 1}),      # nothing left: [""]
    (strings("a", "B", "c").reshape(1, 3), {"case_change_action": "UPPER", "stopwords": ["b"]}),
])
def test_string_normalizer(x, attrs):
    """(onnxruntime needs a locale it can load to change case; dlc's is Python's, Unicode, for any locale.)"""
    check(one_node("StringNormalizer", [("x", S, list(x.shape))], [("y", S)], opset=10, locale="C.UTF-8", **attrs),
          {"x": x})


def test_string_concat_broadcasts():
    x, y = strings("a", "bc", "").reshape(3, 1), strings("x", "😀y")
    check(one_node("StringConcat", [("x", S, [3, 1]), ("y", S, [2])], [("z", S)]), {"x": x, "y": y})


@pytest.mark.parametrize("x, attrs", [
    (strings("a b  c", " d ", ""), {}),
    (strings("a.b..c", "d"), {"delimiter": "."}),
    (strings("1,2,3,4", "5").reshape(1, 2), {"delimiter": ",", "maxsplit": 2}),
])
def test_string_split(x, attrs):
    check(one_node("StringSplit", [("x", S, list(x.shape))], [("y", S), ("n", I64)], **attrs), {"x": x})


def test_regex_full_match_and_equal():
    x = strings("ab12", "ab", "12ab", "")
    check(one_node("RegexFullMatch", [("x", S, [4])], [("y", B)], pattern=r"[a-z]+\d*"), {"x": x})
    check(one_node("Equal", [("x", S, [4]), ("y", S, [1])], [("z", B)], opset=19), {"x": x, "y": strings("ab")})


@pytest.mark.parametrize("keys, values, attrs, x", [
    ({"keys_strings": ["a", "b"]}, {"values_int64s": [1, 2]}, {"default_int64": 7}, strings("a", "c", "b")),
    ({"keys_int64s": [3, 5]}, {"values_strings": ["three", "five"]}, {}, np.array([5, 4, 3])),
    ({"keys_floats": [0.5, 1.5]}, {"values_floats": [10.0, 20.0]}, {"default_float": -1.0},
     np.array([1.5, 0.5, 2.0], np.float32)),
])
def test_label_encoder(keys, values, attrs, x):
    out = {"values_int64s": I64, "values_strings": S, "values_floats": F}[next(iter(values))]
    src = {str: S, np.int64: I64, np.float32: F}[type(x.reshape(-1)[0])] if x.dtype != object else S
    check(one_node("LabelEncoder", [("x", src, [3])], [("y", out)], domain="ai.onnx.ml", **keys, **values, **attrs),
          {"x": x})


def test_strings_to_numbers_into_compiled_code():
    """A label lookup (host step), then arithmetic compiled in a segment."""
    nodes = [helper.make_node("LabelEncoder", ["x"], ["ids"], domain="ai.onnx.ml", keys_strings=["a", "b"],
                              values_int64s=[1, 2]),
             helper.make_node("Cast", ["ids"], ["f"], to=F), helper.make_node("Mul", ["f", "w"], ["y"])]
    model = make_model(nodes, [vi("x", S, [3]), vi("w", F, [3])], [vi("y", F)], opset=20)
    model.opset_import.append(ML)
    m, _ = check(model, {"x": strings("b", "a", "z"), "w": np.float32([1, 2, 3])})
    assert any(isinstance(st, Segment) for st in next(iter(m._exes.values())).stages)


def test_cast_to_and_from_strings():
    """String -> number as onnxruntime parses; number -> string as the onnx
    reference writes it (numpy's shortest form; onnxruntime writes NaN, INF)."""
    x = strings("1.5", "-2e3", "NaN", "+INF", "-inf", "7")
    check(one_node("Cast", [("x", S, [6])], [("y", F)], opset=19, to=F), {"x": x})
    check(one_node("Cast", [("x", S, [2])], [("y", I64)], opset=19, to=I64), {"x": strings("15", "-2")})
    y = np.float32([1.5, -0.1, 1e10, 3])
    check(one_node("Cast", [("x", F, [4])], [("y", S)], opset=19, to=S), {"x": y}, reference=run_onnx_reference)


# ------------------------------------------------------------------ errors
def test_string_errors_name_the_node_or_input():
    add = make_model([helper.make_node("Add", ["x", "x"], ["y"], name="add")], [vi("x", S, [2])], [vi("y", S)])
    with pytest.raises(ShapeError, match=r"add: input 0 \(x\) is a string tensor; add does not take strings"):
        dlc.compile(add)
    m = dlc.compile(one_node("StringConcat", [("x", S, [2]), ("y", S, [2])], [("z", S)]))
    with pytest.raises(InputError, match="input 'x': expected a string tensor, got an element of type float"):
        m.run(None, {"x": np.float32([1, 2]), "y": strings("a", "b")})
    with pytest.raises(InputError, match=r"input 'y': dim 0 must be 2"):
        m.run(None, {"x": strings("a", "b"), "y": strings("a")})
    with pytest.raises(ModelError, match="RegexFullMatch node .*: pattern '\\(' is not a valid regular expression"):
        dlc.compile(one_node("RegexFullMatch", [("x", S, [1])], [("y", B)], pattern="("))
