// What every kind's labeling script shares (label.js, qe.js, trace.js load after this).
window.jdreview = window.jdreview || {};

// A one-line message at the top of the task, e.g. what is still missing before submit.
// Its own class, so the hints inside a form are never overwritten.
window.jdreview.flash = function (text) {
  let el = document.querySelector("#task .hint.flash");
  if (!el) {
    el = document.createElement("p");
    el.className = "hint flash";
    el.setAttribute("role", "status");
    document.getElementById("task").prepend(el);
  }
  el.textContent = text;
};
