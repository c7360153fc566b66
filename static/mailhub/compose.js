// The compose page: "Send at" is read in the viewer's own time zone (queueing/forms.py).
(function () {
  "use strict";
  function fill() {
    var zone = "";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { zone = ""; }
    var field = document.getElementById("id_time_zone");
    if (field && zone) { field.value = zone; }
    document.querySelectorAll(".mh-viewer-zone").forEach(function (el) {
      if (zone) { el.textContent = zone; }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", fill);
  } else {
    fill();
  }
})();
