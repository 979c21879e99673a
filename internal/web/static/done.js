// The OAuth callback landed here. In the consent pop-up: tell the page that
// opened it and close. In the main window: go back to the integrations.
(function () {
  "use strict";
  var el = document.getElementById("done");
  if (!el) { return; }
  if (window.opener && !window.opener.closed) {
    window.opener.postMessage({ patchbay: "oauth", result: "connected", connection: el.dataset.connection }, window.location.origin);
    window.close();
    return;
  }
  window.location.replace("/?notice=connected");
})();
