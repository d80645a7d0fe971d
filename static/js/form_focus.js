// After a server-side form error, move the focus to the error summary (templates/includes/error_summary.html),
// so keyboard and screen-reader users start at what went wrong. Loaded with `defer`: the DOM is parsed.
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    summary.focus();
  }
})();
