"""The labelling page: one self-contained HTML file (no server, no network; it works from
``file://``) that shows the blind sample one item at a time, the dialogue and the response,
and keeps the answers in the browser's localStorage.

Per item: the question (harmless? / helpful?) answered yes, no or unsure, and a checkbox per
response type of the audit. Keys: y / n / u answer, 1-6 toggle the types, right arrow or j the
next item, left arrow or k the previous one, g the next unanswered one. Export downloads
``labels.csv`` (item, check, answer, the types, time: ``labels.read_labels`` reads it, and the
spreadsheet, identically); ``window.exportCSV()`` returns the same text (the browser test
reads it). Import reads a half-done labels file back in.
"""

from __future__ import annotations

import hashlib
import html
import json

import pandas as pd

from hhalign.responses import TYPES

NAMES = {
    "empty": "empty",
    "degenerate": "degenerate",
    "non_text": "non-text",
    "echo": "echo",
    "continues_dialogue": "continues dialogue",
    "refusal": "refusal",
}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:52em;margin:1em auto;padding:0 1em;color:#222}
header{display:flex;justify-content:space-between;align-items:center;gap:1em;flex-wrap:wrap}
pre{white-space:pre-wrap;word-wrap:break-word;background:#f4f4f4;padding:.6em;border-radius:4px}
#response{background:#eef4ff}
button{font-size:1em;margin:.2em;padding:.3em .8em}
button.on{background:#2a6;color:#fff}
label{margin-right:1em;white-space:nowrap}
.keys{color:#666;font-size:.85em}
"""

SCRIPT = r"""
const TYPES = __TYPES__;
const STORE = "hhalign-labels-" + __SAMPLE__;
let state = JSON.parse(localStorage.getItem(STORE) || "{}");
let at = 0;
function save() { localStorage.setItem(STORE, JSON.stringify(state)); }
function entry(item) {
  if (!state[item]) { state[item] = {answer: "", types: {}, time: ""}; }
  return state[item];
}
function done() { return ITEMS.filter(it => state[it.item] && state[it.item].answer).length; }
function show() {
  const it = ITEMS[at], e = state[it.item] || {answer: "", types: {}};
  document.getElementById("where").textContent = "item " + (at + 1) + " of " + ITEMS.length;
  document.getElementById("progress").textContent = done() + " of " + ITEMS.length + " answered";
  document.getElementById("question").textContent = it.question;
  document.getElementById("dialogue").textContent = it.dialogue;
  document.getElementById("response").textContent = it.response;
  for (const a of ["yes", "no", "unsure"]) {
    document.getElementById(a).className = e.answer === a ? "on" : "";
  }
  TYPES.forEach(t => { document.getElementById("t_" + t).checked = !!(e.types || {})[t]; });
}
function answer(a) {
  const e = entry(ITEMS[at].item); e.answer = a; e.time = new Date().toISOString();
  save(); show();
}
function toggle(t) {
  const e = entry(ITEMS[at].item); e.types[t] = !e.types[t]; e.time = new Date().toISOString();
  save(); show();
}
function go(step) { at = Math.min(ITEMS.length - 1, Math.max(0, at + step)); show(); }
function nextOpen() {
  for (let k = 1; k <= ITEMS.length; k++) {
    const j = (at + k) % ITEMS.length;
    if (!(state[ITEMS[j].item] || {}).answer) { at = j; break; }
  }
  show();
}
function cell(v) { v = String(v); return /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v; }
window.exportCSV = function () {
  const rows = [["item", "check", "answer", ...TYPES, "time"].join(",")];
  for (const it of ITEMS) {
    const e = state[it.item];
    if (!e) continue;
    rows.push([it.item, it.check, e.answer, ...TYPES.map(t => e.types[t] ? 1 : 0), e.time]
      .map(cell).join(","));
  }
  return rows.join("\n") + "\n";
};
function download() {
  const blob = new Blob([window.exportCSV()], {type: "text/csv"});
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob); a.download = "labels.csv";
  document.body.appendChild(a); a.click(); a.remove();
}
function parseCSV(text) {
  const rows = []; let row = [], v = "", q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { v += '"'; i++; }
      else if (c === '"') q = false;
      else v += c;
    }
    else if (c === '"') q = true;
    else if (c === ",") { row.push(v); v = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(v); rows.push(row); row = []; v = "";
    }
    else v += c;
  }
  if (v !== "" || row.length) { row.push(v); rows.push(row); }
  return rows;
}
window.importCSV = function (text) {
  const rows = parseCSV(text), head = rows.shift(), col = n => head.indexOf(n);
  let n = 0;
  for (const r of rows) {
    if (r.length < 2) continue;
    const types = {};
    const on = t => ["1", "true", "yes", "x"].includes((r[col(t)] || "").trim().toLowerCase());
    TYPES.forEach(t => { if (col(t) >= 0) types[t] = on(t); });
    state[r[col("item")]] = {answer: (r[col("answer")] || "").trim().toLowerCase(), types: types,
      time: col("time") >= 0 ? r[col("time")] : ""};
    n++;
  }
  save(); show(); return n;
};
document.addEventListener("keydown", ev => {
  if (ev.target.tagName === "INPUT" && ev.target.type === "file") return;
  const k = ev.key;
  if (k === "y") answer("yes");
  else if (k === "n") answer("no");
  else if (k === "u") answer("unsure");
  else if (k >= "1" && k <= String(TYPES.length)) toggle(TYPES[Number(k) - 1]);
  else if (k === "ArrowRight" || k === "j") go(1);
  else if (k === "ArrowLeft" || k === "k") go(-1);
  else if (k === "g") nextOpen();
  else return;
  ev.preventDefault();
});
document.getElementById("file").addEventListener("change", ev => {
  const f = ev.target.files[0]; if (!f) return;
  f.text().then(t => window.importCSV(t));
});
show();
"""


def item_records(sheet: pd.DataFrame) -> list[dict]:
    """The sheet's items as the page's records (item, check, question, dialogue, response)."""
    cols = ["item", "check", "question", "dialogue", "response"]
    return [
        {k: (int(v) if k == "item" else str(v)) for k, v in zip(cols, row, strict=True)}
        for row in sheet[cols].itertuples(index=False)
    ]


def controls() -> str:
    """The answer buttons, the type checkboxes and the key legend."""
    buttons = "".join(
        f'<button id="{a}" onclick="answer(\'{a}\')">{a} ({a[0]})</button>'
        for a in ("yes", "no", "unsure")
    )
    boxes = "".join(
        f'<label><input type="checkbox" id="t_{t}" onchange="toggle(\'{t}\')"> '
        f"{i}&nbsp;{NAMES[t]}</label>"
        for i, t in enumerate(TYPES, 1)
    )
    return (
        f'<p><b id="question"></b> {buttons}</p><p>{boxes}</p>'
        '<p><button id="prev" onclick="go(-1)">&larr; previous</button>'
        '<button id="next" onclick="go(1)">next &rarr;</button>'
        '<button id="open" onclick="nextOpen()">next unanswered (g)</button></p>'
        '<p class="keys">keys: y / n / u answer; 1-6 the types; &rarr; or j next, '
        "&larr; or k previous; g next unanswered</p>"
    )


def page(sheet: pd.DataFrame, title: str = "Label responses") -> str:
    """The labelling page of ``sheet`` (``labels.sheet_table``) as one HTML document."""
    records = item_records(sheet)
    data = json.dumps(records, ensure_ascii=False).replace("</", "<\\/")
    sample = hashlib.sha256(data.encode()).hexdigest()[:12]
    script = SCRIPT.replace("__TYPES__", json.dumps(list(TYPES))).replace(
        "__SAMPLE__", json.dumps(sample)
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1><span id='progress'></span></header>"
        "<p>Models are hidden and the order is shuffled. Answers stay in this browser "
        "(localStorage) until you export them.</p>"
        "<p><button id='export' onclick='download()'>export labels.csv</button> "
        "import a labels file: <input type='file' id='file' accept='.csv'></p>"
        "<h2 id='where'></h2><h3>Dialogue</h3><pre id='dialogue'></pre>"
        "<h3>Response</h3><pre id='response'></pre>"
        f"{controls()}"
        f"<script>const ITEMS = {data};</script><script>{script}</script></body></html>\n"
    )
