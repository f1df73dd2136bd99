"""Feed and rule files (the samples in config/feeds.yaml and config/rules.yaml), read and
validated; the sync that keeps the store in step with them is pipeline.services.catalog.

``${VAR}`` and ``${VAR:-default}`` in the files are replaced from the environment, so a
webhook URL or secret never has to be written into the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import ConfigError
from pipeline.model import RuleMode
from pipeline.settings import shipped_path

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class FeedSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str
    name: str = ""
    interval: int | None = Field(default=None, ge=30)


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    query: str
    webhook: str
    secret: str | None = None
    feed: str | None = None
    enabled: bool = True
    mode: str = RuleMode.IMMEDIATE
    notify: list[str] = Field(default_factory=list)


def expand_env(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value:
            return value
        if match.group(2) is not None:
            return match.group(2)
        raise ConfigError(f"environment variable {match.group(1)} is not set")

    # Comment lines are left alone, so documentation may mention ${VAR} freely.
    return "".join(
        line if line.lstrip().startswith("#") else _ENV_REFERENCE.sub(replace, line)
        for line in text.splitlines(keepends=True)
    )


def _load_list(path: Path, key: str, expand: bool = True) -> list[Any]:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    try:
        data = yaml.safe_load(expand_env(raw) if expand else raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from exc
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get(key, []), list):
        raise ConfigError(f"{path}: expected a mapping with a '{key}:' list")
    return list(data.get(key) or [])


def _validated(path: Path, key: str, model: type[BaseModel], expand: bool = True) -> list[Any]:
    items = []
    for index, item in enumerate(_load_list(path, key, expand)):
        try:
            items.append(model.model_validate(item))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "entry"
            raise ConfigError(f"{path}: {key}[{index}].{field}: {first['msg']}") from exc
    return items


def load_feeds_file(path: Path) -> list[FeedSpec]:
    return _validated(path, "feeds", FeedSpec)


def load_rules_file(path: Path) -> list[RuleSpec]:
    return _validated(path, "rules", RuleSpec)


SAMPLE_RULES_FILE = shipped_path("config", "rules.yaml")


def sample_rules(path: Path = SAMPLE_RULES_FILE) -> list[RuleSpec]:
    """The sample rules as written (their ${VAR} references are not read: `newswatch init`
    arms them with the webhook the user gives)."""
    return _validated(path, "rules", RuleSpec, expand=False)
