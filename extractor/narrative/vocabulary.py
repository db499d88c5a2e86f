"""The controlled vocabulary of narrative metrics (``rules/narrative_vocabulary.yaml``).

One job: given a narrative number's statement (its clause, unit, the sentence up to it), say which
canonical quantity it counts, how that is known, and whose count it is:

* ``metric`` — a canonical key (``applications_received``, ``reviews``, ``items_published.website``,
  …) or None;
* ``anchor`` — the id of the vocabulary anchor that proves the key (``reviews/review``); "" when no
  anchor does (then ``metric`` is None);
* ``scope`` — "" when the statement is about the report's own body and year, else what narrows it
  (``subset:其中``, ``subunit:各乡镇``, ``topic:专栏``, ``extra:另外``, ``period:历年``,
  ``named:区政府办``, ``named:“上海科技”网站``).

Only a proven, report-wide reading can make a narrative FAIL block acceptance
(:mod:`extractor.verify.narrative` decides that); the rest is advisory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..templates import rules_dir, safe_load  # EXTRACTOR_RULES_DIR or the packaged rules/

VOCABULARY_FILE = "narrative_vocabulary.yaml"


@dataclass(frozen=True)
class Metric:
    key: str
    units: frozenset[str]
    anchors: tuple[tuple[str, re.Pattern[str]], ...]
    continues_anchors: tuple[tuple[str, re.Pattern[str]], ...]
    continues: frozenset[str]
    exclude: re.Pattern[str] | None
    requires_sentence: re.Pattern[str] | None
    channels: tuple[tuple[str, re.Pattern[str]], ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    id: str
    version: int
    not_counts: tuple[str, ...]
    scopes: tuple[tuple[str, re.Pattern[str]], ...]  # (kind, pattern), subset first
    whole: re.Pattern[str]
    metrics: tuple[Metric, ...]
    rates: dict[str, re.Pattern[str]] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.id}@{self.version}"

    def metric(self, key: str) -> Metric | None:
        """The metric ``key`` (``items_published.website`` → items_published, its channel)."""
        exact = next((m for m in self.metrics if m.key == key), None)
        base = key.split(".")[0]
        return exact or next((m for m in self.metrics if m.key == base), None)


@dataclass(frozen=True)
class Reading:
    metric: str | None
    anchor: str = ""
    scope: str = ""


def load_vocabulary() -> Vocabulary:
    return _load(os.environ.get("EXTRACTOR_RULES_DIR", ""))


@lru_cache(maxsize=4)
def _load(env_dir: str) -> Vocabulary:
    data: dict[str, Any] = safe_load(Path(rules_dir() / VOCABULARY_FILE).read_text(encoding="utf-8"))
    scopes: list[tuple[str, re.Pattern[str]]] = []
    for kind in ("subset", "extra", "topic", "subunit", "period"):
        pats = data.get("scope", {}).get(kind, [])
        if pats:  # one alternation per kind: one search per kind
            scopes.append((kind, re.compile("|".join(f"(?:{p})" for p in pats))))
    metrics = []
    for key, m in data["metrics"].items():
        metrics.append(Metric(
            key=key,
            units=frozenset(str(u) for u in m.get("units", [])),
            anchors=tuple((f"{key}/{aid}", re.compile(p)) for aid, p in (m.get("anchors") or {}).items()),
            continues_anchors=tuple(
                (f"{key}/{aid}", re.compile(p)) for aid, p in (m.get("continues_anchors") or {}).items()
            ),
            continues=frozenset(m.get("continues", [])),
            exclude=re.compile(m["exclude"]) if m.get("exclude") else None,
            requires_sentence=re.compile(m["requires_sentence"]) if m.get("requires_sentence") else None,
            channels=tuple((ch, re.compile(p)) for ch, p in (m.get("channels") or {}).items()),
        ))
    return Vocabulary(
        id=data["id"], version=int(data["version"]), not_counts=tuple(data.get("not_counts", [])),
        scopes=tuple(scopes), whole=re.compile(data["whole_markers"]), metrics=tuple(metrics),
        rates={name: re.compile(p) for name, p in (data.get("rates") or {}).items()},
    )


# A channel with a quoted name ("“上海科技”网站", "“魅力东山”抖音号"): one named outlet.
_NAMED_CHANNEL = re.compile(r"[“\"「『]([^”\"」』]{1,20})[”\"」』](?:政务)?(?:网站|门户网站|微信公众号|微信号|微信|微博|抖音号|抖音|公众号|客户端|头条号|视频号)")
# The subject of a clause: a named unit at its start ("区政府办代表区政府受理…", "市科委通过…").
_SUBJECT = re.compile(
    r"^(?:(?:20\d\d年度?|全年|年内|本年度?|今年)[，,、]?)?"
    r"(?P<s>[\u4e00-\u9fff]{1,16}?(?:人民政府办公室|人民政府|政府办公室|政府办|办公室|管理局|委员会|管委会|局|委|厅|办|院|中心|公司|街道办事处|街道|镇|乡))"
    r"(?=代表|通过|在|共|全年|累计|年内|本年|收到|受理|接收|主动|发布|公开|办结|答复|新收|依法|积极|按时|有|未|没有|无)"
)
_ENUM = re.compile(r"^(?:[（(]?[一二三四五六七八九十\d]+[)）、.．]|[一二三四五六七八九十]是)")
_WHOLE_SUBJECT = re.compile(r"^(?:全|我|本|各级)")
_WS = re.compile(r"\s+")


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def subject_scope(clause_text: str, organ: str | None) -> str:
    """``named:<unit>`` when the clause opens with a named unit that is not the report's own body
    (an abbreviation of the body — 市科委 for 上海市科学技术委员会 — is the body: its characters
    occur in order in the body's name)."""
    m = _SUBJECT.match(_ENUM.sub("", clause_text, count=1))
    if not m:
        return ""
    s = m.group("s")
    if _WHOLE_SUBJECT.match(s):
        return ""
    if organ and _is_subsequence(s, organ):
        return ""
    return f"named:{s}"


_YEAR = re.compile(r"(?<![较比至到])(?<!同比)(20\d\d)年(?!度?[以之]?前)")


def other_year(text: str, year: int | None) -> str:
    """The last year named in ``text`` when it is not the report's ``year`` ("2022年…" in a 2023 report)."""
    if not year:
        return ""
    years = _YEAR.findall(text)
    return years[-1] if years and int(years[-1]) != year else ""


def scope_of(label: str, sentence: str, *, organ: str | None = None, channel_context: str = "", heading: str = "",
             year: int | None = None) -> str:
    """The scope of a statement: its own clause's words first, then the sentence before it, then the
    heading of its paragraph (topic and sub-unit words only)."""
    return _scope_of(os.environ.get("EXTRACTOR_RULES_DIR", ""), label, sentence, organ, channel_context, heading, year)


# Statements repeat (within a report, and across a body's reports written from one template): the
# readings are pure functions of their words and the vocabulary, remembered per rules directory
# (the key :func:`load_vocabulary` is cached by).
_MEMO_SIZE = 16384


@lru_cache(maxsize=_MEMO_SIZE)
def _scope_of(env_dir: str, label: str, sentence: str, organ: str | None, channel_context: str, heading: str,
              year: int | None) -> str:
    vocab = _load(env_dir)
    label = _WS.sub("", label)
    for kind, pat in vocab.scopes:
        if kind in ("subset", "extra"):
            m = pat.search(label)
            if m:
                return f"{kind}:{m.group()}"
    m = _NAMED_CHANNEL.search(channel_context + label)
    if m:
        return f"named:{m.group()}"
    sentence = _WS.sub("", sentence)
    for kind, pat in vocab.scopes:
        if kind in ("topic", "subunit", "period"):
            m = pat.search(sentence)
            if m:
                return f"{kind}:{m.group()}"
    y = other_year(sentence + label, year)
    if y:
        return f"period:{y}年"
    heading = _WS.sub("", heading)
    if heading:
        for kind, pat in vocab.scopes:
            if kind in ("topic", "subunit"):
                m = pat.search(heading)
                if m:
                    return f"{kind}:{m.group()}"
    return subject_scope(sentence, organ)


def classify_label(
    label: str,
    post: str = "",
    unit: str = "",
    *,
    sentence: str = "",
    prev_metric: str | None = None,
    channel_context: str = "",
    in_published: bool = False,
) -> Reading:
    """The metric a statement counts, and the anchor that proves it (no scope: see :func:`scope_of`).

    ``label``: the clause before the number; ``post``: the words right after the unit; ``sentence``:
    the sentence up to and including the number (for ``requires_sentence``); ``prev_metric``: the
    metric of the clause before (for ``continues``); ``channel_context``: the clause before, where a
    channel is named ("通过门户网站，主动公开信息494条"); ``in_published``: a part of an
    items_published sum ("其中通过网站发布610条": the channel alone says it).
    """
    return _classify_label(os.environ.get("EXTRACTOR_RULES_DIR", ""), label, post, unit, sentence, prev_metric,
                           channel_context, in_published)


@lru_cache(maxsize=_MEMO_SIZE)
def _classify_label(env_dir: str, label: str, post: str, unit: str, sentence: str, prev_metric: str | None,
                    channel_context: str, in_published: bool) -> Reading:
    vocab = _load(env_dir)
    lab = _WS.sub("", label)
    lab = re.sub(r"^(?:其中|以及|并|和|及|又|还)[:：，,]?", "", lab)
    full = lab + _WS.sub("", post)
    sent = _WS.sub("", sentence) + _WS.sub("", post)
    for m in vocab.metrics:
        if unit not in m.units:
            continue
        if m.exclude is not None and m.exclude.search(full):
            continue
        anchor = ""
        for aid, pat in m.anchors:
            if pat.search(lab) or pat.search(full):
                anchor = aid
                break
        if not anchor and prev_metric and prev_metric.split(".")[0] in m.continues:
            for aid, pat in m.continues_anchors:
                if pat.search(lab):
                    anchor = aid
                    break
        if not anchor and in_published and m.key == "items_published" and _channel(m, lab):
            anchor = f"{m.key}/channel_part"
        if not anchor:
            continue
        if m.requires_sentence is not None and not m.requires_sentence.search(sent):
            continue
        key = m.key
        if m.channels:
            ch = _channel(m, lab) or (None if in_published else _channel(m, _WS.sub("", channel_context)))
            if ch:
                key = f"{key}.{ch}"
        return Reading(key, anchor)
    return Reading(None)


def _channel(m: Metric, text: str) -> str | None:
    for ch, pat in m.channels:
        if pat.search(text):
            return ch
    return None


def is_whole(text: str) -> bool:
    """A marker that a statement gives the whole of something (全年, 共, 累计, 各类, 我区…)."""
    return bool(load_vocabulary().whole.search(_WS.sub("", text)))


def not_a_count(text_after_unit: str, unit: str) -> bool:
    """"2个工作日", "0.87个百分点": a duration or a difference, not a count."""
    if unit != "个":
        return False
    rest = "个" + text_after_unit.lstrip()
    return any(rest.startswith(w) for w in load_vocabulary().not_counts)


def rate_numerator(name: str) -> re.Pattern[str] | None:
    """The words that anchor the numerator of the rate ``name`` (纠错率 → 纠正|纠错|…), or None."""
    rates = load_vocabulary().rates
    if name in rates:
        return rates[name]
    for n in sorted(rates, key=len, reverse=True):
        if name.endswith(n):
            return rates[n]
    return None


# ---------------------------------------------------------------------------------------------
# The vocabulary in words: for the model's prompt (prompts/narrative_facts.j2) and for people
# ---------------------------------------------------------------------------------------------

def readable(pattern: str) -> list[str]:
    """The phrases a vocabulary pattern matches, written for a reader: one string per top-level
    alternative; ``a/b`` is either word, ``(了)`` an optional part, ``…`` a few characters of the
    same clause, ``N`` a digit; ``^``, ``$`` and look-arounds are left out.

    ``(?:收到|受理)[^，。]{0,16}申请|申请[^，。]{0,4}受理`` → ``["收到/受理…申请", "申请…受理"]``.
    Reads the subset of regular expressions the vocabulary uses (groups, alternation, classes,
    ``?``/``*``/``+``/``{m,n}``, escapes); anything else raises ValueError."""
    r = _Readable(pattern)
    alts = r.alternatives()
    if r.i != len(pattern):
        raise ValueError(f"cannot read {pattern!r} at {r.i}")
    return alts


class _Readable:
    """A small recursive-descent reader of the vocabulary's regular expressions."""

    def __init__(self, pattern: str) -> None:
        self.p, self.i = pattern, 0

    def peek(self) -> str:
        return self.p[self.i] if self.i < len(self.p) else ""

    def alternatives(self) -> list[str]:
        out = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            out.append(self.sequence())
        return out

    def sequence(self) -> str:
        parts: list[tuple[str, bool]] = []  # (text, a choice of words)
        while self.peek() not in ("", "|", ")"):
            text, wild = self.atom()
            lo = self.quantifier()
            choice = "/" in text and not text.startswith("(")
            if wild:
                text, choice = "…", False
            elif lo == 0 and text:
                text, choice = f"({text})", False
            if not text or (text == "…" and parts and parts[-1][0] == "…"):
                continue
            parts.append((text, choice))
        if len(parts) == 1:
            return parts[0][0]
        return "".join(f"[{t}]" if choice else t for t, choice in parts)

    def quantifier(self) -> int:
        """The quantifier's minimum (1 without one)."""
        c, lo = self.peek(), 1
        if c in ("?", "*"):
            self.i, lo = self.i + 1, 0
        elif c == "+":
            self.i += 1
        elif c == "{":
            j = self.p.index("}", self.i)
            lo = int(self.p[self.i + 1: j].split(",")[0] or 0)
            self.i = j + 1
        else:
            return 1
        if self.peek() == "?":  # lazy
            self.i += 1
        return lo

    def atom(self) -> tuple[str, bool]:
        """(text, is_wildcard)."""
        c = self.peek()
        self.i += 1
        if c == "(":
            look = False
            if self.p.startswith("?:", self.i):
                self.i += 2
            elif self.peek() == "?":
                m = re.match(r"\?(?:=|!|<=|<!)", self.p[self.i:])
                if not m:
                    raise ValueError(f"cannot read group at {self.i} of {self.p!r}")
                self.i += m.end()
                look = True
            alts = self.alternatives()
            if self.peek() != ")":
                raise ValueError(f"unclosed group in {self.p!r}")
            self.i += 1
            if look:
                return "", False
            full = [a for a in alts if a]
            text = "/".join(full)
            return (f"({text})" if len(full) < len(alts) and text else text), False
        if c == "[":
            j = self.i
            neg = self.peek() == "^"
            if neg:
                self.i += 1
            chars: list[str] = []
            while self.peek() != "]":
                if not self.peek():
                    raise ValueError(f"unclosed class in {self.p!r}")
                if self.peek() == "\\":
                    chars.append("N" if self.p[self.i + 1] == "d" else self.p[self.i + 1])
                    self.i += 2
                else:
                    chars.append(self.peek())
                    self.i += 1
            self.i += 1
            del j
            return ("…", True) if neg else ("/".join(chars), False)
        if c == "\\":
            e = self.peek()
            self.i += 1
            if e == "d":
                return "N", False
            if e in "sSwWbB":
                return "", e in "sSwW"
            return e, False
        if c == ".":
            return "…", True
        if c in "^$":
            return "", False
        return c, False


def words(pattern: str) -> list[str]:
    """The words of a plain alternation (``信访|来信|投诉``), each readable."""
    return [w for w in readable(pattern) if w]


@dataclass(frozen=True)
class MetricWords:
    key: str
    units: tuple[str, ...]
    anchors: tuple[str, ...]  # phrases that prove the metric
    exclude: tuple[str, ...]  # words that rule it out
    requires: tuple[str, ...]  # one of these must be in the sentence
    continues: tuple[str, ...]  # a bare clause after one of these metrics, in the same sentence
    continue_phrases: tuple[str, ...]
    channels: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class VocabularyWords:
    ref: str
    metrics: tuple[MetricWords, ...]
    scopes: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, words), in the order they are tried
    not_counts: tuple[str, ...]
    rates: tuple[str, ...]


def in_words() -> VocabularyWords:
    """The loaded vocabulary as readable phrases (rendered into the narrative_facts prompt, so the
    model is asked for the very metrics, scopes and non-count units the deterministic reader uses)."""
    v = load_vocabulary()
    metrics = tuple(
        MetricWords(
            key=m.key,
            units=tuple(sorted((u for u in m.units if u), key=lambda u: (len(u), u))),
            anchors=tuple(p for _, pat in m.anchors for p in readable(pat.pattern)),
            exclude=tuple(words(m.exclude.pattern)) if m.exclude is not None else (),
            requires=tuple(words(m.requires_sentence.pattern)) if m.requires_sentence is not None else (),
            continues=tuple(sorted(m.continues)),
            continue_phrases=tuple(p for _, pat in m.continues_anchors for p in readable(pat.pattern)),
            channels=tuple((ch, tuple(readable(pat.pattern))) for ch, pat in m.channels),
        )
        for m in v.metrics
    )
    scopes = tuple((kind, tuple(w for p in readable(pat.pattern) for w in [p] if w)) for kind, pat in v.scopes)
    return VocabularyWords(ref=v.ref, metrics=metrics, scopes=scopes, not_counts=v.not_counts,
                           rates=tuple(v.rates))
