"""Synthetic reports in the real layouts, written by us (made-up organs and numbers).

``make_values(seed)`` draws table values that satisfy the identities by construction;
``render(values, encoding)`` prints a whole report with its tables in one of the encodings the
real reports arrive in. Tests parse what is rendered and compare with the values drawn.
Run ``python tests/synth.py examples/`` to (re)write the bundled examples.
"""

from __future__ import annotations

import html
import random
import sys
from decimal import Decimal
from pathlib import Path

T3_COLS = ["natural_person", "commercial", "research", "social_org", "legal_service", "other", "total"]
T3_ROWS = [
    ("new_received", "一、本年新收政府信息公开申请数量"),
    ("carried_over", "二、上年结转政府信息公开申请数量"),
    ("granted", "(一)予以公开"),
    ("partially_granted", "(二)部分公开(区分处理的,只计这一情形,不计其他情形)"),
    ("withheld_1", "1.属于国家秘密"),
    ("withheld_2", "2.其他法律行政法规禁止公开"),
    ("withheld_3", "3.危及“三安全一稳定”"),
    ("withheld_4", "4.保护第三方合法权益"),
    ("withheld_5", "5.属于三类内部事务信息"),
    ("withheld_6", "6.属于四类过程性信息"),
    ("withheld_7", "7.属于行政执法案卷"),
    ("withheld_8", "8.属于行政查询事项"),
    ("unable_1", "1.本机关不掌握相关政府信息"),
    ("unable_2", "2.没有现成信息需要另行制作"),
    ("unable_3", "3.补正后申请内容仍不明确"),
    ("not_processed_1", "1.信访举报投诉类申请"),
    ("not_processed_2", "2.重复申请"),
    ("not_processed_3", "3.要求提供公开出版物"),
    ("not_processed_4", "4.无正当理由大量反复申请"),
    ("not_processed_5", "5.要求行政机关确认或重新出具已获取信息"),
    ("other_1", "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    ("other_2", "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    ("other_3", "3.其他"),
    ("total", "(七)总计"),
    ("carried_forward", "四、结转下年度继续办理"),
]
GROUP = {
    "withheld_1": "(三)不予公开", "unable_1": "(四)无法提供", "not_processed_1": "(五)不予处理", "other_1": "(六)其他处理",
}
OUTCOMES = [k for k, _ in T3_ROWS[2:23]]
T4_GROUPS = ["review", "litigation_direct", "litigation_after_review"]
T4_COLS = ["upheld", "corrected", "other", "pending", "total"]
ORGANS = ["青禾县交通运输局", "临川区人民政府办公室", "白石镇人民政府", "云岭市生态环境局", "江北新区管理委员会"]


def make_values(seed: int, *, big: bool = False) -> dict:
    rnd = random.Random(seed)
    hi = 60 if big else 6

    def small() -> int:
        return rnd.choice([0, 0, 0, rnd.randint(0, hi)])

    t3: dict[str, dict[str, int]] = {k: {} for k, _ in T3_ROWS}
    for col in T3_COLS[:-1]:
        for k in OUTCOMES:
            t3[k][col] = small()
        t3["total"][col] = sum(t3[k][col] for k in OUTCOMES)
        t3["carried_forward"][col] = small()
        t3["carried_over"][col] = min(small(), t3["total"][col] + t3["carried_forward"][col])
        t3["new_received"][col] = t3["total"][col] + t3["carried_forward"][col] - t3["carried_over"][col]
    for k, _ in T3_ROWS:
        t3[k]["total"] = sum(t3[k][c] for c in T3_COLS[:-1])
    t4: dict[str, dict[str, int]] = {}
    for g in T4_GROUPS:
        vals = [small() for _ in range(4)]
        t4[g] = dict(zip(T4_COLS, [*vals, sum(vals)]))
    t2 = {
        "regulations": {"issued": small(), "abolished": small(), "in_force": rnd.randint(0, 40)},
        "normative_documents": {"issued": rnd.randint(0, 30), "abolished": small(), "in_force": rnd.randint(0, 90)},
        "licensing": {"decisions": rnd.randint(0, 5000)},
        "punishment": {"decisions": rnd.randint(0, 3000)},
        "enforcement": {"decisions": small()},
        "fees": {"amount_10k_yuan": Decimal(rnd.randint(0, 99999)) / 100 if rnd.random() < 0.5 else 0},
    }
    return {
        "organ": ORGANS[seed % len(ORGANS)],
        "year": 2021 + seed % 4,
        "format": "2021",
        "table2": t2,
        "table3": t3,
        "table4": t4,
        "source_violations": [],
    }


# --------------------------------------------------------------------------- table renderers
def _t2_rows(v: dict) -> list[list[str]]:
    t2 = v["table2"]
    return [
        ["第二十条第(一)项"],
        ["信息内容", "本年制发件数", "本年废止件数", "现行有效件数"],
        ["规章", *[str(t2["regulations"][c]) for c in ("issued", "abolished", "in_force")]],
        ["行政规范性文件", *[str(t2["normative_documents"][c]) for c in ("issued", "abolished", "in_force")]],
        ["第二十条第(五)项"],
        ["信息内容", "本年处理决定数量"],
        ["行政许可", str(t2["licensing"]["decisions"])],
        ["第二十条第(六)项"],
        ["信息内容", "本年处理决定数量"],
        ["行政处罚", str(t2["punishment"]["decisions"])],
        ["行政强制", str(t2["enforcement"]["decisions"])],
        ["第二十条第(八)项"],
        ["信息内容", "本年收费金额(单位:万元)"],
        ["行政事业性收费", str(t2["fees"]["amount_10k_yuan"])],
    ]


def _t3_rows(v: dict, with_header: bool = True) -> list[list[str]]:
    t3 = v["table3"]
    rows: list[list[str]] = []
    if with_header:
        rows.append(["(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)", "申请人情况"])
        rows.append(["自然人", "法人或其他组织", "总计"])
        rows.append(["商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"])
    for key, label in T3_ROWS:
        lab = [label]
        if key == "granted":
            lab = ["三、本年度办理结果", label]
        elif key in GROUP:
            lab = [GROUP[key], label]
        rows.append([*lab, *[str(t3[key][c]) for c in T3_COLS]])
    return rows


def _t4_rows(v: dict) -> list[list[str]]:
    t4 = v["table4"]
    return [
        ["行政复议", "行政诉讼"],
        ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计", "未经复议直接起诉", "复议后起诉"],
        ["结果维持", "结果纠正", "其他结果", "尚未审结", "总计"] * 2,
        [str(t4[g][c]) for g in T4_GROUPS for c in T4_COLS],
    ]


def _stream(rows: list[list[str]], filler: bool) -> str:
    out = []
    for r in rows:
        out.extend(f"{c} |" for c in r)
        if filler:
            out.append("||")
    return "\n".join(out)


def _pipe(rows: list[list[str]]) -> str:
    return "\n".join(" | ".join(r) + " | ||" for r in rows)


def _isnum(c: str) -> bool:
    return c.replace(".", "", 1).isdigit()


def _tab(rows: list[list[str]]) -> str:
    lines = []
    for i, r in enumerate(rows):
        labels = [c for c in r if not _isnum(c)]
        nums = [c for c in r if _isnum(c)]
        if len(labels) == 1 and nums:
            lines.append(labels[0] + "\t\t" + "\t".join(nums) + "\t")
        else:
            lines.append("\t".join(r) + "\t")
        if i % 9 == 8:
            lines.append("")  # page break
    return "\n".join(lines)


def _space(rows: list[list[str]], run_together: set[int] | None = None) -> str:
    lines = []
    for i, r in enumerate(rows):
        labels = [c for c in r if not _isnum(c)]
        nums = [c for c in r if _isnum(c)]
        if run_together and i in run_together and len(nums) > 1:
            lines.append(" ".join(labels) + " " + "".join(nums))
        else:
            lines.append(" ".join(r))
    return "\n".join(lines)


def _flat(rows: list[list[str]]) -> str:
    """Rows glued with nothing between them: labels, then the row's digits run together, then the
    next row's enumerator (a crawled page whose table cells lost their markup)."""
    return "".join("".join(c for c in r if not _isnum(c)) + "".join(c for c in r if _isnum(c)) for r in rows)


def _html_t3(v: dict) -> str:
    t3 = v["table3"]
    h = ['<table border="1">',
         '<tr><td colspan="3" rowspan="3">(本列数据的勾稽关系为:第一项加第二项之和,等于第三项加第四项之和)</td>'
         '<td colspan="7">申请人情况</td></tr>',
         '<tr><td rowspan="2">自然人</td><td colspan="5">法人或其他组织</td><td rowspan="2">总计</td></tr>',
         "<tr>" + "".join(f"<td>{x}</td>" for x in ["商业<br>企业", "科研<br>机构", "社会公益组织", "法律服务机构", "其他"]) + "</tr>"]
    spans = {"withheld_1": 8, "unable_1": 3, "not_processed_1": 5, "other_1": 3}
    for key, label in T3_ROWS:
        cells = []
        if key in ("new_received", "carried_over", "carried_forward"):
            cells.append(f'<td colspan="3">{label}</td>')
        elif key == "granted":
            cells.append('<td rowspan="22">三、本年度办理结果</td>')
            cells.append(f'<td colspan="2">{label}</td>')
        elif key in ("partially_granted", "total"):
            cells.append(f'<td colspan="2">{label}</td>')
        else:
            if key in spans:
                cells.append(f'<td rowspan="{spans[key]}">{GROUP[key]}</td>')
            cells.append(f"<td>{html.escape(label)}</td>")
        cells.extend(f"<td>&nbsp;{t3[key][c]}</td>" if c == "research" else f"<td>{t3[key][c]}</td>" for c in T3_COLS)
        h.append("<tr>" + "".join(cells) + "</tr>")
    h.append("</table>")
    return "\n".join(h)


def _html_rows(rows: list[list[str]]) -> str:
    width = max(len(r) for r in rows)
    out = ['<table border="1">']
    for r in rows:
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in r[:-1])
        tds += f'<td colspan="{width - len(r) + 1}">{html.escape(r[-1])}</td>'
        out.append(f"<tr>{tds}</tr>")
    out.append("</table>")
    return "\n".join(out)


