"""One description per table: rules/templates/*.yaml plus the rule entries of rules/*.yaml.

The proof that it is the one description: a rule set changed in YAML only (a copy pointed at by
EXTRACTOR_RULES_DIR) changes what the parser reads, what the engine checks, what the report shows
and what the model is asked — with no Python changed.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from extractor.errors import ConfigError
from extractor.evaluate import evaluate_record
from extractor.llm.tables import template_cells
from extractor.loaders import load_bytes
from extractor.pipeline import extract_document
from extractor.report.view import build_page, cell_label
from extractor.decisions import apply_reviews
from extractor.tablespec import identities, table_spec, table_specs
from extractor.templates import load_rules, rules_dir
from synth import make_values, render

RULES = Path(__file__).resolve().parent.parent / "rules"


@pytest.fixture
def rules_copy(tmp_path, monkeypatch):
    """``rules_copy(file, change, …)``: a fresh copy of the rule set with the YAML edits made, which the
    whole tool then reads (EXTRACTOR_RULES_DIR; rule sets are loaded once per directory)."""
    made = []

    def make(*edits) -> Path:
        root = tmp_path / f"rules{len(made)}"
        shutil.copytree(RULES, root)
        for name, change in zip(edits[::2], edits[1::2]):
            _edit(root, name, change)
        monkeypatch.setenv("EXTRACTOR_RULES_DIR", str(root))
        made.append(root)
        return root
    return make


def _edit(root: Path, name: str, change) -> None:
    path = root / name
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _row(rows: list, key: str) -> dict:
    return next(r for r in rows if isinstance(r, dict) and r["key"] == key)


def _extract(text: str, name: str = "r.txt"):
    return extract_document(load_bytes(text.encode("utf-8"), name))


def _cells(rec, table: str, row: str) -> dict:
    return {c.col: c for c in rec.tables[table].cells if c.row == row}


# ----------------------------------------------------------------------------- the specs as loaded
def test_every_table_has_one_spec_whose_identities_are_the_rule_entries():
    specs = table_specs()
    assert set(specs) == {"table2", "table3", "table4", "legacy"}
    entries = {r["id"]: r for r in load_rules() if r.get("table") and "lhs" in r}
    for key, spec in specs.items():
        assert spec.title and spec.short and spec.rows, key
        assert [i.id for i in spec.identities] == [rid for rid, r in entries.items() if r["table"] == key]
        for ident in spec.identities:
            assert ident.rule == entries[ident.id]  # by reference: the entry as written
    assert [i.id for i in identities()] == list(entries)
    # both printed variants of table 二 and 三, each with the format that prints it
    assert table_spec("table2").variant_for("2019").name == "2019"
    assert table_spec("table3").variant_for("2019").name == "single_other"
    assert table_spec("table3").variant_for("2021").name == "three_other"
    assert table_spec("table2").signed_columns == {"change"}
    assert table_spec("table2").money_columns == {"amount_10k_yuan", "amount"}


def test_the_parsers_positional_identities_are_derived_from_the_rule_entries():
    from extractor.parse import T3_ROW_GROUPS, T4_GROUPS

    assert T3_ROW_GROUPS == [(0, 6)]  # T3.APPLICANT_TOTAL: 总计 after the six applicant columns
    assert T4_GROUPS == [(0, 4), (5, 9), (10, 14)]  # T4.GROUP_TOTAL, three rows printed side by side
    assert T3_ROW_GROUPS.holds([1, 2, 0, 0, 0, 0, 3]) and T3_ROW_GROUPS.contradicts([1, 2, 0, 0, 0, 0, 4])
    assert not T3_ROW_GROUPS.holds([1, 2, 0, 0, 0, None, 3]) and not T3_ROW_GROUPS.contradicts([1, 2, 0, 0, 0, None, 4])


# ----------------------------------------------------------------------------- changed in YAML only
def test_a_label_alias_added_in_yaml_only_is_read_by_the_parser(rules_copy):
    v = make_values(2)
    text = render(v, "pipe").replace("行政处罚 |", "处罚事项 |", 1)  # the row printed under another label
    rec = _extract(text)
    assert all(c.missing for c in _cells(rec, "table2", "punishment").values())
    assert rec.decision == "needs_review"

    def alias(data):
        _row(data["variants"]["2021"]["rows"], "punishment")["keywords"].append("处罚事项")
    rules_copy("templates/table2.yaml", alias)
    rec = _extract(text)
    cell = _cells(rec, "table2", "punishment")["decisions"]
    assert (cell.value, cell.anchor, cell.missing) == (v["table2"]["punishment"]["decisions"], "label", False)
    ev = evaluate_record(rec, json.loads(json.dumps(v, default=str)))
    assert ev.wrong == [] and rec.decision == "accepted", rec.reasons


def test_a_row_added_in_yaml_only_is_parsed_shown_and_asked_for(rules_copy):
    def add(data):
        rows = data["variants"]["2021"]["rows"]
        at = rows.index(_row(rows, "enforcement")) + 1
        rows.insert(at, {"key": "confirmation", "label": "行政确认", "keywords": ["行政确认"],
                         "columns": ["decisions"], "under": "article_20_6"})
    rules_copy("templates/table2.yaml", add)
    text = render(make_values(4), "pipe").replace("行政强制 |", "行政确认 | 17 | ||\n行政强制 |", 1)
    rec = _extract(text)
    cell = _cells(rec, "table2", "confirmation")["decisions"]
    assert (cell.value, cell.anchor) == (17, "label")
    # the report prints it in its block, under its label; the model is asked for it by key and label
    page = build_page(apply_reviews(rec, []))
    t2 = next(t for t in page.tables if t["key"] == "table2")
    block = next(b for b in t2["blocks"] if b["title"] == "第二十条第(六)项")
    assert [r["label"] for r in block["rows"]] == ["行政处罚", "行政强制", "行政确认"]
    rows, _cols, cells = template_cells("table2", "2021")
    assert {"key": "confirmation", "label": "行政确认"} in rows and ("confirmation", "decisions") in cells
    assert cell_label(rec, "table2.confirmation.decisions") == "表二 · 行政确认 · 本年处理决定数量"


def test_titles_and_column_labels_changed_in_yaml_only_show_in_the_report_and_the_prompt(rules_copy):
    def relabel(data):
        data["title"] = "三、依申请公开情况（测试标题）"
        data["columns"][0]["label"] = "公民"
        data["column_groups"][0]["label"] = "法人等组织"
    rules_copy("templates/table3.yaml", relabel,
               "templates/table2.yaml", lambda d: _row(d["columns"], "issued").update(label="新制发"))
    rec = _extract(render(make_values(5), "pipe"))
    page = build_page(apply_reviews(rec, []))
    t3 = next(t for t in page.tables if t["key"] == "table3")
    assert t3["title"] == "三、依申请公开情况（测试标题）"
    assert [h["text"] for h in t3["header"][0]][:3] == ["申请人情况", "公民", "法人等组织"]
    assert cell_label(rec, "table3.new_received.natural_person").endswith(" · 公民")
    _rows, cols, _cells_ = template_cells("table3", "2021")
    assert cols[0] == {"key": "natural_person", "label": "公民"}
    _rows, cols, _cells_ = template_cells("table2", "2021")
    assert {"key": "issued", "label": "新制发"} in cols


def test_identities_removed_in_yaml_only_are_neither_checked_nor_used_to_split_digits(rules_copy):
    v = make_values(3, big=True)
    text = render(v, "runtogether")  # some table-三 rows print their seven numbers as one digit run
    rec = _extract(text)
    glued = {c.row for c in rec.tables["table3"].cells if c.inferred == "split"}

    def by_columns(rec) -> set[str]:  # rows whose cut only the column identities decided
        return {c.row for c in rec.tables["table3"].cells if "column identities" in c.note}
    before = by_columns(rec)
    assert "new_received" in glued - before  # 2741348710727142771: cut by its row total alone
    assert not any(c.kind == "ambiguous" for c in rec.tables["table3"].cells)
    assert any(f.rule == "T3.APPLICANT_TOTAL" for f in rec.findings)

    def without(*ids):
        return lambda d: d.__setitem__("rules", [r for r in d["rules"] if r["id"] not in ids])

    # without the row identity (总计 = the six columns) only the column identities can cut the runs
    rules_copy("table3.yaml", without("T3.APPLICANT_TOTAL"))
    assert [i.id for i in table_spec("table3").identities] == ["T3.BALANCE", "T3.OUTCOME_TOTAL"]
    rec = _extract(text)
    assert not any(f.rule == "T3.APPLICANT_TOTAL" for f in rec.findings)
    assert not any(c.kind == "ambiguous" for c in rec.tables["table3"].cells)
    assert by_columns(rec) > before and "new_received" in by_columns(rec)
    # without any identity of the table nothing can: the runs stay ambiguous, every candidate kept
    rules_copy("table3.yaml", without("T3.APPLICANT_TOTAL", "T3.BALANCE", "T3.OUTCOME_TOTAL"))
    rec = _extract(text)
    assert "new_received" in {c.row for c in rec.tables["table3"].cells if c.kind == "ambiguous"}
    assert not any(f.rule.startswith("T3.") for f in rec.findings)
    assert rec.decision == "needs_review"


def test_the_rules_version_changes_with_a_table_spec(rules_copy):
    from extractor.templates import rules_version

    before = rules_version()
    root = rules_copy("templates/table4.yaml", lambda d: d.__setitem__("title", "四、行政复议和行政诉讼"))
    assert rules_dir() == root
    assert rules_version() != before


# ----------------------------------------------------------------------------- malformed specs
BROKEN = [
    ("templates/table3.yaml", lambda d: d["variants"]["three_other"]["rows"].append("nowhere"),
     "variant 'three_other' names row 'nowhere'"),
    ("templates/table3.yaml", lambda d: _row(d["rows"], "granted").update(under="nothing"),
     "row 'granted' stands under heading 'nothing'"),
    ("templates/table3.yaml", lambda d: d["rows"].append(dict(_row(d["rows"], "total"))),
     "row key(s) defined twice: total"),
    ("templates/table3.yaml", lambda d: _row(d["rows"], "total").pop("label"), "row 'total' has no label"),
    ("templates/table3.yaml", lambda d: d["locate"].update(flat_end="(unclosed"), "not a regular expression"),
    ("templates/table4.yaml", lambda d: d.update(colour="red"), "colour"),
    ("templates/table2.yaml", lambda d: _row(d["variants"]["2019"]["rows"], "fees")["columns"].append("amount_x"),
     "row 'fees' names column(s) amount_x"),
    ("table3.yaml", lambda d: d["rules"][0]["rhs"].__setitem__(1, "carried_fwd"),
     "rule T3.BALANCE: operand 'carried_fwd' is not a row of table table3"),
    ("table3.yaml", lambda d: d["rules"][1]["rhs"].__setitem__(0, {"group": "results"}),
     "group 'results' is not a group of table table3"),
    ("table4.yaml", lambda d: d["rules"][0]["rhs"].append("dismissed"),
     "rule T4.GROUP_TOTAL: operand 'dismissed' is not a column of table table4"),
    ("table4.yaml", lambda d: d["rules"][0].update(table="table5"), "names table 'table5', which has no template"),
    ("narrative.yaml", lambda d: d["table_map"].update(reviews=["table4.reviews.total"]),
     "table_map reviews: table4.reviews.total is not a cell of a table spec"),
    ("templates/legacy.yaml", lambda d: d["indicators"].remove(_row(d["indicators"], "fees")),
     "legacy_keys fees: 'fees' is not an indicator of legacy"),
]


@pytest.mark.parametrize("name,change,message", BROKEN, ids=[m for _n, _c, m in BROKEN])
def test_a_malformed_spec_is_a_config_error_naming_the_file_and_the_entry(rules_copy, name, change, message):
    root = rules_copy(name, change)
    with pytest.raises(ConfigError) as exc:
        table_specs()
    assert message in str(exc.value)
    assert str(root) in str(exc.value)


def test_a_malformed_rule_set_stops_a_run_before_any_document(rules_copy, tmp_path):
    root = rules_copy("table4.yaml", lambda d: d["rules"][0]["rhs"].append("dismissed"))
    (tmp_path / "r.txt").write_text(render(make_values(1), "pipe"), encoding="utf-8")
    p = subprocess.run([sys.executable, "-c", "from extractor.cli import main; main()", "run", str(tmp_path / "r.txt"),
                        "--out", str(tmp_path / "out"), "--llm", "off"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        f"error: {root}/table4.yaml: rule T4.GROUP_TOTAL: operand 'dismissed' is not a column of table table4"]
    assert not (tmp_path / "out" / "extractor.db").exists()
