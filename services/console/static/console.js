// Every htmx request carries the session's CSRF token, and the page it came from (a partial
// that finds the session gone sends the person to sign in and back to that page).
document.addEventListener("htmx:configRequest", function (event) {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) { event.detail.headers["X-CSRF-Token"] = meta.content; }
  event.detail.headers["HX-Current-URL-Path"] = window.location.pathname + window.location.search;
});
