"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel, and is stored without
outputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_is_stored_without_outputs():
    import nbformat

    nb = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


@pytest.mark.slow
def test_quickstart_runs_in_a_kernel(tmp_path):
    import nbclient
    import nbformat

    for name in ("quickstart.ipynb", "banking77_noisy.csv"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    nb = nbformat.read(tmp_path / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(str(o.get("text", "")) for o in outputs)
    assert "labels right:" in text and "issues," in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot
    assert (tmp_path / "relabel-out" / "quickstart" / "report.html").exists()
