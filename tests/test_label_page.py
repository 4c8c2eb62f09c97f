"""The labelling page in a real headless Chromium (Debian's chromium; skipped with a message
where it is absent): label ten items with clicks and keys, reload (answers kept), export,
read the CSV back, import it into a fresh page."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from cdp import Browser, find_chromium
from test_labels import synthetic_scores

from hhalign.label_page import page
from hhalign.labels import read_labels, sample_items, sheet_table

EXE = find_chromium()
pytestmark = pytest.mark.skipif(
    EXE is None, reason="no Chromium on PATH (Debian: apt-get install chromium; .ci/run does)"
)


@pytest.fixture
def browser(tmp_path):
    b = Browser(EXE, tmp_path / "profile")
    yield b
    b.close()


def open_page(browser, url):
    browser.call("Page.enable")
    browser.call("Page.navigate", url=url)
    browser.wait("typeof ITEMS !== 'undefined' && document.readyState === 'complete'")


def test_label_reload_export_import(browser, tmp_path):
    sheet = sheet_table(sample_items(synthetic_scores(n=12), per_cell=6, seed=5))
    html = tmp_path / "sheet.html"
    html.write_text(page(sheet))
    open_page(browser, html.as_uri())
    assert browser.js("document.getElementById('progress').textContent") == "0 of 48 answered"
    expected = {}
    for i in range(10):
        item = int(sheet["item"].iloc[i])
        assert browser.js("document.getElementById('where').textContent") == f"item {i + 1} of 48"
        if i % 3 == 0:
            browser.click("#yes")
            expected[item] = "yes"
        elif i % 3 == 1:
            browser.key("n")
            expected[item] = "no"
        else:
            browser.key("u")
            expected[item] = "unsure"
        if i in (1, 4):
            browser.key("2")  # degenerate
        if i == 7:
            browser.click("#t_refusal")
        browser.key("ArrowRight") if i % 2 else browser.click("#next")
    assert browser.js("document.getElementById('progress').textContent") == "10 of 48 answered"
    # Chromium hands localStorage writes to its storage service asynchronously (a person is
    # slower than this test): a reload can come first on a loaded machine, so reload until
    # the answers are there (the page only writes when answered, so a reload loses nothing).
    for _ in range(10):
        time.sleep(1)
        browser.call("Page.reload")
        browser.wait("document.readyState === 'complete' && typeof ITEMS !== 'undefined'")
        if browser.js("document.getElementById('progress').textContent") != "0 of 48 answered":
            break
    assert browser.js("document.getElementById('progress').textContent") == "10 of 48 answered"
    shot = browser.call("Page.captureScreenshot", format="png")["data"]
    (tmp_path / "page.png").write_bytes(__import__("base64").b64decode(shot))
    if os.environ.get("HHALIGN_SCREENSHOT"):
        shutil.copy(tmp_path / "page.png", os.environ["HHALIGN_SCREENSHOT"])
    exported = tmp_path / "labels.csv"
    exported.write_text(browser.js("window.exportCSV()"))
    back = read_labels(str(exported))
    assert dict(zip(back["item"], back["answer"], strict=True)) == expected
    marked = back.set_index("item")
    items = sheet["item"].tolist()
    assert marked.loc[items[1], "degenerate"] == 1 and marked.loc[items[4], "degenerate"] == 1
    assert marked.loc[items[7], "refusal"] == 1 and marked["degenerate"].sum() == 2
    assert (marked["time"].str.len() > 0).all()
    assert (marked["check"] == sheet.set_index("item").loc[back["item"], "check"]).all()
    # a fresh browser state: import the half-done file through the page's file input
    browser.js("localStorage.clear()")
    browser.call("Page.reload")
    browser.wait("document.readyState === 'complete' && typeof ITEMS !== 'undefined'")
    assert browser.js("document.getElementById('progress').textContent") == "0 of 48 answered"
    node = browser.call(
        "DOM.querySelector",
        nodeId=browser.call("DOM.getDocument")["root"]["nodeId"],
        selector="#file",
    )
    browser.call("DOM.setFileInputFiles", files=[str(exported)], nodeId=node["nodeId"])
    browser.wait("document.getElementById('progress').textContent === '10 of 48 answered'")
    again = read_labels_text(browser.js("window.exportCSV()"), tmp_path)
    assert again.drop(columns="time").equals(back.drop(columns="time"))


def read_labels_text(text, tmp_path):
    path = tmp_path / "again.csv"
    path.write_text(text)
    return read_labels(str(path))
