"""Inference engines: in-process llama-cpp-python, or an OpenAI-compatible HTTP server."""

from codesaga.engine.base import (
    ChatMessage,
    Engine,
    EngineError,
    Generation,
    GenerationRequest,
)

__all__ = ["ChatMessage", "Engine", "EngineError", "Generation", "GenerationRequest"]
