"""The local review app: a queue of open findings, one decision per finding, kept in the run's database.

Server-rendered pages (Jinja, the report's stylesheet and document page), a few lines of JS for the
keys (j/k move, a accept, c correct, s confirm a source inconsistency, o open the document, u reopen;
A / S accept or confirm every open finding of the selected finding's question at once).
Decisions go to the store's ``reviews`` table keyed by (document SHA-256, finding id) and are applied
whenever a page or an export is computed, so they survive ``extractor run --force``.

Cross-year findings (a body's reports for years N and N+1, :mod:`extractor.crossyear`) are in the
queue too, after the documents' findings: both source passages side by side, and the decisions the
rule allows — accept, confirm a source inconsistency, or (X.IN_FORCE) explained by the report, e.g. a
stated 清理, with a comment and optionally the quoted passage (``e``). They go to ``crossyear_reviews``
keyed by both documents' SHA-256 and the finding's id (:mod:`extractor.crossyear_reviews`).

``create_review_app(db)`` builds the FastAPI app; ``extractor review --db FILE`` serves it on 127.0.0.1.

Only the reviewer's own browser may change decisions:

* every state-changing request (``POST /decide``, ``/decide-group``, ``/reopen``, ``/decide-crossyear``,
  ``/reopen-crossyear``) carries the session's CSRF token
  (a hidden form field; the session is an HttpOnly, SameSite=Strict cookie) and is refused (403) from
  a foreign ``Origin`` (or ``Referer``);
* served on loopback (the default) the app answers only requests whose ``Host`` is a loopback name,
  so a web page cannot reach it through DNS rebinding;
* served on any other interface it needs an access token (``token=``): every request must present it
  once (``?token=…``, kept in an HttpOnly cookie) or as ``Authorization: Bearer …``; without it 401.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import ipaddress
import os
import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from ..crossyear import CrossFinding, CrossResult
from ..model import Record
from ..report import environment, render_document, render_index, render_series, series_filename
from ..report.series import SourceCache, cross_view
from ..report.view import DocPage, FindingView, Source, build_page, load_source
from ..export import EXPORT_FORMATS, export_records
from ..reviewed import reviewed_crossyear
from ..store import Store
from ..decisions import (OPEN_STATUSES, READING_RULES, DecisionError, Reviewed, apply_reviews, prepare_decision,
                         reviews_by_document)
from ..crossyear_reviews import ACTION_LABELS, explanation_hints, prepare_cross_decision

REVIEW_TEMPLATES = Path(__file__).resolve().parent / "templates"
SHOWS = ("open", "settled", "all")
GROUP_ACTIONS = ("accept", "confirm_source")  # a correction names one cell: never applied to a whole question


def group_key(f: Any) -> str:
    """The question a finding belongs to (verify/groups.py sets ``Finding.group``); its own id else."""
    return getattr(f, "group", "") or f.id


LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
TOKEN_ENV = "EXTRACTOR_REVIEW_TOKEN"
SESSION_COOKIE = "extractor_session"
TOKEN_COOKIE = "extractor_token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, brackets allowed) is this machine only."""
    h = host.strip().strip("[]").lower()
    if h == "localhost" or h.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    """The name part of a Host header (``127.0.0.1:8765`` → ``127.0.0.1``, ``[::1]:80`` → ``::1``)."""
    h = host_header.strip()
    if h.startswith("["):
        return h[1:].split("]", 1)[0]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


@dataclass
class Item:
    """One finding in the queue (``sha256`` is ``<N sha256>..<N+1 sha256>`` for a cross-year finding)."""

    sha256: str
    name: str
    fid: str
    finding: Any
    open: bool
    review: Any
    cross: CrossFinding | None = None

    def href(self, show: str, scope: str | None = None) -> str:
        q = {"show": show, "doc": self.sha256, "id": self.fid}
        if scope:
            q["scope"] = scope
        return "/queue?" + urlencode(q)


def pair_key(f: CrossFinding) -> str:
    """How the queue names a cross-year finding's two reports (its ``doc``)."""
    return f"{f.prev.sha256}..{f.next.sha256}"


