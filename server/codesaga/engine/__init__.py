"""Inference engines: in-process llama-cpp-python, or an OpenAI-compatible HTTP server."""

from codesaga.engine.base import Engine, EngineError, Generation, GenerationRequest

__all__ = ["Engine", "EngineError", "Generation", "GenerationRequest"]
