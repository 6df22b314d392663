"""The trace viewer in the page: its HTML skeleton, CSS and JavaScript (no library, no network).

The data (:func:`reasonlens.report.viewer.collect`) sits in one ``<script
type="application/json" id="rl-traces-data">`` element (escaped by
:func:`~reasonlens.report.tables.script_json`); the script below builds every element with
``textContent`` / ``createTextNode`` -- never ``innerHTML`` -- so no trace text can become markup.
``window.rlViewer.focus(datum)`` is what a click on a chart mark calls (``html.EMBED_JS``).
"""

from __future__ import annotations

from typing import Any

from reasonlens.report.tables import esc, script_json

# term background colours (light, readable under dark text) and behaviour underline colours
TERM_COLOURS = ("#ffe08a", "#b6e3ff", "#c8f0c0", "#ffc9d9", "#e2d4ff", "#ffd6a8", "#c9f2ef",
                "#f1e3c3", "#d9e8a8", "#f7c6f0")
BEHAVIOUR_COLOURS = ("#cf222e", "#8250df", "#1a7f37", "#bc4c00", "#0969da", "#6e7781")

CSS = """
#traces .rv-controls { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center;
  margin: 10px 0; font-size: 13px; }
#traces select { font: inherit; max-width: 260px; }
.rv-legend { display: flex; flex-wrap: wrap; gap: 6px 14px; font-size: 13px; margin: 6px 0 12px; }
.rv-legend label { cursor: pointer; } .rv-swatch { display: inline-block; width: 14px; height: 14px;
  vertical-align: -2px; margin-right: 3px; border: 1px solid #8c959f; }
.rv-status { font-size: 13px; color: var(--muted); margin: 4px 0 10px; }
.rv-pair { display: grid; grid-template-columns: 1fr 1fr; gap: 14px; margin-bottom: 18px; }
.rv-col h4 { margin: 4px 0; font-size: 14px; }
.rv-card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0 0 12px;
  background: #fff; min-width: 0; }
.rv-head { font-size: 12.5px; color: var(--muted); margin-bottom: 4px; overflow-wrap: anywhere; }
.rv-head b { color: var(--fg); } .rv-ok { color: #1a7f37; font-weight: 600; }
.rv-bad { color: #cf222e; font-weight: 600; }
.rv-partname { font-size: 12px; font-weight: 600; color: var(--muted); margin-top: 6px; }
.rv-text { white-space: pre-wrap; overflow-wrap: anywhere; font: 13px/1.55 ui-monospace,
  SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
.rv-folded { max-height: 15em; overflow: hidden; -webkit-mask-image: linear-gradient(180deg,
  #000 75%, transparent); mask-image: linear-gradient(180deg, #000 75%, transparent); }
.rv-more { font-size: 12px; margin-top: 2px; cursor: pointer; color: var(--accent);
  background: none; border: none; padding: 0; }
.rv-cutnote, .rv-unloc { font-size: 12px; color: var(--muted); }
.rv-t { border-radius: 2px; } .rv-i { text-decoration-line: underline;
  text-decoration-thickness: 2px; text-underline-offset: 3px; }
.rv-focus { outline: 2px solid #0969da; }
.rv-prompt { font-size: 13px; margin: 4px 0 8px; }
.rv-prompt summary { font-size: 13px; }
"""

