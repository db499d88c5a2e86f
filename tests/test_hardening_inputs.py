"""One bad input never stops a batch, a stage failing on a page degrades that page only, and every
document stays within its budgets (issue #12). Every bad input is made here, at test time.

Each test failed before the fix: a Chromium-printed PDF (a slanted line or a rounded corner) failed
whole with ``KeyError: None`` from pdfplumber's edge merge; a file name that is not UTF-8 stopped the
batch with ``UnicodeEncodeError``; blank pages were OCR'd one by one; there was no OCR page, PDF
page, DOCX XML or time budget. The last test runs all of them together with good documents.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import pdfmake
from extractor.batch import discover, run_batch
from extractor.loaders import load_bytes
from extractor.store import Store
from fakereport import report_bytes, report_html
from outputs import output_lines, output_text

CHROMIUM = "/usr/bin/chromium"


# --- PDF: a stage failing on one page degrades that page ------------------------------------------


def chromium_pdf(html: str, folder: Path) -> bytes:
    """Print ``html`` to PDF with headless Chromium (skips when it is missing or cannot print here)."""
    if not (os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is not installed: cannot print a PDF with Chromium")
    src, out = folder / "page.html", folder / "page.pdf"
    src.write_text(html, encoding="utf-8")
    try:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                        f"--print-to-pdf={out}", src.as_uri()], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"Chromium could not print here: {exc}")
    if not out.exists() or out.stat().st_size == 0:
        pytest.skip("Chromium printed nothing here (no display libraries?)")
    return out.read_bytes()


SLANTED = ('<div style="width:220px;height:40px;border:2px solid #000;border-radius:12px">说明</div>'
           '<svg width="160" height="40"><line x1="0" y1="0" x2="160" y2="40" stroke="black"/></svg>')


def test_chromium_printed_report_with_slanted_lines_reads_whole(tmp_path):
    """The report's HTML printed by Chromium with a rounded box and a slanted line (curves whose
    segments have no orientation): every table is read, nothing is degraded."""
    html = report_html(0, charset="utf-8").replace("<body>", "<body>" + SLANTED, 1)
    raw = chromium_pdf(html, tmp_path)
    doc = load_bytes(raw, "printed.pdf")
    assert not doc.problems, doc.problems
    from extractor.pipeline import extract_document

    rec = extract_document(doc)
    assert rec.decision == "accepted", rec.reasons
    assert set(rec.tables) >= {"table2", "table3", "table4"}


def test_a_slanted_path_never_reaches_the_edge_merge():
    """The same failure without Chromium: a hand-made PDF whose ruled table has a slanted path."""
    page = (pdfmake.text(72, 740, "Table one") + pdfmake.ruled_table(72, 720, [["1", "2", "3"], ["4", "5", "6"]])
            + pdfmake.diagonal(72, 720, 110, 700, 142, 720))
    doc = load_bytes(pdfmake.pdf([page]), "slanted.pdf")
    assert "1 | 2 | 3 |\n4 | 5 | 6 |" in doc.text
    assert not doc.problems


def two_table_pages() -> bytes:
    return pdfmake.pdf([
        pdfmake.text(72, 740, "Table one") + pdfmake.ruled_table(72, 720, [["1", "2", "3"], ["4", "5", "6"]]),
        pdfmake.text(72, 740, "Table two") + pdfmake.ruled_table(72, 720, [["7", "8", "9"], ["10", "11", "12"]]),
    ])


def test_a_stage_failing_on_one_page_degrades_that_page_only(monkeypatch):
    from extractor.loaders import pdf as pdf_loader
    from extractor.pipeline import extract_document

    real = pdf_loader._page_tables

    def fails_on_page_2(page):
        if page.page_number == 2:
            raise KeyError(None)  # what pdfplumber's edge merge raised
        return real(page)

    monkeypatch.setattr(pdf_loader, "_page_tables", fails_on_page_2)
    doc = load_bytes(two_table_pages(), "two.pdf")
    assert "1 | 2 | 3 |" in doc.text  # page 1: the grid
    page2 = doc.text[doc.text.index("Table two"):]
    assert "7" in page2 and "12" in page2 and "|" not in page2  # page 2: its text, without the grid
    assert any(n.startswith("page 2: table grid detection failed") and "KeyError" in n for n in doc.notes)
    rec = extract_document(doc)
    f = next(f for f in rec.findings if f.rule == "D.PAGE_DEGRADED")
    assert f.id == "D.PAGE_DEGRADED:page 2" and f.status == "UNCERTAIN" and "KeyError" in f.message
    assert rec.decision == "needs_review"


def test_a_page_whose_characters_cannot_be_read_is_left_out_not_the_document(monkeypatch):
    from extractor.loaders import pdf as pdf_loader

    real = pdf_loader._page_glyphs
    monkeypatch.setattr(pdf_loader, "_page_glyphs",
                        lambda page: (_ for _ in ()).throw(ValueError("bad font")) if page.page_number == 1
                        else real(page))
    doc = load_bytes(two_table_pages(), "two.pdf")
    assert "7 | 8 | 9 |" in doc.text and "Table one" not in doc.text
    assert [p["scope"] for p in doc.problems] == ["page 1"]


# --- budgets: pages, OCR pages, DOCX XML, time -----------------------------------------------------


@pytest.fixture
def ocr_calls(monkeypatch):
    """Count OCR calls; the stand-in writes one line of text per page it is given."""
    from extractor.loaders import ocr

    calls: list[int] = []

    def fake(w, image, page, *, points_per_pixel, dpi_known=True):
        calls.append(page)
        w.newline()
        w.put(f"OCR page {page} 12")
        w.newline()

    monkeypatch.setattr(ocr, "ocr_page_into", fake)
    return calls


def test_blank_pages_are_never_ocrd(ocr_calls):
    """A ~100 KB PDF of 500 blank pages: nothing is OCR'd, the document fails at once, saying why."""
    raw = pdfmake.pdf([b""] * 500)
    t = time.monotonic()
    with pytest.raises(Exception) as e:
        load_bytes(raw, "blank.pdf")
    assert ocr_calls == []
    assert "all 500 page(s) are blank" in str(e.value)
    assert time.monotonic() - t < 60


