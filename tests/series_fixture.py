"""A synthetic series of one body's reports over consecutive years, written by us (made-up organ and
numbers), with the cross-year identities satisfied by construction — and breaks put in on purpose.

``national_series`` prints 2021-format reports with :mod:`tests.synth` (values drawn there, then
chained: 上年结转 (N+1) = 结转下年度 (N) per column, 现行有效 (N+1) = 现行有效 (N) + 制发 − 废止);
``legacy_series`` prints pre-2019 statistical tables with a 历年累计 column that grows by 本年度.
The organ is printed differently from year to year (人民政府 / 人民政府办公室 / with its city in front)
so the identity of the body is exercised too.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import synth  # noqa: E402

ORGAN_FORMS = ["青禾县人民政府", "云州市青禾县人民政府办公室", "青禾县人民政府办公室", "青禾县政府"]


def _rebalance(t3: dict, col: str) -> None:
    """Make 新收 = 总计 + 结转下年度 − 上年结转 hold in ``col`` (new_received never negative)."""
    need = t3["total"][col] + t3["carried_forward"][col] - t3["carried_over"][col]
    if need < 0:
        t3["granted"][col] += -need
        t3["total"][col] += -need
        need = 0
    t3["new_received"][col] = need


def national_values(years: list[int], seed: int = 7, breaks: dict[int, set[str]] | None = None) -> list[dict]:
    """Values for each year; ``breaks[year]`` may hold "carry_over" (that year's 上年结转 总计 column
    off by one, every identity inside the report still holding) and/or "in_force" (现行有效 of
    行政规范性文件 off by ten, as after an unstated 清理)."""
    breaks = breaks or {}
    out: list[dict] = []
    prev: dict | None = None
    for i, year in enumerate(years):
        v = synth.make_values(seed + i)
        v["year"] = year
        v["organ"] = ORGAN_FORMS[i % len(ORGAN_FORMS)]
        t3 = v["table3"]
        t3["carried_forward"] = {c: (i % 3 if c == "natural_person" else 0) for c in synth.T3_COLS}
        for col in synth.T3_COLS[:-1]:
            t3["carried_over"][col] = prev["table3"]["carried_forward"][col] if prev else 0
        if "carry_over" in breaks.get(year, set()):
            t3["carried_over"]["natural_person"] += 1
        for col in synth.T3_COLS[:-1]:
            _rebalance(t3, col)
        for k, _ in synth.T3_ROWS:
            t3[k]["total"] = sum(t3[k][c] for c in synth.T3_COLS[:-1])
        t2 = v["table2"]
        if prev:
            for row in ("regulations", "normative_documents"):
                p = prev["table2"][row]["in_force"]
                t2[row]["abolished"] = min(t2[row]["abolished"], p)
                t2[row]["in_force"] = p + t2[row]["issued"] - t2[row]["abolished"]
        if "in_force" in breaks.get(year, set()):
            t2["normative_documents"]["in_force"] += 10
        out.append(v)
        prev = v
    return out


def national_series(folder: Path, years: list[int], encoding: str = "pipe", **kw) -> list[tuple[Path, dict]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for v in national_values(years, **kw):
        p = folder / f"report_{v['year']}.{'html' if encoding == 'html' else 'txt'}"
        p.write_text(synth.render(v, encoding), encoding="utf-8")
        files.append((p, v))
    return files


LEGACY_KEYS = ["published", "received", "in_person", "online", "letter", "fax"]


def legacy_series(folder: Path, years: list[int], break_year: int | None = None,
                  received_labels: dict[int, str] | None = None,
                  received_break_year: int | None = None) -> list[tuple[Path, dict]]:
    """Statistical tables 统计指标 | 单位 | 本年度 | 历年累计; in ``break_year`` the 历年累计 of
    主动公开政府信息数 is printed 5 lower than the previous year's plus this year's.
    ``received_labels[year]`` prints the applications-received indicator under another label that
    year (real series do: 受理依申请公开信息总数 / 受理政府信息依申请公开总数); in
    ``received_break_year`` its 历年累计 is printed 3 lower."""
    folder.mkdir(parents=True, exist_ok=True)
    cum = {"published": 900, "in_person": 20, "online": 40, "letter": 5, "fax": 1}
    files = []
    for i, year in enumerate(years):
        yv = {"published": 300 + 17 * i, "in_person": 2 + i, "online": 5 + 2 * i, "letter": i % 2, "fax": 0}
        yv["received"] = yv["in_person"] + yv["online"] + yv["letter"] + yv["fax"]
        for k in ("published", "in_person", "online", "letter", "fax"):
            cum[k] += yv[k]
        cv = dict(cum)
        cv["received"] = cv["in_person"] + cv["online"] + cv["letter"] + cv["fax"]
        printed = dict(cv)
        if year == break_year:
            printed["published"] -= 5
        if year == received_break_year:
            printed["received"] -= 3
        rows = [
            ("一、主动公开情况", "——", None),
            ("(一)主动公开政府信息数", "条", "published"),
            ("三、依申请公开情况", "——", None),
            ((received_labels or {}).get(year, "(一)收到申请数"), "件", "received"),
            ("1.当面申请数", "件", "in_person"),
            ("2.传真申请数", "件", "fax"),
            ("3.网络申请数", "件", "online"),
            ("4.信函申请数", "件", "letter"),
        ]
        lines = ["| 统计指标 | 单位 | 本年度 | 历年累计 |"]
        for label, unit, key in rows:
            if key is None:
                lines.append(f"| {label} | {unit} | —— | —— |")
            else:
                lines.append(f"| {label} | {unit} | {yv[key]} | {printed[key]} |")
        organ = ORGAN_FORMS[i % len(ORGAN_FORMS)]
        text = (f"{organ}{year}年政府信息公开工作年度报告\n一、概述\n本年度统计期限从{year}年1月1日起至{year}年12月31日止。\n"
                "二、主动公开政府信息情况\n政府信息公开情况统计表\n" + "\n".join(lines) + "\n"
                "四、存在的问题和改进措施\n工作中仍存在不足,下一步将加强培训,持续提升工作人员的业务能力和服务水平。\n")
        p = folder / f"legacy_{year}.txt"
        p.write_text(text, encoding="utf-8")
        files.append((p, {"year": year, "year_values": yv, "cumulative": printed}))
        cum = {k: cv[k] for k in cum}
    return files
