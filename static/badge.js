// Badge and PIN forms (sign-in, sign-off, shipment): a badge scanner ends its scan with Enter,
// which in the badge box moves on to the PIN box instead of sending the form with no PIN.
(function () {
  "use strict";
  document.addEventListener("keydown", (e) => {
    const badge = e.target;
    if (e.key !== "Enter" || !badge.matches || !badge.matches("input[name=badge]")) return;
    const pin = badge.form && badge.form.querySelector("input[name=pin]");
    if (!pin || pin.value) return;  // the PIN typed already: Enter sends the form as usual
    e.preventDefault();
    if (badge.value.trim()) pin.focus();
  });
})();
