"""`search watch`: batches applied from the disk's state, and the watcher following real changes.

The fake encoder keeps these fast; equality with a fresh build is checked through the store.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from searchapp.errors import SearchAppError
from searchapp.ingest import pipeline
from searchapp.ingest.interrupts import DeferredInterrupts, StopRequest
from searchapp.interfaces import watch as watch_module
from searchapp.interfaces.watch import BatchReport, Watcher
from searchapp.search_index import SearchIndex
from searchapp.storage.lock import WriterLock
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import FakeEncoder, use_encoder

DEADLINE = 30.0  # seconds a test waits for the watcher to settle before it fails


def contents(index_dir: Path) -> dict[tuple[str, str], list[str]]:
    """(path, doc_id) -> chunk texts in order: what a search can find, read from the store."""
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    try:
        with index.store.snapshot():
            rows = index.store.rows(
                "SELECT d.path, d.doc_id, c.text FROM documents d "
                "JOIN chunks c ON c.document_id = d.id ORDER BY d.path, d.doc_id, c.ordinal"
            )
    finally:
        index.close()
    found: dict[tuple[str, str], list[str]] = {}
    for path, doc_id, text in rows:
        found.setdefault((path, doc_id), []).append(text)
    return found


def fresh_build(folders: list[Path], index_dir: Path) -> dict[tuple[str, str], list[str]]:
    SearchIndex(index_dir, encoder=FakeEncoder()).add(folders)
    return contents(index_dir)


def indexed_paths(index_dir: Path) -> set[str]:
    """The indexed paths, or none while the index is being created."""
    index = SearchIndex(index_dir, encoder=FakeEncoder())
    try:
        return set(index.store.all_paths())
    except SearchAppError:
        return set()
    finally:
        index.close()


def wait_until(condition: Callable[[], bool], timeout: float = DEADLINE) -> float:
    """Seconds until ``condition()`` held; fails after ``timeout``."""
    started = time.perf_counter()
    while not condition():
        if time.perf_counter() - started > timeout:
            pytest.fail(f"not reached within {timeout:.0f}s")
        time.sleep(0.02)
    return time.perf_counter() - started


@pytest.fixture()
def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    for i in range(6):
        where = folder / "sub" if i % 2 else folder
        (where / f"note{i}.txt").write_text(f"note number {i} about topic{i}\n", "utf-8")
    return folder


@pytest.fixture()
def watcher(docs: Path, tmp_path: Path) -> Watcher:
    watcher = Watcher(SearchIndex(tmp_path / "idx", encoder=FakeEncoder()), [docs])
    watcher.index_all()
    return watcher


@pytest.fixture()
def following(watcher: Watcher) -> Iterator[tuple[Watcher, list[BatchReport]]]:
    """The watcher following changes in a thread (its index reopened there)."""
    watcher.index.close()
    stop, batches = threading.Event(), []
    thread = threading.Thread(target=watcher.follow, args=(stop, batches.append), daemon=True)
    thread.start()
    time.sleep(0.3)  # the OS watch is set up
    yield watcher, batches
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()


@contextmanager
def followed(paths: list[Path], index_dir: Path, on_note=None) -> Iterator[Watcher]:
    """A watcher of ``paths`` that has indexed them, following their changes in a thread once
    its OS watch is set up; at the end, it stopped without an error."""
    watcher = Watcher(SearchIndex(index_dir, encoder=FakeEncoder()), paths)
    watcher.index_all()
    watcher.index.close()
    stop, errors = threading.Event(), []

    def follow() -> None:
        try:
            watcher.follow(stop, None, on_note)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the OS watch is set up
        yield watcher
    finally:
        stop.set()
        thread.join(timeout=10)
    assert errors == [] and not thread.is_alive()


def indexed_text(index_dir: Path) -> str:
    return " ".join(text for texts in contents(index_dir).values() for text in texts)


# -- batches, applied directly ----------------------------------------------------------------


def test_atomic_save_is_one_update(watcher, docs, tmp_path) -> None:
    target = docs / "note0.txt"
    temporary = docs / ".note0.txt.swp"
    temporary.write_text("rewritten by an editor\n", "utf-8")
    os.replace(temporary, target)
    report = watcher.apply({temporary, target})
    assert (report.added, report.updated, report.removed) == (0, 1, 0)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh")


def test_renames_deletes_and_new_folders(watcher, docs, tmp_path) -> None:
    os.rename(docs / "note0.txt", docs / "renamed.txt")
    (docs / "sub" / "note1.txt").unlink()
    outside = tmp_path / "elsewhere"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "moved.txt").write_text("moved in with its folder\n", "utf-8")
    os.rename(outside, docs / "arrived")  # inotify reports the folder alone
    report = watcher.apply({docs / "note0.txt", docs / "renamed.txt", docs / "sub" / "note1.txt"})
    assert (report.added, report.removed) == (1, 2)
    report = watcher.apply({docs / "arrived"})
    assert (report.added, report.removed) == (1, 0)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh")


def test_a_file_dropped_as_binary_is_named_in_its_batch_line(watcher, docs) -> None:
    # "0 added, 0 updated, 1 removed, 1 skipped in 0.14s": every other batch line names its
    # files, this one did not say which was removed.
    (docs / "note0.txt").write_bytes(b"\x00\x01" * 50)
    report = watcher.apply({docs / "note0.txt"})
    assert (report.added, report.updated, report.removed) == (0, 0, 1)
    assert report.summary().endswith(f"1 skipped in {report.seconds:.2f}s: {docs / 'note0.txt'}")


def test_a_folder_that_is_also_the_index_folder_is_watched_for_its_notes(tmp_path) -> None:
    # `search watch notes --index-dir notes`: every change under the index folder was ignored,
    # the notes' too; its own files (the WAL at every commit) must still be.
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.md").write_text("alpha notes\n", "utf-8")
    watcher = Watcher(SearchIndex(notes, encoder=FakeEncoder()), [notes])
    assert watcher.index_all().added == 1
    (notes / "b.md").write_text("beta notes\n", "utf-8")
    assert watcher._relevant(None, str(notes / "b.md"))
    assert not watcher._relevant(None, str(notes / "index.db-wal"))
    report = watcher.apply({notes / "b.md", notes / "index.db-wal", notes / "write.lock"})
    assert (report.added, report.updated, report.removed) == (1, 0, 0)
    assert indexed_paths(notes) == {str(notes / "a.md"), str(notes / "b.md")}


def test_a_deleted_file_whose_name_is_a_glob_removes_itself_alone(watcher, docs, tmp_path) -> None:
    # Removed as a glob, "[ab].md" named a.md and b.md: both left the index, it stayed.
    for name in ("[ab].md", "a.md", "b.md"):
        (docs / name).write_text(f"the file {name}\n", "utf-8")
    assert watcher.apply({docs / "[ab].md", docs / "a.md", docs / "b.md"}).added == 3
    (docs / "[ab].md").unlink()
    report = watcher.apply({docs / "[ab].md"})
    assert (report.added, report.removed) == (0, 1)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh")


def test_a_link_is_read_again_when_its_target_changes(watcher, docs, tmp_path) -> None:
    # The OS reports the target only: the link's document kept the old text.
    (docs / "link.txt").symlink_to(docs / "note0.txt")
    assert watcher.apply({docs / "link.txt"}).added == 1
    (docs / "note0.txt").write_text("rewritten about helicopter rotors\n", "utf-8")
    report = watcher.apply({docs / "note0.txt"})
    assert (report.added, report.updated, report.removed) == (0, 2, 0)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh")


def test_a_file_the_walk_skips_is_told_with_its_own_batch(watcher, docs, tmp_path) -> None:
    # A link to a file outside the root, alone in its batch, was told by a later batch that
    # walked the tree for another reason ("1 skipped" in a batch that had not touched it).
    outside = tmp_path / "outside.md"
    outside.write_text("not in the watched folder\n", "utf-8")
    (docs / "out.md").symlink_to(outside)
    report = watcher.apply({docs / "out.md"})  # a batch of files: judged by a walk toward it
    assert report is not None and (report.added, report.removed) == (0, 0)
    [(path, why)] = report.skipped
    assert path == str(docs / "out.md") and why.startswith("symbolic link to a file outside")
    # In a new folder (the tree is walked): told too, and a file beside it is added.
    (docs / "new").mkdir()
    (docs / "new" / "out.md").symlink_to(outside)
    (docs / "new" / "in.md").write_text("inside\n", "utf-8")
    report = watcher.apply({docs / "new"})
    assert report.added == 1
    assert [p for p, _ in report.skipped] == [str(docs / "new" / "out.md")]


def stopped_by_its_index_deleted(watcher: Watcher, index_dir: Path, before=None) -> str:
    """What ``watcher.follow`` raised once ``index_dir`` was deleted (after ``before()``),
    with no file changed meanwhile."""
    import shutil

    from searchapp.errors import IndexNotFoundError

    watcher.index.close()
    stop, errors = threading.Event(), []

    def follow() -> None:
        try:
            watcher.follow(stop)
        except IndexNotFoundError as exc:
            errors.append(str(exc))

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    time.sleep(0.3)  # the OS watch is set up
    if before is not None:
        before()
    shutil.rmtree(index_dir)
    wait_until(lambda: not thread.is_alive())
    stop.set()
    assert errors, "it did not stop"
    return errors[0]


def test_a_watch_whose_index_folder_was_deleted_stops_without_waiting_for_a_change(
    watcher, tmp_path
) -> None:
    # It went on (`serve --watch` answering 503) until a file changed, maybe hours later.
    assert "deleted while watching" in stopped_by_its_index_deleted(watcher, tmp_path / "idx")


def test_a_deleted_index_is_seen_while_the_watched_folder_is_gone_too(
    watcher, docs, tmp_path
) -> None:
    # With every watched folder gone the watch only waited for them: the index deleted then
    # went unseen, and the catch-up when the folder came back made an empty one anew.
    import shutil

    def folder_gone() -> None:
        shutil.rmtree(docs)
        time.sleep(0.5)  # seen gone: the watch waits for it

    said = stopped_by_its_index_deleted(watcher, tmp_path / "idx", folder_gone)
    assert "deleted while watching" in said
    assert not (tmp_path / "idx").exists()


def test_changed_ignore_files_are_evaluated_again(watcher, docs, tmp_path) -> None:
    ignore = docs / ".searchignore"
    ignore.write_text("sub/\nnote2.txt\n", "utf-8")
    report = watcher.apply({ignore})
    assert (report.added, report.removed) == (0, 4)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh1")
    ignore.write_text("sub/note3.txt\n", "utf-8")
    report = watcher.apply({ignore})
    assert (report.added, report.removed) == (3, 0)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh2")
    # An ignored file that changes stays out.
    (docs / "sub" / "note3.txt").write_text("still ignored\n", "utf-8")
    assert watcher.apply({docs / "sub" / "note3.txt"}) is None


def test_batches_leave_documents_outside_the_watched_paths(docs, tmp_path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "kept.txt").write_text("indexed from elsewhere\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs, other])
    watcher = Watcher(index, [docs / "sub"])
    (docs / "sub" / "note1.txt").unlink()
    (docs / "sub" / "note3.txt").write_text("edited\n", "utf-8")
    report = watcher.apply({docs / "sub" / "note1.txt", docs / "sub" / "note3.txt"})
    assert (report.updated, report.removed) == (1, 1)
    assert contents(index.index_dir) == fresh_build([docs, other], tmp_path / "fresh")


def test_a_rewrite_within_one_clock_tick_is_read_again(watcher, docs) -> None:
    path = docs / "note0.txt"
    path.write_text("first words\n", "utf-8")
    assert watcher.apply({path}).updated == 1
    before = os.stat(path)
    path.write_text("other words\n", "utf-8")  # the same size...
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # ...and in the same tick
    report = watcher.apply({path})
    assert report.updated == 1
    assert contents(watcher.index.index_dir)[(str(path), str(path))] == ["other words"]


def test_the_writer_lock_is_free_between_batches(watcher, docs) -> None:
    (docs / "new.txt").write_text("fresh\n", "utf-8")
    held_during: list[bool] = []
    index = watcher.index
    add = index.add

    def spying_add(*args, **kwargs):
        try:
            with WriterLock(index.index_dir, wait=False):
                held_during.append(False)
        except Exception:
            held_during.append(True)
        return add(*args, **kwargs)

    index.add = spying_add  # type: ignore[method-assign]
    watcher.apply({docs / "new.txt"})
    assert held_during == [False]  # free when the batch starts (add takes it itself)
    with WriterLock(index.index_dir, wait=False):  # and free again after it
        pass


def test_a_batch_keeps_what_search_index_keeps(docs, tmp_path) -> None:
    # A batch removed every indexed file its own walk did not find: a folder indexed on its
    # own inside the root (node_modules, given by name) and files only its --include left out.
    (docs / "node_modules" / "pkg").mkdir(parents=True)
    (docs / "node_modules" / "pkg" / "readme.txt").write_text("package docs\n", "utf-8")
    (docs / "plan.md").write_text("a plan in markdown\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs / "node_modules"])
    index.add([docs])
    index.add([docs], include=["*.md"])  # keeps the .txt files, as the README says
    before = set(index.store.all_paths())
    assert str(docs / "node_modules" / "pkg" / "readme.txt") in before
    for include in (["*.md"], []):
        watcher = Watcher(index, [docs], include=include)
        (docs / "plan.md").write_text(f"a plan in markdown, edited for {include}\n", "utf-8")
        report = watcher.apply([docs / "plan.md"])
        assert report is not None and (report.updated, report.removed) == (1, 0)
        assert set(index.store.all_paths()) == before
    (docs / "node_modules" / "pkg" / "readme.txt").unlink()  # gone: removed, as index does
    (docs / "note0.txt").unlink()
    report = Watcher(index, [docs], include=["*.md"]).apply([docs / "note0.txt"])
    assert report is not None and report.removed == 2
    assert set(index.store.all_paths()) == before - {
        str(docs / "node_modules" / "pkg" / "readme.txt"),
        str(docs / "note0.txt"),
    }


def test_a_batch_skips_generated_files_as_a_walk_does(watcher, docs) -> None:
    # A Go and Rust developer's trial: touching a rebuilt bundle or a `go generate` table had
    # the watch index it (as if named to `search index`), and `search index` kept it after.
    bundle = docs / "dist" / "bundle.js"
    bundle.parent.mkdir()
    bundle.write_text("".join(f"var q{i}=function(x){{return x*{i}}};" for i in range(1500)))
    table = docs / "tables_gen.go"
    rows = "\n".join(f"\t0x{i * 7919:08x}, 0x{i * 104729:08x}," for i in range(400))
    table.write_text(
        "// Code generated by tablegen; DO NOT EDIT.\n\npackage t\n\n"
        f"var c = []uint32{{\n{rows}\n}}\n"
    )
    before = set(watcher.index.store.all_paths())
    report = watcher.apply([bundle, table])
    assert report is not None and (report.added, report.updated) == (0, 0)
    assert sorted(reason.split(";")[0] for _, reason in report.skipped) == [
        "generated data (its top says so)",
        "minified or generated text",
    ]
    assert set(watcher.index.store.all_paths()) == before


def test_a_generated_file_named_to_watch_stays_indexed_when_it_changes(tmp_path) -> None:
    # A reviewer's: `search watch dist/app.min.js` dropped the bundle at its first change (its
    # text judged as a walk's), and the next catch-up added it back.
    bundle = tmp_path / "dist" / "app.min.js"
    bundle.parent.mkdir()
    bundle.write_text("".join(f"var q{i}=function(x){{return x*{i}}};" for i in range(1500)))
    watcher = Watcher(SearchIndex(tmp_path / "idx", encoder=FakeEncoder()), [bundle])
    assert watcher.index_all().added == 1
    bundle.write_text("".join(f"var z{i}=function(x){{return x+{i}}};" for i in range(1500)))
    report = watcher.apply([bundle])
    assert report is not None and (report.updated, report.removed, report.skipped) == (1, 0, [])
    assert watcher.index.store.all_paths() == [str(bundle)]


def test_a_new_folder_reads_only_what_lies_under_it(watcher, docs) -> None:
    # Every file skipped anywhere under the root (binary, a scanned PDF) was read again at
    # each new folder.
    (docs / "blob.bin").write_bytes(b"\x00\x01" * 50)
    (docs / "new").mkdir()
    (docs / "new" / "a.txt").write_text("in a new folder\n", "utf-8")
    report = watcher.apply([docs / "new"])
    assert report is not None and report.added == 1 and report.skipped == []


# -- following real changes -------------------------------------------------------------------


def test_a_write_is_searchable_within_two_seconds(following, docs) -> None:
    watcher, _ = following
    reader = SearchIndex(watcher.index.index_dir, encoder=FakeEncoder())
    words = "zebra quasar marmalade"
    (docs / "sub" / "fresh.txt").write_text(f"{words}\n", "utf-8")

    def found() -> bool:
        hits = reader.search(words, k=1, mode="lexical")
        return bool(hits) and hits[0].path.endswith("fresh.txt")

    seconds = wait_until(found)
    print(f"\nwatch: a write was searchable after {seconds:.3f}s")
    assert seconds < 2.0


def test_rapid_edits_end_equal_to_a_fresh_build(tmp_path) -> None:
    folder = tmp_path / "many"
    names = [f"d{i % 5}/file{i:02d}.txt" for i in range(50)]
    rng = random.Random(15)

    def words(n: int) -> str:  # same length for a given n: many rewrites keep the size
        return " ".join(f"w{rng.randrange(1000):03d}" for _ in range(n))

    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(words(8) + "\n", "utf-8")
    watcher = Watcher(SearchIndex(tmp_path / "idx", encoder=FakeEncoder()), [folder])
    watcher.index_all()
    watcher.index.close()
    stop, batches = threading.Event(), []
    thread = threading.Thread(target=watcher.follow, args=(stop, batches.append), daemon=True)
    thread.start()
    time.sleep(0.3)
    try:
        for n in range(1000):
            if n % 20 == 0:  # bursts and pauses: batches are applied while edits go on
                time.sleep(rng.uniform(0, 0.1))
            path = folder / rng.choice(names)
            action = rng.random()
            if action < 0.5:  # overwrite in place, mostly the same size
                path.write_text(words(8 if rng.random() < 0.8 else rng.randrange(1, 40)) + "\n")
            elif action < 0.75:  # an editor's atomic save
                temporary = path.with_name(f".{path.name}.{n}.tmp")
                temporary.write_text(words(8) + "\n", "utf-8")
                os.replace(temporary, path)
            elif action < 0.85:
                path.unlink(missing_ok=True)
            elif action < 0.95 and path.exists():  # renamed away and back
                moved = path.with_name(path.stem + ".moved")
                os.rename(path, moved)
                if rng.random() < 0.5:
                    os.rename(moved, path)
            else:
                with path.open("a", encoding="utf-8") as handle:
                    handle.write(words(3) + "\n")
        expected = fresh_build([folder], tmp_path / "fresh")
        seconds = wait_until(lambda: contents(watcher.index.index_dir) == expected)
    finally:
        stop.set()
        thread.join(timeout=10)
    print(f"\nwatch: 1,000 edits applied in {len(batches)} batches, settled {seconds:.2f}s later")
    assert contents(watcher.index.index_dir) == expected
    assert 1 <= len(batches) < 1000  # debounced


def test_changes_made_while_the_paths_were_first_indexed_are_caught_up(watcher, docs) -> None:
    # Written after index_all read the folder and before anything watched it: no event comes.
    (docs / "late.txt").write_text("written during the first pass\n", "utf-8")
    (docs / "note0.txt").unlink()
    watcher.index.close()
    stop, batches = threading.Event(), []
    thread = threading.Thread(target=watcher.follow, args=(stop, batches.append), daemon=True)
    thread.start()
    try:
        index_dir = watcher.index.index_dir
        wait_until(lambda: str(docs / "late.txt") in indexed_paths(index_dir))
        wait_until(lambda: str(docs / "note0.txt") not in indexed_paths(index_dir))
        wait_until(lambda: len(batches) == 1)
        assert (batches[0].added, batches[0].removed) == (1, 1)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_watched_folder_deleted_then_made_again_is_watched_again(watcher, docs) -> None:
    # The OS watch ends with the folder: after `rm -r docs; mkdir docs` nothing was seen again.
    watcher.index.close()
    stop, notes = threading.Event(), []
    follow = lambda: watcher.follow(stop, on_note=notes.append)  # noqa: E731
    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    index_dir = watcher.index.index_dir
    try:
        wait_until(lambda: len(indexed_paths(index_dir)) == 6)
        shutil.rmtree(docs)
        wait_until(lambda: not indexed_paths(index_dir))
        wait_until(lambda: any("is gone: watching for it to come back" in n for n in notes))
        docs.mkdir()
        (docs / "back.txt").write_text("written once the folder is back\n", "utf-8")
        wait_until(lambda: indexed_paths(index_dir) == {str(docs / "back.txt")})
        (docs / "later.txt").write_text("written later\n", "utf-8")
        wait_until(lambda: str(docs / "later.txt") in indexed_paths(index_dir))
        # Replaced at once (a tool that writes a new folder, then renames it over the old).
        fresh = docs.with_name("docs.new")
        fresh.mkdir()
        (fresh / "new.txt").write_text("from the new folder\n", "utf-8")
        os.rename(docs, docs.with_name("docs.old"))
        os.rename(fresh, docs)
        wait_until(lambda: indexed_paths(index_dir) == {str(docs / "new.txt")})
        (docs / "after.txt").write_text("written in the new folder\n", "utf-8")
        wait_until(lambda: str(docs / "after.txt") in indexed_paths(index_dir))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert any("is back: watching it again" in note for note in notes), notes


def inotify_watches() -> int:
    """How many folders this process's inotify instances watch (Linux: /proc fdinfo)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                info = Path(f"/proc/self/fdinfo/{fd}").read_text()
                count += sum(line.startswith("inotify wd:") for line in info.splitlines())
        except OSError:
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fdinfo").exists(), reason="counts Linux inotify watches")
def test_watching_a_file_watches_its_folder_not_the_tree_below(docs, tmp_path) -> None:
    # `search watch ~/todo.txt` watched every folder under the home folder.
    for n in range(30):
        (docs / "sub" / f"deeper{n}").mkdir()
    todo = docs / "todo.txt"
    todo.write_text("buy milk\n", "utf-8")
    watcher = Watcher(SearchIndex(tmp_path / "idx", encoder=FakeEncoder()), [todo])
    watcher.index_all()
    watcher.index.close()
    before = inotify_watches()
    stop = threading.Event()
    thread = threading.Thread(target=watcher.follow, args=(stop,), daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # the OS watch is set up
        watching = inotify_watches() - before
        todo.write_text("buy milk and bread\n", "utf-8")
        wait_until(
            lambda: "bread" in " ".join(t for ts in contents(tmp_path / "idx").values() for t in ts)
        )
    finally:
        stop.set()
        thread.join(timeout=10)
    assert 1 <= watching <= 2, watching  # docs alone, not its 32 folders


@pytest.mark.skipif(not Path("/proc/self/fdinfo").exists(), reason="counts Linux inotify watches")
def test_ignored_trees_are_not_watched_and_new_folders_are(docs, tmp_path) -> None:
    # Watching a project watched all of its node_modules (21,000 folders for 5 notes); past the
    # OS's limit on watches, the folders left over went unwatched without a word.
    for n in range(20):
        (docs / "node_modules" / f"package{n}" / "lib").mkdir(parents=True)
    (docs / "build" / "deep").mkdir(parents=True)
    (docs / ".gitignore").write_text("build/\n", "utf-8")
    (docs / ".hidden" / "deeper").mkdir(parents=True)
    before = inotify_watches()
    with followed([docs], tmp_path / "idx"):
        wait_until(lambda: inotify_watches() - before == 2)  # docs and docs/sub alone
        (docs / "new").mkdir()
        wait_until(lambda: inotify_watches() - before == 3)  # the new folder is watched too
        (docs / "new" / "later.txt").write_text("written into the new folder\n", "utf-8")
        wait_until(lambda: "written into the new folder" in indexed_text(tmp_path / "idx"))
        (docs / ".gitignore").write_text("", "utf-8")  # build/ is let in: watched
        wait_until(lambda: inotify_watches() - before == 5)
        (docs / "build" / "deep" / "out.txt").write_text("a build note\n", "utf-8")
        wait_until(lambda: "a build note" in indexed_text(tmp_path / "idx"))


def test_watching_past_the_os_limit_on_watches_is_said_once(watcher, docs, monkeypatch) -> None:
    for n in range(3):
        (docs / f"more{n}").mkdir()  # docs, docs/sub and these: 5 folders
    limit = docs.parent / "max_user_watches"
    limit.write_text("4\n", "ascii")
    namespace = docs.parent / "max_inotify_watches"  # a container's may be lower
    namespace.write_text("3\n", "ascii")
    limits = {
        str(limit): "fs.inotify.max_user_watches",
        str(namespace): "user.max_inotify_watches",
        str(docs.parent / "absent"): "absent.setting",
    }
    monkeypatch.setattr(watch_module, "INOTIFY_LIMITS", limits)
    watcher.index.close()
    stop, notes = threading.Event(), []
    thread = threading.Thread(target=watcher.follow, args=(stop, None, notes.append), daemon=True)
    thread.start()
    try:
        wait_until(lambda: bool(notes))
        (docs / "another").mkdir()  # the watch is set up again: not said again
        (docs / "another" / "a.txt").write_text("in another folder\n", "utf-8")
        wait_until(lambda: "in another folder" in str(contents(watcher.index.index_dir)))
    finally:
        stop.set()
        thread.join(timeout=10)
    assert len(notes) == 1, notes
    assert "5 folders to watch, past the 3 watches" in notes[0], notes
    assert "(user.max_inotify_watches)" in notes[0], notes  # the lower one, its own name
    assert "sudo sysctl user.max_inotify_watches=10" in notes[0], notes


@pytest.mark.parametrize("how", ["made again", "swapped"])
def test_a_folder_replaced_under_the_same_name_is_watched_again(following, docs, how) -> None:
    # The OS watch of a folder goes with it (or follows it under its new name): after
    # `rm -r sub; mkdir sub` (a `git checkout`), the folder paths were the same, and edits in
    # the new sub were never seen.
    watcher, _ = following
    if how == "made again":
        shutil.rmtree(docs / "sub")
        (docs / "sub").mkdir()
    else:
        (docs / "other").mkdir()
        (docs / "other" / "o.txt").write_text("the other folder\n", "utf-8")
        wait_until(lambda: "the other folder" in str(contents(watcher.index.index_dir)))
        os.rename(docs / "sub", docs / "swap")
        os.rename(docs / "other", docs / "sub")
        os.rename(docs / "swap", docs / "other")
    time.sleep(1)  # the batch of that change is applied, the watch set up again
    (docs / "sub" / "later.txt").write_text("written after the change\n", "utf-8")
    (docs / "other").mkdir(exist_ok=True)
    (docs / "other" / "more.txt").write_text("written in the other\n", "utf-8")
    text = lambda: str(contents(watcher.index.index_dir))  # noqa: E731
    wait_until(lambda: "written after the change" in text() and "written in the other" in text())


def test_a_file_touched_but_not_changed_is_no_batch(following, docs) -> None:
    # A git checkout rewrites files as they were: "0 added, 0 updated, 0 removed" was printed.
    watcher, batches = following
    wait_until(lambda: not watcher.busy)
    before = len(batches)
    os.utime(docs / "note0.txt")
    (docs / "note2.txt").write_text((docs / "note2.txt").read_text("utf-8"), "utf-8")
    time.sleep(1.5)  # debounced and applied
    assert len(batches) == before, [b.summary() for b in batches[before:]]
    (docs / "note0.txt").write_text("changed for real\n", "utf-8")
    wait_until(lambda: len(batches) > before)
    assert batches[-1].updated == 1


def test_a_file_name_that_is_not_utf_8_does_not_end_the_watch(following, docs) -> None:
    # watchfiles raised "Unable to decode path" from its thread: `search watch` died with a
    # traceback, and `serve --watch` stopped following, later files never indexed.
    watcher, batches = following
    wait_until(lambda: not watcher.busy)
    before = len(batches)
    bad = os.path.join(os.fsencode(docs), b"lat\xe9.md")
    with open(bad, "wb") as handle:
        handle.write(b"a note whose name is latin-1\n")
    time.sleep(0.5)
    (docs / "after.txt").write_text("written after the odd name\n", "utf-8")
    wait_until(lambda: str(docs / "after.txt") in indexed_paths(watcher.index.index_dir))
    # The batch is committed before its report reaches the callback: wait for both.
    wait_until(lambda: len(batches) > before)
    assert len(indexed_paths(watcher.index.index_dir)) == 7


def test_a_folder_whose_name_is_not_utf_8_is_left_unwatched(docs, tmp_path) -> None:
    # Given to the OS watch, its name ended `search watch` with status 2 ("surrogates not
    # allowed"), at start-up too: it could not run while the folder was there.
    latin = os.path.join(os.fsencode(docs), b"lat\xe9dir")
    os.mkdir(latin)
    with open(os.path.join(latin, b"a.md"), "w", encoding="utf-8") as handle:
        handle.write("under a Latin-1 name\n")
    with followed([docs], tmp_path / "idx"):
        (docs / "new.txt").write_text("a new note\n", "utf-8")
        wait_until(lambda: "a new note" in indexed_text(tmp_path / "idx"))


def test_a_file_name_that_is_not_utf_8_is_told_as_skipped_with_its_own_batch(
    following, docs
) -> None:
    # The watch set up again after the odd name caught up with a batch of skips alone, and
    # dropped it: the file was never said to be skipped. Skips told before are not told again.
    watcher, batches = following
    wait_until(lambda: not watcher.busy)
    before = len(batches)
    with open(os.path.join(os.fsencode(docs), b"caf\xe9.md"), "wb") as handle:
        handle.write(b"a note whose name is latin-1\n")
    wait_until(lambda: len(batches) > before)
    time.sleep(1.0)  # no second batch tells it again
    told = [skip for batch in batches[before:] for skip in batch.skipped]
    assert len(told) == 1, [b.summary() for b in batches[before:]]
    assert "not valid UTF-8" in told[0][1]
    assert (batches[-1].added, batches[-1].updated, batches[-1].removed) == (0, 0, 0)


def test_a_folder_gone_before_the_watch_begins_is_said_and_waited_for(watcher, docs) -> None:
    # Deleted between the watcher's making and its first look (the test above lost that race
    # on a loaded machine): nothing said it, and the note it waited for never came.
    watcher.index.close()
    shutil.rmtree(docs)
    stop, notes = threading.Event(), []
    thread = threading.Thread(target=watcher.follow, args=(stop,), kwargs={"on_note": notes.append})
    thread.start()
    try:
        wait_until(lambda: any("is gone: watching for it to come back" in n for n in notes))
        docs.mkdir()
        (docs / "back.txt").write_text("back again\n", "utf-8")
        wait_until(lambda: indexed_paths(watcher.index.index_dir) == {str(docs / "back.txt")})
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_new_folders_and_ignore_files_while_following(following, docs, tmp_path) -> None:
    watcher, _ = following
    (docs / "new" / "deeper").mkdir(parents=True)
    (docs / "new" / "deeper" / "a.txt").write_text("in a new folder\n", "utf-8")
    (docs / ".gitignore").write_text("sub/\n", "utf-8")
    expected = fresh_build([docs], tmp_path / "fresh1")
    wait_until(lambda: contents(watcher.index.index_dir) == expected)
    (docs / ".gitignore").unlink()
    os.rename(docs / "new", docs / "renamed")
    expected = fresh_build([docs], tmp_path / "fresh2")
    wait_until(lambda: contents(watcher.index.index_dir) == expected)


# -- the command ------------------------------------------------------------------------------


def watch_set_up(monkeypatch) -> threading.Event:
    """Set once `search watch` has indexed its paths and then caught up with what changed
    before its OS watch was set up: an edit from then on is a batch of its own."""
    done, calls = threading.Event(), []
    index_all = Watcher.index_all

    def counted(self, *args, **kwargs):
        report = index_all(self, *args, **kwargs)
        calls.append(report)
        if len(calls) == 2:  # the first index, then the catch-up once the watch is set up
            done.set()
        return report

    monkeypatch.setattr(Watcher, "index_all", counted)
    return done


def watch_while(capsys, monkeypatch, edit: Callable[[], None], *args: str) -> tuple[int, str, str]:
    """`search watch ARGS` in this process; once it has indexed and caught up, ``edit`` runs
    in a thread, then Ctrl-C. Returns (exit code, stdout, stderr)."""
    errors: list[BaseException] = []
    watching = watch_set_up(monkeypatch)

    def edit_then_interrupt() -> None:
        try:
            assert watching.wait(timeout=DEADLINE)
            edit()
        except BaseException as exc:
            errors.append(exc)
        finally:
            ctrl_c()

    helper = threading.Thread(target=edit_then_interrupt, daemon=True)
    helper.start()
    result = run_cli(capsys, "watch", *args)
    helper.join(timeout=10)
    assert not errors, errors
    return result


def test_watch_command_reports_batches_and_exits_130_on_ctrl_c(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"

    def edit() -> None:
        (docs / "added [1].txt").write_text("added while watching\n", "utf-8")
        wait_until(lambda: str(docs / "added [1].txt") in indexed_paths(index_dir))

    code, out, err = watch_while(
        capsys, monkeypatch, edit, str(docs), "--index-dir", str(index_dir)
    )
    assert code == 130, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("indexed: 6 added, 0 updated, 0 removed")
    assert lines[0].endswith("; watching for changes (Ctrl-C to stop)")  # no names: all of them
    # The batch's line names its file (a line a second never said which file changed).
    batch = re.compile(r"\d\d:\d\d:\d\d 1 added, 0 updated, 0 removed in [\d.]+s: (.*)")
    named = [m.group(1) for m in map(batch.fullmatch, lines[1:-1]) if m]
    assert named == [str(docs / "added [1].txt")]
    assert lines[-1] == "stopped after 1 batch of changes, all committed"
    assert out == ""
    assert str(docs / "added [1].txt") in indexed_paths(index_dir)


@pytest.mark.parametrize("verbose", [False, True])
def test_watch_tells_why_files_of_a_batch_were_skipped(
    docs, tmp_path, capsys, monkeypatch, verbose
) -> None:
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"
    (docs / "first.bin").write_bytes(b"\x00\x01" * 50)  # skipped by the first index
    args = [str(docs), "--index-dir", str(index_dir)] + ["-v"] * verbose

    def edit() -> None:
        (docs / "blob.bin").write_bytes(b"\x00\x01" * 50)  # in the batch, before...
        (docs / "added.txt").write_text("added while watching\n", "utf-8")  # ...this
        wait_until(lambda: str(docs / "added.txt") in indexed_paths(index_dir))

    code, _, err = watch_while(capsys, monkeypatch, edit, *args)
    assert code == 130, err
    lines = err.strip().splitlines()
    if verbose:
        assert lines[0] == f"skipped {docs / 'first.bin'}: binary file"
        assert re.search(
            rf"^\d\d:\d\d:\d\d skipped {re.escape(str(docs))}/blob.bin: binary file$", err, re.M
        )
    else:
        assert lines[0] == "1 file skipped (binary file: 1); --verbose lists them"
        assert re.search(r"^\d\d:\d\d:\d\d 1 file skipped \(binary file: 1\); --verbose", err, re.M)
    assert re.search(r"^\d\d:\d\d:\d\d 1 added, 0 updated, 0 removed, 1 skipped in", err, re.M)


@pytest.mark.parametrize("verbose", [False, True])
def test_a_batch_of_binary_files_alone_says_nothing(
    docs, tmp_path, capsys, monkeypatch, verbose
) -> None:
    # An image pasted into a notes folder was two lines: "1 file skipped (binary file: 1)"
    # and "0 added, 0 updated, 0 removed, 1 skipped". -v still lists it.
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"
    args = [str(docs), "--index-dir", str(index_dir), "--debounce", "200"] + ["-v"] * verbose

    def edit() -> None:
        (docs / "pasted.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" * 20)
        time.sleep(1.5)  # its batch applied, alone
        (docs / "added.txt").write_text("added while watching\n", "utf-8")
        wait_until(lambda: str(docs / "added.txt") in indexed_paths(index_dir))

    code, _, err = watch_while(capsys, monkeypatch, edit, *args)
    assert code == 130, err
    assert ("skipped" in err) == ("pasted.png" in err) == verbose, err
    assert re.search(r"^\d\d:\d\d:\d\d 1 added, 0 updated, 0 removed in", err, re.M)


def test_a_batch_reports_its_work_to_the_progress_it_is_given(docs, tmp_path) -> None:
    from searchapp.ingest.pipeline import Progress

    started: list[int] = []
    opened: list[str] = []

    @contextmanager
    def progress() -> Iterator[Progress]:
        opened.append("batch")
        yield Progress(on_start=started.append)

    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs])
    watcher = Watcher(index, [docs], progress=progress)
    (docs / "new.txt").write_text("a new note with some words\n", "utf-8")
    assert watcher._batch(lambda: watcher.apply({docs / "new.txt"}), None) == 1
    assert opened == ["batch"] and started == [len("a new note with some words\n")]


