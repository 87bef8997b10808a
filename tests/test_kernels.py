"""Warm kernels: a report run after another in the same kernel sees what a fresh kernel shows."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import nbformat
import papermill
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from workbench.kernels import WarmKernel

pytestmark = pytest.mark.slow

MESSY = [  # a report that changes everything a reset must put back
    "import matplotlib.pyplot as plt\nimport pandas as pd\nimport warnings\nleftover = 42",
    "plt.rcParams['lines.linewidth'] = 9\npd.set_option('display.max_rows', 3)\n"
    "warnings.simplefilter('error')\nfigure = plt.figure()",
    "import os, sys, numpy as np\nos.chdir('/')\nos.environ['WORKBENCH_LEAK'] = '1'\nsys.path.append('/leak')\n"
    "np.set_printoptions(precision=2)\n%config InlineBackend.figure_formats = ['svg']",
]
PROBE = [  # a report that shows that state
    "import matplotlib.pyplot as plt\nimport pandas as pd\nimport warnings",
    "print('leftover' in globals(), plt.rcParams['lines.linewidth'], pd.get_option('display.max_rows'), "
    "len(plt.get_fignums()))\n"
    "warnings.warn('only a warning')\nprint('still running')",
    "import os, sys, numpy as np\nfrom matplotlib_inline.config import InlineBackend\n"
    "print(os.path.basename(os.getcwd()), 'WORKBENCH_LEAK' in os.environ, '/leak' in sys.path, "
    "np.get_printoptions()['precision'], sorted(InlineBackend.instance().figure_formats))",
]


def notebook(folder: Path, name: str, sources: list[str]) -> Path:
    path = folder / name
    book = new_notebook(cells=[new_code_cell(source) for source in sources])
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(book, path)
    return path


def run(kernel: WarmKernel, source: Path, output: Path) -> list:
    papermill.execute_notebook(str(source), str(output), progress_bar=False, kernel_name="python3", **kernel.lease())
    book = json.loads(output.read_text())
    return [
        (cell["execution_count"], ["".join(o["text"]) for o in cell["outputs"] if o.get("name") == "stdout"])
        for cell in book["cells"]
    ]


def test_a_report_after_another_in_a_warm_kernel_matches_a_fresh_kernel(tmp_path):
    messy, probe = notebook(tmp_path, "messy.ipynb", MESSY), notebook(tmp_path, "probe.ipynb", PROBE)
    with WarmKernel(cwd=tmp_path) as new_kernel:
        fresh = run(new_kernel, probe, tmp_path / "fresh.ipynb")
    assert fresh[1] == (2, ["False 1.5 60 0\nstill running\n"])
    assert fresh[2] == (3, [f"{tmp_path.name} False False 8 ['png']\n"])
    with WarmKernel(cwd=tmp_path) as kernel:
        run(kernel, messy, tmp_path / "messy-out.ipynb")
        assert run(kernel, probe, tmp_path / "warm.ipynb") == fresh
        assert kernel.reports_run == 2


def test_a_warm_kernel_that_died_is_replaced(tmp_path):
    probe = notebook(tmp_path, "probe.ipynb", PROBE)
    with WarmKernel(cwd=tmp_path) as kernel:
        run(kernel, probe, tmp_path / "first.ipynb")
        first_pid = kernel.manager.provisioner.pid
        os.kill(first_pid, signal.SIGKILL)
        kernel.manager.provisioner.process.wait()
        assert run(kernel, probe, tmp_path / "second.ipynb")[1] == (2, ["False 1.5 60 0\nstill running\n"])
        assert kernel.manager.provisioner.pid != first_pid
    assert kernel.manager is None


def test_a_hanging_report_fails_and_the_next_one_gets_a_fresh_kernel(tmp_path, monkeypatch):
    from workbench import kernels
    from workbench.reports import Job, execute

    monkeypatch.setattr(kernels, "CELL_TIMEOUT_SECONDS", 3)
    hanging = notebook(tmp_path, "hanging.ipynb", ["import time\ntime.sleep(60)"])
    probe = notebook(tmp_path, "probe.ipynb", PROBE)
    with WarmKernel(cwd=tmp_path) as kernel:
        failed = execute(Job(hanging, tmp_path / "out" / "hanging.ipynb", {}, "hanging"), kernel=kernel)
        assert not failed.ok and "timed out" in failed.error.lower() and failed.seconds < 30
        assert not (tmp_path / "out" / "hanging.ipynb").exists()
        assert run(kernel, probe, tmp_path / "after.ipynb")[1] == (2, ["False 1.5 60 0\nstill running\n"])
