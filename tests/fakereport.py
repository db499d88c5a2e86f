"""A small made-up report in the 2021 layout, as an HTML page (organ, narrative and numbers invented here).

Used by the fetch, service, shard and bad-input tests. ``report_html(seed)`` varies the numbers so
several distinct documents can be made; every identity of tables 三 and 四 holds by construction.
"""

from __future__ import annotations

import random

T3_LABELS = [
    ("一、本年新收政府信息公开申请数量", None),
    ("二、上年结转政府信息公开申请数量", None),
    ("(一)予以公开", "outcome"),
    ("(二)部分公开（区分处理的，只计这一情形，不计其他情形）", "outcome"),
    ("1.属于国家秘密", "(三)不予公开"),
    ("2.其他法律行政法规禁止公开", "(三)不予公开"),
    ("3.危及“三安全一稳定”", "(三)不予公开"),
    ("4.保护第三方合法权益", "(三)不予公开"),
    ("5.属于三类内部事务信息", "(三)不予公开"),
    ("6.属于四类过程性信息", "(三)不予公开"),
    ("7.属于行政执法案卷", "(三)不予公开"),
    ("8.属于行政查询事项", "(三)不予公开"),
    ("1.本机关不掌握相关政府信息", "(四)无法提供"),
    ("2.没有现成信息需要另行制作", "(四)无法提供"),
    ("3.补正后申请内容仍不明确", "(四)无法提供"),
    ("1.信访举报投诉类申请", "(五)不予处理"),
    ("2.重复申请", "(五)不予处理"),
    ("3.要求提供公开出版物", "(五)不予处理"),
    ("4.无正当理由大量反复申请", "(五)不予处理"),
    ("5.要求行政机关确认或重新出具已获取信息", "(五)不予处理"),
    ("1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请", "(六)其他处理"),
    ("2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请", "(六)其他处理"),
    ("3.其他", "(六)其他处理"),
    ("(七)总计", "outcome"),
    ("四、结转下年度继续办理", None),
]


def values(seed: int = 0) -> dict:
    rnd = random.Random(seed)
    # table 三: 6 applicant columns; outcomes drawn first, the balance closes by construction
    cols = []
    for _ in range(6):
        outcomes = [rnd.choice([0, 0, 0, 1, 2, 3, 5]) for _ in range(21)]
        handled = sum(outcomes)
        carried_forward = rnd.choice([0, 0, 1, 2])
        carried_over = min(rnd.choice([0, 1, 2]), handled + carried_forward)
        new = handled + carried_forward - carried_over
        cols.append([new, carried_over, *outcomes, handled, carried_forward])
    t3 = [[*row, sum(row)] for row in zip(*cols)]  # 25 rows x 7 columns (total last)
    t4 = []
    for _ in range(3):
        four = [rnd.choice([0, 0, 1, 2, 4]) for _ in range(4)]
        t4.extend([*four, sum(four)])
    t2 = {
        "rules": (rnd.randint(0, 3), rnd.randint(0, 2), rnd.randint(5, 20)),
        "normative": (rnd.randint(1, 9), rnd.randint(0, 3), rnd.randint(20, 60)),
        "licensing": rnd.randint(100, 900),
        "penalty": rnd.randint(10, 300),
        "coercion": rnd.randint(0, 30),
        "fees": f"{rnd.randint(0, 99)}.{rnd.randint(0, 99):02d}",
    }
    return {"t2": t2, "t3": t3, "t4": t4, "seed": seed}


def _tr(*cells: str) -> str:
    return "<tr>" + "".join(cells) + "</tr>\n"


def _td(text: object, rowspan: int = 1, colspan: int = 1) -> str:
    attrs = (f' rowspan="{rowspan}"' if rowspan > 1 else "") + (f' colspan="{colspan}"' if colspan > 1 else "")
    return f"<td{attrs}>{text}</td>"


