// Keys for the ops audit page: 1-3 toggle defective aspects, y / n decide and submit.
(function () {
  "use strict";
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const form = document.getElementById("audit-form");
    if (!form) return;
    const key = ev.key.toLowerCase();
    if (key === "enter") { ev.preventDefault(); form.requestSubmit(); return; }
    const radio = form.querySelector(`input[type=radio][data-key="${key}"]`);
    // One key decides: y (usable) or n (not usable, with the aspects marked by 1-3, or
    // else the aspect that drove the gate's decision).
    if (radio) { radio.checked = true; form.requestSubmit(); return; }
    const box = form.querySelector(`input[type=checkbox][data-key="${key}"]`);
    if (box) {
      box.checked = !box.checked;
    }
  });
})();