def test_the_progress_bar_names_the_file_it_chunks_as_it_is_named() -> None:
    # Through rich markup, a name ending in a backslash was shown with two.
    import io

    from rich.console import Console

    from searchapp.interfaces import progress as progress_module

    console = Console(file=io.StringIO(), force_terminal=True, width=200, color_system=None)
    with progress_module.progress_bar(console) as bar:
        bar.on_start(1000)
        bar.on_reading("/docs/notes [draft]/a\\")
        bar.on_bytes(10)  # drawn once started, and at each change
    assert "indexing · chunking /docs/notes [draft]/a\\ " in console.file.getvalue()
    console = Console(file=io.StringIO(), force_terminal=True, width=200, color_system=None)
    with progress_module.progress_bar(console) as bar:
        bar.on_start(1000)
        bar.on_embedding("/docs/big [1].log")  # once chunked: the file being embedded
        bar.on_bytes(10)
    assert "indexing · /docs/big [1].log " in console.file.getvalue()


def test_the_progress_bar_keeps_the_files_name_on_one_line_on_a_narrow_terminal() -> None:
    # At 80 columns a long path was wrapped over four lines, or cut to `home/logs/app-2…`; a
    # long file name then took the spinner's and the numbers' room.
    import io

    from rich.console import Console

    from searchapp.interfaces import progress as progress_module

    deep = "/home/me/Documents/notes/some long folder/cabin wifi.txt"
    long_name = "/home/me/notes/cabin wifi and other very long file name here.txt"
    for path, width, end in [
        (deep, 80, "/cabin wifi.txt"),
        (deep, 100, "/cabin wifi.txt"),
        (long_name, 80, " here.txt"),
        (long_name, 60, ""),  # "indexing" alone
    ]:
        console = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
        with progress_module.progress_bar(console) as bar:
            bar.on_start(23_000_000)
            bar.on_reading(path)
            bar.on_bytes(400_000)
        drawn = console.file.getvalue().replace("\x1b[2K", "\n").replace("\r", "\n")
        line = [line for line in drawn.split("\n") if "0.4/23.0 MB" in line][-1]
        assert len(line) <= width and re.search(r"chunks/s [-:0-9]{7}$", line), line
        assert line[0] in "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏", line  # the spinner, turning
        assert f"{end} " in line and "\n" not in line, (width, line)


