// Keys for the ops audit page: y / n verdict, 1-3 toggle defective aspects, Enter submits.
(function () {
  "use strict";
  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const form = document.getElementById("audit-form");
    if (!form) return;
    const key = ev.key.toLowerCase();
    if (key === "enter") { ev.preventDefault(); form.requestSubmit(); return; }
    const radio = form.querySelector(`input[type=radio][data-key="${key}"]`);
    if (radio) { radio.checked = true; return; }
    const box = form.querySelector(`input[type=checkbox][data-key="${key}"]`);
    if (box) {
      box.checked = !box.checked;
      const no = form.querySelector('input[value="unusable"]');
      if (box.checked && no) no.checked = true;
    }
  });
})();