class _Sources(SourceCache):
    """Re-loaded source documents, a few kept in memory (PDFs are slow to load)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self.items: OrderedDict[str, Source] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, rv: Reviewed | Record) -> Source:  # type: ignore[override]
        rec = rv.original if isinstance(rv, Reviewed) else rv
        sha = rec.document.sha256
        with self.lock:
            if sha in self.items:
                self.items.move_to_end(sha)
                return self.items[sha]
        src = load_source(rec)
        with self.lock:
            self.items[sha] = src
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return src


def default_reviewer() -> str:
    for k in ("EXTRACTOR_REVIEWER", "USER", "LOGNAME"):
        if os.environ.get(k):
            return os.environ[k]
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is fine
        return ""


def create_review_app(db: str | Path, *, reviewer: str | None = None, token: str | None = None) -> FastAPI:
    """The review app over ``db``. With ``token`` every request must present it (any Host is then
    served); without, only loopback Host names are served."""
    db_path = Path(db)
    if not db_path.exists():
        raise FileNotFoundError(f"no database at {db_path} (run `extractor run ... --out DIR` first)")
    app = FastAPI(title="extractor review", docs_url=None, redoc_url=None, openapi_url=None)
    env = environment(str(REVIEW_TEMPLATES))
    sources = _Sources()
    fallback_reviewer = reviewer if reviewer is not None else default_reviewer()
    secret = secrets.token_bytes(32)  # per app: sessions and CSRF tokens do not outlive the process
    token = token or None

    def csrf_token(session: str) -> str:
        return hmac.new(secret, b"csrf:" + session.encode(), hashlib.sha256).hexdigest()

    def refuse(status: int, text: str) -> Response:
        return Response(text + "\n", status_code=status, media_type="text/plain; charset=utf-8")

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = request.headers.get("host", "")
        if token is None and not is_loopback(_hostname(host)):
            return refuse(403, f"refused: Host {host!r} is not this machine (the review app answers loopback "
                               "names only; serve it with --host and --token to reach it from elsewhere)")
        set_token = False
        if token is not None:
            given = request.cookies.get(TOKEN_COOKIE) or ""
            auth = request.headers.get("authorization", "")
            if auth.lower().startswith("bearer "):
                given = auth[7:].strip()
            query = request.query_params.get("token")
            if query is not None and hmac.compare_digest(query.encode(), token.encode()):
                set_token = True
            elif not hmac.compare_digest(given.encode(), token.encode()):
                return refuse(401, "this review app needs its access token: open the address printed by "
                                   "`extractor review` (…?token=…), or send Authorization: Bearer <token>")
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            referer = request.headers.get("referer")
            own = f"{request.url.scheme}://{host}".lower()
            if origin is not None and origin.lower() != own:
                return refuse(403, f"refused: a request from another site ({origin}) cannot change decisions")
            if origin is None and referer and not _same_origin(referer, own):
                return refuse(403, "refused: a request from another site cannot change decisions")
        session = request.cookies.get(SESSION_COOKIE)
        new_session = not session
        if new_session:
            session = secrets.token_urlsafe(24)
        request.state.session = session
        request.state.csrf = csrf_token(session)
        if set_token:  # drop the token from the address bar; the cookie carries it from now on
            q = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            response: Response = RedirectResponse(request.url.path + ("?" + urlencode(q) if q else ""), status_code=303)
            response.set_cookie(TOKEN_COOKIE, token or "", httponly=True, samesite="strict")
        else:
            response = await call_next(request)
        if new_session:
            response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="strict")
        return response

    def check_csrf(request: Request, given: str) -> Response | None:
        if not given or not hmac.compare_digest(given.encode(), request.state.csrf.encode()):
            return refuse(403, "refused: missing or wrong CSRF token (reload the review page and decide again)")
        return None

    def store() -> Store:
        return Store(db_path)

    def all_reviewed(st: Store) -> list[Reviewed]:
        by_doc = reviews_by_document(st)
        return [apply_reviews(rec, by_doc.get(rec.document.sha256, [])) for rec in st.records()]

    def cross_of(st: Store, reviewed: list[Reviewed]) -> CrossResult:
        """Cross-year findings over the reviewed records, their decisions applied."""
        return reviewed_crossyear(st, [rv.record for rv in reviewed])

    def cross_items(cross: CrossResult, show: str, doc: str | None) -> list[Item]:
        items: list[Item] = []
        for f in cross.findings:
            if f.status not in OPEN_STATUSES and f.settled_by is None:
                continue
            key = pair_key(f)
            if doc and doc not in (key, f.prev.sha256, f.next.sha256):
                continue
            if show == "open" and not f.open or show == "settled" and f.open:
                continue
            items.append(Item(sha256=key, name=f"{f.body} {f.prev.year}→{f.next.year}", fid=f.id, finding=f,
                              open=f.open, review=f.settled_by, cross=f))
        return items

    def queue_items(reviewed: list[Reviewed], show: str, doc: str | None, cross: CrossResult | None = None
                    ) -> list[Item]:
        items: list[Item] = []
        for rv in reviewed:
            sha = rv.original.document.sha256
            if doc and sha != doc:
                continue
            for f in rv.record.findings:
                review = rv.review_of(f.id)
                if f.status not in OPEN_STATUSES and review is None:
                    continue  # a passing check nobody decided on
                is_open = rv.is_open(f.id)
                if show == "open" and not is_open or show == "settled" and is_open:
                    continue
                items.append(Item(sha256=sha, name=rv.record.document.name, fid=f.id, finding=f, open=is_open,
                                  review=review))
        if cross is not None:
            items.extend(cross_items(cross, show, doc))
        return items

    def who(request: Request) -> str:
        return request.cookies.get("reviewer") or fallback_reviewer

    def render_queue(request: Request, *, show: str, doc: str | None, sel_doc: str | None, sel_id: str | None,
                     error: str | None = None, msg: str | None = None, form: dict[str, Any] | None = None,
                     status_code: int = 200) -> HTMLResponse:
        if show not in SHOWS:
            show = "open"
        with store() as st:
            reviewed = all_reviewed(st)
            cross = cross_of(st, reviewed)
            stale = sum(len(rv.stale) for rv in reviewed) + len(cross.stale)
        items = queue_items(reviewed, show, doc, cross)
        idx = 0
        for i, it in enumerate(items):
            if it.sha256 == sel_doc and it.fid == sel_id:
                idx = i
                break
        else:
            if sel_doc and sel_id and items:  # the selected item left this list (just settled): keep the place
                order = [(rv.original.document.sha256, f.id) for rv in reviewed for f in rv.record.findings]
                order += [(pair_key(f), f.id) for f in cross.findings]
                idx = min(_position(items, order, sel_doc, sel_id), len(items) - 1)
        sel = items[idx] if items else None
        page: DocPage | None = None
        fv: FindingView | None = None
        n = 0
        xv: Any = None
        hints: list[Any] = []
        if sel is not None and sel.cross is not None:
            f = sel.cross
            records = {rv.record.document.sha256: rv.record for rv in reviewed}
            ra, rb = records.get(f.prev.sha256), records.get(f.next.sha256)
            xv = cross_view(f, ra, rb, sources, lambda r: f"/doc/{r.document.sha256}")
            if f.explained_by and f.open:
                hints = explanation_hints(f, _documents(ra, rb))
        elif sel is not None:
            rv = next(r for r in reviewed if r.original.document.sha256 == sel.sha256)
            page = build_page(rv, sources.get(rv))
            for i, v in enumerate(page.findings, 1):
                if v.f.id == sel.fid:
                    fv, n = v, i
                    break
        cross_open = cross.open()
        counts = {"open": sum(len(rv.open) for rv in reviewed) + len(cross_open),
                  "settled": sum(len(rv.settled) for rv in reviewed) + len(cross.settled()),
                  # one question per cause: the open findings' groups
                  "questions": sum(len({group_key(f) for f in rv.open}) for rv in reviewed)
                  + len({group_key(f) for f in cross_open}),
                  "crossyear_open": len(cross_open)}
        group: list[Any] = []
        if sel is not None and sel.open and sel.cross is not None:
            group = [f for f in cross_open if group_key(f) == group_key(sel.cross)]
        elif sel is not None and sel.open:
            rv = next(r for r in reviewed if r.original.document.sha256 == sel.sha256)
            group = [f for f in rv.open if group_key(f) == group_key(sel.finding)]
        counts["all"] = counts["open"] + counts["settled"]
        accepted = sum(1 for rv in reviewed if rv.record.decision == "accepted")
        tpl = env.get_template("queue.html")
        html = tpl.render(
            items=items, sel=sel, idx=idx, show=show, doc=doc, page=page, fv=fv, n=n, error=error, msg=msg,
            prev=items[idx - 1].href(show, doc) if sel is not None and idx > 0 else None,
            next=items[idx + 1].href(show, doc) if sel is not None and idx + 1 < len(items) else None,
            next_item=(items[idx + 1] if sel is not None and idx + 1 < len(items) else None),
            reviewer=(form or {}).get("reviewer") or who(request), form=form or {}, counts=counts,
            documents=len(reviewed), accepted=accepted, stale=stale, db=str(db_path), csrf=request.state.csrf,
            group=group, group_key=group_key, xv=xv, hints=hints, action_labels=ACTION_LABELS, reading_rules=READING_RULES,
            series_href=(f"/series/{series_filename(sel.cross.body)}#y{sel.cross.next.year}"
                         if sel is not None and sel.cross is not None else None),
        )
        return HTMLResponse(html, status_code=status_code)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/queue", status_code=303)

    @app.get("/queue", response_class=HTMLResponse)
    def queue(request: Request, show: str = "open", doc: str | None = None, id: str | None = None,
              scope: str | None = None, msg: str | None = None) -> HTMLResponse:
        return render_queue(request, show=show, doc=scope or None, sel_doc=doc, sel_id=id, msg=msg)

    @app.post("/decide")
    def decide(
        request: Request,
        doc: str = Form(...), fid: str = Form(...), action: str = Form(...),
        reviewer: str = Form(""), comment: str = Form(""), cell: str = Form(""), value: str = Form(""),
        own: str = Form(""), accept_value: str = Form(""), show: str = Form("open"), scope: str = Form(""),
        csrf: str = Form(""),
    ) -> Response:
        refused = check_csrf(request, csrf)
        if refused is not None:
            return refused
        form = {"reviewer": reviewer, "comment": comment, "cell": cell, "value": value, "own": bool(own),
                "action": action}
        with store() as st:
            rec = st.record(doc)
            if rec is None:
                raise HTTPException(404, f"no document {doc}")
            rv = apply_reviews(rec, st.reviews(doc))
            sets_value = action == "correct" or action == "accept" and bool(accept_value)
            src = sources.get(rv) if sets_value and not own else None
            try:
                if action == "accept" and accept_value:
                    # a competing value passes the same source check as a correction
                    key, _, val = accept_value.partition("=")
                    kw = prepare_decision(rv, fid, action, reviewer=reviewer, comment=comment, cell=key or None,
                                          value=val, own=bool(own), doc=src.doc if src else None)
                elif action == "accept":
                    kw = prepare_decision(rv, fid, action, reviewer=reviewer, comment=comment)
                else:
                    kw = prepare_decision(rv, fid, action, reviewer=reviewer, comment=comment, cell=cell or None,
                                          value=value or None, own=bool(own), doc=src.doc if src else None)
            except DecisionError as exc:
                return render_queue(request, show=show, doc=scope or None, sel_doc=doc, sel_id=fid, error=str(exc),
                                    form=form, status_code=422)
            st.put_review(doc, fid, action, **kw)
        label = {"accept": "accepted", "correct": "corrected", "confirm_source": "source inconsistency confirmed"}
        q = {"show": show, "doc": doc, "id": fid, "msg": f"{label[action]}: {fid}"}
        if scope:
            q["scope"] = scope
        return _redirect_decided(reviewer, q)

    @app.post("/decide-group")
    def decide_group(
        request: Request,
        doc: str = Form(...), group: str = Form(...), action: str = Form(...),
        reviewer: str = Form(""), comment: str = Form(""), fid: str = Form(""), show: str = Form("open"),
        scope: str = Form(""), csrf: str = Form(""),
    ) -> Response:
        """Settle every open finding of one question (a group, see verify/groups.py) at once: accept
        them as extracted, or confirm that the published report itself is inconsistent. Each finding
        gets its own decision (same checks as one by one); nothing is stored unless all pass."""
        refused = check_csrf(request, csrf)
        if refused is not None:
            return refused
        form = {"reviewer": reviewer, "comment": comment, "action": action}
        if action not in GROUP_ACTIONS:
            return render_queue(request, show=show, doc=scope or None, sel_doc=doc, sel_id=fid or None,
                                error=f"a question is settled at once only by {' or '.join(GROUP_ACTIONS)}",
                                form=form, status_code=422)
        with store() as st:
            rec = st.record(doc)
            if rec is None:
                raise HTTPException(404, f"no document {doc}")
            rv = apply_reviews(rec, st.reviews(doc))
            members = [f for f in rv.open if group_key(f) == group]
            if not members:
                return render_queue(request, show=show, doc=scope or None, sel_doc=doc, sel_id=fid or None,
                                    error=f"no open finding in question {group!r}", form=form, status_code=422)
            try:
                decisions = [(f.id, prepare_decision(rv, f.id, action, reviewer=reviewer, comment=comment))
                             for f in members]
            except DecisionError as exc:
                return render_queue(request, show=show, doc=scope or None, sel_doc=doc, sel_id=fid or None,
                                    error=str(exc), form=form, status_code=422)
            for finding_id, kw in decisions:
                st.put_review(doc, finding_id, action, **kw)
        label = {"accept": "accepted", "confirm_source": "source inconsistency confirmed"}
        q = {"show": show, "doc": doc, "id": fid or members[0].id,
             "msg": f"{label[action]}: {len(members)} finding(s) of one question ({group})"}
        if scope:
            q["scope"] = scope
        resp = RedirectResponse("/queue?" + urlencode(q), status_code=303)
        resp.set_cookie("reviewer", reviewer.strip(), max_age=3600 * 24 * 365, samesite="strict")
        return resp

    @app.post("/reopen")
    def reopen(request: Request, doc: str = Form(...), fid: str = Form(...), reviewer: str = Form(""),
               show: str = Form("open"), csrf: str = Form("")) -> Response:
        refused = check_csrf(request, csrf)
        if refused is not None:
            return refused
        with store() as st:
            st.delete_review(doc, fid, reviewer=reviewer or who(request))
        return RedirectResponse("/queue?" + urlencode({"show": show, "doc": doc, "id": fid, "msg": f"reopened: {fid}"}),
                                status_code=303)


    def _redirect_decided(reviewer: str, q: dict[str, str]) -> Response:
        resp = RedirectResponse("/queue?" + urlencode(q), status_code=303)
        resp.set_cookie("reviewer", reviewer.strip(), max_age=3600 * 24 * 365, samesite="strict")
        return resp

    @app.post("/decide-crossyear")
    def decide_crossyear(
        request: Request,
        prev: str = Form(...), next: str = Form(...), fid: str = Form(...), action: str = Form(...),
        reviewer: str = Form(""), comment: str = Form(""), quote: str = Form(""), show: str = Form("open"),
        scope: str = Form(""), csrf: str = Form(""), group: str = "",
    ) -> Response:
        """Decide a cross-year finding (or, with ``?group=1``, every open finding of its question):
        accept, confirm a source inconsistency, or explained by the report (the rule says which)."""
        refused = check_csrf(request, csrf)
        if refused is not None:
            return refused
        key = f"{prev}..{next}"
        form = {"reviewer": reviewer, "comment": comment, "quote": quote, "action": action}

        def again(error: str) -> Response:
            return render_queue(request, show=show, doc=scope or None, sel_doc=key, sel_id=fid, error=error,
                                form=form, status_code=422)

        with store() as st:
            reviewed = all_reviewed(st)
            cross = cross_of(st, reviewed)
            f = next_(x for x in cross.findings if x.key == (prev, next, fid))
            if f is None:
                raise HTTPException(404, f"no cross-year finding {fid} between {prev[:12]} and {next[:12]}")
            members = [f]
            if group:
                if action not in GROUP_ACTIONS:
                    return again(f"a question is settled at once only by {' or '.join(GROUP_ACTIONS)}")
                members = [x for x in cross.open() if group_key(x) == group_key(f)] or [f]
            docs: dict[str, Any] = {}
            if quote.strip():
                records = {rv.record.document.sha256: rv.record for rv in reviewed}
                docs = _documents(records.get(prev), records.get(next))
            try:
                decisions = [(x, prepare_cross_decision(x, action, reviewer=reviewer, comment=comment, quote=quote,
                                                        documents=docs)) for x in members]
            except DecisionError as exc:
                return again(str(exc))
            for x, kw in decisions:
                st.put_crossyear_review(x.prev.sha256, x.next.sha256, x.id, action, **kw)
        what = f"{len(members)} cross-year finding(s) of one question" if group else fid
        q = {"show": show, "doc": key, "id": fid, "msg": f"{ACTION_LABELS.get(action, action)}: {what}"}
        if scope:
            q["scope"] = scope
        return _redirect_decided(reviewer, q)

    @app.post("/reopen-crossyear")
    def reopen_crossyear(request: Request, prev: str = Form(...), next: str = Form(...), fid: str = Form(...),
                         reviewer: str = Form(""), show: str = Form("open"), csrf: str = Form("")) -> Response:
        refused = check_csrf(request, csrf)
        if refused is not None:
            return refused
        with store() as st:
            st.delete_crossyear_review(prev, next, fid, reviewer=reviewer or who(request))
        return RedirectResponse("/queue?" + urlencode({"show": show, "doc": f"{prev}..{next}", "id": fid,
                                                       "msg": f"reopened: {fid}"}), status_code=303)

    def _documents(ra: Record | None, rb: Record | None) -> dict[str, Any]:
        """The two reports' loaded documents ("N", "N+1"), None where the file is not available."""
        return {"N": sources.get(ra).doc if ra is not None else None,
                "N+1": sources.get(rb).doc if rb is not None else None}

    @app.get("/doc/{sha256}", response_class=HTMLResponse)
    def document(sha256: str) -> HTMLResponse:
        with store() as st:
            rec = st.record(sha256)
            if rec is None:
                raise HTTPException(404, f"no document {sha256}")
            rv = apply_reviews(rec, st.reviews(sha256))
        page = build_page(rv, sources.get(rv))
        return HTMLResponse(render_document(
            page, env=env, index_href="/report", index_label="all documents", review_base="/queue?",
            extra_links=[("/queue?" + urlencode({"scope": sha256}), "this document's queue"), ("/queue", "review queue")],
        ))

    @app.get("/report", response_class=HTMLResponse)
    def report() -> HTMLResponse:
        with store() as st:
            return HTMLResponse(render_index(st, env=env, href=lambda r: f"/doc/{r.document.sha256}",
                                             series_href=lambda body: f"/series/{series_filename(body)}"))

    @app.get("/series/{name}", response_class=HTMLResponse)
    def series(name: str) -> HTMLResponse:
        """A body's reports across years: each cross-year finding with both source passages side by side."""
        with store() as st:
            html = render_series(st, name, env=env, doc_href=lambda r: f"/doc/{r.document.sha256}",
                                 index_href="/report", sources=sources,
                                 review_href=lambda f: "/queue?" + urlencode({"show": "all", "doc": pair_key(f),
                                                                              "id": f.id}))
        if html is None:
            raise HTTPException(404, f"no series {name}")
        return HTMLResponse(html)

    @app.get("/api/queue")
    def api_queue(show: str = "open") -> JSONResponse:
        with store() as st:
            reviewed = all_reviewed(st)
            items = queue_items(reviewed, show if show in SHOWS else "open", None, cross_of(st, reviewed))
        return JSONResponse([{"sha256": i.sha256, "document": i.name, "id": i.fid, "rule": i.finding.rule,
                              "status": i.finding.status, "classification": i.finding.classification,
                              "arithmetic": i.finding.arithmetic, "open": i.open,
                              **({"crossyear": True, "sha256_n": i.cross.prev.sha256, "sha256_n1": i.cross.next.sha256,
                                  "review": i.review} if i.cross is not None else
                                 {"review": None if i.review is None else i.review.summary()})} for i in items])

    @app.get("/export.{fmt}")
    def export(fmt: str) -> FileResponse:
        if fmt not in EXPORT_FORMATS:
            raise HTTPException(404, f"unknown format {fmt}")
        out = Path(tempfile.mkdtemp(prefix="extractor-export-")) / f"accepted.{fmt}"
        with store() as st:
            export_records(st, fmt, out)
        return FileResponse(out, filename=out.name)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok", "db": str(db_path)}

    return app


def _same_origin(url: str, own: str) -> bool:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() == own


def next_(it: Any) -> Any:
    """The first item of an iterator, None when it is empty."""
    return next(iter(it), None)


def _position(items: list[Item], keys: list[tuple[str, str]], sha: str, fid: str) -> int:
    """Where (sha, fid) would sit in ``items``: the index of the first item after it in queue order
    (``keys``: every finding's (document or pair, id), in order)."""
    order: dict[tuple[str, str], int] = {}
    for k in keys:
        order.setdefault(k, len(order))
    target = order.get((sha, fid), 0)
    for i, it in enumerate(items):
        if order.get((it.sha256, it.fid), 0) > target:
            return i
    return len(items) - 1
