"""The model of one server: its engine and completer, loaded in the background.

Chat and code actions get the engine from here (:meth:`ModelService.ready_engine`), inline
completion the completer (:meth:`ModelService.ready_completer`); both wait for a load in
progress. Loading reports ``$/progress`` and shows a failure to the user once; the server
keeps serving and a later settings change loads again.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from codesaga.cache import CompletionCache
from codesaga.completion import Completer
from codesaga.engine import Engine
from codesaga.engine.faults import EngineFault, FaultWatch
from codesaga.errors import CodeSagaError
from codesaga.loader import load_engine
from codesaga.scheduler import Scheduler
from codesaga.settings import Settings
from codesaga.texts import error, say

if TYPE_CHECKING:
    from codesaga.lsp.server import CodeSagaServer

log = logging.getLogger(__name__)

MODEL_WAIT_SECONDS = 120.0
"""How long a request waits for a model that is still loading before it fails."""
RELOAD_KEYS = (
    "model",
    "backend",
    "openai",
    "gpu_layers",
    "context_size",
    "fim_family",
    "threads",
    "batch_threads",
)
"""Settings whose change needs a new engine."""


class ModelUnavailable(CodeSagaError):
    """No model to answer with: it failed to load, or is still loading."""


class ModelService:
    """The engine, the completer and the completion cache of ``server`` (event loop only)."""

    def __init__(self, server: CodeSagaServer) -> None:
        self._server = server
        self.engine: Engine | None = None
        self.completer: Completer | None = None
        self.cache: CompletionCache | None = None
        self.error: CodeSagaError | None = None
        """Why the last load failed (None: it did not fail)."""
        self._ready: asyncio.Event | None = None
        self._loading: asyncio.Task[None] | None = None

    def start_load(self) -> None:
        """(Re)load the engine in the background; requests wait on :meth:`ready_completer`."""
        if self._ready is None:
            self._ready = asyncio.Event()
        self._ready.clear()
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self._loading = asyncio.ensure_future(self._load())

    def ensure_loading(self) -> None:
        """Start the first model load unless one has started already."""
        if self._ready is None:
            self.start_load()

    def settings_changed(self, old: Settings, new: Settings) -> None:
        """Apply new settings: generation settings at once, a new engine when one of
        RELOAD_KEYS changed after the first load started."""
        if self.completer is not None:
            self.completer.configure(
                max_tokens=new.max_tokens,
                temperature=new.temperature,
                rank_candidates=new.rank_candidates,
            )
        if self._loading is not None and any(
            getattr(old, key) != getattr(new, key) for key in RELOAD_KEYS
        ):
            self.start_load()

    def use(self, engine: Engine, completer: Completer) -> None:
        """Make ``engine`` and ``completer`` the ones requests get, and mark them ready."""
        self.engine, self.completer = engine, completer
        if self._ready is None:
            self._ready = asyncio.Event()
        self._ready.set()

    async def _load(self) -> None:
        server = self._server
        assert self._ready is not None
        settings = server.settings
        token = await server.begin_progress(
            "CodeSaga", say("progress.loading_model", server.language, model=settings.model)
        )
        old = self.engine
        self.engine = self.completer = None
        self.error = None
        server.sessions.forget_model_state()
        try:
            if old is not None:
                await server.scheduler.run(threading.Event(), old.close)
            engine = await asyncio.to_thread(load_engine, settings)
            announce_faults(server, engine)
            if self.cache is None:
                self.cache = await asyncio.to_thread(
                    CompletionCache,
                    settings.resolved_cache_dir() / "completions",
                    on_fault=cache_fault_reporter(server),
                )
            completer = Completer(
                engine,
                server.scheduler,
                self.cache,
                max_tokens=settings.max_tokens,
                temperature=settings.temperature,
                stats=server.stats,
                sessions=server.sessions,
                rank_candidates=settings.rank_candidates,
            )
            self.use(engine, completer)
            server.connect_repo()
            collect_after_model_work(server.scheduler)
            message = say("progress.model_ready", server.language, family=engine.template.name)
            opened = server.store.uris()
            if opened:  # documents opened while the model loaded: the last one is prefilled
                completer.prefill(server.store.get(opened[-1]))
        except (CodeSagaError, OSError) as exc:
            self.error = exc if isinstance(exc, CodeSagaError) else CodeSagaError(str(exc))
            message = say(
                "progress.model_failed", server.language, error=self.error.text(server.language)
            )
            server.show(f"CodeSaga: {message}", error=True)
        except asyncio.CancelledError:  # a newer load replaced this one: it sets ready
            server.end_progress(token, say("progress.model_replaced", server.language))
            raise
        except Exception as exc:  # never leave requests waiting on a load that died
            log.exception("model load failed")
            self.engine = self.completer = None
            self.error = CodeSagaError(f"{type(exc).__name__}: {exc}")
            message = say(
                "progress.model_failed", server.language, error=self.error.text(server.language)
            )
            server.show(f"CodeSaga: {message}", error=True)
        self._ready.set()
        server.end_progress(token, message)

    async def ready_engine(self) -> Engine:
        """The engine once the model is loaded; waits up to MODEL_WAIT_SECONDS. Raises
        ModelUnavailable as :meth:`ready_completer` does."""
        await self.ready_completer()
        assert self.engine is not None
        return self.engine

    async def ready_completer(self) -> Completer:
        """The completer once the model is loaded; waits up to MODEL_WAIT_SECONDS.

        Raises ModelUnavailable when the model failed to load or is still loading.
        """
        self.ensure_loading()
        assert self._ready is not None
        try:
            await asyncio.wait_for(self._ready.wait(), MODEL_WAIT_SECONDS)
        except TimeoutError:
            raise error(ModelUnavailable, "model.still_loading") from None
        if self.completer is None:
            reason = self.error or CodeSagaError("")
            raise ModelUnavailable(
                say("model.none", "en", error=reason.text("en")),
                ko=say("model.none", "ko", error=reason.text("ko")),
            )
        return self.completer

    def close(self) -> None:
        """Close the completion cache (at shutdown)."""
        if self.cache is not None:
            self.cache.close()


def announce_faults(server: CodeSagaServer, engine: Engine) -> None:
    """Show the user each change of a remote engine's health, once (``window/showMessage``):
    a fault as an error when it starts or becomes another, and the recovery. Engines without
    a :class:`~codesaga.engine.faults.FaultWatch` (the in-process one) are left alone."""
    watch = getattr(engine, "watch", None)
    if not isinstance(watch, FaultWatch):
        return
    loop = asyncio.get_running_loop()

    def heard(now: EngineFault | None, before: EngineFault | None) -> None:
        if now is not None:
            message, failed = f"CodeSaga: {now.text(server.language)}", True
        else:
            message = say("engine.back", server.language, url=before.url if before else "")
            failed = False
        loop.call_soon_threadsafe(functools.partial(server.show, message, error=failed))

    watch.listener = heard


def cache_fault_reporter(server: CodeSagaServer) -> Callable[[str], None]:
    """A thread-safe ``on_fault`` for :class:`~codesaga.cache.CompletionCache`: each fault
    shown to the user once (``window/showMessage``, a warning that completion goes on)."""
    loop = asyncio.get_running_loop()

    def fault(message: str) -> None:
        loop.call_soon_threadsafe(functools.partial(server.show, f"CodeSaga: {message}"))

    return fault


def collect_after_model_work(scheduler: Scheduler) -> None:
    """Collect the cyclic garbage that model work leaves (a generation's flight and closures,
    its request, llama-cpp-python's per-call objects) each time the model thread runs out of
    work, instead of when Python's own schedule gets to it: the oldest generation is collected
    only after a quarter as many new survivors as it holds, and until then the server held
    tens of MiB more (``codesaga bench`` with Gemma 3 270M: peak RSS 534–567 MiB without,
    about 507 with). What exists once the model is loaded lives as long as the server and is
    frozen out of collections first (``gc.freeze``), so each collection costs about 0.3 ms
    instead of 40."""
    gc.collect()
    gc.freeze()
    scheduler.on_idle = gc.collect
