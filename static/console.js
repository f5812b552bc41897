// Gatehouse console: the only script. Copy buttons, and typed confirmations. The pages work
// without it; it only saves clicks. Served from this server, under a CSP without 'unsafe-inline'.
"use strict";

document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  event.preventDefault();
  var source = document.getElementById(button.getAttribute("data-copy"));
  if (!source) return;
  var text = source.value !== undefined ? source.value : source.textContent;
  var done = function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text.trim()).then(done);
  } else {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    try { document.execCommand("copy"); done(); } catch (e) { /* the text stays selected */ }
  }
});

// A button with data-confirm-field stays disabled until the named input holds the expected
// text (the server checks it again).
document.addEventListener("input", function (event) {
  var input = event.target;
  if (!input.matches("input[data-expect]")) return;
  var button = input.form && input.form.querySelector("button[type=submit]");
  if (button) button.disabled = input.value !== input.getAttribute("data-expect");
});
