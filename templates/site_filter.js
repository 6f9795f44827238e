(function () {
  "use strict";
  var input = document.getElementById("filter");
  var count = document.getElementById("filter-count");
  var rows = Array.prototype.slice.call(document.querySelectorAll("[data-text]"));
  var groups = Array.prototype.slice.call(document.querySelectorAll("[data-group]"));
  var total = rows.filter(function (r) { return r.hasAttribute("data-law"); }).length;
  function apply(query) {
    var words = query.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    var shown = 0;
    rows.forEach(function (row) {
      var text = row.getAttribute("data-text");
      var ok = words.every(function (w) { return text.indexOf(w) !== -1; });
      row.hidden = !ok;
      if (ok && row.hasAttribute("data-law")) { shown += 1; }
    });
    groups.forEach(function (group) { group.hidden = !group.querySelector("[data-text]:not([hidden])"); });
    count.textContent = words.length ? shown + " of " + total + " laws match" : total + " laws";
    document.body.setAttribute("data-filter", words.join(" "));
  }
  function fromHash() {
    var m = /^#q=(.*)$/.exec(window.location.hash);
    if (!m) { return ""; }
    try { return decodeURIComponent(m[1].replace(/\+/g, " ")); } catch (e) { return m[1]; }
  }
  input.addEventListener("input", function () {
    apply(input.value);
    try { history.replaceState(null, "", input.value ? "#q=" + encodeURIComponent(input.value) : "#"); } catch (e) { /* file: URLs may refuse */ }
  });
  window.addEventListener("hashchange", function () { input.value = fromHash(); apply(input.value); });
  input.value = fromHash();
  apply(input.value);
})();
