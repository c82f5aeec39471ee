// Keys for the ops audit page: 1-3 toggle defective aspects, y / n decide and submit,
// Enter submits, u undoes the last verdict.
(function () {
  "use strict";
  const { flash, flag, choose, send } = window.jdreview;

  document.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key.toLowerCase();
    // u works on an empty queue too: the last verdict may be what emptied it.
    if (key === "u") { send(document.getElementById("audit-undo-form")); return; }
    const form = document.getElementById("audit-form");
    if (!form) return;
    if (key === "enter") {
      ev.preventDefault();
      const verdict = form.querySelector(".field[data-field=verdict]");
      if (!verdict.querySelector("input:checked")) {
        flash("Not submitted. Choose usable (y) or not usable (n).");
        flag([verdict]);
        return;
      }
      send(form);
      return;
    }
    const radio = form.querySelector(`input[type=radio][data-key="${key}"]`);
    // One key decides: y (usable) or n (not usable, with the aspects marked by 1-3, or
    // else the aspect that drove the gate's decision).
    if (radio) { choose(radio); send(form); return; }
    const box = form.querySelector(`input[type=checkbox][data-key="${key}"]`);
    if (box) {
      box.checked = !box.checked;
    }
  });

  // A refused action (400, 404, 409) answers with the audit partial and its message:
  // show it, where htmx would otherwise drop a 4xx. Anything else (a bare error page)
  // stays out of the page.
  document.body.addEventListener("htmx:beforeSwap", (ev) => {
    const xhr = ev.detail.xhr;
    if (xhr.status >= 400 && xhr.status < 500 && ev.detail.target.id === "audit"
        && xhr.responseText.includes('id="audit"')) {
      ev.detail.shouldSwap = true;
      ev.detail.isError = false;
    }
  });
})();