def render(v: dict, encoding: str) -> str:
    """A whole report: title, narrative, the three tables in ``encoding``, closing sections."""
    t3 = v["table3"]
    head = (
        f"{v['organ']}{v['year']}年政府信息公开工作年度报告\n"
        f"本报告根据《中华人民共和国政府信息公开条例》编制,所列数据统计期限自{v['year']}年1月1日起至{v['year']}年12月31日止。\n"
        "一、总体情况\n"
        f"(一)主动公开。全年主动公开政府信息{300 + v['year'] % 7}条。\n"
        f"(二)依申请公开。全年收到政府信息公开申请{t3['new_received']['total']}件,上年结转{t3['carried_over']['total']}件。\n"
        "二、主动公开政府信息情况\n"
    )
    mid3 = "三、收到和处理政府信息公开申请情况\n"
    mid4 = "四、政府信息公开行政复议、行政诉讼情况\n"
    tail = (
        "五、存在的主要问题及改进情况\n"
        f"{v['year']}年,政府信息公开工作仍存在一些不足,下一步将持续改进。\n"
        "六、其他需要报告的事项\n本年度未收取信息处理费。\n"
        f"{v['organ']}\n{v['year'] + 1}年1月20日\n"
    )
    t2, t3r, t4 = _t2_rows(v), _t3_rows(v), _t4_rows(v)
    if encoding == "stream":
        body = head + _stream(t2, True) + "\n" + mid3 + _stream(t3r, False) + "\n" + mid4 + _stream(t4, True) + "\n" + tail
    elif encoding == "lines":  # one cell per line, no separators at all (raw PDF text)
        body = head + _stream(t2, False).replace(" |", "") + "\n" + mid3 + _stream(t3r, False).replace(" |", "") + "\n" + mid4 + _stream(t4, False).replace(" |", "") + "\n" + tail
    elif encoding == "pipe":
        body = head + _pipe(t2) + "\n" + mid3 + _pipe(t3r) + "\n" + mid4 + _pipe(t4) + "\n" + tail
    elif encoding == "tab":
        body = head + _tab(t2) + "\n" + mid3 + _tab(t3r) + "\n" + mid4 + _tab(t4) + "\n" + tail
    elif encoding == "space":
        body = head + _space(t2) + "\n" + mid3 + _space(t3r) + "\n" + "- 3 -\n" + mid4 + _space(t4) + "\n" + tail
    elif encoding == "runtogether":
        body = head + _space(t2) + "\n" + mid3 + _space(t3r, set(range(3, 28, 4))) + "\n" + mid4 + _space(t4) + "\n" + tail
    elif encoding == "flattened":  # the whole report on one line (a crawler's text dump)
        parts = [head, _flat(t2), mid3, _flat(t3r), mid4, _flat(t4), tail]
        title, _, rest = "".join(parts).partition("\n")
        body = title + "\n" + rest.replace("\n", " ").rstrip() + "\n"
    elif encoding == "html":
        paras = "".join(f"<p>{html.escape(line)}</p>\n" for line in head.strip().split("\n"))
        body = (
            '<!DOCTYPE html><html><head><meta charset="utf-8"><title>年报</title>'
            "<style>td{border:1px solid}</style><script>var x = '<td>9</td>';</script></head><body>\n"
            + paras + _html_rows(t2) + f"<p>{mid3.strip()}</p>\n" + _html_t3(v)
            + f"<p>{mid4.strip()}</p>\n" + _html_rows(t4)
            + "".join(f"<p>{html.escape(line)}</p>\n" for line in tail.strip().split("\n"))
            + "</body></html>\n"
        )
    else:
        raise ValueError(encoding)
    return body


