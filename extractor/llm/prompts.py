"""Prompt files: Jinja templates in ``prompts/`` with an id and a version in a header comment.

A prompt file starts with a Jinja comment holding YAML (``id``, ``version``, ``description``) and
defines the blocks ``system`` and ``user`` (and optionally ``example_user``/``example_assistant``, a
worked example sent as chat turns between them). The user block puts the stable document text first and
the question last, so that an OpenAI-compatible server can reuse the cached prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from ..errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_HEADER = re.compile(r"\A\{#-?\s*(.*?)\s*-?#\}", re.S)


# Blocks rendered as chat messages, in this order (the example turns are optional).
_BLOCKS = (("system", "system"), ("example_user", "user"), ("example_assistant", "assistant"), ("user", "user"))


@dataclass(frozen=True)
class Prompt:
    id: str
    version: int
    path: Path
    template: jinja2.Template

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def messages(self, **variables: Any) -> list[dict[str, str]]:
        out = []
        for name, role in _BLOCKS:
            block = self.template.blocks.get(name)
            if block is None:
                continue
            text = "".join(block(self.template.new_context(variables))).strip()
            if text:
                out.append({"role": role, "content": text})
        return out


_ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True, autoescape=False)


@lru_cache(maxsize=None)
def load_prompt(name: str, directory: str | None = None) -> Prompt:
    path = Path(directory or PROMPTS_DIR) / f"{name}.j2"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"prompt file {path} cannot be read: {exc}") from exc
    m = _HEADER.match(source)
    if not m:
        raise ConfigError(f"prompt file {path} has no header comment with id and version")
    meta = yaml.safe_load(m.group(1)) or {}
    if meta.get("id") != name or not isinstance(meta.get("version"), int):
        raise ConfigError(f"prompt file {path}: header must give id: {name} and an integer version")
    try:
        template = _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"prompt file {path}: {exc}") from exc
    return Prompt(id=meta["id"], version=meta["version"], path=path, template=template)


def prompt_versions() -> dict[str, str]:
    return {p.stem: load_prompt(p.stem).ref for p in sorted(PROMPTS_DIR.glob("*.j2"))}
