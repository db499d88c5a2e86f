"""The reviewer's disagreement report: static, self-contained HTML pages over a run's database.

``build_report(db, out)`` writes ``index.html`` (every document with its decision and its findings
by kind, with filters) and one page per document (source text with every extracted number marked,
the tables as printed, the findings with operands, arithmetic and competing values). Pages carry
their CSS and JS inline: no network, no CDN; they open from disk in any browser.

Reviewers' decisions stored in the database are applied (see :mod:`extractor.decisions`).
The review app renders the same document page live (:func:`render_document`).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from .. import __version__
from ..decisions import OPEN_STATUSES, Reviewed, apply_reviews
from ..reviewed import reviewed_crossyear, reviewed_records
from ..store import Store
from .series import SourceCache, body_page, series_filename, series_summary
from .view import CLASS_LABELS, DocPage, build_page

HERE = Path(__file__).resolve().parent
REPORT_TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

__all__ = ["build_report", "render_document", "render_index", "environment", "doc_filename", "build_page",
           "cross_years", "series_filename", "render_series"]


def _datetime(ts: Any) -> str:
    if not ts:
        return ""
    return _dt.datetime.fromtimestamp(float(ts)).strftime("%Y-%m-%d %H:%M")


def _nl(text: str) -> Markup:
    """Excerpt text with its line breaks shown as a faint ⏎."""
    return Markup('<span class="nl">⏎</span>').join(Markup.escape(p) for p in str(text).split("⏎"))


@functools.lru_cache(maxsize=4)
def environment(*extra_dirs: str) -> Environment:
    """Jinja environment over the report templates (plus ``extra_dirs``, searched first)."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader([*extra_dirs, str(REPORT_TEMPLATES)])]),
        autoescape=select_autoescape(["html"]),
        trim_blocks=False, lstrip_blocks=False,
    )
    env.filters["datetime"] = _datetime
    env.filters["classlabel"] = lambda c: CLASS_LABELS.get(c, c)
    env.filters["nl"] = _nl
    env.globals["version"] = __version__
    env.globals["css"] = Markup((STATIC / "report.css").read_text(encoding="utf-8"))
    env.globals["js"] = Markup((STATIC / "report.js").read_text(encoding="utf-8"))
    return env


def doc_filename(name: str, sha256: str) -> str:
    stem = re.sub(r"[^0-9A-Za-z_.\-\u4e00-\u9fff]+", "_", Path(name).stem)[:60].strip("._") or "doc"
    return f"{stem}-{sha256[:10]}.html"


def render_document(page: DocPage, *, index_href: str = "index.html", env: Environment | None = None,
                    template: str = "document.html", **ctx: Any) -> str:
    env = env or environment()
    return env.get_template(template).render(page=page, index_href=index_href, **ctx)


