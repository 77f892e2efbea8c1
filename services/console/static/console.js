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
