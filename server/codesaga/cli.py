"""The ``codesaga`` command: serve | complete | demo | doctor | engine | models | bench | eval
| stats."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import NoReturn

from codesaga import __version__
from codesaga.logs import set_level

log = logging.getLogger("codesaga")

ERROR_PREFIX = "codesaga: error: "
"""How every error line of the command starts (argparse's own included)."""
WARMUP_TOKENS = 64
"""Tokens ``doctor`` generates once, untimed, before the timed generation."""


def fail(message: str, code: int = 1) -> int:
    """Print ``codesaga: error: <message>`` to stderr, the command's one form of error line;
    returns ``code`` (the exit status)."""
    print(f"{ERROR_PREFIX}{message}", file=sys.stderr)
    return code


class Parser(argparse.ArgumentParser):
    """argparse's parser, with its usage errors in the command's one error form (argparse
    would write ``codesaga bench: error:`` for a subcommand's)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{ERROR_PREFIX}{message}\n")


def setup_logging(level: str, log_file: str | None) -> None:
    """Log to ``log_file`` (every record the ``codesaga`` logger's ``level`` lets through) or
    else to stderr, warnings and errors only: editors log a server's stderr as errors
    (Neovim's ``lsp.log`` tags each line ``[ERROR]``), and in ``serve`` the ``info`` records
    reach the client's log as ``window/logMessage`` (:mod:`codesaga.lsp.client_log`). Never
    to stdout (it carries the protocol in ``serve``). ``level`` is the ``codesaga`` logger's
    (see :func:`codesaga.logs.set_level`)."""
    handler: logging.Handler
    if log_file:
        handler = logging.FileHandler(log_file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    set_level(level)


def cmd_serve(args: argparse.Namespace) -> int:
    """Speak LSP on stdio (or TCP). fd 1 is kept for the protocol alone: the protocol gets a
    duplicate of it and fd 1 itself is pointed at stderr, so anything else that writes to
    stdout (llama.cpp, a stray print) lands on stderr. Returns the exit code: 0 after
    ``shutdown`` + ``exit`` or when stdin closes, 1 for ``exit`` without ``shutdown`` or when
    the editor's process is gone. SIGTERM and SIGHUP (an editor that quits without waiting
    for ``shutdown``, as Neovim does, ends its servers so) exit as cleanly as stdin closing:
    what is queued for the usage file and the cache is written first."""
    from codesaga.lsp import client_log, create_server
    from codesaga.lsp.stdio import serve_stdio
    from codesaga.settings import Settings

    setup_logging(Settings().log_level, args.log_file)
    server = create_server()
    client_log.install(server)  # info and above also go to the client's log
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        server.start_tcp(host or "127.0.0.1", int(port))
        return 0
    protocol_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, _exit_on_signal)
    return serve_stdio(server, sys.stdin.buffer, protocol_out)


def _exit_on_signal(number: int, frame: object) -> None:
    """Leave through SystemExit, so that ``finally`` blocks and ``atexit`` handlers run."""
    log.info("%s: exiting", signal.Signals(number).name)
    raise SystemExit(0)


def _settings(args: argparse.Namespace) -> object:
    from codesaga.settings import Settings

    overrides = {k: v for k, v in {"model": args.model}.items() if v}
    return Settings(**overrides)


def cmd_complete(args: argparse.Namespace) -> int:
    """Run the completion pipeline once on a file and print the suggestion."""
    from lsprotocol.types import Position

    from codesaga.cache import CompletionCache
    from codesaga.completion import Completer, Suggestion
    from codesaga.documents import DocumentStore, PositionError
    from codesaga.engine import Generation
    from codesaga.loader import load_engine
    from codesaga.scheduler import Scheduler
    from codesaga.settings import Settings
    from codesaga.syntax.languages import grammar_name

    setup_logging("warning", None)
    settings = _settings(args)
    assert isinstance(settings, Settings)
    path = Path(args.file)
    text = path.read_text(encoding="utf-8")
    store = DocumentStore()
    uri = path.resolve().as_uri()
    doc = store.open(uri, grammar_name("", uri) or "plaintext", 0, text)
    position = Position(line=args.line, character=args.character)
    try:  # before the model loads: a wrong position is said at once
        offset = doc.offset_at(position)
    except PositionError:
        return fail(
            f"--line {args.line} --character {args.character} is outside {path} "
            f"({doc.line_count} lines; both count from 0)",
            2,
        )
    engine = load_engine(settings)
    cache = (
        None if args.no_cache else CompletionCache(settings.resolved_cache_dir() / "completions")
    )
    scheduler = Scheduler()
    completer = Completer(
        engine, scheduler, cache, max_tokens=settings.max_tokens, temperature=settings.temperature
    )

    async def complete() -> tuple[Suggestion, Generation | None]:
        suggestion = await completer.complete(doc, offset)
        # a cache or type-through answer left no generation behind; a model answer's own
        # generation may go on past it (lookahead): its counts are taken once it has ended
        gen = await completer.generation(uri) if suggestion.source == "model" else None
        return suggestion, gen

    suggestion, gen = asyncio.run(complete())
    scheduler.shutdown()
    if args.json:
        print(
            json.dumps(
                {
                    "suggestion": suggestion.text,
                    "source": suggestion.source,
                    "seconds": round(suggestion.seconds, 4),
                    "template": engine.template.name,
                    "prompt_tokens": gen.prompt_tokens if gen else 0,
                    "reused_tokens": gen.reused_tokens if gen else 0,
                    "completion_tokens": gen.completion_tokens if gen else 0,
                },
                ensure_ascii=False,
            )
        )
    else:
        print(suggestion.text)
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print what this machine can do: llama-cpp-python, GPU offload, the model, its speed;
    with ``backend: openai`` (or ``--engine URL``), check the engine instead."""
    from codesaga.settings import Settings

    settings = _settings(args)
    assert isinstance(settings, Settings)
    if args.engine:
        settings.backend = "openai"
        settings.openai.base_url = args.engine
    if settings.backend == "openai":
        from codesaga.engine.doctor import check_engine

        setup_logging("warning", None)
        ok = check_engine(
            settings.openai,
            n_ctx=settings.context_size,
            say=lambda label, value: print(f"{label:<19} {value}"),
        )
        return 0 if ok else 1
    return _doctor_local(settings)


def cmd_engine(args: argparse.Namespace) -> int:
    """Start llama-cpp-python's OpenAI-compatible server for a registry model, after printing
    the settings editors need; the process becomes the engine (exec)."""
    from codesaga.engine.launch import EngineLaunch, check_installed
    from codesaga.engine.llama import gpu_offload_supported
    from codesaga.engine.threads import thread_counts
    from codesaga.models import auto_choice, resolve
    from codesaga.settings import Settings

    check_installed()
    settings = _settings(args)
    assert isinstance(settings, Settings)
    name = settings.model
    if name == "auto":
        name = auto_choice(settings.resolved_cache_dir())
    path = resolve(name, settings.resolved_cache_dir())
    launch = EngineLaunch(
        model_path=path,
        alias=Path(name).stem if name.endswith(".gguf") else name,
        host=args.host,
        port=args.port,
        n_ctx=args.context_size or settings.context_size,
        gpu_layers=settings.gpu_layers if args.gpu_layers is None else args.gpu_layers,
        threads=thread_counts(settings.threads, settings.batch_threads),
        api_key=os.environ.get("CODESAGA_OPENAI_API_KEY", ""),
        gpu=gpu_offload_supported() and settings.gpu_layers != 0,
    )
    print(f"CodeSaga engine: {launch.alias} ({path}) on {launch.base_url}")
    print(launch.editor_settings(), flush=True)
    argv = launch.argv()
    os.execv(argv[0], argv)
    return 0  # not reached


def _doctor_local(settings: object) -> int:
    import llama_cpp

    from codesaga.engine import GenerationRequest
    from codesaga.engine.llama import LlamaEngine, gpu_offload_supported
    from codesaga.models import resolve
    from codesaga.settings import Settings

    setup_logging("warning", None)
    assert isinstance(settings, Settings)
    print(f"codesaga            {__version__}")
    print(f"llama-cpp-python    {llama_cpp.__version__}")
    offload = "supported" if gpu_offload_supported() else "not supported (CPU build)"
    print(f"GPU offload         {offload}")
    path = resolve(settings.model, settings.resolved_cache_dir())
    print(f"model               {path}")
    print(f"model size          {path.stat().st_size / 2**20:.1f} MiB")
    engine = LlamaEngine(
        path,
        n_ctx=settings.context_size,
        n_gpu_layers=settings.gpu_layers,
        n_threads=settings.threads,
        n_threads_batch=settings.batch_threads,
        fim_family=settings.fim_family,
    )
    print(f"architecture        {engine.architecture}")
    print(f"FIM template        {engine.template.name}")
    print(f"layers offloaded    {engine.offloaded_layers()} (gpuLayers={settings.gpu_layers})")
    chosen = f"threads={settings.threads}, batchThreads={settings.batch_threads}; 0 = automatic"
    print(f"threads             {engine.threads.describe()}; {chosen}")
    print(f"load time           {engine.load_seconds:.2f} s")
    print(f"warm-up             generating {WARMUP_TOKENS} tokens (not timed)…", flush=True)
    prompt = "def fibonacci(n):\n"
    gen = engine.generate(
        GenerationRequest(prompt=prompt, max_tokens=WARMUP_TOKENS, temperature=0.0)
    )
    print(f"timing              generating {WARMUP_TOKENS} more tokens…", flush=True)
    started = time.perf_counter()
    gen2 = engine.generate(
        GenerationRequest(prompt=prompt + gen.text, max_tokens=WARMUP_TOKENS, temperature=0.0)
    )
    elapsed = time.perf_counter() - started
    rate = gen2.completion_tokens / elapsed if elapsed > 0 else 0.0
    print(f"generation          {gen2.completion_tokens} tokens in {elapsed:.2f} s")
    print(f"decode speed        {rate:.1f} tokens/s")
    engine.close()
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    """``models list`` / ``models pull NAME``."""
    from codesaga.models import ModelError, auto_choice, is_available, pull, registry
    from codesaga.settings import Settings

    cache_dir = Settings().resolved_cache_dir()
    if args.action == "pull":
        try:
            print(pull(args.name, cache_dir))
        except ModelError as exc:
            return fail(str(exc))
        return 0
    chosen = auto_choice(cache_dir)
    for entry in registry().values():
        state = "present" if is_available(entry, cache_dir) else "not downloaded"
        auto = "  (what `auto` uses)" if entry.name == chosen else ""
        print(f"{entry.name:<20} {state:<15} {entry.size_mb:>6} MiB{auto}")
        print(f"{'':<20} {entry.description}")
        print(f"{'':<20} weights: {entry.source}; license: {entry.license}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Start ``codesaga serve`` and drive it as an LSP client over the fixture files."""
    from codesaga.demo import run_demo

    return asyncio.run(run_demo([Path(f) for f in args.files]))


def cmd_bench(args: argparse.Namespace) -> int:
    """Replay typing into a real server and a naive llama-cpp-python arm; print the figures."""
    from codesaga.bench import BenchError, BenchOptions, run_bench

    setup_logging("warning", None)
    options = BenchOptions(
        files=tuple(Path(f) for f in args.files),
        interval_ms=args.interval_ms,
        read_ms=args.read_ms,
        max_chars=args.max_chars,
        json_path=Path(args.json) if args.json else None,
        model=args.model,
        overhead_keys=args.overhead_keys,
        sync_keys=args.sync_keys,
        index_files=args.index_files,
        clients=args.clients or (),
        engine_url=args.engine,
        contended=args.contended,
    )
    missing = [str(p) for p in options.files if not p.is_file()]
    if missing:
        return fail(f"no such file: {', '.join(missing)}", 2)
    try:
        run_bench(options)
    except BenchError as exc:
        return fail(str(exc))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score the server against the raw model on the same tasks; print the table."""
    from codesaga.evals import BenchError, EvalOptions, run_eval

    setup_logging("warning", None)
    if args.limit is not None and args.limit < 1:
        return fail("--limit must be at least 1", 2)
    options = EvalOptions(
        models=tuple(args.model or ()),
        suites=tuple(dict.fromkeys(args.suite or ())),
        quick=args.quick,
        limit=args.limit,
        ablate=args.ablate,
        json_path=Path(args.json) if args.json else None,
        seed=args.seed,
    )
    try:
        run_eval(options)
    except BenchError as exc:
        return fail(str(exc))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the usage summary of the usage file in the settings' cache directory."""
    from rich.console import Console

    from codesaga.settings import Settings
    from codesaga.usage import USAGE_FILE, summarize
    from codesaga.usage.report import parse_since, render
    from codesaga.usage.store import read_rows

    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        return fail(str(exc), 2)
    path = Settings().resolved_cache_dir() / USAGE_FILE
    summary = summarize(read_rows(path, since or 0.0), since)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        if not path.is_file():
            print(f"no usage recorded yet ({path})", file=sys.stderr)
        render(summary, Console())
    return 0


def _counts(value: str) -> tuple[int, ...]:
    """``"1,2,4"`` -> ``(1, 2, 4)`` (argparse type; each at least 1)."""
    try:
        counts = tuple(int(part) for part in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of counts: {value!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("client counts must be at least 1")
    return counts


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and editor configs that check flags)."""
    parser = Parser(prog="codesaga", description="Local AI coding assistant (LSP).")
    parser.add_argument("--version", action="version", version=f"codesaga {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on TCP instead (debugging)")
    serve.add_argument("--log-file", metavar="PATH", help="log here instead of stderr")
    serve.set_defaults(func=cmd_serve)

    complete = sub.add_parser("complete", help="complete once at a position and print it")
    complete.add_argument("file")
    complete.add_argument("--line", type=int, required=True, help="0-based line")
    complete.add_argument("--character", type=int, required=True, help="0-based UTF-16 column")
    complete.add_argument("--json", action="store_true", help="print JSON with timings")
    complete.add_argument("--model", help="registry name or GGUF path (default: settings)")
    complete.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    complete.set_defaults(func=cmd_complete)

    doctor = sub.add_parser(
        "doctor",
        help="check llama-cpp-python, GPU offload and the model; or the engine (backend openai)",
    )
    doctor.add_argument("--model", help="registry name or GGUF path (default: settings)")
    doctor.add_argument(
        "--engine", metavar="URL", help="check the OpenAI-compatible engine at URL (its /v1)"
    )
    doctor.set_defaults(func=cmd_doctor)

    engine = sub.add_parser(
        "engine",
        help="start llama-cpp-python's OpenAI-compatible server for a model, to share it",
    )
    engine.add_argument("--model", help="registry name or GGUF path (default: settings)")
    engine.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    engine.add_argument("--port", type=int, default=8080, help="listen port (8080)")
    engine.add_argument(
        "--context-size", type=int, help="context window in tokens (default: settings)"
    )
    engine.add_argument(
        "--gpu-layers", type=int, help="layers offloaded to the GPU; -1 = all (default: settings)"
    )
    engine.set_defaults(func=cmd_engine)

    models = sub.add_parser("models", help="list or download known models")
    models.add_argument("action", choices=["list", "pull"])
    models.add_argument("name", nargs="?")
    models.set_defaults(func=cmd_models)

    demo = sub.add_parser("demo", help="drive a real server over the fixture files")
    demo.add_argument("files", nargs="*", help="files with <CURSOR> markers (default: fixtures)")
    demo.set_defaults(func=cmd_demo)

    bench = sub.add_parser("bench", help="measure keystroke latency against plain llama.cpp")
    bench.add_argument("files", nargs="*", help="files to type (default: the fixture files)")
    bench.add_argument(
        "--interval-ms", type=float, default=60.0, help="milliseconds between keys (60)"
    )
    bench.add_argument(
        "--read-ms",
        type=float,
        default=1000.0,
        help="milliseconds from opening a file to its first key (1000; 0: at once)",
    )
    bench.add_argument("--json", metavar="PATH", help="write the JSON report here")
    bench.add_argument(
        "--max-chars", type=int, default=1200, help="keys typed over all files together (1200)"
    )
    bench.add_argument("--model", help="registry name or GGUF path (default: settings)")
    bench.add_argument(
        "--overhead-keys", type=int, default=200, help="keys timed on the 5,000-line file (200)"
    )
    bench.add_argument(
        "--sync-keys",
        type=int,
        metavar="N",
        help="only time N keystrokes of text sync on the 5,000-line file, end to end over LSP: "
        "each didChange, then a request the server answers after it; no model, no completions",
    )
    bench.add_argument(
        "--index-files",
        type=int,
        metavar="N",
        help="only index an N-file workspace in a server's background: keystrokes meanwhile "
        "and after, index time and memory, a restart's re-reading; no model",
    )
    bench.add_argument(
        "--clients",
        type=_counts,
        metavar="N[,N...]",
        help="only the shared-engine load check: N servers typing at once against one "
        "OpenAI-compatible engine, per N (e.g. 1,2,4), beside one in-process server; then "
        "the memory of 3 windows either way",
    )
    bench.add_argument(
        "--contended",
        action="store_true",
        help="only the busy-machine check: pause latency of one in-process server typing "
        "alone, then with two more typing at once, with the default threads and all cores",
    )
    bench.add_argument(
        "--engine",
        metavar="URL",
        help="the engine's /v1 URL for --clients (default: start `codesaga engine` for the model)",
    )
    bench.set_defaults(func=cmd_bench)

    evals = sub.add_parser("eval", help="score suggestions: the server against the raw model")
    evals.add_argument(
        "--model",
        action="append",
        help="registry name or GGUF path; repeatable (default: qwen2.5-coder-0.5b, gemma-3-270m)",
    )
    evals.add_argument(
        "--suite",
        action="append",
        choices=["humaneval", "repo"],
        help="suite to run; repeatable (default: both)",
    )
    evals.add_argument("--quick", action="store_true", help="a few tasks per suite (for CI)")
    evals.add_argument("--limit", type=int, metavar="N", help="at most N tasks per suite")
    evals.add_argument(
        "--ablate",
        action="store_true",
        help="also run the server without repository context, and with suffix ranking "
        "(models without FIM tokens)",
    )
    evals.add_argument("--json", metavar="PATH", help="write the JSON report here")
    evals.add_argument("--seed", type=int, default=0, help="seed of the task sampling (0)")
    evals.set_defaults(func=cmd_eval)

    stats = sub.add_parser(
        "stats", help="usage kept as local metadata: requests, acceptance, latency, cache hits"
    )
    stats.add_argument(
        "--since", metavar="SPAN", help="only the last SPAN, e.g. 7d, 12h, 30m (default: all kept)"
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")
    stats.set_defaults(func=cmd_stats)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``codesaga`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "models" and args.action == "pull" and not args.name:
        return fail("models pull needs a NAME", 2)
    try:
        return int(args.func(args))
    except Exception as exc:  # a CLI error is one line, not a traceback
        if os.environ.get("CODESAGA_DEBUG"):
            raise
        return fail(str(exc))


if __name__ == "__main__":
    sys.exit(main())
