"""Fixtures for the report, review and export tests: a small made-up report (organ and numbers invented
here) whose table 三 breaks its own balance, run through the batch into a fresh database.

Imported by tests/test_report*.py, test_review*.py and test_export*.py; its own tests check the fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from extractor.batch import run_batch
from extractor.store import Store

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"

T3_ROWS = [
    "一、本年新收政府信息公开申请数量", "二、上年结转政府信息公开申请数量", "(一)予以公开",
    "(二)部分公开(区分处理的,只计这一情形,不计其他情形)",
    "1.属于国家秘密", "2.其他法律行政法规禁止公开", "3.危及“三安全一稳定”", "4.保护第三方合法权益",
    "5.属于三类内部事务信息", "6.属于四类过程性信息", "7.属于行政执法案卷", "8.属于行政查询事项",
    "1.本机关不掌握相关政府信息", "2.没有现成信息需要另行制作", "3.补正后申请内容仍不明确",
    "1.信访举报投诉类申请", "2.重复申请", "3.要求提供公开出版物", "4.无正当理由大量反复申请",
    "5.要求行政机关确认或重新出具已获取信息",
    "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请",
    "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "3.其他",
    "(七)总计", "四、结转下年度继续办理",
]


def synthetic_report(*, organ: str = "示例县测试局", new: int = 7, granted: int = 4, unable: int = 3,
                     printed_total: int | None = 0) -> str:
    """A 2021-format report as pipe-separated lines. Applications come from natural persons only.
    ``printed_total`` is what the (七)总计 row prints in the natural-person and total columns
    (the right value is ``granted + unable``; the default 0 breaks the balance, as a real report did)."""
    right = granted + unable
    shown = right if printed_total is None else printed_total
    values = {
        0: new, 2: granted, 12: unable, 23: shown, 24: new - right,
    }
    lines = [
        f"{organ}2024年政府信息公开工作年度报告",
        "一、总体情况",
        f"2024年,{organ}全年收到政府信息公开申请{new}件,主动公开政府信息120条,其中通过网站发布信息80条。",
        "二、主动公开政府信息情况",
        "第二十条第(一)项 | 信息内容 | 本年制发件数 | 本年废止件数 | 现行有效件数",
        "规章 | 0 | 0 | 0",
        "行政规范性文件 | 2 | 1 | 9",
        "第二十条第(五)项 | 信息内容 | 本年处理决定数量",
        "行政许可 | 35",
        "第二十条第(六)项 | 信息内容 | 本年处理决定数量",
        "行政处罚 | 12",
        "行政强制 | 1",
        "第二十条第(八)项 | 信息内容 | 本年收费金额(单位:万元)",
        "行政事业性收费 | 0",
        "三、收到和处理政府信息公开申请情况",
        "申请人情况 | 自然人 | 法人或其他组织 | | | | | 总计",
        "| | 商业企业 | 科研机构 | 社会公益组织 | 法律服务机构 | 其他 |",
    ]
    for i, label in enumerate(T3_ROWS):
        v = values.get(i, 0)
        row = [v, 0, 0, 0, 0, 0, v]
        lines.append(label + " | " + " | ".join(str(x) for x in row))
    lines += [
        "四、政府信息公开行政复议、行政诉讼情况",
        "行政复议 | | | | | 行政诉讼",
        "结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 | 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计 | 结果维持 | 结果纠正 | 其他结果 | 尚未审结 | 总计",
        "1 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | 0",
        "五、存在的主要问题及改进情况",
        "工作仍有不足,下一步将继续改进。",
        "六、其他需要报告的事项",
        "无。",
    ]
    return "\n".join(lines) + "\n"


def make_batch(tmp_path: Path, **kw) -> tuple[Path, Path]:
    """Write the synthetic report, run the batch over it; returns (report file, database)."""
    src = tmp_path / "reports"
    src.mkdir(exist_ok=True)
    f = src / "synthetic_2024.txt"
    f.write_text(synthetic_report(**kw), encoding="utf-8")
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as st:
        run_batch([f], st)
    return f, db


def samples_batch(tmp_path: Path, names: tuple[str, ...] = ("000_", "001_")) -> tuple[list[Path], Path]:
    if not SAMPLES.is_dir():
        pytest.skip(f"the shared samples are not here ({SAMPLES})")
    files = sorted(p for p in SAMPLES.glob("*.txt") if p.name.startswith(names))
    if len(files) < len(names):
        pytest.skip(f"samples {names} not found in {SAMPLES}")
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as st:
        run_batch(files, st)
    return files, db


def test_fixture_breaks_table3_balance(tmp_path):
    _, db = make_batch(tmp_path)
    with Store(db) as st:
        (rec,) = list(st.records())
    t3 = rec.tables["table3"]
    assert t3.get("new_received", "total").value == 7
    assert t3.get("total", "total").value == 0
    bad = {f.id: f for f in rec.findings if f.status == "FAIL"}
    assert "T3.BALANCE:column total" in bad
    assert bad["T3.BALANCE:column total"].classification == "source_inconsistency"
    assert rec.decision == "needs_review"


def test_fixture_consistent_when_total_printed_right(tmp_path):
    _, db = make_batch(tmp_path, printed_total=None)
    with Store(db) as st:
        (rec,) = list(st.records())
    assert not [f for f in rec.findings if f.status == "FAIL" and f.rule.startswith("T")]