def test_a_delayed_progress_bar_shows_only_once_the_work_takes_long(monkeypatch) -> None:
    import io

    from rich.console import Console

    from searchapp.interfaces import progress as progress_module

    def drawn(after_s: float, elapsed_s: float) -> str:
        clock = [1000.0]
        monkeypatch.setattr(progress_module.time, "monotonic", lambda: clock[0])
        console = Console(file=io.StringIO(), force_terminal=True, width=100)
        with progress_module.progress_bar(console, after_s=after_s) as bar:
            bar.on_start(1000)
            clock[0] += elapsed_s
            bar.on_bytes(500)
            bar.on_chunks(3)
        return console.file.getvalue()

    assert drawn(after_s=1.0, elapsed_s=0.2) == ""  # a quick batch draws nothing
    assert "indexing" in drawn(after_s=1.0, elapsed_s=1.5)
    assert "indexing" in drawn(after_s=0.0, elapsed_s=0.0)  # `search index`: from the start


def test_a_bare_watch_follows_what_was_indexed_with_its_filters(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"
    args = ("--index-dir", str(index_dir))
    code, _, err = run_cli(capsys, "watch", *args)
    assert code == 2 and "nothing indexed in" in err and "search watch PATH..." in err
    assert run_cli(capsys, "index", str(docs / "sub"), "--include", "note1*", *args)[0] == 0

    def edit() -> None:
        (docs / "sub" / "other.txt").write_text("left out by the filter\n", "utf-8")
        (docs / "sub" / "note11.txt").write_text("taken in by the filter\n", "utf-8")
        wait_until(lambda: str(docs / "sub" / "note11.txt") in indexed_paths(index_dir))

    code, _, err = watch_while(capsys, monkeypatch, edit, *args)
    assert code == 130, err
    assert {Path(p).name for p in indexed_paths(index_dir)} == {"note1.txt", "note11.txt"}
    # Two roots with different filters cannot share one watch: it says so.
    assert run_cli(capsys, "index", str(docs / "note0.txt"), *args)[0] == 0
    code, _, err = run_cli(capsys, "watch", *args)
    assert code == 2 and "the folders indexed before have different filters" in err


class SlowEncoder(FakeEncoder):
    """Embeds as FakeEncoder after ``embedding`` is set and ``go_on`` is: Ctrl-C can land in
    the middle of a batch."""

    def __init__(self) -> None:
        super().__init__()
        self.slow = False
        self.embedding, self.go_on = threading.Event(), threading.Event()

    def embed_many(self, ids, *, batch_size: int = 32):
        if self.slow:
            self.embedding.set()
            wait_in_main_thread(self.go_on)
        return super().embed_many(ids, batch_size=batch_size)


def wait_in_main_thread(event: threading.Event) -> None:
    """``event.wait``, in short waits: a signal that reaches the main thread while it is not
    in the wait's system call (running the handler of the one before) is handled only when
    it runs Python again, and one long wait kept the second Ctrl-C pending for 30 s."""
    deadline = time.monotonic() + DEADLINE
    while not event.wait(0.02) and time.monotonic() < deadline:
        pass


def ctrl_c() -> None:
    """SIGINT, as Ctrl-C sends it, to the main thread: sent to the process, it may land on
    another thread, and a main thread blocked in a wait (a test's slow encoder) runs Python's
    handler only when its wait ends (CI saw a second press wait out a 30 s timeout)."""
    signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)


