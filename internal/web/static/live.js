// live.js keeps the parts of a page marked data-live up to date while they
// show work in progress (pending cells, a running sync): it fetches the page
// again every two seconds and swaps in those parts, until none is busy.
(function () {
  "use strict";
  var every = 2000;

  function busy(root) { return root.querySelector("[data-live][data-busy]") !== null; }

  function tick() {
    fetch(window.location.href, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll("[data-live]").forEach(function (el) {
          var fresh = el.id && doc.getElementById(el.id);
          // Leave a region alone while the user works in it (a ticked box, focus).
          if (!fresh || el.contains(document.activeElement) && document.activeElement !== document.body) { return; }
          if (el.querySelector("input:checked")) { return; }
          el.replaceWith(document.importNode(fresh, true));
        });
        if (busy(document)) { window.setTimeout(tick, every); }
      })
      .catch(function () { window.setTimeout(tick, every * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (busy(document)) { window.setTimeout(tick, every); }
  });
})();
