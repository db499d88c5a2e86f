// Cells, operands and highlights point at each other; filters on the index page. No libraries.
(function () {
  "use strict";
  function flash(els) {
    els.forEach(function (el) {
      el.classList.remove("flash");
      void el.offsetWidth; // restart the animation
      el.classList.add("flash");
    });
  }
  function showMark(id) {
    var anchor = document.getElementById(id);
    if (!anchor) return false;
    var box = anchor.closest("pre.source");
    if (box) { // scroll the source pane only, not the page
      var a = anchor.getBoundingClientRect(), b = box.getBoundingClientRect();
      box.scrollTop += a.top - b.top - box.clientHeight / 3;
    } else {
      anchor.scrollIntoView({ block: "center" });
    }
    flash(Array.prototype.slice.call(document.querySelectorAll('pre.source [data-m~="' + id + '"]')));
    return true;
  }
  function showCell(id) {
    var cell = document.getElementById(id);
    if (!cell) return false;
    cell.scrollIntoView({ block: "center" });
    flash([cell]);
    return true;
  }
  window.extractorShowMark = showMark;
  document.addEventListener("click", function (ev) {
    var el = ev.target.closest("[data-goto],[data-cell],pre.source .hl");
    if (!el) return;
    if (el.classList.contains("hl")) { // a number in the source: go to its table cell
      var t = el.getAttribute("data-target");
      if (t) showCell(t);
      return;
    }
    var m = el.getAttribute("data-goto");
    var shown = m ? showMark(m) : false;
    var c = el.getAttribute("data-cell");
    if (c && c !== el.id) {
      var cell = document.getElementById(c);
      if (cell) flash([cell]);
    }
    if (!shown && c && c !== el.id) showCell(c);
    if (el.tagName === "A") ev.preventDefault();
  });

  // index filters
  var fs = document.getElementById("f-status"), fc = document.getElementById("f-class"), fq = document.getElementById("f-text");
  function applyFilters() {
    var s = fs ? fs.value : "", c = fc ? fc.value : "", q = fq ? fq.value.trim().toLowerCase() : "";
    var shown = 0;
    document.querySelectorAll("tr[data-status]").forEach(function (tr) {
      var ok = (!s || tr.getAttribute("data-status") === s) &&
               (!c || (" " + tr.getAttribute("data-classes") + " ").indexOf(" " + c + " ") >= 0) &&
               (!q || tr.textContent.toLowerCase().indexOf(q) >= 0);
      tr.style.display = ok ? "" : "none";
      if (ok) shown++;
    });
    var n = document.getElementById("f-count");
    if (n) n.textContent = shown;
  }
  [fs, fc, fq].forEach(function (el) { if (el) el.addEventListener("input", applyFilters); });
  if (fs || fc) applyFilters();
})();