def ctrl_c_presses(monkeypatch) -> Callable[[], None]:
    """A function that sends this process a Ctrl-C and returns once its handler has run. Two
    SIGINTs that reach a busy main thread before its handler runs are one to Python (CI saw
    "stopped after 1 batch"), so each press waits for the one before."""
    handled: list[int] = []

    def counting(handle):
        def counted(self, signum, frame) -> None:
            handled.append(signum)
            handle(self, signum, frame)

        return counted

    # Whichever handler Python runs: the batch's, or `search watch`'s between batches.
    monkeypatch.setattr(DeferredInterrupts, "_handle", counting(DeferredInterrupts._handle))
    monkeypatch.setattr(StopRequest, "__call__", counting(StopRequest.__call__))

    def press() -> None:
        before = len(handled)
        ctrl_c()
        wait_until(lambda: len(handled) > before)

    return press


def watch_with_ctrl_c(capsys, monkeypatch, docs: Path, index_dir: Path, presses: int):
    """`search watch`, with ``presses`` Ctrl-C while a batch (one new file) is embedded."""
    encoder = SlowEncoder()
    use_encoder(monkeypatch, encoder)
    errors: list[BaseException] = []
    press_ctrl_c = ctrl_c_presses(monkeypatch)
    watching = watch_set_up(monkeypatch)

    def edit_then_interrupt() -> None:
        try:
            assert watching.wait(timeout=DEADLINE)
            encoder.slow = True
            (docs / "added.txt").write_text("added while watching\n", "utf-8")
            assert encoder.embedding.wait(timeout=DEADLINE)
            for _ in range(presses):
                press_ctrl_c()
        except BaseException as exc:
            errors.append(exc)
            ctrl_c()
        finally:
            encoder.go_on.set()

    helper = threading.Thread(target=edit_then_interrupt, daemon=True)
    helper.start()
    code, out, err = run_cli(capsys, "watch", str(docs), "--index-dir", str(index_dir))
    helper.join(timeout=10)
    assert not errors, errors
    return code, err.strip().splitlines()


