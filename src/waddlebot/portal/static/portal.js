// The portal's own script: every htmx request carries the page's CSRF token (from its meta
// tag), and a button with data-copy copies the text of the element it names.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRF-Token": meta.content }));
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.dataset.copy);
      if (source && navigator.clipboard) {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      }
    });
  });
});
