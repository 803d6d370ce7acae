"""MatMul, Gemm and Einsum against onnxruntime: 1-D operands, batch
broadcasting, size-1 and size-0 dims, integer dtypes, every Gemm
trans/alpha/beta/C combination, and a set of Einsum equations."""
import numpy as np
import pytest
from onnx import helper

import dlc
from tests.util import check_model, check_op, make_model, rand


def _node(op, inputs, name, **attrs):
    return helper.make_node(op, inputs, ["y"], name=name, **attrs)


# ------------------------------------------------------------------ MatMul
@pytest.mark.parametrize("a, b", [
    ((3, 4), (4, 5)),
    ((4,), (4, 5)),            # 1-D x 2-D
    ((3, 4), (4,)),            # 2-D x 1-D
    ((4,), (4,)),              # a dot product: a scalar
    ((2, 3, 4), (4,)),
    ((4,), (2, 4, 5)),
    ((2, 1, 3, 4), (5, 4, 6)),   # batch dims broadcast
    ((2, 3, 4), (2, 4, 5)),
    ((1, 3, 4), (7, 4, 1)),      # matrix-vector per batch
    ((1, 1), (1, 1)),
    ((1, 4), (4, 1)),
    ((3, 1), (1, 5)),            # an outer product
    ((0, 4), (4, 5)),            # size-0 dims
    ((3, 4), (4, 0)),
    ((3, 0), (0, 5)),            # K = 0: zeros
    ((2, 0, 3), (3, 4)),
    ((17, 33), (33, 65)),        # odd sizes around the vector width
])
def test_matmul_shapes(a, b):
    check_op("MatMul", {"a": rand(*a), "b": rand(*b, seed=1)})


@pytest.mark.parametrize("k, m, n, batch", [
    (2100, 13, 21, ()),     # K not a multiple of the slices or of the L1 block; a row and a column tail
    (1030, 1, 40, ()),      # one row
    (4096, 64, 16, ()),
    (1500, 7, 9, (2,)),     # batched: a task per (batch, slice)
])
def test_matmul_long_k_split(k, m, n, batch):
    """A small product with a long inner dim (a convolution's weight
    gradient) is summed in slices of K; its results do not depend on the
    number of threads."""
    nodes = [helper.make_node("Transpose", ["g"], ["gt"], perm=[*range(len(batch)), len(batch) + 1, len(batch)]),
             helper.make_node("MatMul", ["gt", "x"], ["y"])]
    model = make_model(nodes, [("g", np.float32, [*batch, k, m]), ("x", np.float32, [*batch, k, n])], ["y"], opset=17)
    g, x = rand(*batch, k, m, seed=1), rand(*batch, k, n, seed=2)
    mod = dlc.compile(model, threads=1, cache=False)
    y1 = mod(g, x)
    mod.threads = 2
    np.testing.assert_array_equal(mod(g, x), y1)
    want = np.swapaxes(g, -1, -2).astype(np.float64) @ x
    np.testing.assert_allclose(y1, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.int64])
def test_matmul_dtypes(dtype):
    check_op("MatMul", {"a": rand(2, 3, 4, dtype=dtype, low=-9, high=9),
                        "b": rand(4, 5, dtype=dtype, seed=1, low=-9, high=9)})
    check_op("MatMul", {"a": rand(3, 4, dtype=dtype, low=-9, high=9),
                        "b": rand(4, dtype=dtype, seed=1, low=-9, high=9)})


def test_matmul_constant_weight_and_opset():
    check_op("MatMul", {"x": rand(2, 8), "w": rand(8, 3, seed=1)}, constants=["w"], opset=7)
    check_op("MatMul", {"x": rand(5, 2, 8), "w": rand(8, seed=1)}, constants=["w"], opset=13)


def test_matmul_bad_inner_dims_names_the_node():
    model = make_model([_node("MatMul", ["a", "b"], "bad_matmul")],
                       [("a", np.float32, [3, 4]), ("b", np.float32, [5, 6])], ["y"])
    with pytest.raises(dlc.DLCError, match="bad_matmul"):
        dlc.compile(model)


def test_matmul_bad_batch_dims_names_the_node():
    model = make_model([_node("MatMul", ["a", "b"], "mm7")],
                       [("a", np.float32, [2, 3, 4]), ("b", np.float32, [3, 4, 5])], ["y"])
    with pytest.raises(dlc.ShapeError, match="mm7"):
        dlc.compile(model)


# -------------------------------------------------------------------- Gemm
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, 1.0), (1.0, -2.0), (0.25, 0.0)])
@pytest.mark.parametrize("c_shape", [None, (), (5,), (1, 5), (3, 1), (3, 5)])
def test_gemm(trans_a, trans_b, alpha, beta, c_shape):
    m, k, n = 3, 4, 5
    inputs = {"a": rand(*((k, m) if trans_a else (m, k))), "b": rand(*((n, k) if trans_b else (k, n)), seed=1)}
    if c_shape is not None:
        inputs["c"] = rand(*c_shape, seed=2)
    check_op("Gemm", inputs, {"transA": trans_a, "transB": trans_b, "alpha": alpha, "beta": beta})


@pytest.mark.parametrize("opset", [7, 9, 11, 13])
def test_gemm_constant_weights(opset):
    """The usual exported Linear layer: B and C are weights, transB=1."""
    inputs = {"x": rand(2, 6), "w": rand(4, 6, seed=1), "bias": rand(4, seed=2)}
    check_op("Gemm", inputs, {"transB": 1}, constants=["w", "bias"], opset=opset)