def _table2(t2: dict) -> str:
    r, n = t2["rules"], t2["normative"]
    return (
        "<table border=\"1\">\n"
        + _tr(_td("第二十条第（一）项", colspan=4))
        + _tr(_td("信息内容"), _td("本年制发件数"), _td("本年废止件数"), _td("现行有效件数"))
        + _tr(_td("规章"), *(_td(x) for x in r))
        + _tr(_td("行政规范性文件"), *(_td(x) for x in n))
        + _tr(_td("第二十条第（五）项", colspan=4))
        + _tr(_td("信息内容"), _td("本年处理决定数量", colspan=3))
        + _tr(_td("行政许可"), _td(t2["licensing"], colspan=3))
        + _tr(_td("第二十条第（六）项", colspan=4))
        + _tr(_td("信息内容"), _td("本年处理决定数量", colspan=3))
        + _tr(_td("行政处罚"), _td(t2["penalty"], colspan=3))
        + _tr(_td("行政强制"), _td(t2["coercion"], colspan=3))
        + _tr(_td("第二十条第（八）项", colspan=4))
        + _tr(_td("信息内容"), _td("本年收费金额（单位：万元）", colspan=3))
        + _tr(_td("行政事业性收费"), _td(t2["fees"], colspan=3))
        + "</table>\n"
    )


def _table3(t3: list[list[int]]) -> str:
    out = ["<table border=\"1\">\n"]
    out.append(_tr(_td("（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）", rowspan=3, colspan=3),
                   _td("申请人情况", colspan=7)))
    out.append(_tr(_td("自然人", rowspan=2), _td("法人或其他组织", colspan=5), _td("总计", rowspan=2)))
    out.append(_tr(*(_td(x) for x in ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他"))))
    groups_done: set[str] = set()
    for i, ((label, group), row) in enumerate(zip(T3_LABELS, t3)):
        nums = [_td(v) for v in row]
        if group is None:
            out.append(_tr(_td(label, colspan=3), *nums))
            continue
        lead = []
        if i == 2:
            lead.append(_td("三、本年度办理结果", rowspan=22))
        if group == "outcome":
            out.append(_tr(*lead, _td(label, colspan=2), *nums))
            continue
        if group not in groups_done:
            groups_done.add(group)
            size = sum(1 for _, g in T3_LABELS if g == group)
            lead.append(_td(group, rowspan=size))
        out.append(_tr(*lead, _td(label), *nums))
    out.append("</table>\n")
    return "".join(out)


def _table4(t4: list[int]) -> str:
    heads = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
    return (
        "<table border=\"1\">\n"
        + _tr(_td("行政复议", colspan=5, rowspan=2), _td("行政诉讼", colspan=10))
        + _tr(_td("未经复议直接起诉", colspan=5), _td("复议后起诉", colspan=5))
        + _tr(*(_td(h) for h in heads * 3))
        + _tr(*(_td(v) for v in t4))
        + "</table>\n"
    )


def report_html(seed: int = 0, *, organ: str = "青禾县数据资源局", year: int = 2023, charset: str = "gbk") -> str:
    v = values(seed)
    received = v["t3"][0][6]
    return f"""<!DOCTYPE html>
<html><head><meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{organ}{year}年政府信息公开工作年度报告</title></head>
<body>
<h1>{organ}{year}年政府信息公开工作年度报告</h1>
<p>本报告由{organ}编制，所列数据的统计期限自{year}年1月1日起至{year}年12月31日止。（示例编号 {seed}）</p>
<h2>一、总体情况</h2>
<p>{year}年，本局认真落实政府信息公开工作要求。全年收到政府信息公开申请{received}件，均按时答复。</p>
<h2>二、主动公开政府信息情况</h2>
{_table2(v["t2"])}
<h2>三、收到和处理政府信息公开申请情况</h2>
{_table3(v["t3"])}
<h2>四、政府信息公开行政复议、行政诉讼情况</h2>
{_table4(v["t4"])}
<h2>五、存在的主要问题及改进情况</h2>
<p>公开内容的解读还不够深入，下一步将加强培训。</p>
<h2>六、其他需要报告的事项</h2>
<p>本年度未收取信息处理费。</p>
</body></html>
"""


def report_bytes(seed: int = 0, *, charset: str = "gbk", **kw) -> bytes:
    return report_html(seed, charset=charset, **kw).encode(charset)
