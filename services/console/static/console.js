// Every htmx request carries the session's CSRF token, and the page it came from (a partial
// that finds the session gone sends the person to sign in and back to that page).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  event.detail.headers["HX-Current-URL-Path"] = window.location.pathname + window.location.search;
});

// Live notices (server-sent events): a line in the page's live region, and a "live" event that
// the parts of the page that show such things refresh on. EventSource reconnects by itself,
// with Last-Event-ID, when a console replica stops.
(function () {
  if (!document.querySelector('meta[name="csrf-token"]') || !window.EventSource) { return; }
  var region = document.getElementById("live-notices");
  var source = new EventSource("/live");
  source.addEventListener("notice", function (message) {
    var notice = JSON.parse(message.data);
    if (region) {
      var item = document.createElement("li");
      var link = document.createElement("a");
      link.href = notice.href;
      link.textContent = notice.text + " · " + (notice.tracking_code || notice.appeal_id);
      item.appendChild(link);
      item.dataset.kind = notice.kind;
      region.prepend(item);
    }
    if (window.htmx) {
      window.htmx.trigger(document.body, "live");
      // A ruling or a reassignment is announced by dispatch; tracking, where the lists come
      // from, applies it a moment later: look once more.
      window.setTimeout(function () { window.htmx.trigger(document.body, "live"); }, 2000);
    }
  });
  source.addEventListener("signed-out", function () { source.close(); window.location.reload(); });
})();

// A saved view keeps the filters the page shows now: htmx changes them without a reload, so
// the form takes them from the address bar as it is sent.
document.addEventListener("submit", function (event) {
  var field = event.target.querySelector && event.target.querySelector("[data-current-query]");
  if (field) { field.value = window.location.search.replace(/^\?/, ""); }
});

// What was typed survives a failed send: the text of each form marked `data-draft` is kept in
// this tab's session storage as it is sent, and put back into the same form's empty fields
// when its page comes back (after a "service not answering" page, say). A page that says a
// step was done forgets the drafts of the forms under it; signing out forgets them all.
(function () {
  if (!window.sessionStorage) { return; }
  var PREFIX = "jiban-draft:";
  function key(form, field) { return PREFIX + form.getAttribute("action") + "#" + field.name; }
  function fields(form) {
    return Array.prototype.filter.call(form.elements, function (f) {
      return f.name && f.name !== "csrf_token" &&
        (f.tagName === "TEXTAREA" || (f.tagName === "INPUT" && /^(text|number|search)$/.test(f.type)));
    });
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.getAttribute("action") === "/sign-out") {
      Object.keys(sessionStorage).forEach(function (k) {
        if (k.indexOf(PREFIX) === 0) { sessionStorage.removeItem(k); }
      });
      return;
    }
    if (!form.hasAttribute || !form.hasAttribute("data-draft")) { return; }
    fields(form).forEach(function (f) {
      if (f.value) { sessionStorage.setItem(key(form, f), f.value); }
    });
  });
  if (document.querySelector(".done[role=status]")) {
    // The step sent from this page went through (its form may be gone with it).
    var sentFrom = PREFIX + window.location.pathname + "/";
    Object.keys(sessionStorage).forEach(function (k) {
      if (k.indexOf(sentFrom) === 0) { sessionStorage.removeItem(k); }
    });
    return;
  }
  Array.prototype.forEach.call(document.querySelectorAll("form[data-draft]"), function (form) {
    fields(form).forEach(function (f) {
      var kept = sessionStorage.getItem(key(form, f));
      if (kept && !f.value) { f.value = kept; f.dataset.restored = "true"; }
    });
  });
})();
