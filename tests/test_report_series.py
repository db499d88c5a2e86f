"""The report's series view: the index lines up a body's years; a body page shows both passages."""

from __future__ import annotations

import re

from extractor.batch import run_batch
from extractor.report import build_report
from extractor.store import Store
from series_fixture import national_series


def test_series_index_and_body_page_show_the_break_with_both_source_passages(tmp_path):
    files = national_series(tmp_path / "in", [2022, 2023, 2024], breaks={2024: {"carry_over"}})
    with Store(tmp_path / "out" / "extractor.db") as store:
        run_batch([p for p, _ in files], store)
    written = build_report(tmp_path / "out" / "extractor.db", tmp_path / "report")
    index = (tmp_path / "report" / "index.html").read_text(encoding="utf-8")
    assert "Series across years" in index and "云州市青禾县人民政府" in index
    assert re.search(r'<th class="yr">2022</th><th class="yr">2023</th><th class="yr">2024</th>', index)
    page = next(p for p in written if p.name.startswith("series-"))
    html = page.read_text(encoding="utf-8")
    art = html[html.index('<article class="finding xfinding'):]
    art = art[: art.index("</article>")]
    assert "X.CARRY_OVER@1" in art and "column total" in html
    cf = files[1][1]["table3"]["carried_forward"]["total"]
    co = files[2][1]["table3"]["carried_over"]["total"]
    left, right = art.split('<div class="side">')[1:3]
    assert "N · 2023" in left and f"<mark>{cf}</mark>" in left and "report_2023.txt" in left
    assert "N+1 · 2024" in right and f"<mark>{co}</mark>" in right and "report_2024.txt" in right


def test_review_app_serves_the_series_page_linked_from_its_report(tmp_path):
    pytest = __import__("pytest")
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from extractor.review.app import create_review_app

    files = national_series(tmp_path / "in", [2022, 2023], breaks={2023: {"in_force"}})
    db = tmp_path / "out" / "extractor.db"
    with Store(db) as store:
        run_batch([p for p, _ in files], store)
    client = TestClient(create_review_app(db, reviewer="qa"), base_url="http://127.0.0.1:8765")  # loopback Host only
    index = client.get("/report").text
    href = re.search(r'href="(/series/series-[^"#]+)"', index).group(1)
    page = client.get(href)
    assert page.status_code == 200
    assert "X.IN_FORCE@1" in page.text and "reviewer&#39;s question" in page.text
    assert page.text.count('<div class="side">') == 2 and 'href="/doc/' in page.text
    assert client.get("/series/series-nobody-00000000.html").status_code == 404
