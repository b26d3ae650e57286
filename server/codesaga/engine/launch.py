"""``codesaga engine``: start an existing OpenAI-compatible engine for the local case.

The engine is llama-cpp-python's own server (``python -m llama_cpp.server``, from the
``llama-cpp-python[server]`` extra, which ``codesaga[engine]`` installs); CodeSaga adds no
engine of its own, only the command line for a registry model and the settings the editors
need to use it. Several editor windows then share one copy of the model.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

from codesaga.engine.base import EngineError
from codesaga.engine.threads import ThreadCounts, thread_counts

SERVER_MODULES = ("llama_cpp.server", "fastapi", "uvicorn", "sse_starlette")
"""What ``python -m llama_cpp.server`` imports beyond llama-cpp-python itself."""


@dataclass(frozen=True)
class EngineLaunch:
    """How to start the engine: ``model_path`` served as ``alias`` (the ``openai.model``
    editors set) on ``host``:``port``; ``n_ctx`` tokens of context, ``gpu_layers`` offloaded
    (-1 = all), ``threads`` CPU threads for generation and prompt batches; ``api_key``:
    required of clients when not empty."""

    model_path: Path
    alias: str
    host: str = "127.0.0.1"
    port: int = 8080
    n_ctx: int = 4096
    gpu_layers: int = -1
    threads: ThreadCounts = field(default_factory=thread_counts)
    api_key: str = ""
    gpu: bool = False
    """Whether llama-cpp-python was built with GPU offload (and ``gpu_layers`` is not 0)."""

    @property
    def base_url(self) -> str:
        """The engine's ``/v1`` URL, the ``openai.baseUrl`` setting."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/v1"

    def argv(self) -> list[str]:
        """The command line (this Python, ``-m llama_cpp.server`` and its flags). The
        server's ``interrupt_requests`` stays on: a new request ends the stream of the one
        before, which a superseded completion needs (it would otherwise hold the model
        until it had generated all its tokens)."""
        argv = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.model_path),
            "--model_alias",
            self.alias,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_gpu_layers",
            str(self.gpu_layers),
            "--n_threads",
            str(self.threads.generation),
            "--n_threads_batch",
            str(self.threads.batch),
        ]
        # as the in-process engine: prompt tokens per decode call 128 on a CPU, 512 on a GPU;
        # no logits kept for every position (the server's default keeps n_ctx × vocabulary
        # floats, which CodeSaga never asks for: 2 GiB for Gemma 3 at 2,048 tokens)
        batch = "512" if self.gpu else "128"
        argv += ["--n_batch", batch, "--n_ubatch", batch, "--logits_all", "False"]
        if self.api_key:
            argv += ["--api_key", self.api_key]
        return argv

    def editor_settings(self) -> str:
        """What the editors need, as the config file's TOML and as VS Code settings."""
        key = "\n(and the API key in the environment variable CODESAGA_OPENAI_API_KEY)"
        return (
            "CodeSaga settings for this engine — in ~/.config/codesaga/config.toml:\n"
            f'  backend = "openai"\n  [openai]\n  baseUrl = "{self.base_url}"\n'
            f'  model = "{self.alias}"\n'
            "or in VS Code's settings.json:\n"
            f'  "codesaga.backend": "openai",\n  "codesaga.openai.baseUrl": "{self.base_url}",\n'
            f'  "codesaga.openai.model": "{self.alias}"' + (key if self.api_key else "")
        )


def check_installed() -> None:
    """Raises EngineError naming the missing modules of the ``llama-cpp-python[server]``
    extra."""
    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m.split(".")[0]) is None]
    if not missing and importlib.util.find_spec("llama_cpp.server") is None:
        missing = ["llama_cpp.server"]
    if missing:
        raise EngineError(
            f"llama-cpp-python's server is not installed (missing {', '.join(missing)}): "
            "pip install 'codesaga[engine]'"
        )
