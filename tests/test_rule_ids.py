"""Every rule a finding cites is an entry of rules/*.yaml, and findings cite it as ``id@version``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from extractor import __version__
from extractor.pipeline import extract
from extractor.templates import load_rules, rule_version, rules_version

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RULE_ID = re.compile(r"[A-Z][A-Z0-9]?\.[A-Z][A-Z_]+")


def _declared() -> dict[str, int]:
    return {r["id"]: int(r["version"]) for r in load_rules()}


def _ids_in_code() -> dict[str, str]:
    """Every string literal of the package that is a rule id (``G.GROUNDED``, ``M.CELL_AGREE``, …)."""
    out: dict[str, str] = {}
    for p in sorted((ROOT / "extractor").rglob("*.py")):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and RULE_ID.fullmatch(node.value):
                out.setdefault(node.value, f"{p.relative_to(ROOT)}:{node.lineno}")
    return out


def test_every_rule_id_written_in_the_code_has_a_yaml_entry():
    ids = _ids_in_code()
    assert {"G.GROUNDED", "M.CELL_AGREE", "D.BUDGET", "N.SUM"} <= set(ids)  # the scan sees them
    missing = {i: where for i, where in ids.items() if i not in _declared()}
    assert missing == {}


def test_an_unknown_rule_id_is_a_config_error():
    from extractor.errors import ConfigError

    with pytest.raises(ConfigError, match="G.NO_SUCH_RULE"):
        rule_version("G.NO_SUCH_RULE")


@pytest.mark.skipif(not (SHARED / "samples").is_dir(), reason="../shared (real reports) is not beside the checkout")
def test_every_finding_on_the_real_reports_carries_a_declared_id_at_its_version():
    declared = {f"{i}@{v}" for i, v in _declared().items()}
    files = sorted(p for p in (SHARED / "samples").iterdir() if p.is_file())
    files += sorted(p for p in (SHARED / "corpus" / "reports").iterdir() if p.is_file())
    seen: set[str] = set()
    for f in files:
        rec = extract(f)
        for finding in rec.findings:
            assert finding.ref in declared, (f.name, finding.id, finding.ref)
            seen.add(finding.rule.split(".")[0])
        # one map of component -> version: the package and the digest of every rule file, nothing else
        assert rec.versions == {"extractor": __version__, "rules": rules_version()}, rec.versions
    assert {"G", "N", "T3", "T4"} <= seen