def test_a_page_whose_image_is_white_is_not_given_to_the_ocr_engine(monkeypatch):
    """Not blank by its objects (a full-page image) but blank once rendered: no OCR engine call."""
    pytest.importorskip("cv2", reason="the OCR extra (opencv) is not installed")
    from extractor.loaders import ocr

    monkeypatch.setattr(ocr, "engine", lambda: (_ for _ in ()).throw(AssertionError("OCR engine called")))
    raw = pdfmake.pdf([pdfmake.full_page_image()], image=(8, 8, b"\xff" * 64))
    with pytest.raises(Exception) as e:
        load_bytes(raw, "white-scan.pdf")
    assert "no text" in str(e.value) and "OCR engine called" not in str(e.value)


def test_ocr_page_budget_reads_the_first_pages_and_says_which_were_left(ocr_calls, monkeypatch):
    monkeypatch.setenv("EXTRACTOR_MAX_OCR_PAGES", "2")
    raw = pdfmake.pdf([pdfmake.full_page_image()] * 5, image=(8, 8, bytes(range(0, 256, 4))))
    doc = load_bytes(raw, "scan.pdf")
    assert ocr_calls == [1, 2]
    (p,) = doc.problems
    assert p["rule"] == "D.BUDGET" and "3-5" in p["message"] and "EXTRACTOR_MAX_OCR_PAGES" in p["message"]
    from extractor.pipeline import extract_document

    rec = extract_document(doc)
    assert any(f.rule == "D.BUDGET" for f in rec.findings) and rec.decision == "needs_review"


def test_ocr_page_budget_holds_for_a_multi_page_image(ocr_calls, monkeypatch):
    import io

    from PIL import Image

    monkeypatch.setenv("EXTRACTOR_MAX_OCR_PAGES", "2")
    frames = [Image.new("L", (200, 280), 40 * k) for k in range(4)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    doc = load_bytes(buf.getvalue(), "scan.tif")
    assert ocr_calls == [1, 2]
    assert [p["rule"] for p in doc.problems] == ["D.BUDGET"]


def test_pdf_page_budget_refuses_a_longer_pdf(monkeypatch):
    monkeypatch.setenv("EXTRACTOR_MAX_PAGES", "3")
    with pytest.raises(Exception) as e:
        load_bytes(pdfmake.pdf([pdfmake.text(72, 700, f"page {k}") for k in range(5)]), "five.pdf")
    assert "page budget" in str(e.value) and "5 pages" in str(e.value) and "EXTRACTOR_MAX_PAGES" in str(e.value)


def big_xml_docx(path: Path, mb: float) -> Path:
    """A DOCX whose document.xml is ``mb`` MB of varied paragraphs (compresses ~10x, no zip-bomb ratio)."""
    rnd = random.Random(5)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                   'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
                   'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
                   '"/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.'
                   'document.main+xml"/></Types>')
        z.writestr("_rels/.rels",
                   '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
                   'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>')
        with z.open("word/document.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org'
                     b'/wordprocessingml/2006/main"><w:body>')
            written = 0
            while written < mb * 1024 * 1024:
                p = f"<w:p><w:r><w:t>收到申请{rnd.randrange(10**9)}件，公开{rnd.randrange(10**6)}件</w:t></w:r></w:p>"
                chunk = (p * 50).encode()
                fh.write(chunk)
                written += len(chunk)
            fh.write(b"</w:body></w:document>")
    return path