def write_examples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    plan = [("stream", 1, ".txt"), ("pipe", 2, ".txt"), ("tab", 3, ".txt"), ("html", 4, ".html"), ("runtogether", 5, ".txt")]
    for enc, seed, ext in plan:
        v = make_values(seed, big=(enc == "runtogether"))
        text = render(v, enc)
        (folder / f"example_{seed}_{enc}{ext}").write_text(text, encoding="utf-8")
    # a report whose published table 三 is itself inconsistent (kept as printed)
    v = make_values(6)
    v["table3"]["total"]["total"] += 1
    (folder / "example_6_inconsistent.txt").write_text(render(v, "pipe"), encoding="utf-8")


if __name__ == "__main__":
    write_examples(Path(sys.argv[1] if len(sys.argv) > 1 else "examples"))


LEGACY = [
    ("一、主动公开情况", "——", None),
    ("(一)主动公开政府信息数", "条", "published"),
    ("1.政府网站公开政府信息数", "条", "website"),
    ("三、依申请公开情况", "——", None),
    ("(一)收到申请数", "件", "received"),
    ("1.当面申请数", "件", "in_person"),
    ("2.传真申请数", "件", "fax"),
    ("3.网络申请数", "件", "online"),
    ("4.信函申请数", "件", "letter"),
    ("四、行政复议数量", "件", "reviews"),
    ("(一)维持具体行政行为数", "件", "r_upheld"),
    ("(二)被依法纠错数", "件", "r_corrected"),
    ("(三)其他情形数", "件", "r_other"),
    ("五、行政诉讼数量", "件", "suits"),
    ("(一)维持具体行政行为或者驳回原告诉讼请求数", "件", "s_upheld"),
    ("(二)被依法纠错数", "件", "s_corrected"),
    ("(三)其他情形数", "件", "s_other"),
    ("七、依申请公开信息收取的费用", "万元", "fees"),
    ("(三)从事政府信息公开工作人员数", "人", "staff"),
    ("1.专职人员数", "人", "full"),
    ("2.兼职人员数", "人", "part"),
]


