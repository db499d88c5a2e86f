"""The rule files as data: loaded once from ``rules/`` (YAML), read as written.

``load_rules`` gives every rule entry of ``rules/*.yaml`` (stable ids, versions); ``load_templates``
the raw table files of ``rules/templates/``. Code reads tables through ``tablespec`` (typed, checked
against the rules); this module only reads the files.

``EXTRACTOR_RULES_DIR`` points elsewhere (tests, or a deployment with its own rule set).
"""

from __future__ import annotations

import functools
import hashlib
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


# libyaml's parser when PyYAML has it (the same safe constructor and resolver, ~10x faster to start)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DEFAULT_RULES = Path(__file__).resolve().parent.parent / "rules"


def rules_dir() -> Path:
    env = os.environ.get("EXTRACTOR_RULES_DIR")
    return Path(env) if env else _DEFAULT_RULES


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` through libyaml's parser when available."""
    return yaml.load(text, Loader=_SafeLoader)


def read_yaml(path: Path) -> dict[str, Any]:
    """One rule file as a mapping (a ConfigError when it cannot be read or is not a mapping)."""
    return _read(path)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


@functools.lru_cache(maxsize=4)
def _load_templates(root: str) -> dict[str, dict[str, Any]]:
    tdir = Path(root) / "templates"
    out: dict[str, dict[str, Any]] = {}
    for p in sorted(tdir.glob("*.yaml")):
        data = _read(p)
        out[data.get("id", p.stem)] = {**data, "_path": str(p)}
    for needed in ("table2", "table3", "table4", "legacy"):
        if needed not in out:
            raise ConfigError(f"template {needed!r} missing from {tdir}")
    return out


def load_templates() -> dict[str, dict[str, Any]]:
    return _load_templates(str(rules_dir()))


@functools.lru_cache(maxsize=4)
def _load_rules(root: str) -> tuple[list[dict[str, Any]], str]:
    rules: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    seen: set[str] = set()
    for p in sorted(Path(root).glob("*.yaml")):
        raw = p.read_bytes()
        digest.update(p.name.encode() + raw)
        data = _read(p)
        for r in data.get("rules", []) or []:
            if "id" not in r:
                raise ConfigError(f"{p}: a rule without an id")
            if r["id"] in seen:
                raise ConfigError(f"{p}: duplicate rule id {r['id']}")
            seen.add(r["id"])
            r = dict(r)
            r.setdefault("version", 1)
            r["file"] = p.name
            rules.append(r)
    for p in sorted((Path(root) / "templates").glob("*.yaml")):  # the table specs are rules too
        digest.update(b"templates/" + p.name.encode() + p.read_bytes())
    return rules, digest.hexdigest()[:12]


def load_rules() -> list[dict[str, Any]]:
    return _load_rules(str(rules_dir()))[0]


def rules_version() -> str:
    """A digest of every rule file: changes whenever a rule or template changes."""
    return _load_rules(str(rules_dir()))[1]


@functools.lru_cache(maxsize=4)
def _versions(root: str) -> dict[str, int]:
    return {r["id"]: int(r["version"]) for r in _load_rules(root)[0]}


def rule_version(rule_id: str) -> int:
    """The version of rule ``rule_id`` as its YAML entry gives it: every finding carries ``id@version``
    (a ConfigError for an id no rule file defines)."""
    try:
        return _versions(str(rules_dir()))[rule_id]
    except KeyError:
        raise ConfigError(f"unknown rule id {rule_id}: no entry in {rules_dir()}/*.yaml") from None


def rule(rule_id: str) -> dict[str, Any]:
    for r in load_rules():
        if r["id"] == rule_id:
            return r
    raise ConfigError(f"unknown rule id {rule_id}")