def test_docx_xml_budget_refuses_before_parsing(tmp_path, monkeypatch):
    f = big_xml_docx(tmp_path / "big.docx", 2)
    assert "收到申请" in load_bytes(f.read_bytes(), f.name).text  # a valid DOCX, read within the default budget
    monkeypatch.setenv("EXTRACTOR_MAX_DOCX_XML", str(1024 * 1024))
    with pytest.raises(Exception) as e:
        load_bytes(f.read_bytes(), f.name)
    assert "DOCX budget" in str(e.value) and "EXTRACTOR_MAX_DOCX_XML" in str(e.value)


def test_default_docx_budget_holds_against_a_huge_xml(tmp_path):
    """12 MB of XML (about 400 MB once parsed) from a ~1 MB file: refused by the default budget."""
    f = big_xml_docx(tmp_path / "huge.docx", 12)
    with pytest.raises(Exception) as e:
        load_bytes(f.read_bytes(), f.name)
    assert "DOCX budget" in str(e.value)


@pytest.fixture
def runaway(monkeypatch):
    """Documents named ``runaway*`` spin in the narrative checks for up to 30 s (stands for a check
    that does not scale); the time budget must stop them cleanly, and nothing else."""
    import extractor.pipeline as pipeline

    real = pipeline.check_narrative

    def spin(doc, layout, record):
        if doc.name.startswith("runaway"):
            end = time.monotonic() + 30
            n = 0
            while time.monotonic() < end:
                n += 1
        return real(doc, layout, record)

    monkeypatch.setattr(pipeline, "check_narrative", spin)


def test_the_time_budget_stops_a_runaway_document_and_the_batch_goes_on(tmp_path, runaway, monkeypatch):
    monkeypatch.setenv("EXTRACTOR_DOC_SECONDS", "1.5")
    d = tmp_path / "in"
    d.mkdir()
    (d / "runaway.html").write_bytes(report_bytes(1))
    (d / "zz-good.html").write_bytes(report_bytes(2))
    t = time.monotonic()
    with Store(tmp_path / "out" / "extractor.db") as st:
        res = run_batch(discover([d]), st)
        recs = {r.document.name: r for r in st.records()}
    assert time.monotonic() - t < 20
    bad = recs["runaway.html"]
    assert bad.decision == "failed" and bad.error.startswith("time budget exceeded: more than 1.5 s")
    assert "--doc-timeout" in bad.error
    assert recs["zz-good.html"].decision == "accepted" and res.processed == 2


def test_doc_timeout_option_sets_the_budget(tmp_path, runaway, monkeypatch):
    from extractor.cli import app

    monkeypatch.setenv("EXTRACTOR_DOC_SECONDS", "600")  # the option overrides it (and teardown restores it)
    d = tmp_path / "in"
    d.mkdir()
    (d / "runaway.html").write_bytes(report_bytes(3))
    r = CliRunner().invoke(app, ["run", str(d), "--out", str(tmp_path / "o"), "--llm", "off", "--doc-timeout", "1"])
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "o" / "extractor.db") as st:
        (rec,) = list(st.records())
    assert rec.error.startswith("time budget exceeded: more than 1 s")


# --- batch killers -------------------------------------------------------------------------------


def non_utf8_name(folder: Path, data: bytes) -> Path | None:
    """A file whose name is not valid UTF-8 (bytes 0xff 0xfe), or None where the filesystem refuses it."""
    raw = os.fsencode(folder) + b"/report-\xff\xfe.html"
    try:
        with open(raw, "wb") as fh:
            fh.write(data)
    except OSError:
        return None
    return Path(os.fsdecode(raw))


