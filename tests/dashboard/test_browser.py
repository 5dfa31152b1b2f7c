"""The dashboard in a real headless Chromium: every page renders its content, and a caption
written as an HTML injection shows as text without running.

Install Chromium with ``apt-get install -y chromium`` (Debian/Ubuntu); the test is skipped
without it. Screenshots go to the test's temporary folder and to /tmp/neco-screens.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neco import dashboard as dash

from .browser import Browser, find_chromium, serve_dashboard

CHROMIUM = find_chromium()
SCREENS = Path("/tmp/neco-screens")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no Chromium binary found (apt-get install -y chromium)"
    ),
]

# (path, strings that must be rendered on the page)
PAGES = [
    # A link straight to a page first, in a fresh session: it must run inside the app.
    ("concordance?term=onerror", ["1 line in 1 caption", "<img src=x", "Collocates"]),
    ("", ["Corpus", "forum 5", "museum 5", "prompts 5", "Rejected rows", "Item sample"]),
    ("vocabularies", ["Term frequencies", "Distinctive terms", "Source: the stored table"]),
    ("graphs", ["Showing", "pruned", "Nodes"]),
    (
        "survival",
        [
            "Stage neural.text",
            f"Stage neural.latents — {dash.MECHANICS_LABEL}",
            "fewer than 3 sampled captions have a semantic neighbour",
            "Words cut off at 77 tokens",
        ],
    ),
    ("runs", ["Cite this state", "social.relations skipped", "sha256"]),
]
# The navigation of the app (titles), which a page run on its own would not show.
NAVIGATION = ["Corpus", "Vocabularies", "Concordance", "Graphs", "Survival", "Runs"]


def test_browser_every_page_renders_and_no_injected_script_runs(
    workspace: Path, tmp_path: Path
) -> None:
    assert CHROMIUM is not None
    shots = tmp_path / "screens"
    shots.mkdir()
    with serve_dashboard(workspace) as address:
        browser = Browser(CHROMIUM)
        try:
            for path, expected in PAGES:
                text = browser.open(f"{address}/{path}", expected + NAVIGATION)
                assert "Traceback" not in text and "Error" not in text.split("\n")[0]
                name = path.split("?")[0] or "corpus"
                if name == "vocabularies":
                    # From a distinctive term to its concordance: a point of the chart ...
                    browser.click_mark("term: carve;", "community: museum;")
                    browser.wait_for(["4 lines of “carve”", "Open the full concordance"])
                    # ... or a row of the table (forum's most distinctive term).
                    browser.click_table_row(0, row=0)
                    browser.wait_for(["lines of “harbour”"])
                if name == "survival":
                    # From a ledger value to the captions behind it.
                    browser.click_mark("community: museum", "metric: mutual_knn")
                    browser.wait_for(["Captions behind neural.text / museum"])
                browser.screenshot(shots / f"{name}.png")
                # The injection caption is on the concordance page as text ...
                if name == "concordance":
                    assert INJECTION_TEXT in text
                # ... and never became an element or ran.
                assert browser.evaluate("document.querySelectorAll('img[src=\"x\"]').length") == 0
                assert browser.evaluate("window.__xss") is False, name
            assert browser.dialogs() == []
        finally:
            browser.close()
    assert sorted(p.name for p in shots.iterdir()) == sorted(
        f"{(p.split('?')[0] or 'corpus')}.png" for p, _ in PAGES
    )
    SCREENS.mkdir(exist_ok=True)
    for shot in shots.iterdir():
        shutil.copy(shot, SCREENS / shot.name)


INJECTION_TEXT = "<img src=x  onerror  =alert(1)>"  # the KWIC line, aligned on the match