JS = r"""
(function () {
  var dataEl = document.getElementById("rl-traces-data");
  if (!dataEl) { return; }
  var D = JSON.parse(dataEl.textContent);
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function opt(sel, value, label) { var o = el("option", null, label); o.value = value;
                                    sel.appendChild(o); }
  var root = $("rv-root"), list = $("rv-list"), status = $("rv-status");
  var f = {model: $("rv-model"), bench: $("rv-bench"), problem: $("rv-problem"),
           correct: $("rv-correct"), step: $("rv-step"), sort: $("rv-sort"),
           compare: $("rv-compare"), a: $("rv-cmp-a"), b: $("rv-cmp-b")};
  var TERM = %TERM%, BEH = %BEH%;
  var style = el("style");
  var css = "";
  D.categories.forEach(function (c, i) {
    css += "#rv-root .rv-c" + i + "{background:" + TERM[i % TERM.length] + "}" +
           "#rv-root.rv-off-c" + i + " .rv-c" + i + "{background:none}";
  });
  D.behaviours.forEach(function (b, i) {
    css += "#rv-root .rv-b" + i + "{text-decoration-color:" + BEH[i % BEH.length] + "}" +
           "#rv-root.rv-off-b" + i + " .rv-b" + i + "{text-decoration-line:none}";
  });
  style.textContent = css;
  document.head.appendChild(style);

  opt(f.model, "", "all models");
  D.models.forEach(function (m) { opt(f.model, m, m); opt(f.a, m, m); opt(f.b, m, m); });
  if (D.models.length > 1) { f.b.value = D.models[1]; }
  opt(f.bench, "", "all benchmarks");
  D.benchmarks.forEach(function (b) { opt(f.bench, b, b); });
  var pkeys = Object.keys(D.problems).sort();
  opt(f.problem, "", "all problems");
  pkeys.forEach(function (k) { var p = D.problems[k];
    opt(f.problem, k, p.benchmark + " · " + p.problem_id); });
  [["", "any correctness"], ["1", "correct"], ["0", "incorrect"], ["u", "ungraded"]]
    .forEach(function (x) { opt(f.correct, x[0], x[1]); });
  opt(f.step, "", "all steps");
  D.steps.forEach(function (s) { opt(f.step, String(s), "step " + s); });
  if (!D.steps.length) { $("rv-step-label").style.display = "none"; }
  opt(f.sort, "", "problem order");
  D.categories.forEach(function (c, i) { opt(f.sort, "c" + i, "most " + c); });
  D.behaviours.forEach(function (b, i) { opt(f.sort, "b" + i, "most " + b); });
  opt(f.sort, "w", "longest");

  var legend = $("rv-legend");
  function toggle(kind, i, name, colour) {
    var lab = el("label"), box = el("input"), sw = el("span", "rv-swatch");
    box.type = "checkbox"; box.checked = true; box.id = "rv-toggle-" + kind + i;
    sw.style.background = kind === "c" ? colour : "none";
    if (kind === "b") { sw.style.borderBottom = "3px solid " + colour; }
    box.addEventListener("change", function () {
      root.classList.toggle("rv-off-" + kind + i, !box.checked); });
    lab.appendChild(box); lab.appendChild(sw);
    lab.appendChild(document.createTextNode(name + (kind === "b" ? " (behaviour)" : "")));
    legend.appendChild(lab);
  }
  D.categories.forEach(function (c, i) { toggle("c", i, c, TERM[i % TERM.length]); });
  D.behaviours.forEach(function (b, i) { toggle("b", i, b, BEH[i % BEH.length]); });
  if (!D.categories.length && !D.behaviours.length) {
    legend.appendChild(el("span", "note", "No lexicon or behaviour highlights for these inputs."));
  }

  var focusTerm = null;
  function sortKey(r) {
    var s = f.sort.value;
    if (!s) { return 0; }
    if (s === "w") { return -(r.words || 0); }
    var i = Number(s.slice(1));
    if (s[0] === "c") { return -(r.counts[D.categories[i]] || 0); }
    return -(r.behaviours[D.behaviours[i]] || 0);
  }
  function hasTerm(r, t) {
    return ["reasoning", "answer"].some(function (p) {
      return r.parts[p].terms.some(function (x) { return x[3] === t; }); });
  }
  function keep(r, ignoreModel) {
    if (!ignoreModel && f.model.value && r.model !== f.model.value) { return false; }
    if (f.bench.value && r.benchmark !== f.bench.value) { return false; }
    if (f.problem.value && r.problem !== f.problem.value) { return false; }
    if (f.step.value && String(r.step) !== f.step.value) { return false; }
    var c = f.correct.value;
    if (c === "1" && r.correct !== true) { return false; }
    if (c === "0" && r.correct !== false) { return false; }
    if (c === "u" && r.correct !== null && r.correct !== undefined) { return false; }
    if (focusTerm !== null && !hasTerm(r, focusTerm)) { return false; }
    return true;
  }
  function textNode(part) {
    var t = part.text, n = t.length, cuts = {0: 1};
    cuts[n] = 1;
    part.terms.forEach(function (x) { cuts[x[0]] = 1; cuts[x[1]] = 1; });
    part.beh.forEach(function (x) { cuts[x[0]] = 1; cuts[x[1]] = 1; });
    var pts = Object.keys(cuts).map(Number).filter(function (v) { return v <= n; })
      .sort(function (a, b) { return a - b; });
    var box = el("div", "rv-text");
    for (var k = 0; k + 1 < pts.length; k++) {
      var a = pts[k], b = pts[k + 1], cls = [];
      part.terms.forEach(function (x) { if (x[0] <= a && b <= x[1]) {
        cls.push("rv-t rv-c" + x[2]); if (focusTerm !== null && x[3] === focusTerm) {
          cls.push("rv-focus"); } } });
      part.beh.forEach(function (x) { if (x[0] <= a && b <= x[1]) { cls.push("rv-i rv-b" + x[2]); } });
      var seg = t.slice(a, b);
      if (cls.length) { var s = el("span", cls.join(" "), seg); box.appendChild(s); }
      else { box.appendChild(document.createTextNode(seg)); }
    }
    return box;
  }
  function card(r) {
    var c = el("div", "rv-card");
    c.setAttribute("data-id", r.id);
    var h = el("div", "rv-head"), p = D.problems[r.problem];
    h.appendChild(el("b", null, r.model));
    var bits = [p.benchmark, p.problem_id, "sample " + r.sample];
    if (r.step !== null && r.step !== undefined) { bits.push("step " + r.step); }
    if (r.words !== null && r.words !== undefined) { bits.push(r.words + " words"); }
    h.appendChild(document.createTextNode(" · " + bits.join(" · ") + " · "));
    var ok = r.correct === true ? ["rv-ok", "correct"] : r.correct === false ?
      ["rv-bad", "incorrect"] : ["", "ungraded"];
    h.appendChild(el("span", ok[0], ok[1]));
    var extra = [];
    if (r.gold !== null && r.gold !== undefined) { extra.push("gold " + r.gold); }
    if (r.extracted !== null && r.extracted !== undefined) { extra.push("answer " + r.extracted); }
    if (r.finish_reason && r.finish_reason !== "stop") { extra.push("finish " + r.finish_reason); }
    D.categories.forEach(function (k) { if (r.counts[k] !== undefined) {
      extra.push(k + " " + r.counts[k]); } });
    D.behaviours.forEach(function (k) { extra.push(k + " " + (r.behaviours[k] || 0)); });
    if (D.behaviours.length && D.behaviour_unit) { extra.push("(behaviours in " +
      D.behaviour_unit + ")"); }
    if (extra.length) { h.appendChild(document.createTextNode(" · " + extra.join(" · "))); }
    c.appendChild(h);
    ["reasoning", "answer"].forEach(function (name) {
      var part = r.parts[name];
      if (!part.text && !part.cut) { return; }
      c.appendChild(el("div", "rv-partname", name));
      var box = textNode(part);
      c.appendChild(box);
      if (part.text.length > D.fold) {
        box.classList.add("rv-folded");
        var more = el("button", "rv-more", "show all (" + part.text.length + " characters)");
        more.type = "button";
        more.addEventListener("click", function () {
          var folded = box.classList.toggle("rv-folded");
          more.textContent = folded ? "show all (" + part.text.length + " characters)" : "fold";
        });
        c.appendChild(more);
      }
      if (part.cut) { c.appendChild(el("div", "rv-cutnote", "… " + part.cut +
        " more characters not included in this report")); }
    });
    if (r.unlocated.length) {
      var u = el("div", "rv-unloc", "Instances not located in the text: ");
      r.unlocated.forEach(function (x) { u.appendChild(document.createTextNode(
        "[" + D.behaviours[x[0]] + "] " + x[1] + "  ")); });
      c.appendChild(u);
    }
    return c;
  }
  function promptBox(key) {
    var p = D.problems[key], d = el("details", "rv-prompt");
    d.appendChild(el("summary", null, "Problem " + p.benchmark + " · " + p.problem_id));
    d.appendChild(el("div", "rv-text", p.prompt + (p.cut ? " … (" + p.cut + " more characters)" : "")));
    return d;
  }
  var MAX_CARDS = 200;
  function render() {
    while (list.firstChild) { list.removeChild(list.firstChild); }
    var shown = 0, rows;
    if (f.compare.checked) {
      var A = f.a.value, B = f.b.value, groups = {}, order = [];
      D.responses.forEach(function (r) { if ((r.model === A || r.model === B) && keep(r, true)) {
        if (!groups[r.problem]) { groups[r.problem] = []; order.push(r.problem); }
        groups[r.problem].push(r); } });
      order.forEach(function (k) {
        var g = groups[k];
        if (!g.some(function (r) { return r.model === A; }) ||
            !g.some(function (r) { return r.model === B; })) { return; }
        list.appendChild(promptBox(k));
        var pair = el("div", "rv-pair");
        [A, B].forEach(function (m) {
          var col = el("div", "rv-col");
          col.appendChild(el("h4", null, m));
          g.filter(function (r) { return r.model === m; }).forEach(function (r) {
            if (shown < MAX_CARDS) { col.appendChild(card(r)); shown += 1; } });
          pair.appendChild(col);
        });
        list.appendChild(pair);
      });
      status.textContent = shown + " responses side by side (" + A + " | " + B +
        "), on problems both answered.";
    } else {
      rows = D.responses.filter(function (r) { return keep(r, false); });
      rows = rows.map(function (r, i) { return [sortKey(r), i, r]; })
        .sort(function (x, y) { return x[0] - y[0] || x[1] - y[1]; })
        .map(function (x) { return x[2]; });
      rows.slice(0, MAX_CARDS).forEach(function (r) {
        var c = card(r);
        c.insertBefore(promptBox(r.problem), c.children[1]);   // the problem, folded
        list.appendChild(c);
      });
      shown = Math.min(rows.length, MAX_CARDS);
      status.textContent = "Showing " + shown + " of " + rows.length + " matching responses (" +
        D.responses.length + " in this report)" +
        (focusTerm !== null ? "; containing the term '" + D.terms[focusTerm] + "'" : "") + ".";
    }
    root.setAttribute("data-shown", String(shown));
  }
  Object.keys(f).forEach(function (k) { f[k].addEventListener("change", render); });
  $("rv-reset").addEventListener("click", function () {
    ["model", "bench", "problem", "correct", "step", "sort"].forEach(function (k) {
      f[k].value = ""; });
    f.compare.checked = false; focusTerm = null;
    Array.prototype.forEach.call(legend.querySelectorAll("input"), function (b) {
      b.checked = true; b.dispatchEvent(new Event("change")); });
    render();
  });
  function only(kind, i) {
    Array.prototype.forEach.call(legend.querySelectorAll("input"), function (b) {
      b.checked = b.id === "rv-toggle-" + kind + i; b.dispatchEvent(new Event("change")); });
  }
  window.rlViewer = {
    render: render,
    focus: function (d) {
      if (!d || typeof d !== "object") { return false; }
      f.compare.checked = false; focusTerm = null;
      f.model.value = D.models.indexOf(d.model) >= 0 ? d.model : "";
      f.bench.value = D.benchmarks.indexOf(d.benchmark) >= 0 ? d.benchmark : "";
      f.step.value = (d.step !== undefined && D.steps.indexOf(Number(d.step)) >= 0) ?
        String(d.step) : "";
      f.problem.value = ""; f.correct.value = ""; f.sort.value = "";
      var cat = D.categories.indexOf(d.category !== undefined ? d.category : d.label);
      var beh = D.behaviours.indexOf(d.behaviour);
      if (cat >= 0) { only("c", cat); f.sort.value = "c" + cat; }
      else if (beh >= 0) { only("b", beh); f.sort.value = "b" + beh; }
      if (d.term !== undefined && D.terms.indexOf(d.term) >= 0) { focusTerm = D.terms.indexOf(d.term); }
      render();
      root.scrollIntoView();
      return true;
    }
  };
  render();
  root.setAttribute("data-ready", "1");
})();
"""


