"""The fork server: one process, its imports done, that forks each supervisor the server asks
for, so a supervisor's start costs a ``fork`` (≈ 1 ms) instead of Python's start-up and
imports (≈ 40-50 ms of CPU on the machine the jobs run on).

Started by the server as ``python -S -E .../supervisor --fork-server`` with a Unix stream
socket as standard input (``amlite.executors._forkserver``). Each request is one message,
``b"-"`` (a spare: ``--wait``) or a run directory (a start: ``RUN_DIR``), carrying three file
descriptors (``SCM_RIGHTS``): the child's standard input, its standard output (the server's
``--notify`` pipe) and its standard error. The reply is the child's pid (4 bytes, native
order), sent once the child is in its session with its descriptors in place; the fork server
then closes its copies of the descriptors.

A child is what ``python -S -E .../supervisor --notify ...`` would be: in a session of its
own, the three descriptors as its 0, 1 and 2, nothing else of the fork server's open, the
default signal dispositions; it runs ``main.main`` and exits with its status. The fork server
leaves its children to the kernel to reap (``SIGCHLD`` ignored): the server follows each one
through its pipe and a pidfd, as it does a supervisor it did not start. It holds no threads
(fork is then safe) and reads no request it did not ask for: it exits when its socket reaches
EOF (the server closed it or died); the supervisors it forked keep running.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import struct
import sys

from .main import main as supervisor_main

SPARE = b"-"
"""The request for a spare (``--wait``); any other request names a run directory."""
MAX_REQUEST = 4096
"""The longest request (a run directory's path in bytes)."""
PID = struct.Struct("=i")
"""The reply: the child's pid."""
MADV_POPULATE_WRITE = 23
"""Linux 5.14+: fault a range in as if each page were written (its own copy of a page it
shares copy-on-write with its parent)."""
_LIBC = ctypes.CDLL(None, use_errno=True)


def serve() -> int:
    """Fork a supervisor per request until the socket (standard input) reaches EOF."""
    sock = socket.socket(fileno=os.dup(0))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the children get their own standard input; nothing reads this one
    os.close(devnull)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    while True:
        try:
            request, fds, _flags, _addr = socket.recv_fds(sock, MAX_REQUEST, 3)
        except OSError:
            return 0
        if not request:
            return 0  # the server closed its end (or died)
        if len(fds) != 3:
            for fd in fds:
                os.close(fd)
            return 2  # not the server's protocol: stop rather than guess
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            _child(sock, request, fds, ready_w)  # never returns
        os.close(ready_w)
        for fd in fds:
            os.close(fd)
        os.read(ready_r, 1)  # EOF once the child has its session and descriptors (or died)
        os.close(ready_r)
        sock.sendall(PID.pack(pid))


def _child(sock: socket.socket, request: bytes, fds: list[int], ready: int) -> None:
    """In the forked child: become a supervisor started with ``--notify`` and exit. Closing
    ``ready`` tells the fork server it is set up (as ``Popen`` returns once its child is),
    so the server, told its pid, finds it in its own session, its descriptors in place."""
    status = 1
    try:
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        os.close(ready)
        arg = "--wait" if request == SPARE else os.fsdecode(request)
        if request == SPARE:
            own_pages()  # while it waits, off the job's path
        status = supervisor_main([sys.argv[0], "--notify", arg])
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # the status says it; the server reads the run directory
        status = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # exiting either way
                stream.flush()
        os._exit(status)


def own_pages() -> None:
    """Take this process's own copy of every page it still shares, copy-on-write, with the
    fork server (its writable private mappings, ``MADV_POPULATE_WRITE``). A forked spare
    that skipped this would copy them one fault at a time once told to go (≈ 240 faults,
    1-3 ms, on the job's path). Where the kernel lacks it (before 5.14), nothing happens."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            lines = maps.read().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) < 2 or not fields[1].startswith(b"rw") or fields[1][3:4] != b"p":
            continue
        if len(fields) > 5 and fields[5] in (b"[vvar]", b"[vsyscall]", b"[vdso]"):
            continue
        start, _, end = fields[0].partition(b"-")
        first, size = int(start, 16), int(end, 16) - int(start, 16)
        failed = _LIBC.madvise(ctypes.c_void_p(first), ctypes.c_size_t(size), MADV_POPULATE_WRITE)
        if failed and ctypes.get_errno() == errno.EINVAL:  # not this kernel
            return
