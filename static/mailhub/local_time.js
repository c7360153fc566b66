// Rewrites every <time class="mh-time" datetime="…"> into the viewer's own time zone
// (queueing/local_times.py renders them in the server's zone, named, for pages without
// script). `mh-time--short` (list columns): day and time only; the full reading is the tooltip.
(function () {
  "use strict";
  var full = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short"
  });
  var short = new Intl.DateTimeFormat(undefined, {
    month: "short", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false
  });
  function localise(root) {
    var times = (root || document).querySelectorAll("time.mh-time[datetime]:not([data-local])");
    times.forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      var isShort = el.classList.contains("mh-time--short");
      el.textContent = (isShort ? short : full).format(when);
      el.title = full.format(when);
      el.setAttribute("data-local", "");
    });
  }
  window.mailhubLocalTimes = localise;
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { localise(); });
  } else {
    localise();
  }
})();
