// Rewrites every <time class="mh-time" datetime="…"> into the viewer's own time zone
// (queueing/local_times.py renders them in the server's zone, named, for pages without script).
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "2-digit",
    hour: "2-digit", minute: "2-digit", timeZoneName: "short"
  });
  function localise(root) {
    var times = (root || document).querySelectorAll("time.mh-time[datetime]:not([data-local])");
    times.forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) { return; }
      el.title = el.textContent;  // the server's reading stays one hover away
      el.textContent = format.format(when);
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