def test_ctrl_c_during_a_batch_commits_it_then_exits_130(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    index_dir = tmp_path / "idx"
    code, lines = watch_with_ctrl_c(capsys, monkeypatch, docs, index_dir, presses=1)
    assert code == 130, lines
    assert (
        "stopping where the batch of changes under way next commits (Ctrl-C again to stop now)"
        in lines
    )
    assert any("1 added, 0 updated, 0 removed in" in line for line in lines)
    assert lines[-1] == "stopped after 1 batch of changes, all committed"
    assert str(docs / "added.txt") in indexed_paths(index_dir)


def test_ctrl_c_during_a_batch_of_windows_stops_at_its_next_commit(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    # A git checkout's thousands of files were one batch, and the first Ctrl-C (or a service
    # manager's SIGTERM) waited for all of it: minutes, past what a manager waits to kill.
    monkeypatch.setattr(pipeline, "FIRST_WINDOW_CHUNKS", 1)  # windows of 1, 2, 4... chunks
    encoder = SlowEncoder()
    use_encoder(monkeypatch, encoder)
    press_ctrl_c = ctrl_c_presses(monkeypatch)
    watching = watch_set_up(monkeypatch)
    added = [docs / f"new{n}.txt" for n in range(4)]

    def edit_then_interrupt() -> None:
        assert watching.wait(timeout=DEADLINE)
        encoder.slow = True
        for path in added:  # one batch: written within the debounce
            path.write_text(f"{path.stem} written while watching\n", "utf-8")
        assert encoder.embedding.wait(timeout=DEADLINE)
        press_ctrl_c()
        encoder.go_on.set()

    helper = threading.Thread(target=edit_then_interrupt, daemon=True)
    helper.start()
    index_dir = tmp_path / "idx"
    code, _, err = run_cli(capsys, "watch", str(docs), "--index-dir", str(index_dir))
    helper.join(timeout=10)
    lines = err.strip().splitlines()
    assert code == 130, err
    # Its first window (a chunk) was committed; the file's end came in the next one.
    assert lines[-1] == (
        "stopped after 0 batches of changes and part way through another: of it 1 chunk "
        "embedded and committed (0 files complete); `search watch` or `search index` indexes "
        "the rest"
    )
    assert len(set(map(str, added)) & indexed_paths(index_dir)) == 1
    use_encoder(monkeypatch, FakeEncoder())
    assert run_cli(capsys, "index", str(docs), "--index-dir", str(index_dir))[0] == 0
    assert set(map(str, added)) <= indexed_paths(index_dir)


def test_serve_watch_stopped_in_a_batch_names_itself_among_what_indexes_the_rest() -> None:
    # `serve --watch` said "`search watch` or `search index` indexes the rest", not itself.
    from types import SimpleNamespace

    from searchapp.interfaces.watch import stopped_line

    watcher = SimpleNamespace(stopped_in=pipeline.IndexReport(added=1, chunks=3))
    assert stopped_line(watcher) == (
        "stopped part way through a batch of changes: of it 3 chunks embedded and committed "
        "(1 file complete); `search serve --watch`, `search watch` or `search index` indexes "
        "the rest"
    )
    assert stopped_line(SimpleNamespace(stopped_in=None)) == (
        "stopped, every batch of changes committed"
    )


def test_a_second_ctrl_c_during_a_batch_stops_it_and_says_what_was_kept(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    index_dir = tmp_path / "idx"
    code, lines = watch_with_ctrl_c(capsys, monkeypatch, docs, index_dir, presses=2)
    assert code == 130, lines
    assert lines[-1].startswith(
        "interrupted: 0 chunks embedded and committed (0 files complete) before Ctrl-C"
    )
    assert not any(line.startswith("error") for line in lines)
    assert len(indexed_paths(index_dir)) == 6  # the batch was not committed; the rest is intact


def test_a_second_ctrl_c_between_a_batchs_writes_says_so(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"
    walking, go_on = threading.Event(), threading.Event()
    plan = Watcher._files_plan

    def slow_plan(self, changed):  # the batch works out what is on disk: outside SearchIndex.add
        walking.set()
        wait_in_main_thread(go_on)
        return plan(self, changed)

    monkeypatch.setattr(Watcher, "_files_plan", slow_plan)
    watching = watch_set_up(monkeypatch)
    press_ctrl_c = ctrl_c_presses(monkeypatch)

    def edit_then_interrupt() -> None:
        assert watching.wait(timeout=DEADLINE)
        (docs / "added.txt").write_text("added while watching\n", "utf-8")
        walking.wait(timeout=DEADLINE)
        for _ in range(2):
            press_ctrl_c()
        go_on.set()

    helper = threading.Thread(target=edit_then_interrupt, daemon=True)
    helper.start()
    code, _, err = run_cli(capsys, "watch", str(docs), "--index-dir", str(index_dir))
    helper.join(timeout=10)
    lines = err.strip().splitlines()
    assert code == 130, err
    assert "stopping where the batch of changes under way next commits" in err
    assert lines[-1].startswith("interrupted: the batch of changes under way stopped")
    assert "error" not in err


def test_ctrl_c_while_watch_first_indexes_is_as_search_index_says_it(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    encoder = SlowEncoder()
    encoder.slow = True
    use_encoder(monkeypatch, encoder)

    def interrupt() -> None:
        encoder.embedding.wait(timeout=DEADLINE)
        ctrl_c()
        time.sleep(0.2)
        encoder.go_on.set()

    helper = threading.Thread(target=interrupt, daemon=True)
    helper.start()
    code, _, err = run_cli(capsys, "watch", str(docs), "--index-dir", str(tmp_path / "idx"))
    helper.join(timeout=10)
    assert code == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ")
    assert "run the same command again to continue" in err
    assert "error" not in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing-folder"], "no such file or folder: missing-folder"),
        (["{docs}", "--debounce", "10"], "--debounce (10 ms) must be at least"),
    ],
)
def test_watch_command_errors(docs, tmp_path, capsys, monkeypatch, args, message) -> None:
    use_encoder(monkeypatch, FakeEncoder())
    monkeypatch.chdir(tmp_path)
    args = [a.format(docs=docs) for a in args]
    code, _, err = run_cli(capsys, "watch", *args, "--index-dir", str(tmp_path / "idx"))
    assert code == 2 and message in err  # an error, as grep exits


def test_a_delayed_progress_bar_shows_by_time_alone(monkeypatch) -> None:
    # A batch that loads the model, or embeds one long file's first window, calls back late:
    # the bar waited for a callback and never showed during it.
    import io

    from rich.console import Console

    from searchapp.interfaces.progress import progress_bar

    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with progress_bar(console, after_s=0.05):
        deadline = time.monotonic() + DEADLINE
        while "indexing" not in console.file.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)  # no callback at all meanwhile
    assert "indexing" in console.file.getvalue()


def test_a_root_inside_a_folder_the_walk_skips_is_followed(docs, tmp_path) -> None:
    # `search watch notes notes/node_modules/pkg`: a change in pkg was dropped, as the first
    # root, notes, never enters node_modules.
    package = docs / "node_modules" / "pkg"
    package.mkdir(parents=True)
    (package / "README.md").write_text("How the bundler works.\n", "utf-8")
    with followed([docs, package], tmp_path / "idx"):
        (package / "CHANGES.md").write_text("A new release of the bundler.\n", "utf-8")
        wait_until(lambda: "A new release" in indexed_text(tmp_path / "idx"))


def test_where_the_os_watches_a_tree_as_one_a_root_is_one_watch(
    docs, tmp_path, monkeypatch
) -> None:
    # macOS's FSEvents and Windows watch a tree as one: there the root is given, recursive.
    monkeypatch.setattr(watch_module, "PER_FOLDER", False)
    import watchfiles

    given, real_watch = [], watchfiles.watch

    def recording(*paths, **kwargs):
        given.append((paths, kwargs["recursive"]))
        return real_watch(*paths, **kwargs)

    monkeypatch.setattr(watchfiles, "watch", recording)
    with followed([docs], tmp_path / "idx"):
        (docs / "new" / "deeper").mkdir(parents=True)
        (docs / "new" / "deeper" / "a.txt").write_text("in a new folder\n", "utf-8")
        wait_until(lambda: "in a new folder" in indexed_text(tmp_path / "idx"))
    assert given and all(call == ((str(docs),), True) for call in given), given


def test_progress_lines_say_how_far_a_long_batch_has_come() -> None:
    import io

    from rich.console import Console

    from searchapp.interfaces.progress import progress_lines

    console = Console(file=io.StringIO(), width=200)
    with progress_lines(console, after_s=0.05, every_s=0.05) as progress:
        time.sleep(0.3)  # waiting for another writer's lock, walking: nothing started yet
        assert console.file.getvalue() == ""  # it said "still indexing: 0 bytes" meanwhile
        progress.on_start(12_000_000)
        progress.on_free(2_000_000)
        progress.on_bytes(2_500_000)
        progress.on_chunks(1234)
        wait_until(lambda: console.file.getvalue().count("\n") >= 2)
    lines = console.file.getvalue().splitlines()
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d still indexing: 2\.5 MB of 10\.0 MB read and embedded, 1,234 chunks",
        lines[0],
    ), lines
    # Once a window is embedded, the file most of it came from: no line named one.
    console = Console(file=io.StringIO(), width=200)
    with progress_lines(console, after_s=0.05, every_s=0.05) as progress:
        progress.on_start(1000)
        progress.on_embedding("/data/logs/[big].log")
        wait_until(lambda: console.file.getvalue().count("\n") >= 1)
    assert console.file.getvalue().splitlines()[0].endswith("; now /data/logs/[big].log")
    said = console.file.getvalue()
    started = time.monotonic()
    with progress_lines(console, after_s=60):
        pass  # a batch done before after_s says nothing, and does not wait for it
    assert console.file.getvalue() == said and time.monotonic() - started < 5


def test_a_long_batch_off_a_terminal_says_how_far_it_has_come(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    # Under a service manager or nohup, a batch of a `git checkout` was minutes of silence.
    from searchapp.interfaces import progress

    monkeypatch.setattr(progress, "LINES_AFTER_S", 0.05)
    monkeypatch.setattr(progress, "LINES_EVERY_S", 0.05)
    encoder = SlowEncoder()
    use_encoder(monkeypatch, encoder)
    watching = watch_set_up(monkeypatch)
    press_ctrl_c = ctrl_c_presses(monkeypatch)

    def edit_then_interrupt() -> None:
        assert watching.wait(timeout=DEADLINE)
        encoder.slow = True
        (docs / "added.txt").write_text("added while watching\n", "utf-8")
        assert encoder.embedding.wait(timeout=DEADLINE)
        time.sleep(0.3)  # the batch takes long: lines come meanwhile
        encoder.slow = False
        encoder.go_on.set()
        time.sleep(0.5)  # the batch ends, its line said
        press_ctrl_c()

    helper = threading.Thread(target=edit_then_interrupt, daemon=True)
    helper.start()
    code, _, err = run_cli(capsys, "watch", str(docs), "--index-dir", str(tmp_path / "idx"))
    helper.join(timeout=10)
    assert code == 130, err
    assert "still indexing:" in err, err


class SleepyEncoder(FakeEncoder):
    def embed_many(self, ids, *, batch_size: int = 32):
        time.sleep(0.3)
        return super().embed_many(ids, batch_size=batch_size)


def test_a_long_index_off_a_terminal_says_how_far_it_has_come(
    docs, tmp_path, capsys, monkeypatch
) -> None:
    # `search index ~ > log 2>&1` said nothing until its last line, hours later; -q still
    # says nothing.
    from searchapp.interfaces import progress

    monkeypatch.setattr(progress, "LINES_AFTER_S", 0.05)
    monkeypatch.setattr(progress, "LINES_EVERY_S", 0.05)
    use_encoder(monkeypatch, SleepyEncoder())
    index_dir = str(tmp_path / "idx")
    code, _, err = run_cli(capsys, "index", str(docs), "--index-dir", index_dir)
    assert code == 0 and "still indexing:" in err and "6 added" in err, err
    (docs / "more.txt").write_text("one more note\n", "utf-8")
    code, _, err = run_cli(capsys, "index", str(docs), "-q", "--index-dir", index_dir)
    assert code == 0 and err == "", err


def test_a_bare_watch_leaves_out_roots_not_there_and_names_what_it_cannot_take(
    docs, tmp_path, capsys
) -> None:
    from searchapp.interfaces.commands_index import _watched_before

    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs / "sub"], include=["note1*"])
    away = tmp_path / "away"
    away.mkdir()
    (away / "a.txt").write_text("on a drive about to be unmounted\n", "utf-8")
    index.add([away])  # other filters (none), then gone: they do not count
    shutil.rmtree(away)
    assert _watched_before(index, [], [], True) == ([str(docs / "sub")], ["note1*"], [], True)
    index.add([docs / "note0.txt"], default_excludes=False)
    with pytest.raises(SearchAppError, match="have different filters .*--no-default-excludes"):
        _watched_before(index, [], [], True)


