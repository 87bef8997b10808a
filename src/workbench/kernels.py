"""Warm kernels: one Jupyter kernel that runs report after report.

Starting a kernel and importing pandas, statsmodels and seaborn into it costs more than
most of our notebooks take to compute. A warm kernel pays that once: between reports its
namespace is cleared (a fresh session, so cells number from 1 again), figures are closed,
and what a notebook may change in its process is put back as it was before the first
report: matplotlib rcParams and inline figure formats, warning filters, the working
folder, environment variables, ``sys.path``, the global random states of ``random`` and
numpy, numpy's print options; pandas' display options go back to pandas' defaults.
Modules stay imported, which is the point.

What a reset cannot undo is a notebook changing a library's internals; our notebooks do
not. ``tests/test_kernels.py`` runs a notebook that changes all of the above before one
that looks at it, and nbval compares notebooks refreshed in warm kernels with fresh runs.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path

from workbench.project import ROOT_ENVIRONMENT_VARIABLE

__all__ = ["CELL_TIMEOUT_SECONDS", "ENGINE", "KERNEL", "WarmKernel"]

KERNEL = "python3"
CELL_TIMEOUT_SECONDS = 1800  # a cell running longer is taken to hang: the report fails instead of blocking the run

# Runs silently in the kernel before every report. The first run records the settings to
# restore; later runs restore them. Kept in a module so that the namespace reset keeps it.
_RESET = """
import os as _os, random as _random, sys as _sys, types as _types, warnings as _warnings
import matplotlib as _mpl, matplotlib.pyplot as _plt, numpy as _np, pandas as _pd
from matplotlib_inline.config import InlineBackend as _InlineBackend
_state = _sys.modules.get("_workbench_warm_kernel")
if _state is None:
    _state = _sys.modules["_workbench_warm_kernel"] = _types.ModuleType("_workbench_warm_kernel")
    _state.rc = {k: v for k, v in _mpl.rcParams.items() if k != "backend"}
    _state.filters = list(_warnings.filters)
    _state.cwd = _os.getcwd()
    _state.environ = dict(_os.environ)
    _state.path = list(_sys.path)
    _state.random = _random.getstate()
    _state.numpy_random = _np.random.get_state()
    _state.printoptions = _np.get_printoptions()
    _state.figure_formats = set(_InlineBackend.instance().figure_formats)
_plt.close("all")
_mpl.rcParams.update(_state.rc)
_warnings.filters[:] = _state.filters
getattr(_warnings, "_filters_mutated", lambda: None)()  # so cached 'once' decisions are dropped
_os.chdir(_state.cwd)
_os.environ.clear()
_os.environ.update(_state.environ)
_sys.path[:] = _state.path
_random.setstate(_state.random)
_np.random.set_state(_state.numpy_random)
_np.set_printoptions(**_state.printoptions)
_InlineBackend.instance().figure_formats = set(_state.figure_formats)
_pd.reset_option("display")
get_ipython().reset(new_session=True)
"""


class WarmKernel:
    """A kernel kept alive across reports; :meth:`lease` hands it out clean.

    Its sockets are local (ipc) files in a private folder, so study data never crosses a
    network port and parallel workers never pick the same socket.
    """

    def __init__(self, *, cwd: Path, kernel_name: str = KERNEL):
        self.cwd = Path(cwd)
        self.kernel_name = kernel_name
        self.manager = None
        self.client = None
        self._folder = None
        self.reports_run = 0

    def lease(self, cwd: Path | None = None) -> dict:
        """Keyword arguments that make ``papermill.execute_notebook`` run in this kernel,
        after starting it (or restarting a dead one, or one in another folder than ``cwd``)
        and clearing what the last report left."""
        from jupyter_core.utils import run_sync

        if cwd is not None and Path(cwd) != self.cwd:
            self.shutdown()
            self.cwd = Path(cwd)
        if self.manager is None or not run_sync(self.manager.is_alive)():
            self.shutdown()
            self._start()
        # A fresh client for every report: with nbclient 0.11, a client that has run one
        # notebook was seen to receive no further replies.
        self._connect()
        self._reset()
        self.reports_run += 1
        return {
            "engine_name": _register_engine(),
            "km": self.manager,
            "kc": self.client,
            "execution_timeout": CELL_TIMEOUT_SECONDS,
        }

    def _start(self) -> None:
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        self._folder = tempfile.mkdtemp(prefix="workbench-kernel-")
        self.manager = AsyncKernelManager(kernel_name=self.kernel_name, transport="ipc",
                                          ip=os.path.join(self._folder, "kernel"))
        # The kernel finds its project from the folder it runs in (the notebook's), never from a
        # variable this process happened to have: a report always reads the project it belongs to.
        environment = {k: v for k, v in os.environ.items() if k != ROOT_ENVIRONMENT_VARIABLE}
        # No input history: a report is never replayed, and IPython would otherwise write every cell
        # (and every reset's new session) to its SQLite history file, a disk write per cell.
        run_sync(self.manager.start_kernel)(cwd=str(self.cwd), env=environment,
                                            extra_arguments=["--HistoryManager.enabled=False"])

    def _connect(self) -> None:
        from jupyter_core.utils import run_sync

        first = self.client is None
        if not first:
            self.client.stop_channels()
        self.client = self.manager.client()
        self.client.start_channels()
        if first:  # a kernel that has answered once is ready; waiting again costs 0.2 s of iopub polling
            run_sync(self.client.wait_for_ready)(timeout=60)

    def _reset(self) -> None:
        from jupyter_core.utils import run_sync

        msg_id = self.client.execute(_RESET, silent=True, store_history=False)
        while True:
            reply = run_sync(self.client.get_shell_msg)(timeout=120)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        if reply["content"]["status"] != "ok":
            content = reply["content"]
            raise RuntimeError("could not reset the kernel between reports: "
                               f"{content.get('ename')}: {content.get('evalue')}")

    def shutdown(self) -> None:
        from jupyter_core.utils import run_sync

        if self.client is not None:
            self.client.stop_channels()
            self.client = None
        if self.manager is not None:
            try:
                run_sync(self.manager.shutdown_kernel)(now=False)
            except Exception:  # already gone; nothing left to stop
                pass
            self.manager = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> WarmKernel:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


ENGINE = "workbench-warm-kernel"


@functools.cache
def _register_engine() -> str:
    """papermill's nbclient engine, made to run in a given kernel client as well as a given
    kernel manager (papermill passes a manager through, but not a client, and a client
    nbclient makes for a manager it does not own is never closed)."""
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger

    class WarmKernelEngine(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                     start_timeout=60, execution_timeout=None, km=None, kc=None, **_unused):
            client = PapermillNotebookClient(nb_man, km=km, kernel_name=kernel_name, log=logger, log_output=log_output,
                                             stdout_file=stdout_file, stderr_file=stderr_file,
                                             timeout=execution_timeout, startup_timeout=start_timeout)
            client.kc = kc
            # papermill writes the whole notebook before and after every cell, so a long run can be
            # watched; ours go to a temporary file renamed at the end, and papermill writes the
            # finished notebook once after the engine returns: the per-cell writes only cost time.
            nb_man.save = lambda **_kwargs: None
            return client.execute()

    papermill_engines.register(ENGINE, WarmKernelEngine)
    return ENGINE
