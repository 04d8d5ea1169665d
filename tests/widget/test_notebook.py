"""The demo notebook, executed headless in a real kernel against the real server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support import ADMIN_KEY
from tokens_server.settings import Settings
from tokens_widget import TokensClient

if TYPE_CHECKING:
    from nbformat import NotebookNode

NOTEBOOK = Path(__file__).parents[2] / "notebooks" / "tokens_demo.ipynb"


@pytest.fixture
def jupyter_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the kernel's Jupyter and IPython state out of the real home directory."""
    for variable, folder in [
        ("HOME", "home"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (tmp_path / folder).mkdir()
        monkeypatch.setenv(variable, str(tmp_path / folder))
    return tmp_path


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A server that waits long for its database. On a loaded machine one call once took past the
    default 1.5 s: the notebook printed that 503 where it prints the 412 it demonstrates."""
    return replace(settings, db_timeout_ms=30_000)


async def executed(**options: Any) -> NotebookNode:
    """The demo notebook, run in a real kernel. nbformat and nbclient are imported only here:
    they bring jsonschema, whose format checkers take 2.4 s to import, which every worker
    would otherwise spend collecting."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(NOTEBOOK, as_version=4)  # type: ignore[no-untyped-call]
    # async_execute keeps this event loop, which also runs the server, free to answer.
    await NotebookClient(notebook, timeout=60, kernel_name="python3", **options).async_execute()
    return notebook


def outputs(notebook: NotebookNode) -> str:
    texts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            texts.append(output.get("text", ""))
            texts.append(str(output.get("data", {}).get("text/markdown", "")))
    return "\n".join(texts)


async def test_demo_notebook_runs_against_the_server(
    server_url: str, admin: TokensClient, jupyter_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOKENS_URL", server_url)
    monkeypatch.setenv("TOKENS_API_KEY", ADMIN_KEY)
    notebook = await executed()

    text = outputs(notebook)
    # Each message carries the whole output: pytest would cut it short, hiding which line differs.
    assert f"Using the Tokens server at `{server_url}`" in text, text
    assert "Signed in as admin; scopes: analytics, finance, ml" in text, text
    assert "True active" in text, text  # the new token verified
    assert "412 Precondition failed" in text, text
    assert "rotated: True | now revoked" in text and "old GUID: not_found" in text, text
    widget_views = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in output.get("data", {})
    ]
    assert len(widget_views) == 1
    assert (await admin.list_tokens()).total == 0  # the examples cleaned up after themselves


async def test_without_a_server_the_notebook_explains_how_to_start_one(
    jupyter_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKENS_URL", raising=False)
    monkeypatch.delenv("TOKENS_API_KEY", raising=False)
    notebook = await executed(allow_errors=True)
    text = outputs(notebook)
    assert "tokens-server serve" in text and "admin.key" in text
    errors = [
        output["evalue"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors[0] == "No Tokens server configured: see the first cell for how to start one."