def _by_doc(rows: Iterable[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in rows:
        out.setdefault(r["sha256"], []).append(r)
    return out


def index_rows(store: Store, href: Any = None) -> tuple[list[dict[str, Any]], list[Reviewed]]:
    """One row per stored document (failed ones too), with reviews applied."""
    reviews = _by_doc(store.reviews())
    docs: list[dict[str, Any]] = []
    reviewed: list[Reviewed] = []
    for d in store.documents():
        rec = store.record(d["sha256"])
        if rec is None:  # stored as an error, without a record
            docs.append({"name": d["name"], "sha256": d["sha256"], "kind": d["kind"] or "?", "organ": None,
                         "year": None, "format": None, "decision": d["decision"] or "failed", "by_review": False,
                         "classes": [], "by_class": [], "settled": 0, "cells": 0,
                         "reasons": [d["error"] or ""], "href": None})
            continue
        rv = apply_reviews(rec, reviews.get(rec.document.sha256, []))
        reviewed.append(rv)
        problems = [f for f in rv.record.findings if f.status in OPEN_STATUSES]
        open_ids = {f.id for f in rv.open}
        cnt = Counter(f.classification for f in problems)
        cnt_open = Counter(f.classification for f in problems if f.id in open_ids)
        r = rv.record
        docs.append({
            "name": r.document.name, "sha256": r.document.sha256, "kind": r.document.kind, "organ": r.organ,
            "year": r.year, "format": r.format, "decision": r.decision, "by_review": rv.accepted_by_review,
            "classes": sorted(cnt), "by_class": [(c, n, cnt_open.get(c, 0)) for c, n in cnt.most_common()],
            "settled": len(rv.settled), "cells": len(r.cells()), "reasons": r.reasons,
            "href": href(r) if href else doc_filename(r.document.name, r.document.sha256),
            "open": len(rv.open),
        })
    return docs, reviewed


def cross_years(store: Store, records: Iterable[Any]) -> Any:
    """Cross-year checks over ``records`` (decisions applied), bodies from the mapping file beside
    the database when there is one, reviewers' decisions on cross-year findings applied
    (:func:`extractor.reviewed.reviewed_crossyear`)."""
    return reviewed_crossyear(store, records)


def render_index(store: Store, *, env: Environment | None = None, href: Any = None, template: str = "index.html",
                 series_href: Any = series_filename, **ctx: Any) -> str:
    env = env or environment()
    docs, reviewed = index_rows(store, href)
    doc_href = href or (lambda r: doc_filename(r.document.name, r.document.sha256))
    series, series_years = series_summary(cross_years(store, [rv.record for rv in reviewed]), doc_href, series_href)
    ctx.setdefault("series", series)
    ctx.setdefault("series_years", series_years)
    by_class: Counter[str] = Counter()
    for rv in reviewed:
        by_class.update(f.classification for f in rv.record.findings if f.status in OPEN_STATUSES)
    totals = {"open": sum(len(rv.open) for rv in reviewed), "settled": sum(len(rv.settled) for rv in reviewed),
              "by_class": by_class.most_common()}
    decisions = Counter(d["decision"] for d in docs)
    return env.get_template(template).render(
        docs=docs, totals=totals, decisions=sorted(decisions.items()), db=str(store.path), generated=time.time(),
        **ctx)


def render_series(store: Store, filename: str, *, env: Environment | None = None, doc_href: Any = None,
                  index_href: str = "index.html", sources: SourceCache | None = None,
                  review_href: Any = None) -> str | None:
    """The page of the body whose series page is ``filename`` (None when there is no such body):
    every cross-year finding with both reports' source passages side by side, and its decision
    (``review_href(finding)``: where to decide it, in the review app)."""
    env = env or environment()
    records = {r.document.sha256: r for r in reviewed_records(store)}
    cross = cross_years(store, records.values())
    body = next((b for b in cross.series if series_filename(b) == filename), None)
    if body is None:
        return None
    doc_href = doc_href or (lambda r: doc_filename(r.document.name, r.document.sha256))
    page = body_page(body, cross, records, sources or SourceCache(), doc_href, review_href)
    return env.get_template("series.html").render(page=page, index_href=index_href)


def build_report(db: str | Path, out: str | Path, *, on_page: Any = None) -> list[Path]:
    """Write ``index.html`` and one page per document into ``out``; returns the files written."""
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = environment()
    written: list[Path] = []
    with Store(db) as store:
        reviews = _by_doc(store.reviews())
        sources = SourceCache()
        records: dict[str, Any] = {}
        for d in store.documents():
            rec = store.record(d["sha256"])
            if rec is None:
                continue
            rv = apply_reviews(rec, reviews.get(rec.document.sha256, []))
            page = build_page(rv, sources.get(rv.original))
            records[rec.document.sha256] = rv.record
            path = out_dir / doc_filename(rec.document.name, rec.document.sha256)
            _write(path, render_document(page, env=env))
            written.append(path)
            if on_page:
                on_page(path, page)
        cross = cross_years(store, records.values())
        doc_href = lambda r: doc_filename(r.document.name, r.document.sha256)  # noqa: E731
        for body, s in cross.series.items():
            if sum(len(v) for v in s.years.values()) + len(s.unplaced) < 2:
                continue
            path = out_dir / series_filename(body)
            _write(path, env.get_template("series.html").render(
                page=body_page(body, cross, records, sources, doc_href), index_href="index.html"))
            written.append(path)
        index = out_dir / "index.html"
        _write(index, render_index(store, env=env))
        written.insert(0, index)
    return written


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