def viewer_html(payload: dict[str, Any]) -> str:
    """The section body: controls, legend, list and the data element (all escaped)."""
    controls = (
        '<div class="rv-controls">'
        '<label>Model <select id="rv-model"></select></label>'
        '<label>Benchmark <select id="rv-bench"></select></label>'
        '<label>Problem <select id="rv-problem"></select></label>'
        '<label>Answer <select id="rv-correct"></select></label>'
        '<label id="rv-step-label">Step <select id="rv-step"></select></label>'
        '<label>Order <select id="rv-sort"></select></label>'
        '<label><input type="checkbox" id="rv-compare"> side by side:</label>'
        '<select id="rv-cmp-a" aria-label="left model"></select>'
        '<select id="rv-cmp-b" aria-label="right model"></select>'
        '<button type="button" id="rv-reset">reset</button></div>')
    return (f'<p class="note">{esc(payload["note"])}</p>' + controls +
            '<div class="rv-legend" id="rv-legend"></div>'
            '<div class="rv-status" id="rv-status"></div>'
            '<div id="rv-root"><div id="rv-list"></div></div>'
            f'<script type="application/json" id="rl-traces-data">{script_json(payload)}'
            '</script>')


def viewer_js() -> str:
    import json

    return JS.replace("%TERM%", json.dumps(list(TERM_COLOURS))).replace(
        "%BEH%", json.dumps(list(BEHAVIOUR_COLOURS)))
