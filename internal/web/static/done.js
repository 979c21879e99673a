// Tell the page that opened the consent popup that the connection is ready, then close.
(function () {
  var el = document.getElementById("done");
  if (window.opener && el) {
    window.opener.postMessage({ patchbay: "oauth", result: "connected", connection: el.dataset.connection }, window.location.origin);
    window.close();
  }
})();
