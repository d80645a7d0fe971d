// The booking widget's pages (templates/embed/base.html), inside a frame on the merchant's site
// or in a tab the widget opened (small screens). Talks to static/js/widget.js on that page:
//
//   {type: "bookwise:open", url}        a time was chosen in the times list: open it in the overlay
//   {type: "bookwise:booking", status, booking}  the outcome: "confirmed", "cancelled" or "expired"
//   {type: "bookwise:close"}            the customer is done (Close button, Escape)
//   {type: "bookwise:resize", height}   the times list's height, so its frame fits it
//
// Messages go only to the merchant's allowed origins (data-embed-origins on <html>, the origins
// the page's frame-ancestors allows): to the parent's origin when the browser names it
// (location.ancestorOrigins), else to each allowed origin, which only the one that matches
// receives. Never to "*": a booking is nobody else's business.
(function () {
  "use strict";

  var root = document.documentElement;
  var origins = (root.getAttribute("data-embed-origins") || "").split(" ").filter(Boolean);
  var framed = window.parent !== window;
  var target = framed ? window.parent : window.opener;

  function targetOrigins() {
    var ancestors = window.location.ancestorOrigins;
    if (framed && ancestors && ancestors.length) {
      return origins.indexOf(ancestors[0]) === -1 ? [] : [ancestors[0]];
    }
    return origins;
  }

  function post(message) {
    if (!target || target === window) return false;
    var sent = false;
    targetOrigins().forEach(function (origin) {
      try {
        target.postMessage(message, origin);
        sent = true;
      } catch (error) {
        // A closed opener or an origin string the browser refuses: nothing to tell.
      }
    });
    return sent;
  }

  var told = {};
  window.BookWiseEmbed = {
    notify: function (status, booking) {
      var key = status + ":" + booking;
      if (told[key]) return;
      told[key] = true;
      post({ type: "bookwise:booking", status: status, booking: booking });
    },
  };

  document.addEventListener("click", function (event) {
    var node = event.target;
    if (!node || !node.closest) return;
    var open = node.closest("a[data-embed-open]");
    if (open && framed && post({ type: "bookwise:open", url: open.href })) {
      event.preventDefault();
      return;
    }
    if (node.closest("[data-embed-close]")) {
      event.preventDefault();
      if (!post({ type: "bookwise:close" }) && window.opener) window.close();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && framed) post({ type: "bookwise:close" });
  });

  // The result page reports its booking's outcome, once.
  var result = document.querySelector("[data-embed-outcome]");
  if (result) {
    var outcome = result.getAttribute("data-embed-outcome");
    if (outcome) window.BookWiseEmbed.notify(outcome, parseInt(result.getAttribute("data-booking"), 10));
    result.focus();
  }

  if (framed) {
    var lastHeight = 0;
    var size = function () {
      var height = Math.ceil(document.body.getBoundingClientRect().height);
      if (height !== lastHeight) {
        lastHeight = height;
        post({ type: "bookwise:resize", height: height });
      }
    };
    window.addEventListener("load", size);
    if (window.ResizeObserver) new window.ResizeObserver(size).observe(document.body);
    size();
  }
})();
