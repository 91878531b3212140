// The data package page: a problem clicked (or Enter on it) highlights its designators on the
// board pictures; clicked again, it clears them.
(function () {
  "use strict";

  function show(item) {
    var already = item.getAttribute("aria-pressed") === "true";
    document.querySelectorAll(".blocker.has-refs").forEach(function (other) {
      other.setAttribute("aria-pressed", "false");
    });
    document.querySelectorAll(".board-picture .part.highlight").forEach(function (mark) {
      mark.classList.remove("highlight");
    });
    if (already) return;
    item.setAttribute("aria-pressed", "true");
    var wanted = new Set(item.dataset.refs.toUpperCase().split(" "));
    document.querySelectorAll(".board-picture .part").forEach(function (mark) {
      if (wanted.has((mark.dataset.ref || "").toUpperCase())) mark.classList.add("highlight");
    });
  }

  document.addEventListener("click", function (event) {
    var item = event.target.closest(".blocker.has-refs");
    if (item) show(item);
  });
  document.addEventListener("keydown", function (event) {
    var item = event.target.closest && event.target.closest(".blocker.has-refs");
    if (item && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      show(item);
    }
  });
})();
