"""CodeSaga settings: one pydantic-settings model.

Sources, highest priority first:

1. what the client sends: ``initializationOptions`` merged with the ``codesaga`` section of
   ``workspace/configuration`` (camelCase keys, e.g. ``gpuLayers``, ``openai.baseUrl``);
2. environment variables ``CODESAGA_*`` (``CODESAGA_GPU_LAYERS``, ``CODESAGA_OPENAI__BASE_URL``);
3. the TOML config file ``<user config dir>/codesaga/config.toml`` (or ``$CODESAGA_CONFIG``);
4. the defaults below.

Invalid values raise :class:`pydantic.ValidationError`; the server shows it to the user and keeps
the last valid settings (see :func:`codesaga.validation.describe`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel, to_snake
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

APP_NAME = "codesaga"
SECTION = "codesaga"

FimFamily = Literal["auto", "qwen", "codellama", "starcoder", "deepseek", "codegemma", "none"]


def config_file() -> Path:
    """Path of the optional TOML config file (it need not exist)."""
    env = os.environ.get("CODESAGA_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class OpenAISettings(BaseModel):
    """Where the OpenAI-compatible engine is, when ``backend`` is ``openai``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    base_url: str = "http://127.0.0.1:8080/v1"
    api_key: str = Field("", repr=False)
    model: str = ""


class Settings(BaseSettings):
    """Every user-facing setting of the server (keys are camelCase on the wire)."""

    model_config = SettingsConfigDict(
        env_prefix="CODESAGA_",
        env_nested_delimiter="__",
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
    )

    model: str = Field("auto", description="Registry name, 'auto', or a path to a .gguf file.")
    backend: Literal["llama", "openai"] = "llama"
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    gpu_layers: int = Field(-1, ge=-1, description="Layers offloaded to the GPU; -1 = all.")
    context_size: int = Field(2048, ge=256, le=131072, description="Context window in tokens.")
    max_tokens: int = Field(64, ge=1, le=2048, description="Most tokens generated per answer.")
    temperature: float = Field(0.2, ge=0.0, le=2.0)
    language: Literal["auto", "ko", "en"] = "auto"
    cache_dir: str = Field("", description="Cache directory; '' = the platform user cache dir.")
    log_level: Literal["error", "warning", "info", "debug"] = "info"
    fim_family: FimFamily = Field(
        "auto", description="Override the FIM prompt family detected from the GGUF metadata."
    )
    threads: int = Field(
        0,
        ge=0,
        description="CPU threads llama.cpp generates with; 0 = half the cores (see "
        "codesaga.engine.threads).",
    )
    batch_threads: int = Field(
        0,
        ge=0,
        description="CPU threads llama.cpp evaluates prompts with; 0 = all cores but one.",
    )
    repo_context_tokens: int = Field(
        384,
        ge=0,
        le=8192,
        description=(
            "Model tokens of repository context (definitions of names near the cursor and "
            "similar code from other files) put before the file's own text; 0 = none."
        ),
    )
    # 1 by default: measured on 80 HumanEval single-line holes with Gemma 3 270M, ranking 4
    # candidates chose 23 right lines where greedy chose 22, for about 2.5 s more per request
    rank_candidates: int = Field(
        1,
        ge=1,
        le=8,
        description=(
            "Candidates ranked by the code after the cursor, for models without FIM tokens, "
            "in invoked requests; 1 = greedy only."
        ),
    )
    usage_retention_days: int = Field(
        30,
        ge=0,
        le=3650,
        description=(
            "Days of usage metadata (feature, language, token counts, latency, accepted) kept "
            "in the cache directory for `codesaga stats`; never code. 0 = record none."
        ),
    )
    style_guide: str = Field(
        "", description="Markdown style guide for reviews; '' = the language's conventions."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            _TomlFile(settings_cls, toml_file=config_file()),
        )

    def resolved_cache_dir(self) -> Path:
        """The cache directory as an absolute path (created on demand by its users)."""
        if self.cache_dir:
            return Path(self.cache_dir).expanduser()
        return Path(platformdirs.user_cache_dir(APP_NAME))

    def response_language(self, locale: str | None) -> Literal["ko", "en"]:
        """Language of text the model writes for the user; ``auto`` follows the client locale."""
        return response_language(self.language, locale)


def response_language(setting: object, locale: str | None) -> Literal["ko", "en"]:
    """The language a ``language`` setting value asks for: ``en`` or ``ko`` itself, else (``auto``,
    or a value that is not valid) the client's ``locale`` (``ko*``: Korean)."""
    if setting == "en" or setting == "ko":
        return setting
    return "ko" if (locale or "").lower().startswith("ko") else "en"


class _TomlFile(TomlConfigSettingsSource):
    """The config file, read with the same camelCase keys as the client sends, handed on with
    field names: the environment source yields field names too, and a key present under both
    spellings would let the file win over the environment."""

    def __call__(self) -> dict[str, Any]:
        return _field_names(super().__call__())


def _field_names(data: dict[str, Any]) -> dict[str, Any]:
    return {
        to_snake(key): _field_names(value) if isinstance(value, dict) else value
        for key, value in data.items()
    }


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge two camelCase settings dicts; values in ``update`` win. Inputs are unchanged."""
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
