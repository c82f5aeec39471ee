// What every review page's script shares (label.js, qe.js, trace.js and audit.js load
// after this).
window.jdreview = window.jdreview || {};

// Send a form the way its hx-post says. A key pressed the moment a new task is swapped
// in can reach a form htmx has not bound yet, which would post it as a plain page
// instead; process() binds it first (and does nothing to a bound one).
window.jdreview.send = function (form) {
  if (!form) return;
  if (window.htmx) window.htmx.process(form);
  form.requestSubmit();
};

// Say what stops a submit in the page's message region (templates/labeling/_message.html):
// fixed in the viewport, so it is seen wherever the person has scrolled, and an alert, so
// a screen reader says it at once. Empty text clears it.
window.jdreview.flash = function (text) {
  const el = document.getElementById("message");
  if (!el) return;
  // Re-setting the same text is not a change a screen reader announces: clear first.
  el.textContent = "";
  el.textContent = text || "";
};

// Show the questions a message is about where they are: mark them, and move the focus
// to the first one, so the next key (or a screen reader) starts there. `fields` are the
// elements that hold each question (a .field, a step, the outcome fieldset).
window.jdreview.flag = function (fields) {
  document.querySelectorAll(".flagged").forEach((el) => el.classList.remove("flagged"));
  fields.forEach((el) => el.classList.add("flagged"));
  const first = fields[0];
  if (!first) return;
  const input = first.querySelector("input:checked") || first.querySelector("input:not([type=hidden])");
  (input || first).focus({ preventScroll: true });
  // Scrolled to the middle only when not already in view below the message: a question
  // at an edge would sit under the message or hide the Submit button after it.
  const box = first.getBoundingClientRect();
  const message = document.getElementById("message");
  const top = message && message.textContent
    ? message.getBoundingClientRect().bottom : 0;
  if (box.top < top || box.bottom > window.innerHeight) {
    first.scrollIntoView({ block: "center" });
  }
};

// Escape puts the message away (typing fields use Escape to leave themselves).
document.addEventListener("keydown", (ev) => {
  const t = ev.target;
  if (ev.key === "Escape" && !(t && (t.tagName === "TEXTAREA" || t.type === "text"))) {
    window.jdreview.flash("");
  }
});

// An answer to a flagged question clears its mark, and the message once no question is
// flagged any more. Keys set .checked (no change event), so they call this too.
window.jdreview.answered = function (input) {
  const field = input && input.closest(".flagged");
  if (!field) return;
  field.classList.remove("flagged");
  if (!document.querySelector(".flagged")) window.jdreview.flash("");
};

window.jdreview.choose = function (input) {
  input.checked = true;
  window.jdreview.answered(input);
};

document.addEventListener("change", (ev) => window.jdreview.answered(ev.target));