def test_a_file_name_that_is_not_utf8_is_read_and_saved(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    f = non_utf8_name(d, report_bytes(4))
    if f is None:
        pytest.skip("this filesystem refuses file names that are not UTF-8")
    (d / "zz-good.html").write_bytes(report_bytes(5))
    with Store(tmp_path / "out" / "extractor.db") as st:
        res = run_batch(discover([d]), st)
        paths = st.write_outputs(tmp_path / "out")
        recs = {r.document.name: r for r in st.records()}
    assert res.processed == 2
    assert recs["report-\\xff\\xfe.html"].decision == "accepted"
    assert recs["zz-good.html"].decision == "accepted"
    assert "report-\\\\xff\\\\xfe.html" in output_text(paths["records"].parent, "records.jsonl")


# --- everything together -------------------------------------------------------------------------


def test_a_batch_of_every_bad_input_finishes_with_one_line_each_and_good_documents_intact(
        tmp_path, runaway, monkeypatch):
    from localhttp import LocalServer
    from test_bad_inputs import bad_inputs

    from extractor.cli import app

    good = tmp_path / "good"
    good.mkdir()
    for k in range(3):
        (good / f"good-{k}.html").write_bytes(report_bytes(20 + k))
    for ex in sorted(Path(__file__).resolve().parent.parent.joinpath("examples").glob("example_*"))[:3]:
        shutil.copy(ex, good / ex.name)
    (good / "slanted.pdf").write_bytes(pdfmake.pdf([
        pdfmake.text(72, 740, "Table one") + pdfmake.ruled_table(72, 720, [["1", "2"], ["3", "4"]])
        + pdfmake.diagonal(72, 720, 100, 705, 130, 720)]))
    weird = non_utf8_name(good, report_bytes(23))

    # the good documents alone: what every one of them must still be after the hostile batch
    alone = tmp_path / "alone"
    assert CliRunner().invoke(app, ["run", str(good), "--out", str(alone), "--llm", "off"]).exit_code == 0
    with Store(alone / "extractor.db") as st:
        expected = {r.document.sha256: r for r in st.records()}

    bad = tmp_path / "bad"
    bad_files = bad_inputs(bad)  # truncated/zero/garbage PDFs, binary text, 200 MB sparse file, zip bomb, ...
    (bad / "blank-500.pdf").write_bytes(pdfmake.pdf([b""] * 500))
    big_xml_docx(bad / "huge-xml.docx", 12)
    (bad / "runaway.html").write_bytes(report_bytes(30))
    (bad / "degraded.pdf").write_bytes(b"%PDF-1.7\n" + os.urandom(300) + b"\n%%EOF\n")

    server = LocalServer().start()
    server.trickle_seconds = 20
    try:
        urls = [server.route("/to-data", b"", status=302, headers={"Location": "data:text/html,x"}),
                server.route("/to-js", b"", status=302, headers={"Location": "javascript:alert(1)"}),
                server.url("/trickle-headers"), server.url("/trickle-body"), server.url("/gzip2-bomb"),
                server.url("/missing.pdf")]
        monkeypatch.setenv("EXTRACTOR_DOC_SECONDS", "3")
        monkeypatch.setenv("EXTRACTOR_FETCH_SECONDS", "2")
        out = tmp_path / "out"
        t = time.monotonic()
        r = CliRunner().invoke(app, ["run", str(bad), str(good), *urls, "--out", str(out), "--llm", "off",
                                     "--allow-private"])
        took = time.monotonic() - t
    finally:
        server.stop()
    assert r.exit_code == 0, r.output
    assert "Traceback" not in r.output
    assert took < 240, f"the batch took {took:.0f} s"

    with Store(out / "extractor.db") as st:
        recs = list(st.records())
    failed = {(x.document.url or x.document.name): x for x in recs if x.decision == "failed"}
    want_failed = set(bad_files) | {"blank-500.pdf", "huge-xml.docx", "runaway.html", "degraded.pdf"} | set(urls)
    assert set(failed) == want_failed, set(failed) ^ want_failed
    for key, x in failed.items():  # one clear line each, saying what happened
        assert x.error and "\n" not in x.error and len(x.error) < 400 and "Traceback" not in x.error, (key, x.error)
    assert "all 500 page(s) are blank" in failed["blank-500.pdf"].error
    assert "DOCX budget" in failed["huge-xml.docx"].error
    assert failed["runaway.html"].error.startswith("time budget exceeded")
    assert "took too long" in failed[urls[2]].error and "took too long" in failed[urls[3]].error
    assert "too large" in failed[urls[4]].error
    # the summary prints one line per failed document (the first 20)
    printed = [ln for ln in r.output.splitlines() if ln.startswith("failed ")]
    assert len(printed) == min(20, len(want_failed))

    # every good document comes out exactly as when it ran alone
    got = {x.document.sha256: x for x in recs if x.document.sha256 in expected}
    assert set(got) == set(expected)
    for sha, want in expected.items():
        assert got[sha].decision == want.decision, want.document.name
        assert json.loads(got[sha].model_dump_json(include={"tables", "findings", "facts"})) == \
            json.loads(want.model_dump_json(include={"tables", "findings", "facts"})), want.document.name
    if weird is not None:
        assert any(x.document.name == "report-\\xff\\xfe.html" and x.decision == "accepted" for x in recs)
    lines = output_lines(out)
    assert len(lines) == len(recs)
