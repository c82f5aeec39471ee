// Keyboard-first agent-trace review. The page works without this file (plain form posts);
// this only makes it fast: j/k move between steps, 1/2/3 mark the current step ok /
// reasoning error / execution failure, s/f the outcome, n a note, Enter submit, x skip,
// u undo.
(function () {
  "use strict";
  let shownAt = performance.now();

  function form() { return document.getElementById("label-form"); }
  function steps() { return Array.from(document.querySelectorAll("#label-form .step[data-step]")); }

  // The current step lives in the DOM (the page starts at the first one), so a freshly
  // swapped-in trace is right even for a key pressed before htmx's swap events fire.
  function currentIndex() {
    return Math.max(0, steps().findIndex((el) => el.classList.contains("current")));
  }

  function focusStep(i) {
    const all = steps();
    if (!all.length) return;
    const current = Math.max(0, Math.min(all.length - 1, i));
    all.forEach((el, n) => el.classList.toggle("current", n === current));
    all[current].scrollIntoView({ block: "nearest" });
  }

  const { flash, flag, choose, send } = window.jdreview;

  function markStep(key) {
    const current = currentIndex();
    const step = steps()[current];
    if (!step) return;
    const input = step.querySelector(`input[type=radio][data-key="${key}"]`);
    if (!input) return;
    choose(input);
    if (current < steps().length - 1) focusStep(current + 1);
  }

  function setOutcome(key) {
    const input = document.querySelector(
      `#label-form .outcome input[type=radio][data-key="${key}"]`);
    if (input) choose(input);
  }

  // The unanswered questions, in page order: [element, what to call it].
  function missing() {
    const out = [];
    steps().forEach((el, n) => {
      if (!el.querySelector("input[type=radio]:checked")) out.push([el, `step ${n + 1} (1 / 2 / 3)`]);
    });
    const outcome = document.querySelector("#label-form .outcome");
    if (outcome && !outcome.querySelector("input:checked")) {
      out.push([outcome, "outcome (s success, f failure)"]);
    }
    return out;
  }

  function submit() {
    const f = form();
    if (!f) return;
    const gaps = missing();
    if (gaps.length) {
      flash("Not submitted. Still to choose: " + gaps.map(([, name]) => name).join(", "));
      const firstStep = steps().indexOf(gaps[0][0]);
      if (firstStep >= 0) focusStep(firstStep);
      flag(gaps.map(([el]) => el));
      return;
    }
    document.getElementById("lead-time").value = Math.round(performance.now() - shownAt);
    send(f);
  }

  function note() {
    const step = steps()[currentIndex()];
    const area = step && step.querySelector("textarea");
    if (area) area.focus();
  }

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (!form()) {  // the queue is empty: only undo is left
      if (ev.key.toLowerCase() === "u" && !(t && t.tagName === "TEXTAREA")) {
        send(document.getElementById("undo-form"));
      }
      return;
    }
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" && t.type === "text")) {
      if (ev.key === "Escape") t.blur();
      else if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); t.blur(); submit(); }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const key = ev.key.toLowerCase();
    if (key === "enter") { ev.preventDefault(); submit(); return; }
    if (key === "j") { focusStep(currentIndex() + 1); return; }
    if (key === "k") { focusStep(currentIndex() - 1); return; }
    if (key === "1" || key === "2" || key === "3") { markStep(key); return; }
    if (key === "s" || key === "f") { setOutcome(key); return; }
    if (key === "n") { ev.preventDefault(); note(); return; }
    if (key === "x") { send(document.getElementById("skip-form")); return; }
    if (key === "u") { send(document.getElementById("undo-form")); return; }
  });

  // Clicking a step makes it the current one.
  document.addEventListener("click", (ev) => {
    const step = ev.target.closest && ev.target.closest("#label-form .step[data-step]");
    if (step) focusStep(Number(step.dataset.step));
  });

  // A new task was swapped in: reset the clock.
  document.body.addEventListener("htmx:afterSwap", () => {
    shownAt = performance.now();
  });
})();
