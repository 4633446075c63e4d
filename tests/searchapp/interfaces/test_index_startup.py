"""`search index` loads PyTorch only when there is something to embed, reading files meanwhile."""

from __future__ import annotations

import pytest

from searchapp.search_index import SearchIndex
from tests.searchapp.conftest import FakeEncoder
from tests.searchapp.interfaces.test_query_path import probe


@pytest.mark.slow
def test_an_unchanged_folder_is_checked_without_importing_torch(tmp_path, cranfield) -> None:
    folder = cranfield.write_files(tmp_path / "docs", 0, 3)
    index_dir = tmp_path / "idx"
    args = ("index", str(folder), "--index-dir", str(index_dir))
    _, err = probe(*args, "--precision", "fp32")
    assert "IMPORTED ['torch'] EXIT 0" in err, err
    _, err = probe(*args)
    assert "IMPORTED [] EXIT 0" in err, err
    assert "0 added, 0 updated, 0 removed, 3 unchanged" in err, err
    (folder / "doc1.txt").write_text("shock waves on a swept wing\n", "utf-8")
    _, err = probe(*args)
    assert "IMPORTED ['torch'] EXIT 0" in err and "1 updated" in err, err
    search_index = SearchIndex(index_dir)
    assert search_index.meta().precision == "fp32"  # as first recorded: fp32 stays fp32
    assert search_index.load_encoder().precision == "fp32"
    top = search_index.search("shock waves on a swept wing", k=1)[0]
    assert top.path.endswith("doc1.txt") and top.score > 0.99


def test_the_precision_recorded_is_the_indexing_encoders(tmp_path) -> None:
    class Bf16Fake(FakeEncoder):
        precision = "bf16"

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("lift and drag\n", "utf-8")
    search_index = SearchIndex(tmp_path / "idx", encoder=Bf16Fake())
    search_index.add([tmp_path / "d"])
    assert search_index.meta().precision == "bf16"


def test_an_empty_new_index_asked_for_fp32_records_it(tmp_path) -> None:
    (tmp_path / "d").mkdir()
    search_index = SearchIndex(tmp_path / "idx", precision="fp32", encoder=FakeEncoder())
    search_index.add([tmp_path / "d"])
    assert search_index.meta().precision == "fp32"
    fresh = SearchIndex(tmp_path / "idx2", encoder=FakeEncoder())
    fresh.add([tmp_path / "d"])
    assert fresh.meta().precision is None  # nothing embedded, auto: left to the first load


def test_the_search_command_freezes_its_objects_before_exiting() -> None:
    """Python's last collection would walk every object torch made (0.3 s of `search index`):
    the command freezes them; ``main(argv)``, called in-process by tests, leaves them alone."""
    import subprocess
    import sys

    code = (
        "import gc, sys\n"
        "from searchapp.interfaces import cli\n"
        "sys.argv = ['search', '--version']\n"
        "for args in (['--version'], None):\n"
        "    try:\n"
        "        cli.main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "    print(gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    frozen = [line for line in done.stdout.splitlines() if line in ("True", "False")]
    assert frozen == ["False", "True"], done.stdout