def test_gemm_defaults_and_float64():
    check_op("Gemm", {"a": rand(3, 4, dtype=np.float64), "b": rand(4, 2, dtype=np.float64, seed=1),
                      "c": rand(3, 2, dtype=np.float64, seed=2)})
    check_op("Gemm", {"a": rand(3, 4), "b": rand(4, 2, seed=1)}, {"alpha": 2.0})   # no C (opset 11+)


def test_gemm_bad_c_names_the_node():
    model = make_model([_node("Gemm", ["a", "b", "c"], "gemm_c")],
                       [("a", np.float32, [3, 4]), ("b", np.float32, [4, 5]), ("c", np.float32, [2, 5])], ["y"])
    with pytest.raises(dlc.DLCError, match="gemm_c"):
        dlc.compile(model)


# ------------------------------------------------------------------ Einsum
@pytest.mark.parametrize("equation, shapes", [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bhid,bhjd->bhij", [(2, 3, 4, 5), (2, 3, 6, 5)]),     # attention scores
    ("bhij,bhjd->bhid", [(2, 3, 4, 6), (2, 3, 6, 5)]),     # attention output
    ("ij,jk", [(3, 4), (4, 5)]),                           # implicit output
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("i,i", [(4,), (4,)]),                                 # dot product
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),                             # outer product
    ("ij,ij->ij", [(3, 4), (3, 4)]),                       # elementwise
    ("ij,ij->i", [(3, 4), (3, 4)]),
    ("bij->bji", [(2, 3, 4)]),
    ("ij->", [(3, 4)]),
    ("ijk->ki", [(2, 3, 4)]),
    ("ijk,jk->i", [(2, 3, 4), (3, 4)]),                    # several contracted indices
    ("ijk,jkl->il", [(2, 3, 4), (3, 4, 5)]),
    ("bsh,hd->bsd", [(2, 3, 4), (4, 5)]),
    ("ij,kl->ijkl", [(2, 3), (4, 5)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),            # three operands
    ("abc,cd->dba", [(2, 3, 4), (4, 5)]),                  # output order differs
    ("ij,jk->k", [(3, 4), (4, 5)]),                        # a free index summed first
    ("...ij,...jk->...ik", [(2, 3, 4), (1, 4, 5)]),        # ellipsis broadcast
    ("...j,j->...", [(2, 3, 4), (4,)]),                    # ellipsis, one operand without
    ("BiJ,BJk->Bik", [(2, 3, 4), (2, 4, 5)]),              # upper-case labels
    ("ik,kj->ij", [(3, 0), (0, 5)]),                        # K = 0
])
def test_einsum(equation, shapes):
    inputs = {f"x{i}": rand(*s, seed=i) for i, s in enumerate(shapes)}
    check_op("Einsum", inputs, {"equation": equation})


def test_einsum_integer_and_constant_operand():
    check_op("Einsum", {"a": rand(2, 3, dtype=np.int64, low=-5, high=5),
                        "b": rand(3, 4, dtype=np.int64, seed=1, low=-5, high=5)}, {"equation": "ij,jk->ik"})
    check_op("Einsum", {"x": rand(2, 3, 4), "w": rand(5, 4, seed=1)}, {"equation": "bsh,dh->bsd"},
             constants=["w"], opset=12)


@pytest.mark.parametrize("op, equation, shapes", [
    ("MatMul", None, [("N", 3, 4), (4, 5)]),
    ("Einsum", "bsh,hd->bsd", [("B", "S", 4), (4, 5)]),
    ("Einsum", "ijk,jk->i", [("I", 3, 4), (3, 4)]),
    ("Einsum", "ijk,jkl->il", [(2, "J", "K"), ("J", "K", 5)]),
    ("Einsum", "ijk,jkl->il", [("I", "J", "K"), ("J", "K", "L")]),   # K and N both unknown
])
def test_symbolic_dims(op, equation, shapes):
    """Reshapes the converter emits must hold for any size the dims take."""
    names = [f"x{i}" for i in range(len(shapes))]
    node = helper.make_node(op, names, ["y"], **({"equation": equation} if equation else {}))
    model = make_model([node], [(nm, np.float32, list(s)) for nm, s in zip(names, shapes)], ["y"])
    sizes = {"N": 2, "B": 2, "S": 3, "I": 2, "J": 3, "K": 4, "L": 5}
    check_model(model, {nm: rand(*(sizes.get(d, d) for d in s), seed=i)
                        for i, (nm, s) in enumerate(zip(names, shapes))})


@pytest.mark.parametrize("equation,shapes", [
    ("ii->i", [(3, 3)]), ("ii", [(4, 4)]), ("...ii->...i", [(2, 3, 3)]), ("bii,bi->b", [(2, 3, 3), (2, 3)]),
    ("iij->ji", [(3, 3, 2)]), ("ijij->ij", [(2, 3, 2, 3)]),
])
def test_einsum_diagonals(equation, shapes):
    names = [f"x{i}" for i in range(len(shapes))]
    check_op("Einsum", {nm: rand(*s, seed=i) for i, (nm, s) in enumerate(zip(names, shapes))},
             {"equation": equation}, reference="onnx")


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1,) * 2, (2, 3, 5, 5)])
def test_det(shape):
    check_op("Det", {"x": rand(*shape)}, rtol=1e-4, atol=1e-5)


def test_det_singular_and_pivoting():
    x = np.array([[[0, 1, 2], [1, 0, 3], [4, -3, 8]], [[1, 2, 3], [2, 4, 6], [1, 1, 1]]], np.float32)
    check_op("Det", {"x": x})
