// BookWise booking widget, for a merchant's own website:
//
//   <script src="https://<bookwise host>/static/js/widget.js" data-theme="12" async></script>
//   or, once the script is on the page:  <bookwise-widget theme="12"></bookwise-widget>
//
// It shows the theme's next open times (a frame of BookWise's /embed/themes/12/). A chosen time
// opens booking and checkout in a dialog over the page (a new tab on screens under 640 px wide,
// or always with data-open="tab" / open="tab"). When a booking ends, the page gets a DOM event:
//
//   document.addEventListener("bookwise:booking", function (event) {
//     event.detail.status;   // "confirmed", "cancelled" or "expired"
//     event.detail.booking;  // BookWise booking id
//     event.detail.theme;    // the theme id
//   });
//
// BookWise lets only the sites listed in the merchant's settings frame these pages
// (Content-Security-Policy frame-ancestors). Messages from BookWise are accepted only from the
// origin this script was loaded from, and only from the frames and tab this script opened.
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) return;
  var ORIGIN = new URL(script.src, document.baseURI).origin;
  var SMALL_SCREEN = "(max-width: 639.98px)";
  var STATUSES = { confirmed: true, cancelled: true, expired: true };
  var state = window.__bookwiseWidget;

  function embedUrl(path) {
    var url = new URL(path, ORIGIN);
    return url.origin === ORIGIN && url.pathname.indexOf("/embed/") === 0 ? url.href : null;
  }

  function css(node, styles) {
    // CSSOM, not style attributes or a <style> element: allowed by a strict CSP on the merchant's page.
    for (var name in styles) node.style[name] = styles[name];
    return node;
  }

  if (!state) {
    state = window.__bookwiseWidget = { origin: ORIGIN, overlay: null, tab: null, tabWidget: null };

    var widgetForFrame = function (source) {
      var widgets = document.querySelectorAll("bookwise-widget");
      for (var i = 0; i < widgets.length; i++) {
        if (widgets[i].frame && widgets[i].frame.contentWindow === source) return widgets[i];
      }
      return null;
    };

    var closeOverlay = function () {
      var overlay = state.overlay;
      if (!overlay) return;
      state.overlay = null;
      document.removeEventListener("keydown", overlay.onKey, true);
      document.removeEventListener("focusin", overlay.onFocus, true);
      overlay.backdrop.parentNode.removeChild(overlay.backdrop);
      document.documentElement.style.overflow = overlay.overflow;
      if (overlay.returnFocus && overlay.returnFocus.focus) overlay.returnFocus.focus();
    };

    var openOverlay = function (url, widget) {
      closeOverlay();
      var backdrop = css(document.createElement("div"), {
        position: "fixed", inset: "0", zIndex: "2147483000", background: "rgba(17, 24, 39, 0.6)",
        display: "flex", alignItems: "center", justifyContent: "center",
      });
      var dialog = css(document.createElement("div"), {
        position: "relative", width: "min(760px, calc(100vw - 24px))", height: "min(900px, calc(100vh - 24px))",
        background: "#fff", borderRadius: "8px", boxShadow: "0 10px 40px rgba(0, 0, 0, 0.35)", overflow: "hidden",
      });
      dialog.setAttribute("role", "dialog");
      dialog.setAttribute("aria-modal", "true");
      dialog.setAttribute("aria-label", "Book on BookWise");
      var close = css(document.createElement("button"), {
        position: "absolute", top: "6px", right: "6px", width: "44px", height: "44px", border: "0",
        borderRadius: "22px", background: "#111827", color: "#fff", fontSize: "24px", lineHeight: "44px",
        cursor: "pointer", zIndex: "1",
      });
      close.type = "button";
      close.textContent = "\u00d7";
      close.setAttribute("aria-label", "Close booking");
      close.setAttribute("data-bookwise-close", "");
      var frame = css(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
      frame.src = url;
      frame.title = "Booking and payment (BookWise)";
      frame.setAttribute("allow", "payment");
      dialog.appendChild(close);
      dialog.appendChild(frame);
      backdrop.appendChild(dialog);
      var overlay = {
        backdrop: backdrop, dialog: dialog, frame: frame, widget: widget,
        returnFocus: document.activeElement, overflow: document.documentElement.style.overflow,
        onKey: function (event) {
          if (event.key === "Escape") { event.preventDefault(); closeOverlay(); }
        },
        // Modal: focus that leaves the dialog comes back to it.
        onFocus: function (event) {
          if (!dialog.contains(event.target)) close.focus();
        },
      };
      close.addEventListener("click", closeOverlay);
      backdrop.addEventListener("click", function (event) { if (event.target === backdrop) closeOverlay(); });
      document.addEventListener("keydown", overlay.onKey, true);
      document.addEventListener("focusin", overlay.onFocus, true);
      document.documentElement.style.overflow = "hidden";
      state.overlay = overlay;
      document.body.appendChild(backdrop);
      frame.addEventListener("load", function () { frame.focus(); });
      close.focus();
    };

    var openBooking = function (url, widget) {
      var tabMode = (widget && widget.getAttribute("open") === "tab") || window.matchMedia(SMALL_SCREEN).matches;
      if (tabMode) {
        // Not "noopener": the tab reports the outcome to this page (window.opener), to our allowed origin only.
        var tab = window.open(url, "_blank");
        if (tab) {
          state.tab = tab;
          state.tabWidget = widget;
          return;
        }
      }
      openOverlay(url, widget);
    };

    var announce = function (widget, data) {
      var detail = { status: data.status, booking: data.booking, theme: widget ? widget.getAttribute("theme") : null };
      var event = new CustomEvent("bookwise:booking", { bubbles: true, composed: true, detail: detail });
      (widget && widget.isConnected ? widget : document).dispatchEvent(event);
    };

    window.addEventListener("message", function (event) {
      if (event.origin !== ORIGIN) return;
      var data = event.data;
      if (!data || typeof data !== "object" || typeof data.type !== "string") return;
      var overlay = state.overlay;
      var fromOverlay = overlay && event.source === overlay.frame.contentWindow;
      var fromTab = state.tab && event.source === state.tab;
      var widget = fromOverlay ? overlay.widget : fromTab ? state.tabWidget : widgetForFrame(event.source);
      if (!fromOverlay && !fromTab && !widget) return;
      if (data.type === "bookwise:resize" && !fromOverlay && !fromTab) {
        var height = Math.max(120, Math.min(2000, Number(data.height) || 0));
        widget.frame.style.height = height + "px";
      } else if (data.type === "bookwise:open" && typeof data.url === "string") {
        var url = embedUrl(data.url);
        if (url) openBooking(url, widget);
      } else if (data.type === "bookwise:close" && fromOverlay) {
        closeOverlay();
      } else if (data.type === "bookwise:booking" && STATUSES[data.status] && (fromOverlay || fromTab)) {
        announce(widget, { status: data.status, booking: Number(data.booking) || null });
      }
    });

    class Widget extends HTMLElement {
      connectedCallback() {
        if (this.frame) return;
        var theme = parseInt(this.getAttribute("theme"), 10);
        if (!(theme > 0)) return;
        var frame = css(document.createElement("iframe"), { width: "100%", height: "260px", border: "0", display: "block" });
        frame.src = embedUrl("/embed/themes/" + theme + "/");
        frame.title = "Next open times (BookWise)";
        this.frame = frame;
        this.appendChild(frame);
      }

      /** Open a booking page (an /embed/ URL of BookWise), as a click in the times list does. */
      open(path) {
        var url = embedUrl(path);
        if (url) openBooking(url, this);
      }

      close() {
        closeOverlay();
      }
    }
    if (window.customElements && !window.customElements.get("bookwise-widget")) {
      window.customElements.define("bookwise-widget", Widget);
    }
  }

  // The <script data-theme> form: the widget goes right where the script is.
  var theme = script.getAttribute("data-theme");
  if (theme && window.customElements) {
    var element = document.createElement("bookwise-widget");
    element.setAttribute("theme", theme);
    if (script.getAttribute("data-open")) element.setAttribute("open", script.getAttribute("data-open"));
    script.parentNode.insertBefore(element, script.nextSibling);
  }
})();
