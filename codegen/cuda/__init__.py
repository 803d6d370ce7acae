"""The CUDA renderer: kernel IR -> Numba-CUDA kernels (render.py, pysrc.py,
module.py: pure text, no numba) and their compilation and launch (jit.py:
the only place dlc imports numba)."""
