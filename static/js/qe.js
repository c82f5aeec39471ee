// Keyboard-first rating of query-expansion terms. The form works without this file
// (plain radio buttons and a submit button); this only makes it fast.
(function () {
  "use strict";
  let shownAt = performance.now();
  let current = 0;

  function form() { return document.getElementById("label-form"); }
  function terms() { return Array.from(document.querySelectorAll("#label-form .term")); }

  function focusTerm(i) {
    const rows = terms();
    if (!rows.length) return;
    current = Math.max(0, Math.min(rows.length - 1, i));
    rows.forEach((el, j) => el.classList.toggle("current", j === current));
    rows[current].scrollIntoView({ block: "nearest" });
  }

  function rate(verdict) {
    const row = terms()[current];
    if (!row) return;
    const input = row.querySelector(`input[data-verdict="${verdict}"]`);
    if (input) choose(input);
    focusTerm(current + 1);
  }

  function rateAll(verdict) {
    terms().forEach((row) => {
      const input = row.querySelector(`input[data-verdict="${verdict}"]`);
      if (input) choose(input);
    });
  }

  function prefer(key) {
    const input = document.querySelector(`#label-form input[name=prefer][data-key="${key}"]`);
    if (input) choose(input);
  }

  const { flash, flag, choose, send } = window.jdreview;

  function submit() {
    const f = form();
    if (!f) return;
    const open = terms().filter((row) => !row.querySelector("input[type=radio]:checked"));
    if (open.length) {
      focusTerm(terms().indexOf(open[0]));
      const names = open.map((row) => `"${row.querySelector(".name").textContent.trim()}"`);
      flash(`Not submitted. Still to rate (r relevant, d drifting): ${names.join(", ")}`);
      flag(open);
      return;
    }
    const prefer = f.querySelector(".field[data-field=prefer]");
    if (prefer && !prefer.querySelector("input:checked")) {
      flash("Not submitted. Choose the better expansion: a, b or =");
      flag([prefer]);
      return;
    }
    document.getElementById("lead-time").value = Math.round(performance.now() - shownAt);
    send(f);
  }

  document.addEventListener("keydown", (ev) => {
    const t = ev.target;
    if (t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" && t.type === "text")) {
      if (ev.key === "Escape") t.blur();
      else if (ev.key === "Enter" && !ev.shiftKey && t.tagName === "TEXTAREA") {
        ev.preventDefault(); submit();
      }
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === "R") { rateAll("relevant"); return; }
    const key = ev.key.toLowerCase();
    if (key === "enter") { ev.preventDefault(); submit(); return; }
    if (key === "j" || key === "arrowdown") { ev.preventDefault(); focusTerm(current + 1); return; }
    if (key === "k" || key === "arrowup") { ev.preventDefault(); focusTerm(current - 1); return; }
    if (key === "r" || key === "1") { rate("relevant"); return; }
    if (key === "d" || key === "2") { rate("drifting"); return; }
    if (key === "a" || key === "b" || key === "=") { prefer(key); return; }
    if (key === "x") { send(document.getElementById("skip-form")); return; }
    if (key === "u") { send(document.getElementById("undo-form")); return; }
    if (key === "/") {
      ev.preventDefault();
      document.querySelector("#label-form textarea[name=reason]")?.focus();
    }
  });

  // A clicked radio moves the focus to its term.
  document.addEventListener("change", (ev) => {
    const row = ev.target.closest && ev.target.closest("#label-form .term");
    if (row) focusTerm(terms().indexOf(row));
  });

  // A new task was swapped in: reset the clock and the focus.
  document.body.addEventListener("htmx:afterSwap", () => {
    shownAt = performance.now();
    current = 0;
    focusTerm(0);
  });
})();