def test_a_folder_indexed_without_default_excludes_is_watched_so(tmp_path) -> None:
    # `search watch` refused it bare, and `search watch PATH` removed at its first batch the
    # files only --no-default-excludes had let in (an SVG, a minified script).
    from searchapp.interfaces.commands_index import _watched_before

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "logo.svg").write_text("<svg><title>hippo logo</title></svg>\n", "utf-8")
    (docs / "app.min.js").write_text("var hippo=1;" * 3000, "utf-8")
    (docs / "note.txt").write_text("a note\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs], default_excludes=False)
    everything = indexed_paths(tmp_path / "idx")
    assert len(everything) == 3
    assert _watched_before(index, [], [], True) == ([str(docs)], [], [], False)
    watcher = Watcher(index, [docs], default_excludes=False)
    (docs / "note.txt").write_text("a note, edited\n", "utf-8")
    report = watcher.apply({docs / "note.txt"})
    assert (report.updated, report.removed) == (1, 0)
    (docs / "new.min.js").write_text("var zebra=2;" * 3000, "utf-8")
    assert watcher.apply({docs / "new.min.js"}).added == 1
    assert indexed_paths(tmp_path / "idx") == everything | {str(docs / "new.min.js")}


def test_watching_a_folder_with_other_filters_says_so(docs, tmp_path, capsys, monkeypatch) -> None:
    # `search index` says when a folder indexed with filters gets other ones; `search watch`
    # and `serve --watch` dropped them without a word (the excluded files came in).
    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"
    assert (
        run_cli(capsys, "index", str(docs), "--exclude", "sub/", "--index-dir", str(index_dir))[0]
        == 0
    )
    code, _, err = watch_while(
        capsys, monkeypatch, lambda: None, str(docs), "--index-dir", str(index_dir)
    )
    assert code == 130, err
    assert err.splitlines()[0] == (
        f"note: {docs} was indexed with --exclude 'sub/'; a bare `search index` now updates "
        "it with no filters"
    )


def test_serve_watch_with_other_filters_says_so(docs, tmp_path) -> None:
    from rich.console import Console

    from searchapp.interfaces.index_thread import IndexThread
    from searchapp.interfaces.serve import _watching
    from searchapp.storage.indexed_paths import Filters

    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=FakeEncoder()).add([docs], exclude=["sub/"])
    console = Console(record=True, width=400)
    index_thread = IndexThread(SearchIndex(index_dir, encoder=FakeEncoder()))
    stop = threading.Event()
    try:
        follower, _ = _watching(
            index_thread, console, stop, [str(docs)], Filters(), 1000, on_failure=lambda: None
        )
        assert follower.ident is None  # started once the server listens
    finally:
        stop.set()
        index_thread.close()
    assert console.export_text().splitlines()[0] == (
        f"note: {docs} was indexed with --exclude 'sub/'; a bare `search index` now updates "
        "it with no filters"
    )