def make_legacy(seed: int, cumulative: bool = False) -> tuple[dict, list[dict]]:
    rnd = random.Random(seed)
    v = {k: rnd.randint(0, 30) for _, _, k in LEGACY if k}
    v["received"] = sum(v[k] for k in ("in_person", "fax", "online", "letter"))
    v["reviews"] = v["r_upheld"] + v["r_corrected"] + v["r_other"]
    v["suits"] = v["s_upheld"] + v["s_corrected"] + v["s_other"]
    v["staff"] = v["full"] + v["part"]
    v["fees"] = Decimal(rnd.randint(0, 999)) / 100
    gold = []
    for label, unit, key in LEGACY:
        if key:
            gold.append({"label": label, "unit": unit, "value": v[key], "column": "year"})
            if cumulative:
                gold.append({"label": label, "unit": unit, "value": v[key] * 3 if not isinstance(v[key], Decimal) else v[key] * 3, "column": "cumulative"})
    return v, gold


def render_legacy(seed: int, encoding: str, cumulative: bool = False) -> tuple[str, list[dict]]:
    v, gold = make_legacy(seed, cumulative)
    rows = []
    for label, unit, key in LEGACY:
        if key is None:
            rows.append([label, "——", "——"] + (["——"] if cumulative else []))
        else:
            rows.append([label, unit, str(v[key])] + ([str(v[key] * 3)] if cumulative else []))
    header = ["统计指标", "单位", "统计数"] + (["历年累计"] if cumulative else [])
    if encoding == "stream":
        table = "\n".join(f"{c} |" for r in [header, *rows] for c in r)
    elif encoding == "pipe":
        table = "\n".join("| " + " | ".join(r) + " |" for r in [header, *rows])
    elif encoding == "tab":
        table = "\n".join("\t".join(r) for r in [header, *rows])
    elif encoding == "flattened":  # label, unit and value(s) glued, rows glued (a crawler's text dump)
        table = "".join("".join(r) for r in [header, *rows])
    else:
        table = "\n".join(" ".join(r) for r in [header, *rows])
    if encoding == "flattened":
        head = ("云岭市生态环境局2015年政府信息公开工作年度报告\n一、概述 本年度统计期限从2015年1月1日起至2015年12月31日止。"
                "全年主动公开政府信息" + str(v["published"]) + "条。二、主动公开政府信息情况 政府信息公开情况统计表 ")
        return head + table + " 四、存在的问题和改进措施 工作中仍存在不足,下一步将加强培训。\n", gold
    text = (
        "云岭市生态环境局2015年政府信息公开工作年度报告\n一、概述\n本年度统计期限从2015年1月1日起至2015年12月31日止。\n"
        "二、主动公开政府信息情况\n政府信息公开情况统计表\n" + table + "\n"
        "四、存在的问题和改进措施\n" + "工作中仍存在不足,下一步将加强培训,全年计划开展培训3次,覆盖人员约120人次,持续提升工作人员的业务能力和服务水平,确保各项制度落实到位。\n"
    )
    return text, gold
