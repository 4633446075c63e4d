"""``EncoderLoader``: the indexing encoder loads in a thread from ``start()``; ``get()`` waits."""

from __future__ import annotations

import threading

import pytest

from searchapp.encoding import EncoderLoader
from tests.searchapp.conftest import FakeEncoder


def test_get_without_start_loads_in_the_calling_thread_once() -> None:
    threads: list[str] = []
    ready: list[object] = []

    def load() -> FakeEncoder:
        threads.append(threading.current_thread().name)
        return FakeEncoder()

    loader = EncoderLoader(load, ready=ready.append)
    first = loader.get()
    assert loader.get() is first  # loaded once, ready called once
    assert threads == [threading.current_thread().name] and ready == [first]


def test_start_loads_in_a_thread_that_get_waits_for() -> None:
    release = threading.Event()
    threads: list[str] = []

    def load() -> FakeEncoder:
        threads.append(threading.current_thread().name)
        release.wait(10)
        return FakeEncoder()

    ready: list[tuple[object, str]] = []
    loader = EncoderLoader(load, ready=lambda e: ready.append((e, threading.current_thread().name)))
    loader.start()
    loader.start()  # a second start does not load again
    releaser = threading.Timer(0.2, release.set)
    releaser.start()
    encoder = loader.get()
    assert threads == ["search-load-encoder"]
    assert ready == [(encoder, threading.current_thread().name)]  # in the thread that got it


def test_a_failed_load_is_raised_by_get_and_waited_for_by_wait() -> None:
    def load() -> FakeEncoder:
        raise OSError("no room to load the model")

    loader = EncoderLoader(load)
    loader.start()
    loader.wait()
    with pytest.raises(OSError, match="no room"):
        loader.get()
    EncoderLoader(load).wait()  # never started: nothing to wait for