def test_a_file_gone_between_the_walk_and_its_indexing_is_no_error(watcher, docs, monkeypatch):
    # A build's temporary files in a watched folder: each batch failed, "no such file or
    # folder", three tries running, and `search watch` ended with status 2.
    build, kept = docs / "build", docs / "kept.txt"
    build.mkdir()
    (build / "a0.o").write_text("a temporary file\n", "utf-8")
    kept.write_text("a file that stays\n", "utf-8")
    add, made = SearchIndex.add, [0]

    def churning(self, paths, **kwargs):  # each walk finds a file gone by its indexing
        for brief in build.iterdir():
            brief.unlink()
        made[0] += 1
        (build / f"a{made[0]}.o").write_text("a temporary file\n", "utf-8")
        return add(self, paths, **kwargs)

    monkeypatch.setattr(SearchIndex, "add", churning)
    # The batch's events name each of them as the build writes them.
    report = watcher.apply({*(build / f"a{n}.o" for n in range(6)), kept})
    assert (report.added, report.skipped) == (1, []), report
    assert report.paths == [str(kept)]
    assert not any("/build/" in path for path in indexed_paths(watcher.index.index_dir))


def test_a_place_that_cannot_be_read_is_told_once(watcher, docs, monkeypatch) -> None:
    # "skipped notes/pre: cannot read folder: Permission denied" came with every batch after.
    wanted = Watcher._wanted
    unreadable = (str(docs / "pre"), "cannot read folder: Permission denied")

    def with_unreadable(self):
        found, unread = wanted(self)
        return found, [*unread, unreadable]

    monkeypatch.setattr(Watcher, "_wanted", with_unreadable)
    batches: list[BatchReport] = []
    for n in range(3):  # batches as `follow` runs them
        (docs / f"new{n}.txt").write_text(f"note {n}\n", "utf-8")
        watcher._batch(lambda n=n: watcher.apply({docs / f"new{n}.txt"}), batches.append)
    assert [batch.skipped for batch in batches] == [[unreadable], [], []]
    assert [batch.added for batch in batches] == [1, 1, 1]


def test_the_first_line_counts_the_files_found_as_indexed(watcher, docs) -> None:
    # "indexed: 0 added, 0 updated, 0 removed" read as an empty index; `search index` says
    # "94 unchanged". A batch's line tells what changed alone.
    again = watcher.index_all()
    assert again.summary().startswith("0 added, 0 updated, 0 removed, 6 unchanged in ")
    (docs / "new.txt").write_text("a new note\n", "utf-8")
    caught_up = watcher._catch_up()
    assert caught_up is not None and "unchanged" not in caught_up.summary()


