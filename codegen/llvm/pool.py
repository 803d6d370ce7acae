"""The thread pool generated code runs parallel loops on: persistent worker
threads, written in LLVM IR here and compiled once per process by llvmlite
(no C compiler at run time, nothing to build at install time).

    void dlc_parallel_for(void (*fn)(ptr ctx, i64 begin, i64 end), ptr ctx,
                          i64 n, i64 grain, i32 threads)

runs ``fn`` over [0, n) in chunks of at least `grain` iterations on up to
`threads` threads, the caller being one of them, and returns when all are
done. Workers are started the first time they are needed (pthread_create
from libc) and then wait for work: each spins a short while on its own
futex word (so back-to-back kernels hand work over in well under a
microsecond) and then sleeps in the kernel (futex wait, woken by the
caller only when it sleeps). Chunks are taken from one shared atomic
counter, and the caller closes the job as soon as none are left: a helper
that wakes late (the OS ran something else on its core) does not join it,
so only a thread preempted in the middle of a chunk can hold the caller up.

One job runs at a time: a call that finds the pool busy (another Python
thread running a model, or a parallel loop inside a parallel task) runs its
loop on its own thread, serially, instead of waiting; so concurrent `run`
calls are safe and cannot deadlock. After fork() the child's pool is reset
(os.register_at_fork): its workers start again on demand.

Linux only (futex); elsewhere `dlc_parallel_for` runs every loop serially.
Why LLVM IR and not Python threads: a Python-level fork/join costs tens of
microseconds per parallel loop and needs the GIL; why not OpenMP: no
OpenMP runtime is guaranteed to be in the process, and llvmlite ships none.
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys
import threading

from llvmlite import ir

I8, I32, I64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()
VOID = ir.VoidType()

MAX_THREADS = 64
SPIN = 4000             # polls (each a `pause`) before a waiting thread sleeps in the kernel
OPEN = 1 << 30          # the bit of the job state word that lets helpers join
CHUNKS_PER_THREAD = 4   # dynamic scheduling: about this many chunks per thread
_SYS_FUTEX = {"x86_64": 202, "aarch64": 98, "arm64": 98}.get(platform.machine().lower())
_FUTEX_WAIT, _FUTEX_WAKE = 128, 129   # the _PRIVATE variants
ENTRY = "dlc_parallel_for"
AFTER_FORK = "dlc_pool_after_fork"
TASK_TYPE = ir.FunctionType(VOID, [PTR, I64, I64])
TASK_PTR = ir.PointerType(TASK_TYPE)   # a typed pointer: llvmlite's indirect calls need the function type


def _const(t, v):
    return ir.Constant(t, v)


def _store_atomic(b: ir.IRBuilder, value, ptr, ordering: str) -> None:
    # IRBuilder.store_atomic still checks typed pointers (llvmlite 0.4x)
    b._insert(ir.instructions.StoreAtomicInstr(b.block, value, ptr, ordering, 4))


def build_module() -> ir.Module:
    m = ir.Module("dlc_pool")
    enabled = sys.platform.startswith("linux") and _SYS_FUTEX is not None

    def glob(name, t, init=0):
        g = ir.GlobalVariable(m, t, f"pool.{name}")
        g.linkage = "internal"
        g.initializer = ir.Constant(t, init)
        g.align = 64
        return g

    lock, nworkers = glob("lock", I32), glob("workers", I32)
    slot_t = ir.ArrayType(I32, 16)                  # one cache line per worker: [ticket, sleeping]
    slots = glob("slots", ir.ArrayType(slot_t, MAX_THREADS), None)
    job_fn, job_ctx = glob("fn", PTR, None), glob("ctx", PTR, None)
    job_n, job_chunk, job_next = glob("n", I64), glob("chunk", I64), glob("next", I64)
    # the job's state: OPEN while helpers may still join it, plus how many have joined and not finished
    state, master_sleeping = glob("state", I32), glob("master_sleeping", I32)

    syscall = ir.Function(m, ir.FunctionType(I64, [I64], var_arg=True), "syscall")
    pthread_create = ir.Function(m, ir.FunctionType(I32, [PTR, PTR, PTR, PTR]), "pthread_create")
    pthread_detach = ir.Function(m, ir.FunctionType(I32, [I64]), "pthread_detach")
    arch = platform.machine().lower()
    if arch in ("x86_64", "amd64"):
        pause_fn, pause_args = ir.Function(m, ir.FunctionType(VOID, []), "llvm.x86.sse2.pause"), []
    elif arch in ("aarch64", "arm64"):
        pause_fn, pause_args = ir.Function(m, ir.FunctionType(VOID, [I32]), "llvm.aarch64.hint"), [_const(I32, 1)]
    else:
        pause_fn = None

    def fn(name, ret, args, linkage="internal"):
        f = ir.Function(m, ir.FunctionType(ret, args), name)
        f.linkage = linkage
        f.attributes.add("nounwind")
        return f, ir.IRBuilder(f.append_basic_block("entry"))

    def futex(b, addr, op, val):
        b.call(syscall, [_const(I64, _SYS_FUTEX), addr, _const(I32, op), val, _const(PTR, None)])

    def slot(b, i, field):
        return b.gep(slots, [_const(I32, 0), i, _const(I32, field)], inbounds=True)

    # wait_change(addr, old, sleeping) -> the new value of *addr (spin, then futex wait)
    wait_change, b = fn("pool.wait_change", I32, [PTR, I32, PTR])
    addr, old, sleeping = wait_change.args
    f = wait_change
    spin_bb, spin_next, sleep_bb, sleep_loop, sleep_wait, done_bb, out_bb = (
        f.append_basic_block(n) for n in ("spin", "spin.next", "sleep", "sleep.loop", "sleep.wait", "done", "out"))
    entry = b.block
    b.branch(spin_bb)
    b.position_at_end(spin_bb)
    i = b.phi(I32, "i")
    i.add_incoming(_const(I32, 0), entry)
    v = b.load_atomic(addr, "acquire", 4, typ=I32)
    b.cbranch(b.icmp_unsigned("!=", v, old), out_bb, spin_next)
    b.position_at_end(spin_next)
    if pause_fn is not None:
        b.call(pause_fn, pause_args)
    i2 = b.add(i, _const(I32, 1))
    i.add_incoming(i2, spin_next)
    b.cbranch(b.icmp_unsigned("<", i2, _const(I32, SPIN)), spin_bb, sleep_bb)
    b.position_at_end(sleep_bb)
    _store_atomic(b, _const(I32, 1), sleeping, "seq_cst")
    b.branch(sleep_loop)
    b.position_at_end(sleep_loop)
    v2 = b.load_atomic(addr, "seq_cst", 4, typ=I32)
    b.cbranch(b.icmp_unsigned("!=", v2, old), done_bb, sleep_wait)
    b.position_at_end(sleep_wait)
    futex(b, addr, _FUTEX_WAIT, old)
    b.branch(sleep_loop)
    b.position_at_end(done_bb)
    _store_atomic(b, _const(I32, 0), sleeping, "seq_cst")
    b.branch(out_bb)
    b.position_at_end(out_bb)
    res = b.phi(I32, "new")
    res.add_incoming(v, spin_bb)
    res.add_incoming(v2, done_bb)
    b.ret(res)

    # run_chunks(): take chunks of the current job until none are left
    run_chunks, b = fn("pool.run_chunks", VOID, [])
    f = run_chunks
    loop_bb, body_bb, end_bb = (f.append_basic_block(n) for n in ("loop", "body", "end"))
    fnp = b.load(job_fn, typ=TASK_PTR)
    ctx = b.load(job_ctx, typ=PTR)
    n = b.load(job_n, typ=I64)
    chunk = b.load(job_chunk, typ=I64)
    b.branch(loop_bb)
    b.position_at_end(loop_bb)
    start = b.atomic_rmw("add", job_next, chunk, "monotonic")
    b.cbranch(b.icmp_signed("<", start, n), body_bb, end_bb)
    b.position_at_end(body_bb)
    stop = b.add(start, chunk)
    stop = b.select(b.icmp_signed("<", stop, n), stop, n)
    b.call(fnp, [ctx, start, stop], )
    b.branch(loop_bb)
    b.position_at_end(end_bb)
    b.ret_void()

    # worker(arg = its index): wait for a ticket, run chunks, report, forever
    worker, b = fn("pool.worker", PTR, [PTR])
    f = worker
    idx = b.ptrtoint(worker.args[0], I32)
    ticket, sleepf = slot(b, idx, 0), slot(b, idx, 1)
    first = _const(I32, 0)    # a worker's slot has had no ticket before the worker exists
    entry = b.block
    loop_bb, wake_bb, next_bb = (f.append_basic_block(n) for n in ("loop", "wake.master", "next"))
    b.branch(loop_bb)
    b.position_at_end(loop_bb)
    seen = b.phi(I32, "seen")
    seen.add_incoming(first, entry)
    new = b.call(wait_change, [ticket, seen, sleepf])
    # join the job if it is still open (the caller closes it once it has run out of chunks,
    # so a helper that wakes late holds up nobody), run chunks, leave
    join_bb, try_bb, run_bb = (f.append_basic_block(n) for n in ("join", "join.try", "run"))
    b.branch(join_bb)
    b.position_at_end(join_bb)
    st = b.load_atomic(state, "acquire", 4, typ=I32)
    b.cbranch(b.icmp_unsigned("!=", b.and_(st, _const(I32, OPEN)), _const(I32, 0)), try_bb, next_bb)
    b.position_at_end(try_bb)
    got = b.cmpxchg(state, st, b.add(st, _const(I32, 1)), "acq_rel", "monotonic")
    b.cbranch(b.extract_value(got, 1), run_bb, join_bb)
    b.position_at_end(run_bb)
    b.call(run_chunks, [])
    left = b.atomic_rmw("sub", state, _const(I32, 1), "seq_cst")
    last = b.icmp_unsigned("==", left, _const(I32, 1))   # closed, and this was the last helper in it
    asleep = b.load_atomic(master_sleeping, "seq_cst", 4, typ=I32)
    b.cbranch(b.and_(last, b.icmp_unsigned("!=", asleep, _const(I32, 0))), wake_bb, next_bb)
    b.position_at_end(wake_bb)
    futex(b, state, _FUTEX_WAKE, _const(I32, 1))
    b.branch(next_bb)
    b.position_at_end(next_bb)
    seen.add_incoming(new, next_bb)
    b.branch(loop_bb)

    # after fork(): the child has no workers
    reset, b = fn(AFTER_FORK, VOID, [], linkage="external")
    b.store(_const(I32, 0), nworkers)
    b.store(_const(I32, 0), lock)
    b.store(_const(I32, 0), state)
    b.store(ir.Constant(slots.value_type, None), slots)
    b.ret_void()

    # dlc_parallel_for(fn, ctx, n, grain, threads)
    main, b = fn(ENTRY, VOID, [TASK_PTR, PTR, I64, I64, I32], linkage="external")
    f = main
    task, tctx, n, grain, threads = main.args
    for a, nm in zip(main.args, ("fn", "ctx", "n", "grain", "threads")):
        a.name = nm
    serial_bb, try_bb, locked_bb, busy_bb = (f.append_basic_block(x) for x in ("serial", "try", "locked", "busy"))
    grain = b.select(b.icmp_signed("<", grain, _const(I64, 1)), _const(I64, 1), grain)
    # threads worth using: at most one per `grain` iterations
    useful = b.sdiv(b.add(n, b.sub(grain, _const(I64, 1))), grain)
    t64 = b.sext(threads, I64)
    t64 = b.select(b.icmp_signed("<", useful, t64), useful, t64)
    t64 = b.select(b.icmp_signed(">", t64, _const(I64, MAX_THREADS)), _const(I64, MAX_THREADS), t64)
    go = b.icmp_signed(">", t64, _const(I64, 1)) if enabled else _const(ir.IntType(1), 0)
    b.cbranch(go, try_bb, serial_bb)
    b.position_at_end(serial_bb)
    b.call(task, [tctx, _const(I64, 0), n])
    b.ret_void()
    b.position_at_end(try_bb)
    got = b.cmpxchg(lock, _const(I32, 0), _const(I32, 1), "acquire", "monotonic")
    b.cbranch(b.extract_value(got, 1), locked_bb, busy_bb)
    b.position_at_end(busy_bb)
    b.call(task, [tctx, _const(I64, 0), n])
    b.ret_void()

    b.position_at_end(locked_bb)
    nt = b.trunc(t64, I32)
    need = b.sub(nt, _const(I32, 1))
    # start workers up to `need`
    tid = b.alloca(I64, name="tid")
    cur_bb = b.block
    sw_cond, sw_body, sw_ok, sw_end = (f.append_basic_block(x) for x in ("spawn.cond", "spawn", "spawn.ok",
                                                                          "spawn.end"))
    b.branch(sw_cond)
    b.position_at_end(sw_cond)
    w = b.load(nworkers, typ=I32)
    b.cbranch(b.icmp_signed("<", w, need), sw_body, sw_end)
    b.position_at_end(sw_body)
    rc = b.call(pthread_create, [tid, _const(PTR, None), worker, b.inttoptr(w, PTR)])
    b.cbranch(b.icmp_unsigned("==", rc, _const(I32, 0)), sw_ok, sw_end)
    b.position_at_end(sw_ok)
    b.call(pthread_detach, [b.load(tid, typ=I64)])
    b.store(b.add(w, _const(I32, 1)), nworkers)
    b.branch(sw_cond)
    b.position_at_end(sw_end)
    have = b.load(nworkers, typ=I32)
    helpers = b.select(b.icmp_signed("<", have, need), have, need)
    # the job: chunks of max(grain, n / (threads * CHUNKS_PER_THREAD))
    used = b.sext(b.add(helpers, _const(I32, 1)), I64)
    per = b.sdiv(b.add(n, b.sub(b.mul(used, _const(I64, CHUNKS_PER_THREAD)), _const(I64, 1))),
                 b.mul(used, _const(I64, CHUNKS_PER_THREAD)))
    b.store(task, job_fn)
    b.store(tctx, job_ctx)
    b.store(n, job_n)
    b.store(b.select(b.icmp_signed("<", per, grain), grain, per), job_chunk)
    b.store(_const(I64, 0), job_next)
    _store_atomic(b, _const(I32, OPEN), state, "release")
    # hand a ticket to each helper; wake the ones asleep
    nt_cond, nt_body, nt_wake, nt_next, nt_end = (f.append_basic_block(x) for x in (
        "notify.cond", "notify", "notify.wake", "notify.next", "notify.end"))
    pre = b.block
    b.branch(nt_cond)
    b.position_at_end(nt_cond)
    j = b.phi(I32, "j")
    j.add_incoming(_const(I32, 0), pre)
    b.cbranch(b.icmp_signed("<", j, helpers), nt_body, nt_end)
    b.position_at_end(nt_body)
    tk = slot(b, j, 0)
    b.atomic_rmw("add", tk, _const(I32, 1), "seq_cst")
    sl = b.load_atomic(slot(b, j, 1), "seq_cst", 4, typ=I32)
    b.cbranch(b.icmp_unsigned("!=", sl, _const(I32, 0)), nt_wake, nt_next)
    b.position_at_end(nt_wake)
    futex(b, tk, _FUTEX_WAKE, _const(I32, 1))
    b.branch(nt_next)
    b.position_at_end(nt_next)
    j.add_incoming(b.add(j, _const(I32, 1)), nt_next)
    b.branch(nt_cond)
    b.position_at_end(nt_end)
    b.call(run_chunks, [])
    # no chunks left: close the job, then wait for the helpers that joined it (spin, then
    # sleep until the last one wakes us)
    old = b.atomic_rmw("and", state, _const(I32, ~OPEN), "seq_cst")
    left = b.and_(old, _const(I32, ~OPEN))
    done_bb, wait_bb = f.append_basic_block("done"), f.append_basic_block("wait")
    b.cbranch(b.icmp_unsigned("==", left, _const(I32, 0)), done_bb, wait_bb)
    b.position_at_end(wait_bb)
    cur = b.block
    w_loop, w_again = f.append_basic_block("wait.loop"), f.append_basic_block("wait.again")
    b.branch(w_loop)
    b.position_at_end(w_loop)
    seen = b.phi(I32, "left")
    seen.add_incoming(left, cur)
    now = b.call(wait_change, [state, seen, master_sleeping])
    seen.add_incoming(now, w_again)
    b.cbranch(b.icmp_unsigned("==", now, _const(I32, 0)), done_bb, w_again)
    b.position_at_end(w_again)
    b.branch(w_loop)
    b.position_at_end(done_bb)
    _store_atomic(b, _const(I32, 0), lock, "release")
    b.ret_void()
    del cur_bb
    return m


_lock = threading.Lock()
_native = None


def ensure_loaded() -> int:
    """Compile the pool (once per process), make `dlc_parallel_for`
    resolvable by the code MCJIT loads afterwards, and return its address."""
    global _native
    with _lock:
        if _native is None:
            import llvmlite.binding as llvm

            from .jit import NativeCode, compile_ir
            native = NativeCode(compile_ir(str(build_module())).object_code, link_pool=False)
            addr = native.address(ENTRY)
            llvm.add_symbol(ENTRY, addr)
            reset = ctypes.CFUNCTYPE(None)(native.address(AFTER_FORK))
            os.register_at_fork(after_in_child=reset)
            _native = (native, addr, reset)
        return _native[1]


def default_threads() -> int:
    """DLC_NUM_THREADS if set, else the cores this process may run on."""
    env = os.environ.get("DLC_NUM_THREADS", "").strip()
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ValueError(f"DLC_NUM_THREADS must be a positive integer, got {env!r}") from None
        if n < 1:
            raise ValueError(f"DLC_NUM_THREADS must be a positive integer, got {env!r}")
        return min(n, MAX_THREADS)
    try:
        return min(len(os.sched_getaffinity(0)), MAX_THREADS)
    except (AttributeError, OSError):
        return min(os.cpu_count() or 1, MAX_THREADS)
