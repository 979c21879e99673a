// Patchbay dashboard: small progressive enhancements of server-rendered pages.
// Every form works without this script; with it, actions run in place, the
// consent page opens in a pop-up and the card refreshes without a reload.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";
  var live = document.getElementById("live");
  var pending = null; // the OAuth flow waiting for its pop-up: {form, provider, kind, popup, timer}
  var blockedForm = null; // the form to submit in this window when the pop-up was blocked
  var mismatch = null; // the reconnect waiting for the user to accept another account

  function announce(text) {
    if (live) { live.textContent = text; }
  }

  function container(el) {
    return el.closest(".card") || el.closest(".conn") || el.closest(".sync") || document.getElementById("main");
  }

  // say shows a message in the card (or section) of el and announces it.
  function say(el, text, isError) {
    var box = container(el);
    var msg = box && box.querySelector("[data-msg]");
    if (msg) {
      msg.textContent = text;
      msg.hidden = !text;
      msg.classList.toggle("error", !!isError);
      msg.setAttribute("role", isError ? "alert" : "status");
    }
    announce(text);
  }

  function post(form, extra) {
    var body = new URLSearchParams(new FormData(form));
    Object.keys(extra || {}).forEach(function (k) { body.set(k, extra[k]); });
    return fetch(form.action, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-Requested-With": "patchbay", "X-CSRF-Token": csrf, "Accept": "application/json" }
    }).then(function (resp) {
      return resp.text().then(function (text) {
        var data;
        try { data = JSON.parse(text); } catch (e) { data = { detail: text || resp.statusText }; }
        return { ok: resp.ok, status: resp.status, data: data };
      });
    }, function () {
      return { ok: false, status: 0, data: { detail: "Patchbay did not answer. Check that it is running, then try again." } };
    });
  }

  function busy(form, on) {
    var b = form.querySelector('button[type="submit"], button:not([type])');
    if (b) { b.disabled = on; b.setAttribute("aria-busy", on ? "true" : "false"); }
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-field]").forEach(function (e) { e.textContent = ""; });
    form.querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    var g = form.querySelector("[data-errors]");
    if (g) { g.textContent = ""; g.hidden = true; }
  }

  // showErrors puts a problem's field errors next to their inputs and its
  // detail at the top of the form (or in the card).
  function showErrors(form, problem) {
    clearErrors(form);
    var first = null;
    (problem.errors || []).forEach(function (fe) {
      var slot = form.querySelector('[data-field="' + CSS.escape(fe.field) + '"]');
      if (slot) { slot.textContent = fe.message; }
      var input = form.querySelector('[name="' + CSS.escape(fe.field) + '"]');
      if (input) { input.setAttribute("aria-invalid", "true"); first = first || input; }
    });
    var g = form.querySelector("[data-errors]");
    var text = problem.detail || "The action failed.";
    if (g) {
      g.textContent = text; g.hidden = false;
      announce(text);
    } else {
      say(form, text, true);
    }
    if (first) { first.focus(); }
  }

  function onIntegrationsPage() { return !!document.getElementById("cards"); }

  // refresh swaps in the fresh card of provider, or reloads other pages.
  function refresh(provider, text) {
    if (!onIntegrationsPage() || !provider) {
      window.location.reload();
      return Promise.resolve();
    }
    return fetch("/integrations/" + encodeURIComponent(provider) + "/card", {
      credentials: "same-origin", headers: { "X-Requested-With": "patchbay" }
    }).then(function (resp) {
      if (!resp.ok) { window.location.reload(); return; }
      var n = resp.headers.get("X-Patchbay-Attention");
      return resp.text().then(function (html) {
        var old = document.getElementById("card-" + provider);
        var t = document.createElement("template");
        t.innerHTML = html.trim();
        var card = t.content.firstElementChild;
        if (old && card) { old.replaceWith(card); }
        if (n !== null) { attention(parseInt(n, 10)); }
        if (card && text) {
          say(card, text, false);
          var st = card.querySelector(".status");
          if (st) { st.tabIndex = -1; st.focus(); }
        }
      });
    });
  }

  function attention(n) {
    var el = document.getElementById("attention");
    if (!el) { return; }
    el.dataset.attention = String(n);
    el.classList.toggle("needs", n > 0);
    el.textContent = "";
    if (n > 0) {
      var a = document.createElement("a");
      a.href = "/?status=attention";
      a.textContent = n + (n === 1 ? " connection needs attention" : " connections need attention");
      el.appendChild(a);
    } else {
      el.textContent = "All connections are healthy.";
    }
  }

  function runAction(form) {
    busy(form, true);
    post(form).then(function (res) {
      busy(form, false);
      var dlg = form.closest("dialog");
      if (dlg && dlg.open) { dlg.close(); }
      if (!res.ok) { showErrors(form, res.data); return; }
      clearErrors(form);
      if (form.hasAttribute("data-reload")) { window.location.reload(); return; }
      return refresh(form.dataset.provider || res.data.provider, res.data.notice || "Done.");
    });
  }

  function stopWatching() {
    if (pending && pending.timer) { clearInterval(pending.timer); }
  }

  // startOAuth opens the pop-up at once (browsers allow pop-ups only during
  // the click), asks Patchbay for the consent URL and sends the pop-up there.
  function startOAuth(form, extra) {
    var popup = window.open("", "patchbay-consent", "popup,width=560,height=720");
    if (!popup) {
      blockedForm = { form: form, extra: extra };
      document.getElementById("popup-dialog").showModal();
      return;
    }
    try { popup.document.title = "Patchbay"; popup.document.body.textContent = "Opening the consent page…"; } catch (e) { /* not ours any more */ }
    stopWatching();
    pending = { form: form, provider: form.dataset.provider, kind: form.dataset.kind, popup: popup, timer: null };
    busy(form, true);
    post(form, extra).then(function (res) {
      busy(form, false);
      if (!res.ok || !res.data.authorize_url) {
        popup.close();
        pending = null;
        if (res.ok) { refresh(form.dataset.provider, res.data.notice); } else { showErrors(form, res.data); }
        return;
      }
      clearErrors(form);
      popup.location.href = res.data.authorize_url;
      say(form, "Approve access in the pop-up window; this card updates when you are done.", false);
      var mine = pending;
      mine.timer = setInterval(function () {
        if (popup.closed && pending === mine) {
          stopWatching();
          pending = null;
          say(form, "The consent window was closed before it finished. Nothing changed.", true);
        }
      }, 700);
    });
  }

  window.addEventListener("message", function (ev) {
    if (ev.origin !== window.location.origin || !ev.data || ev.data.patchbay !== "oauth") { return; }
    var p = pending;
    stopWatching();
    pending = null;
    if (p && p.popup && !p.popup.closed) { p.popup.close(); }
    if (ev.data.result === "connected") {
      refresh(p ? p.provider : null, p && p.kind === "reconnect" ? "Reconnected: paused syncs resume." : "Connected.");
      return;
    }
    if (ev.data.reason === "account_mismatch" && p && p.kind === "reconnect") {
      mismatch = p;
      var dlg = document.getElementById("account-dialog");
      dlg.querySelector("[data-detail]").textContent = ev.data.detail || "";
      dlg.showModal();
      return;
    }
    if (p) { say(p.form, ev.data.detail || "The provider did not grant access.", true); } else { announce(ev.data.detail || ""); }
  });

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var mode = form.getAttribute("data-js");
    if (!mode) { return; }
    ev.preventDefault();
    if (mode === "oauth") { startOAuth(form, {}); } else { runAction(form); }
  });

  // The create-table form offers a few column rows; this adds another one,
  // numbered on, and moves the focus to its name.
  var addColumn = document.querySelector("[data-add-column]");
  if (addColumn) {
    addColumn.hidden = false;
    addColumn.addEventListener("click", function () {
      var list = document.querySelector("[data-column-rows]");
      var rows = list.querySelectorAll(".column-row");
      var last = rows[rows.length - 1];
      var n = rows.length;
      var row = last.cloneNode(true);
      row.querySelectorAll("[id]").forEach(function (e) { e.id = e.id.replace(/-\d+$/, "-" + n); });
      row.querySelectorAll("label[for]").forEach(function (l) {
        l.htmlFor = l.htmlFor.replace(/-\d+$/, "-" + n);
        l.textContent = l.textContent.replace(/\d+/, String(n + 1));
      });
      row.querySelectorAll("[aria-describedby]").forEach(function (e) {
        e.setAttribute("aria-describedby", e.getAttribute("aria-describedby").replace(/-\d+$/, "-" + n));
      });
      row.querySelectorAll("input").forEach(function (e) { e.value = ""; e.removeAttribute("aria-invalid"); });
      row.querySelectorAll(".field-error").forEach(function (e) { e.textContent = ""; });
      list.appendChild(row);
      row.querySelector("input").focus();
    });
  }

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest("a[data-dialog], [data-close], [data-accept-account], [data-continue-here]");
    if (!t) { return; }
    if (t.matches("a[data-dialog]")) {
      var dlg = document.getElementById(t.dataset.dialog);
      if (dlg && dlg.showModal) { ev.preventDefault(); dlg.showModal(); }
      return;
    }
    var d = t.closest("dialog");
    if (d) { d.close(); }
    if (t.matches("[data-accept-account]") && mismatch) {
      var p = mismatch;
      mismatch = null;
      startOAuth(p.form, { allow_account_change: "1" });
    } else if (t.matches("[data-continue-here]") && blockedForm) {
      var b = blockedForm;
      blockedForm = null;
      Object.keys(b.extra || {}).forEach(function (k) {
        var input = b.form.querySelector('[name="' + k + '"]');
        if (input) { input.value = b.extra[k]; }
      });
      b.form.submit(); // a plain post: Patchbay redirects this window to the consent page
    }
  });
})();
