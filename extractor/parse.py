"""Rows of printed cells + a template -> a Table of Cells (deterministic, no model).

Which template row a printed row is, is decided by its **label** (keywords from
``rules/templates``; the most specific keyword of the row's last label cell wins). Rows whose label
was lost (PDF text, converted Markdown) are placed by a monotone alignment between the anchored
rows, so a stray number line or a page number never shifts the cells around it.

Each row's values are resolved to the template's column count: extra empty filler cells are
dropped, real blank cells are kept where the row's slots show them, and digits that ran together
(``801000081``) are split only when exactly one split satisfies the table's identities; otherwise
the cells are kept as ``ambiguous`` with every candidate.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import AbstractSet, Sequence

from .cells import LOOKALIKE_CONFIDENCE, Row, Tok, rows as region_rows
from .document import Document
from .layout import Layout, Region
from .model import Candidate, Cell, Table, new_cell
from .numbers import parse_figure
from .tablespec import ENUMERATOR as _ENUM_PREFIX
from .tablespec import LineIdentities, RowSpec, TableSpec, compact, table_spec


def __getattr__(name: str):
    """``T3_ROW_GROUPS`` / ``T4_GROUPS``: the row identities of table 三 / 四 along a printed line, as
    the split search takes them — derived from the rule entries (T3.APPLICANT_TOTAL, T4.GROUP_TOTAL),
    never written here."""
    if name == "T3_ROW_GROUPS":
        return table_spec("table3").line()
    if name == "T4_GROUPS":
        spec = table_spec("table4")
        return spec.line(len(spec.rows))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --------------------------------------------------------------------------- label matching
def match_text(text: str, candidates: Sequence[RowSpec]) -> tuple[str | None, int]:
    """Best row for one label text: (key, strength) where strength is the keyword length.

    A pure function of the text for given candidates: remembered per candidate set (reports print
    the same labels over and over)."""
    memo = _label_memo(candidates)
    hit = memo.get(text)
    if hit is None:
        if len(memo) >= _LABEL_MEMO_SIZE:
            memo.clear()
        hit = memo[text] = _match_text(text, candidates)
    return hit


_LABEL_MEMO_SIZE = 20000
_LABEL_MEMO: dict[int, tuple[Sequence[RowSpec], dict[str, tuple[str | None, int]]]] = {}


def _label_memo(candidates: Sequence[RowSpec]) -> dict[str, tuple[str | None, int]]:
    """The remembered matches for this candidate set (a new set, e.g. from reloaded rules, starts empty)."""
    hit = _LABEL_MEMO.get(id(candidates))
    if hit is None or hit[0] is not candidates:
        if len(_LABEL_MEMO) >= 64:
            _LABEL_MEMO.clear()
        hit = _LABEL_MEMO[id(candidates)] = (candidates, {})
    return hit[1]


def _match_text(text: str, candidates: Sequence[RowSpec]) -> tuple[str | None, int]:
    c = compact(text)
    bare = _ENUM_PREFIX.sub("", c)
    best: tuple[str | None, int] = (None, 0)
    for spec in candidates:
        for e_bare, e_compact in spec.exact_forms:
            if bare == e_bare or c == e_compact:
                if 100 > best[1]:
                    best = (spec.key, 100)
        for kw in spec.keywords:
            if kw in c and len(kw) > best[1]:
                best = (spec.key, len(kw))
    return best


def match_label(labels: list[Tok], candidates: Sequence[RowSpec]) -> str | None:
    """The row a printed label names: the last label cell that names any row decides."""
    for tok in reversed(labels):
        key, _ = match_text(tok.text, candidates)
        if key:
            return key
    if len(labels) > 1:
        key, _ = match_text(" ".join(t.text for t in labels), candidates)
        return key
    return None


# --------------------------------------------------------------------------- value resolution


@dataclass
class Resolution:
    """The values of one row: one vector when settled, several when ambiguous, none when not."""

    vectors: list[list[Tok]]
    how: str = ""

    @property
    def ok(self) -> bool:
        return len(self.vectors) == 1


def split_run_together(vals: list[Tok], k: int, groups: LineIdentities | None, budget: int = 200000) -> list[list[Tok]]:
    """Every way to cut run-together digit tokens into ``k`` values so that the table's row
    identities hold (``groups``: the rule entries along the printed line, ``TableSpec.line``).

    A value never spans two printed tokens, has no leading zero, and a total is forced to the sum
    of its group (the identities' positional form), so the search only branches on the non-total
    cells; every cut found is then checked by the identities themselves."""
    if k <= len(vals):
        return []
    if groups is not None and groups.groups == [(0, k - 1)] and vals[-1].kind == "num" and vals[-1].text.isdigit():
        return _consistent(groups, _split_with_last_total(vals, k, budget))
    totals = {e: a for a, e in (groups.groups if groups is not None else [])}
    results: list[list[Tok]] = []
    nodes = 0
    digits_left = [0] * (len(vals) + 1)
    for i in range(len(vals) - 1, -1, -1):
        t = vals[i]
        digits_left[i] = digits_left[i + 1] + (len(t.text) if t.kind == "num" and t.text.isdigit() else 1)

    def rec(ti: int, pos: int, out: list[Tok]) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > budget:
            return
        n = len(out)
        if ti == len(vals):
            if n == k:
                results.append(list(out))
            return
        if n == k:
            return
        tok = vals[ti]
        remaining_slots = k - n
        # each remaining token needs at least one value, and no more values than characters
        left_chars = digits_left[ti] - pos
        if remaining_slots < len(vals) - ti or remaining_slots > left_chars:
            return
        if not (tok.kind == "num" and tok.text.isdigit()):
            out.append(tok)
            rec(ti + 1, 0, out)
            out.pop()
            return
        s = tok.text
        choices: list[int]
        if n in totals:
            a = totals[n]
            if not all(isinstance(x.value, int) for x in out[a:n]):
                return
            want = str(sum(x.value for x in out[a:n]))
            choices = [len(want)] if s.startswith(want, pos) else []
        else:
            choices = [L for L in range(1, len(s) - pos + 1) if L == 1 or s[pos] != "0"]
        for L in choices:
            piece = s[pos : pos + L]
            t = Tok(piece, tok.start + pos, tok.start + pos + L, "num", int(piece), 0, tok.slot)
            out.append(t)
            if pos + L == len(s):
                rec(ti + 1, 0, out)
            else:
                rec(ti, pos + L, out)
            out.pop()

    rec(0, 0, [])
    return _consistent(groups, results)


def _consistent(line: LineIdentities | None, vectors: list[list[Tok]]) -> list[list[Tok]]:
    """The cuts no identity of the line contradicts (evaluated by the rule entries, ``Identity.holds``)."""
    if not line or not vectors:
        return vectors
    return [v for v in vectors if not line.contradicts([t.value for t in v])]


def _cut_sum_bounds(chars: int, pieces: int) -> tuple[int, int]:
    """Smallest and largest sum of ``pieces`` numbers cut from ``chars`` digits (no leading zeros):
    the largest puts every spare digit into one number, the smallest spreads them evenly (a number
    of L ≥ 2 digits is at least 10^(L-1))."""
    if pieces <= 0:
        return (0, 0) if chars == 0 else (1, 0)  # digits left with no number to hold them: no cut
    if chars < pieces:
        return 1, 0
    q, r = divmod(chars, pieces)
    low = r * (10 ** q if q >= 1 else 0) + (pieces - r) * (10 ** (q - 1) if q >= 2 else 0)
    return low, 10 ** (chars - pieces + 1) - 1 + 9 * (pieces - 1)


def _split_with_last_total(vals: list[Tok], k: int, budget: int) -> list[list[Tok]]:
    """The split search when the last value is the total of all the others (a table-三 row):
    the total is a suffix of the last token, and it bounds every partial sum before it."""
    last = vals[-1]
    s_last = last.text
    results: list[list[Tok]] = []
    nodes = 0
    all_digits = sum(len(t.text) for t in vals if t.kind == "num" and t.text.isdigit())
    bounds = [[_cut_sum_bounds(c, p) for p in range(k)] for c in range(all_digits + 1)]
    for L in range(1, len(s_last) + 1):
        suffix = s_last[len(s_last) - L :]
        if len(suffix) > 1 and suffix[0] == "0":
            continue
        target = int(suffix)
        cut = len(s_last) - L
        total_tok = Tok(suffix, last.start + cut, last.end, "num", target, 0, last.slot)
        head = list(vals[:-1])
        if cut:
            head.append(Tok(s_last[:cut], last.start, last.start + cut, "num", int(s_last[:cut]), 0, last.slot))
        if not head:
            continue
        chars_left = [0] * (len(head) + 1)
        digits_left = [0] * (len(head) + 1)  # digit characters still to cut, from token i on
        fixed_n = [0] * (len(head) + 1)  # tokens taken whole (a printed non-digit number), from i on
        fixed_v = [0] * (len(head) + 1)  # and their sum
        n_head = len(head)
        digit_tok = [t.kind == "num" and t.text.isdigit() and t.text.isascii() for t in head]
        for i in range(n_head - 1, -1, -1):
            t = head[i]
            chars_left[i] = chars_left[i + 1] + (len(t.text) if digit_tok[i] else 1)
            digits_left[i] = digits_left[i + 1] + (len(t.text) if digit_tok[i] else 0)
            whole = not digit_tok[i] and isinstance(t.value, int)
            fixed_n[i] = fixed_n[i + 1] + whole
            fixed_v[i] = fixed_v[i + 1] + (t.value if whole else 0)
        # however the digits are cut, the numbers add up to their digits' sum modulo 9 (a number is
        # its digit sum modulo 9): a total that is not is the sum of no cut
        digit_sum = sum(ord(ch) - 48 for t, whole_digits in zip(head, digit_tok) if whole_digits for ch in t.text)
        if (digit_sum + fixed_v[0] - target) % 9:
            continue

        def materialize(out: list[tuple[int, int, int, int]]) -> list[Tok]:
            toks = []
            for ti, pos, ln, v in out:
                t = head[ti]
                if pos < 0:  # a printed number taken whole
                    toks.append(t)
                else:
                    toks.append(Tok(t.text[pos : pos + ln], t.start + pos, t.start + pos + ln, "num", v, 0, t.slot))
            toks.append(total_tok)
            return toks

        # ``out`` holds the cuts as (token index, offset, length, value); tokens are made for results only
        def rec(ti: int, pos: int, out: list[tuple[int, int, int, int]], acc: int) -> None:
            nonlocal nodes
            nodes += 1
            if nodes > budget or acc > target:
                return
            n = len(out)
            if ti == n_head:
                if n == k - 1 and acc == target:
                    results.append(materialize(out))
                return
            slots = k - 1 - n
            if slots < n_head - ti or slots > chars_left[ti] - pos:
                return
            # what the rest can still add up to: prune when the total is out of reach
            rest = acc + fixed_v[ti]
            lo, hi = bounds[digits_left[ti] - pos][max(slots - fixed_n[ti], 0)]
            if rest + lo > target or rest + hi < target:
                return
            tok = head[ti]
            if not digit_tok[ti]:
                if tok.kind == "num" and isinstance(tok.value, int):
                    out.append((ti, -1, 0, tok.value))
                    rec(ti + 1, 0, out, acc + tok.value)
                    out.pop()
                return
            txt = tok.text
            end = len(txt)
            if txt[pos] == "0":  # a zero stands alone (no leading zeros)
                if acc <= target:
                    out.append((ti, pos, 1, 0))
                    if pos + 1 == end:
                        rec(ti + 1, 0, out, acc)
                    else:
                        rec(ti, pos + 1, out, acc)
                    out.pop()
                return
            v = 0
            for i in range(pos, end):
                v = v * 10 + ord(txt[i]) - 48
                if acc + v > target:
                    break
                out.append((ti, pos, i + 1 - pos, v))
                if i + 1 == end:
                    rec(ti + 1, 0, out, acc + v)
                else:
                    rec(ti, i + 1, out, acc + v)
                out.pop()

        rec(0, 0, [], 0)
    return results


def resolve(row: Row, k: int, groups: LineIdentities | None = None, data_slots: tuple[int, ...] | None = None) -> Resolution:
    vals = row.values
    ne = row.nonempty()
    if len(ne) == k:
        return Resolution([ne], "values")
    if len(ne) < k:
        if row.delimited and vals:
            # real blank cells: trim filler empties at both ends
            a = next((i for i, v in enumerate(vals) if v.kind != "empty"), len(vals))
            b = len(vals) - next((i for i, v in enumerate(reversed(vals)) if v.kind != "empty"), len(vals))
            trimmed = vals[a:b]
            if len(trimmed) == k:
                return Resolution([trimmed], "blank cells inside the row")
            if data_slots and len(data_slots) == k:
                by_slot = {v.slot: v for v in vals}
                if all(s in by_slot for s in data_slots) and all(v.slot in data_slots for v in ne):
                    return Resolution([[by_slot[s] for s in data_slots]], "blank cells at the table's data columns")
            if ne and len(vals) >= k and row.width and all(v.slot >= 0 for v in vals):
                last = vals[-k:]
                if all(v in last for v in ne) and row.width == vals[-1].slot + 1 and data_slots is None:
                    return Resolution([last], "blank cells at the grid's last columns")
        splits = split_run_together(ne, k, groups)
        if splits:
            return Resolution(splits, "run-together digits split")
        return Resolution([], f"{len(ne)} values where {k} are printed")
    # more values than columns: a window that satisfies the identity, if exactly one does
    if groups:
        wins = [ne[i : i + k] for i in range(len(ne) - k + 1)]
        good = [w for w in wins if groups.holds([x.value for x in w])]
        if len(good) == 1:
            return Resolution(good, "window satisfying the identity")
        if good:
            return Resolution(good, "several windows satisfy the identity")
    return Resolution([], f"{len(ne)} values where {k} are printed")


# --------------------------------------------------------------------------- cells
def _inferred(how: str) -> str:
    if "displaced" in how:
        return "displaced"
    if "split" in how:
        return "split"
    return ""


def _cell(doc: Document, table: str, row: str, col: str, tok: Tok | None, label: str | None, anchor: str, note: str = "") -> Cell:
    return _cells(doc, table, row, (col,), (tok,), label, anchor, note)[0]


def _cells(doc: Document, table: str, row: str, cols: Sequence[str], toks: Sequence[Tok | None], label: str | None,
           anchor: str, note: str = "") -> list[Cell]:
    """The cells of one row: column ``cols[i]`` read from ``toks[i]`` (None: not found in the source)."""
    inferred = _inferred(note) if note else ""
    how = note or anchor
    span_of = doc.span
    geometry = bool(doc.geometry)
    out = []
    for col, tok in zip(cols, toks):
        if tok is None:
            out.append(new_cell(table, row, col, "empty", label=label, missing=True, note=note or "not found in the source"))
            continue
        kind = tok.kind
        if kind == "empty":
            out.append(new_cell(table, row, col, "empty", label=label, anchor=anchor, inferred=inferred,
                                note=note or "blank cell"))
            continue
        span = span_of(tok.start, tok.end) if tok.end > tok.start else None
        if kind == "num":
            confidence = LOOKALIKE_CONFIDENCE if tok.lookalike else doc.confidence(span) if (span and geometry) else None
            out.append(new_cell(table, row, col, "zero" if tok.value == 0 else "number", tok.value, tok.text, span,
                                tok.decimals, label, anchor, inferred, how, confidence))
        elif kind == "na":
            out.append(new_cell(table, row, col, "not_applicable", None, tok.text, span, 0, label, anchor, inferred, how))
        else:
            out.append(new_cell(table, row, col, "text", None, tok.text, span, 0, label, anchor, inferred, how))
    return out


def _ambiguous(doc: Document, table: str, row: str, cols: list[str], res: Resolution, label: str | None,
               anchor: str = "") -> list[Cell]:
    out = []
    for j, col in enumerate(cols):
        cands = []
        seen = set()
        for vec in res.vectors:
            t = vec[j]
            if (t.value, t.text) in seen:
                continue
            seen.add((t.value, t.text))
            cands.append(Candidate(value=t.value, raw=t.text, note=res.how,
                                   span=doc.span(t.start, t.end) if t.end > t.start else None))
        if len(cands) == 1:
            c = _cell(doc, table, row, col, res.vectors[0][j], label, anchor, res.how)
        else:
            toks = [v[j] for v in res.vectors]
            a, b = min(t.start for t in toks), max(t.end for t in toks)
            c = Cell(
                table=table, row=row, col=col, kind="ambiguous", raw=doc.text[a:b], span=doc.span(a, b),
                label=label, candidates=cands, note=res.how, anchor=anchor, inferred="split",
            )
        out.append(c)
    return out


def _data_slots(rows_: list[Row], k: int) -> tuple[int, ...] | None:
    """The slot positions of the data columns in a grid-rendered table, from its complete rows."""
    cnt: Counter[tuple[int, ...]] = Counter()
    for r in rows_:
        if r.delimited:
            ne = r.nonempty()
            if len(ne) == k and all(v.slot >= 0 for v in ne):
                cnt[tuple(v.slot for v in ne)] += 1
    if not cnt:
        return None
    slots, n = cnt.most_common(1)[0]
    return slots if n >= 2 else None


# --------------------------------------------------------------------------- table 三
def _direct(obs: list, variants: dict[str, list[str]]) -> tuple[float, str, list[int | None]] | None:
    """The common case without search: every value row is labelled, once, in template order.
    Scores as the alignment would (3 per labelled match, −0.8 per template row not printed)."""
    keys = [o[0] for o in obs]
    if not keys or None in keys or len(set(keys)) != len(keys):
        return None
    best: tuple[float, str, list[int | None]] | None = None
    for name, tkeys in variants.items():
        pos = {k: j for j, k in enumerate(tkeys)}
        if not all(k in pos for k in keys):
            continue
        assign = [pos[k] for k in keys]
        if any(b <= a for a, b in zip(assign, assign[1:])):
            continue
        score = 3.0 * len(keys) - 0.8 * (len(tkeys) - len(keys)) - sum(0.2 for o in obs if not o[1].ok)
        if best is None or score > best[0]:
            best = (score, name, assign)
    return best


def _align(obs: list[tuple[str | None, Resolution]], template: list[str]) -> tuple[float, list[int | None]]:
    """Monotone alignment of observed value rows to template rows (Needleman-Wunsch style).

    A row whose label names template row j scores high there and very low elsewhere; an unlabeled
    row scores a little anywhere, so it fills the gap between labelled anchors in printed order.
    Returns (score, assignment) where assignment[i] is the template index of observed row i."""
    n, m = len(obs), len(template)
    tset = set(template)
    SKIP_OBS_LABELED, SKIP_OBS, SKIP_TPL = -1.5, -0.6, -0.8
    skip_obs = [SKIP_OBS_LABELED if key in tset else SKIP_OBS for key, _ in obs]
    match = []
    for key, res in obs:
        pen = 0.0 if res.ok else 0.2
        if key is None:
            match.append([0.5 - pen] * m)
        else:
            match.append([(3.0 if key == t else -4.0) - pen for t in template])
    NEG = float("-inf")
    dp = [[NEG] * (m + 1) for _ in range(n + 1)]
    bt = [[0] * (m + 1) for _ in range(n + 1)]  # 1: skip obs, 2: skip template, 3: match
    dp[0][0] = 0.0
    for i in range(n + 1):
        row = dp[i]
        nxt = dp[i + 1] if i < n else None
        so = skip_obs[i] if i < n else 0.0
        mi = match[i] if i < n else None
        for j in range(m + 1):
            cur = row[j]
            if cur == NEG:
                continue
            if nxt is not None:
                v = cur + so
                if v > nxt[j]:
                    nxt[j] = v
                    bt[i + 1][j] = 1
                if j < m:
                    v = cur + mi[j]
                    if v > nxt[j + 1]:
                        nxt[j + 1] = v
                        bt[i + 1][j + 1] = 3
            if j < m:
                v = cur + SKIP_TPL
                if v > row[j + 1]:
                    row[j + 1] = v
                    bt[i][j + 1] = 2
    assign: list[int | None] = [None] * n
    i, j = n, m
    while i or j:
        k = bt[i][j]
        if k == 3:
            assign[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif k == 1:
            i -= 1
        else:
            j -= 1
    return dp[n][m], assign


def _without_header(labels: list[Tok], header_words: AbstractSet[str]) -> list[Tok]:
    """Drop a repeated column header (自然人 … 其他, 总计) that a page break put in front of a row's
    label in a cell stream; a lone 其他 stays (it is the label of row (六)3)."""
    hits = [t for t in labels if _compact_label(t.text) in header_words]
    if len(hits) >= 3:
        return [t for t in labels if _compact_label(t.text) not in header_words]
    return labels


_COMPACT: dict[str, str] = {}


def _compact_label(text: str) -> str:
    """``compact(text)`` of a printed label, remembered (a pure function; labels repeat from report to report)."""
    c = _COMPACT.get(text)
    if c is None:
        if len(_COMPACT) >= 20000:
            _COMPACT.clear()
        c = _COMPACT[text] = compact(text)
    return c


def _join_across_headers(rws: list[Row], header_words: AbstractSet[str], k: int, line: LineIdentities) -> list[Row]:
    """In a cell stream a page break can repeat the column header in the middle of a row's
    values; the values after the header continue the row before it."""
    out: list[Row] = []
    for r in rws:
        labels = _without_header(r.labels, header_words)
        if out and not labels and r.values and not r.delimited and not out[-1].delimited:
            prev = out[-1]
            n_prev, n_here = len(prev.nonempty()), len(r.nonempty())
            if r.labels and 0 < n_prev < k and n_prev + n_here <= k:  # a stream continued after a header
                out[-1] = Row(labels=prev.labels, values=prev.values + r.values, line_start=prev.line_start)
                continue
            # a printed row wrapped onto the next line (page break): only when the joined row holds
            merged = prev.nonempty() + r.nonempty()
            if (prev.labels and 0 < n_prev < k and n_prev + n_here == k
                    and all(t.kind == "num" for t in merged) and line.holds([t.value for t in merged])):
                out[-1] = Row(labels=prev.labels, values=prev.values + r.values, line_start=prev.line_start)
                continue
        out.append(r)
    return out


def parse_table3(doc: Document, region: Region) -> Table:
    spec = table_spec("table3")
    cols = spec.column_keys
    all_specs = spec.rows
    variants = {name: v.keys for name, v in spec.variants.items()}
    default = spec.variant_for(None).name
    enc, rws = region_rows(doc.text, region.start, region.end)
    k = len(cols)
    line = spec.line()
    slots = _data_slots(rws, k)
    header_words = spec.printed_header  # a page break can repeat the column header inside the table
    rws = _join_across_headers(rws, header_words, k, line)
    obs: list[tuple[str | None, Resolution, Row]] = []
    for r in rws:
        if not r.values:
            continue
        res = resolve(r, k, line, slots)
        if not res.vectors:
            continue
        obs.append((match_label(_without_header(r.labels, header_words), all_specs), res, r))
    best = _direct(obs, variants)
    if best is None:
        for variant, keys in variants.items():
            score, assign = _align([(o[0], o[1]) for o in obs], keys)
            if best is None or score > best[0]:
                best = (score, variant, assign)
    table = Table(key="table3", template=f"table3.{best[1] if best else default}", encoding=enc,
                  span=doc.span(region.start, region.end))
    keys = variants[best[1]] if best else variants[default]
    placed: dict[str, tuple[Resolution, Row, str]] = {}
    if best:
        for (key, res, r), j in zip(obs, best[2]):
            if j is not None:
                anchor = "label" if key == keys[j] else "order"
                placed[keys[j]] = (res, r, anchor)
    _settle_with_columns(placed, keys, spec)
    placed_rows = {id(r) for _res, r, _a in placed.values()}
    strays = [r.nonempty()[0] for r in rws if id(r) not in placed_rows and not r.labels and len(r.nonempty()) == 1
              and r.nonempty()[0].kind == "num"]
    _place_displaced(placed, keys, spec, strays)
    for key in keys:
        if key in placed:
            res, r, anchor = placed[key]
            label = r.label or None
            if res.ok:
                table.cells.extend(_cells(doc, "table3", key, cols, res.vectors[0], label, anchor,
                                          "" if res.how == "values" else res.how))
            else:
                table.cells.extend(_ambiguous(doc, "table3", key, cols, res, label, anchor))
        else:
            table.complete = False
            table.cells.extend(_cells(doc, "table3", key, cols, [None] * len(cols), None, ""))
    skipped = [o for o, j in zip(obs, best[2] if best else []) if j is None]
    if skipped:
        table.notes.append(f"{len(skipped)} value row(s) in the region matched no template row")
    return table


def _place_displaced(placed: dict[str, tuple[Resolution, Row, str]], keys: list[str], spec: TableSpec,
                     strays: list[Tok]) -> None:
    """A cell left blank whose value both its row identity and its column identity determine,
    while exactly one lone printed number elsewhere in the table equals that value, is that
    number displaced by the conversion (Markdown/PDF text). It is placed there, marked
    ``displaced``, and the record goes to review (rule G.DISPLACED)."""
    if not strays:
        return
    cols = spec.column_keys
    col_checks = [(ident, ident.sides(keys)) for ident in spec.column_identities]
    row_checks = [(ident, ident.sides()) for ident in spec.row_identities]
    vals = {k: [t.value if t.kind == "num" else None for t in res.vectors[0]] for k, (res, _r, _a) in placed.items() if res.ok}

    def col_value(key: str, ci: int) -> int | None:
        """The value the column identities give the cell (when every one that can agrees)."""
        def v(k: str):
            row = vals.get(k)
            return row[ci] if row is not None else None
        cands = [x for ident, sides in col_checks if (x := ident.solve(key, v, sides)) is not None]
        return cands[0] if cands and all(c == cands[0] for c in cands) else None

    def row_value(vec: list[Tok], ci: int):
        """The value the row identities give the cell, from the row's other (printed) numbers."""
        row = {c: t.value for c, t in zip(cols, vec)}
        cands = [x for ident, sides in row_checks
                 if (x := ident.solve(cols[ci], row.get, sides, numbers=(int, Decimal))) is not None]
        return cands[0] if cands and all(c == cands[0] for c in cands) else None

    for key, (res, r, anchor) in list(placed.items()):
        if not res.ok:
            continue
        vec = res.vectors[0]
        blanks = [i for i, t in enumerate(vec) if t.kind == "empty"]
        if len(blanks) != 1 or any(t.kind != "num" for i, t in enumerate(vec) if i != blanks[0]):
            continue
        ci = blanks[0]
        row_v = row_value(vec, ci)
        if row_v is None or row_v <= 0 or col_value(key, ci) != row_v:
            continue
        match = [t for t in strays if t.value == row_v]
        if len(match) != 1:
            continue
        new_vec = list(vec)
        new_vec[ci] = match[0]
        strays.remove(match[0])
        vals[key][ci] = row_v
        placed[key] = (Resolution([new_vec], res.how + "; displaced value placed by the row and column identities"), r, anchor)


def _settle_with_columns(placed: dict[str, tuple[Resolution, Row, str]], keys: list[str], spec: TableSpec) -> None:
    """Keep only the candidate splits of an ambiguous row that make the column identities of the
    table hold (balance and outcome total, in every column), given the rows already settled.
    A split is taken only when exactly one candidate fits; an inconsistent source stays ambiguous."""
    checks = [(ident, sides) for ident in spec.column_identities
              for sides in [ident.sides(keys)]]
    operands = [set(lk) | set(rk) for _ident, (lk, rk) in checks]

    def value_rows(exclude: str) -> dict[str, list]:
        return {k: [t.value for t in res.vectors[0]] for k, (res, _r, _a) in placed.items() if k != exclude and res.ok}

    def fits(key: str, vec: list, known: dict[str, list]) -> bool:
        rows_ = dict(known)
        rows_[key] = vec
        mine = [c for c, ops in zip(checks, operands) if key in ops]
        for col in range(len(vec)):
            def v(k: str):
                x = rows_.get(k)
                return None if x is None else x[col]
            if any(ident.holds(v, sides) is False for ident, sides in mine):
                return False
        return True

    for _ in range(2):
        changed = False
        for key, (res, r, anchor) in list(placed.items()):
            if res.ok or not res.vectors:
                continue
            known = value_rows(key)
            good = [vec for vec in res.vectors if fits(key, [t.value for t in vec], known)]
            if len(good) == 1:
                placed[key] = (Resolution(good, res.how + ", the one split that fits the column identities"), r, anchor)
                changed = True
        if not changed:
            break
    # several ambiguous rows together: the joint choice that fits, if exactly one does
    amb = [k for k, (res, _r, _a) in placed.items() if not res.ok and res.vectors]
    if 1 < len(amb) <= 4:
        sizes = [len(placed[k][0].vectors) for k in amb]
        total = 1
        for n in sizes:
            total *= n
        if total <= 20000:
            known = {k: [t.value for t in res.vectors[0]] for k, (res, _r, _a) in placed.items() if res.ok}
            good = []
            for combo in itertools.product(*[placed[k][0].vectors for k in amb]):
                trial = dict(known)
                trial.update({k: [t.value for t in vec] for k, vec in zip(amb, combo)})
                if all(fits(k, trial[k], {kk: vv for kk, vv in trial.items() if kk != k}) for k in amb):
                    good.append(combo)
                    if len(good) > 1:
                        break
            if len(good) == 1:
                for k, vec in zip(amb, good[0]):
                    res, r, anchor = placed[k]
                    placed[k] = (Resolution([vec], res.how + ", the one joint split that fits the column identities"), r, anchor)


# --------------------------------------------------------------------------- table 二
def parse_table2(doc: Document, region: Region, fmt: str) -> Table:
    spec = table_spec("table2")
    variant = spec.variant_for(fmt).name
    row_specs = spec.variant(variant).rows
    signed = spec.signed_columns
    money = spec.money_columns
    enc, rws = region_rows(doc.text, region.start, region.end)
    table = Table(key="table2", template=f"table2.{variant}", encoding=enc, span=doc.span(region.start, region.end))
    found: dict[str, tuple[Row, Resolution]] = {}
    for r in rws:
        if not r.values:
            continue
        key = match_label(r.labels, row_specs)
        if key is None or key in found:
            continue
        row = next(s for s in row_specs if s.key == key)
        res = resolve(r, len(row.columns), None, None)
        # only a signed column (本年增/减) can be negative: a reading with a negative count elsewhere is not one
        fit = [v for v in res.vectors if all(
            col in signed or not (t.kind == "num" and t.value is not None and t.value < 0)
            for col, t in zip(row.columns, v))]
        if len(fit) != len(res.vectors):
            res = Resolution(fit, res.how if fit else "a negative value where only "
                             + "/".join(spec.column(c).label for c in spec.column_keys if c in signed) + " can be negative")
        found[key] = (r, res)
    for row in row_specs:
        cols = list(row.columns)
        if row.key not in found:
            table.complete = False
            table.cells.extend(_cells(doc, "table2", row.key, cols, [None] * len(cols), None, ""))
            continue
        r, res = found[row.key]
        if res.ok:
            for col, c in zip(cols, _cells(doc, "table2", row.key, cols, res.vectors[0], r.label, "label",
                                           "" if res.how == "values" else res.how)):
                if col not in money and isinstance(c.value, Decimal):
                    c.note = (c.note + "; decimal value in a count column").strip("; ")
                table.cells.append(c)
        elif res.vectors:
            table.cells.extend(_ambiguous(doc, "table2", row.key, cols, res, r.label, "label"))
        else:
            table.complete = False
            for col in cols:
                table.cells.append(_cell(doc, "table2", row.key, col, None, r.label, "label", f"row found but {res.how}"))
    return table


# --------------------------------------------------------------------------- table 四
def parse_table4(doc: Document, region: Region) -> Table:
    spec = table_spec("table4")
    cols = spec.column_keys
    row_specs = spec.rows
    groups = [s.key for s in row_specs]
    k = len(cols)
    row_line = spec.line()  # one printed row of k values
    whole = spec.line(len(groups)) if spec.one_line else None  # the rows printed one after another
    n = k * len(groups)
    enc, rws = region_rows(doc.text, region.start, region.end)
    table = Table(key="table4", template="table4", encoding=enc, span=doc.span(region.start, region.end))
    vrows = [r for r in rws if r.values]
    vector: list[Tok] | None = None
    res: Resolution | None = None
    how = ""
    # 1. one row carrying every cell (the rows printed side by side)
    if whole is not None:
        for r in vrows:
            rr = resolve(r, n, whole, None)
            if rr.vectors and (len(r.nonempty()) >= k):
                res = rr
                break
    # 2. one labelled row per template row
    if res is None:
        by_key: dict[str, Resolution] = {}
        for r in vrows:
            key = match_label(r.labels, row_specs)
            rr = resolve(r, k, row_line, None)
            if key and rr.vectors and key not in by_key:
                by_key[key] = rr
        if len(by_key) == len(groups) and all(x.ok for x in by_key.values()):
            vector = [t for g in groups for t in by_key[g].vectors[0]]
            how = f"{len(groups)} labelled rows"
    anchor = "position"  # the table's fixed printed order, within one row
    # 3. all value cells of the region in printed order, across rows
    if res is None and vector is None and whole is not None:
        merged = Row(values=[v for r in vrows for v in r.nonempty()])
        rr = resolve(merged, n, whole, None)
        if rr.vectors:
            res = rr
            anchor = "order"
    if vector is None and res is not None and res.ok:
        vector = res.vectors[0]
        how = "" if res.how == "values" else res.how
    for gi, g in enumerate(groups):
        for ci, col in enumerate(cols):
            idx = gi * k + ci
            if vector is not None:
                table.cells.append(_cell(doc, "table4", g, col, vector[idx], None, anchor, how))
            elif res is not None and res.vectors:
                pass
            else:
                table.complete = False
                table.cells.append(_cell(doc, "table4", g, col, None, None, ""))
    if vector is None and res is not None and res.vectors:
        amb = _ambiguous(doc, "table4", "_", [f"{g}|{c}" for g in groups for c in cols], res, None)
        for c in amb:
            g, col = c.col.split("|")
            c.row, c.col = g, col
            table.cells.append(c)
    return table


# --------------------------------------------------------------------------- legacy
def parse_legacy(doc: Document, region: Region) -> Table:
    spec = table_spec("legacy")
    units = set(spec.units)
    header = set(spec.header_words)
    indicators = spec.rows
    year, cum = spec.column("year"), spec.column("cumulative")
    enc, rws = region_rows(doc.text, region.start, region.end)
    table = Table(key="legacy", template="legacy", encoding=enc, span=doc.span(region.start, region.end))
    seen_keys: list[str] = []
    idx = 0
    head = doc.text[region.start : region.start + 200]
    cumulative = any(w in head for w in cum.keywords)  # a 历年累计 column is printed
    for r in rws:
        parts = [t for t in r.labels if compact(t.text) not in header]
        if not parts:
            continue
        glued_money = None
        last = parts[-1]
        m2 = _TWO_DECIMALS.search(last.text)  # "费用 万元 9.1427.42": two amounts glued, read as text
        if m2 and m2.end() == len(last.text) and m2.start() > 0 and last.text[m2.start() - 1] == " ":
            a = last.start + m2.start()
            glued_money = Tok(m2.group(), a, a + len(m2.group()), "text")
            head = last.text[: m2.start()].rstrip()
            parts = [*parts[:-1], Tok(head, last.start, last.start + len(head), "text")]
        unit: str | None = None
        if len(parts) >= 2 and compact(parts[-1].text) in units:
            unit = compact(parts[-1].text)
            parts = parts[:-1]
        elif parts and " " in parts[-1].text and parts[-1].text.rsplit(" ", 1)[-1] in units:
            unit = parts[-1].text.rsplit(" ", 1)[-1]
        vals = r.values
        nonempty = [v for v in vals if v.kind != "empty"]
        if glued_money is not None and not nonempty:
            nonempty = [glued_money]
        if not nonempty:
            if unit is not None and not r.delimited:  # an indicator printed with its unit, its value lost
                label = parts[-1].text
                key = _legacy_key(label, indicators, seen_keys)
                c = _cell(doc, "legacy", f"L{idx}", "year", None, label, "", f"no value printed after the unit {unit}")
                c.unit, c.key = unit, key
                table.cells.append(c)
                idx += 1
            continue
        if all(v.kind == "na" for v in nonempty) and unit is None:
            continue  # a group heading (一、主动公开情况 | —— | ——)
        label_tok = parts[-1]
        label = label_tok.text
        if unit and label.endswith(unit) and " " in label:
            label = label[: -len(unit)].strip()
        key = _legacy_key(label, indicators, seen_keys)
        if key:
            seen_keys.append(key)
        if cumulative and len(nonempty) == 1 and _glued(doc, nonempty[0]):
            splits = _year_and_cumulative(nonempty[0])
            how = f"run-together digits split ({cum.called} ≥ {year.called})"
            if len(splits) == 1:
                nonempty = splits[0]
            elif splits:
                for c in _ambiguous(doc, "legacy", f"L{idx}", ["year", "cumulative"], Resolution(splits, how), label, "label"):
                    c.unit, c.key = unit, key
                    table.cells.append(c)
                idx += 1
                continue
        columns = ["year", "cumulative"] if len(nonempty) >= 2 else ["year"]
        for col, tok in zip(columns, nonempty):
            c = _cell(doc, "legacy", f"L{idx}", col, tok, label, "label")
            c.unit = unit
            c.key = key
            table.cells.append(c)
        if cumulative and len(nonempty) == 1:
            if r.delimited and len(r.values) >= 2 and r.values[0] is nonempty[0] and r.values[1].kind == "empty":
                c = _cell(doc, "legacy", f"L{idx}", "cumulative", r.values[1], label, "label")  # a printed blank
            else:  # one value where 本年度 and 历年累计 are printed: which column is blank is not known
                c = _cell(doc, "legacy", f"L{idx}", "cumulative", None, label, "",
                          f"one value where the table prints {year.called} and {cum.called}: read as {year.called}, "
                          f"{cum.called} not found")
            c.unit, c.key = unit, key
            table.cells.append(c)
        idx += 1
    return table


_TWO_DECIMALS = re.compile(r"\d+\.\d+\.\d+")


def _glued(doc: Document, tok: Tok) -> bool:
    """The token's digits were glued to the text before them in the source (the space before them
    was inserted by reflow: it stands for no original character)."""
    if tok.start == 0 or doc.text[tok.start - 1] != " ":
        return False
    s = doc.span(tok.start - 1, tok.start)
    return s.start == s.end


def _year_and_cumulative(tok: Tok) -> list[list[Tok]]:
    """Every cut of one run of digits into a year value and a cumulative value that is no smaller
    (no leading zeros)."""
    t = tok.text
    if len(t) < 2 or not (t.isascii() and (t.isdigit() or _TWO_DECIMALS.fullmatch(t))):
        return []
    out = []
    for i in range(1, len(t)):
        a, b = t[:i], t[i:]
        fa, fb = parse_figure(a), parse_figure(b)
        if fa is None or fb is None or a[0] == "." or b[0] == "." or a.endswith(".") or fb[0] < fa[0]:
            continue
        (va, da), (vb, db) = fa, fb
        if (len(a) > 1 and a[0] == "0" and a[1] != ".") or (len(b) > 1 and b[0] == "0" and b[1] != "."):
            continue
        if "." in t and da != db:
            continue  # glued amounts: both printed to the same decimals
        out.append([Tok(a, tok.start, tok.start + i, "num", va, da), Tok(b, tok.start + i, tok.end, "num", vb, db)])
    return out


def _legacy_key(label: str, indicators: Sequence[RowSpec], seen: list[str]) -> str | None:
    """The canonical key of a printed indicator: its longest keyword, among indicators not yet
    taken whose ``after``/``before`` context fits what was printed before it."""
    c = compact(label)
    taken = set(seen)
    for kw, ind in _legacy_keywords(id(indicators), indicators):
        if kw not in c or ind.key in taken:
            continue
        after, before = ind.after, ind.before
        if (after and after not in taken) or (before and before in taken):
            continue
        return ind.key
    return None


_KW_CACHE: dict[int, tuple[Sequence[RowSpec], list[tuple[str, RowSpec]]]] = {}


def _legacy_keywords(key: int, indicators: Sequence[RowSpec]) -> list[tuple[str, RowSpec]]:
    """(keyword, indicator) pairs, longest keyword first (computed once per spec)."""
    hit = _KW_CACHE.get(key)
    if hit is None or hit[0] is not indicators:
        pairs = [(kw, ind) for ind in indicators for kw in ind.keywords]
        hit = _KW_CACHE[key] = (indicators, sorted(pairs, key=lambda p: -len(p[0])))
    return hit[1]


# --------------------------------------------------------------------------- entry point
def parse_tables(doc: Document, layout: Layout) -> dict[str, Table]:
    out: dict[str, Table] = {}
    regs = layout.regions
    if "legacy" in regs:
        out["legacy"] = parse_legacy(doc, regs["legacy"])
        return out
    if not any(k in regs for k in ("table2", "table3", "table4")):
        return out
    # a report in the national format prints all three tables: one whose region was not found is
    # read from an empty region, so that its every cell is missing (never an accepted record)
    nowhere = Region("", len(doc.text), len(doc.text))
    out["table2"] = parse_table2(doc, regs.get("table2", nowhere), layout.format)
    out["table3"] = parse_table3(doc, regs.get("table3", nowhere))
    out["table4"] = parse_table4(doc, regs.get("table4", nowhere))
    return out
