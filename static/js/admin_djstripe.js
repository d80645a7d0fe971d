// dj-stripe's admin confirmation pages (templates/djstripe/admin/): show the spinner
// while the request that calls Stripe runs. Replaces dj-stripe's inline handlers.
(function () {
  "use strict";

  var spinner = document.getElementById("div_spinner");
  if (!spinner) return;
  // Only the custom-action page has #main_content: it hides the page behind the spinner.
  var main = document.getElementById("main_content");

  // Element.style is CSSOM, which the Content-Security-Policy allows (style="" is not).
  function busy() {
    spinner.hidden = false;
    if (main) main.style.display = "none";
  }

  document.addEventListener("submit", function () {
    busy();
    if (main) {
      document.querySelectorAll(".messagelist").forEach(function (node) {
        node.style.display = "none";
      });
    }
  });
  var links = main ? document.querySelectorAll("#main_content .cancel-link") : document.querySelectorAll("a");
  links.forEach(function (link) {
    link.addEventListener("click", function () {
      busy();
    });
  });
})();