def test_a_catch_up_names_its_files(watcher, docs) -> None:
    # A batch with a new folder is caught up with as `search index` does: its line named none.
    (docs / "new.txt").write_text("a new note\n", "utf-8")
    report = watcher._catch_up()
    assert report is not None and report.paths == [str(docs / "new.txt")]
    assert report.summary().endswith("new.txt")


def test_a_batch_line_names_its_first_files(tmp_path, monkeypatch) -> None:
    from searchapp.interfaces.watch import BatchReport

    monkeypatch.chdir(tmp_path)
    paths = [str(tmp_path / "notes" / f"{n}.md") for n in range(5)]
    report = BatchReport(added=1, removed=4, seconds=0.25, paths=paths)
    assert report.summary() == (
        "1 added, 0 updated, 4 removed in 0.25s: notes/0.md, notes/1.md, notes/2.md and 2 more"
    )
    assert (
        BatchReport(updated=1, paths=["/elsewhere/a\nb.log"])
        .summary()
        .endswith(": /elsewhere/a\\nb.log")
    )


def test_a_batch_that_waits_for_another_writer_says_when(docs, tmp_path, capsys, monkeypatch):
    # The waiting line had no time: where the wait ended with nothing left to do (another
    # watch had done it), it stayed the last word, as if the watch still waited.
    import fcntl

    from searchapp.storage.lock import LOCK_NAME

    use_encoder(monkeypatch, FakeEncoder())
    index_dir = tmp_path / "idx"

    def edit() -> None:
        with open(index_dir / LOCK_NAME, "a+") as held:
            fcntl.flock(held.fileno(), fcntl.LOCK_EX)
            (docs / "added.txt").write_text("added while another writer wrote\n", "utf-8")
            time.sleep(1.5)  # the batch waits
        wait_until(lambda: str(docs / "added.txt") in indexed_paths(index_dir))

    code, _, err = watch_while(capsys, monkeypatch, edit, str(docs), "--index-dir", str(index_dir))
    assert code == 130, err
    waiting = r"\d\d:\d\d:\d\d waiting for another `search index` or `search watch` to finish…"
    assert any(re.fullmatch(waiting, line) for line in err.splitlines()), err


def test_a_file_that_becomes_a_folder_keeps_the_folders_files(watcher, docs, tmp_path) -> None:
    # `git checkout` of a branch where `docs/guide` is a folder: its files were added, then
    # removed with the file `guide` ("2 added, 0 updated, 3 removed"), and never searched.
    guide = docs / "guide"
    guide.write_text("one guide file\n", "utf-8")
    watcher.apply({guide})
    guide.unlink()
    guide.mkdir()
    (guide / "install.md").write_text("how to install the zeppelin\n", "utf-8")
    (guide / "usage.md").write_text("how to fly the zeppelin\n", "utf-8")
    report = watcher.apply({guide, guide / "install.md", guide / "usage.md"})
    assert (report.added, report.removed) == (2, 1)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh")
    shutil.rmtree(guide)  # and back: a folder that becomes a file
    guide.write_text("one guide file again\n", "utf-8")
    report = watcher.apply({guide, guide / "install.md", guide / "usage.md"})
    assert (report.added, report.removed) == (1, 2)
    assert contents(watcher.index.index_dir) == fresh_build([docs], tmp_path / "fresh2")


def test_a_watched_file_deleted_and_written_again_stays_a_root(tmp_path) -> None:
    # An editor that deletes a file, then writes it: the file was no longer a recorded root,
    # so a bare `search index` or `search watch` afterwards found nothing to update.
    note = tmp_path / "todo.md"
    note.write_text("todo: papaya\n", "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    watcher = Watcher(index, [note])
    watcher.index_all()
    note.unlink()
    assert watcher.apply({note}).removed == 1
    note.write_text("todo: mango\n", "utf-8")
    assert watcher.apply({note}).added == 1
    from searchapp.storage.indexed_paths import recorded_roots

    assert recorded_roots(index.store) == [str(note)]


def test_a_renamed_file_takes_its_vectors_whatever_the_removed_ones_keep(
    watcher, docs, monkeypatch
) -> None:
    # Removed before the new path was added, a renamed file could take back only the vectors
    # the last removed chunks keep (20,000): 6,000 of a 26,000-passage file were embedded again.
    from searchapp.storage import store as store_module

    monkeypatch.setattr(store_module, "REMOVED_VECTORS_KEPT", 1)
    long_note = docs / "long.txt"
    long_note.write_text("".join(f"paragraph {i} of a long note.\n\n" for i in range(40)))
    watcher.apply({long_note})
    encoder = watcher.index.load_encoder()
    before = sum(encoder.batches)
    long_note.rename(docs / "renamed.txt")
    report = watcher.apply({long_note, docs / "renamed.txt"})
    assert (report.added, report.removed) == (1, 1)
    assert sum(encoder.batches) == before  # every passage's vector taken over, none embedded


def test_a_batch_of_files_is_judged_without_walking_the_tree(watcher, docs, monkeypatch) -> None:
    # Every save walked the whole watched tree: ~1 s a batch for 20,000 files, ~5 s for
    # 100,000. A batch of files alone is judged by a walk toward each of them; a folder or an
    # ignore file in a batch still walks it all.
    walks: list[int] = []
    wanted = Watcher._wanted
    monkeypatch.setattr(Watcher, "_wanted", lambda self: walks.append(1) or wanted(self))
    watcher._wanted()  # as `follow` walks to set up the OS watch
    (docs / "link.txt").symlink_to(docs / "note0.txt")
    watcher.apply({docs / "link.txt"})
    walks.clear()

    def batch(*paths: Path) -> BatchReport | None:
        return watcher.apply(set(paths))

    (docs / "sub" / "new.txt").write_text("a new note about gliders\n", "utf-8")
    report = batch(docs / "sub" / "new.txt")
    assert report is not None and report.paths == [str(docs / "sub" / "new.txt")]
    (docs / "sub" / "new.txt").unlink()
    (docs / "note2.txt").write_text("note number 2, rewritten\n", "utf-8")
    report = batch(docs / "sub" / "new.txt", docs / "note2.txt")
    assert report is not None and (report.updated, report.removed) == (1, 1)
    assert report.paths == [str(docs / "note2.txt"), str(docs / "sub" / "new.txt")]
    # A link is read again with the file it points to.
    (docs / "note0.txt").write_text("note zero, rewritten\n", "utf-8")
    report = batch(docs / "note0.txt")
    assert report is not None and report.updated == 2, report
    # Files the walk leaves out stay out; a change to nothing indexed changes nothing (a
    # default exclude is told as skipped, as `search index` tells it).
    (docs / "app.min.js").write_text("var a=1;\n", "utf-8")
    (docs / "node_modules").mkdir()
    report = batch(docs / "app.min.js")
    assert report is not None and (report.added, report.updated, report.removed) == (0, 0, 0)
    assert [path for path, _ in report.skipped] == [str(docs / "app.min.js")]
    (docs / "node_modules" / "x.js").write_text("module code\n", "utf-8")
    assert batch(docs / "node_modules" / "x.js") is None
    assert walks == []
    (docs / ".gitignore").write_text("note4.txt\n", "utf-8")
    report = batch(docs / ".gitignore")
    assert report is not None and report.paths == [str(docs / "note4.txt")] and report.removed
    assert len(walks) == 1
    (docs / "new").mkdir()
    (docs / "new" / "a.txt").write_text("in a new folder\n", "utf-8")
    report = batch(docs / "new")
    assert report is not None and report.paths == [str(docs / "new" / "a.txt")]
    assert len(walks) == 2
    assert indexed_paths(watcher.index.index_dir) == {
        str(docs / name) for name in ("note0.txt", "note2.txt", "link.txt", "new/a.txt")
    } | {str(docs / "sub" / f"note{i}.txt") for i in (1, 3, 5)}


def test_a_batch_of_files_ends_as_a_fresh_index_would(docs, tmp_path) -> None:
    # A reviewer's finds in the walk toward each file: a link re-read with its target was
    # indexed when the target became a link outside the root, and a folder that --exclude
    # leaves out, deleted with what an earlier run had indexed in it, was kept.
    outside = tmp_path / "elsewhere" / "diary.txt"
    outside.parent.mkdir()
    outside.write_text("a sailing diary, kept outside the notes\n", "utf-8")
    (docs / "link.txt").symlink_to(docs / "note0.txt")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder())
    index.add([docs])  # sub/ indexed, before the watch leaves it out
    watcher = Watcher(index, [docs], exclude=["sub/"])
    watcher._wanted()  # as `follow` walks to set up the OS watch
    (docs / "note0.txt").unlink()
    (docs / "note0.txt").symlink_to(outside)
    report = watcher.apply({docs / "note0.txt"})
    assert report is not None and report.removed == 2, report
    shutil.rmtree(docs / "sub")
    report = watcher.apply({docs / "sub"})
    assert report is not None and report.removed == 3, report
    fresh = SearchIndex(tmp_path / "fresh", encoder=FakeEncoder())
    fresh.add([docs], exclude=["sub/"])
    assert indexed_paths(tmp_path / "idx") == indexed_paths(tmp_path / "fresh")
    assert "sailing diary" not in indexed_text(tmp_path / "idx")
