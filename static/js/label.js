// Keyboard-first labeling. Every action has a key; the page works without this file too
// (plain form posts), this only makes it fast.
(function () {
  "use strict";
  let shownAt = performance.now();
  let marks = [];

  function form() { return document.getElementById("label-form"); }

  const { flash, flag, choose, send } = window.jdreview;

  function setChoice(key) {
    const input = document.querySelector(`#label-form input[type=radio][data-key="${key}"]`);
    if (!input) return false;
    choose(input);
    return true;
  }

  function fields() {
    const f = form();
    return f ? Array.from(f.querySelectorAll(".field[data-field]")) : [];
  }
  const chosen = (el) => el.querySelector("input[type=radio]:checked");
  const nameOf = (el) => el.querySelector(".name").textContent.trim();
  const keysOf = (el) => Array.from(el.querySelectorAll("input[data-key]"))
    .map((i) => i.dataset.key).join(" / ");
  const answerOf = (el) => `${nameOf(el)}: ${chosen(el).value}`;
  // Answers that are not the "all good" one (a defect, or not usable).
  const notGood = (el) => chosen(el) && chosen(el).value !== el.dataset.good;

  function submit() {
    const f = form();
    if (!f) return;
    const missing = fields().filter((el) => !chosen(el));
    if (missing.length) {
      flash("Not submitted. Still to answer: "
        + missing.map((el) => `${nameOf(el)} (${keysOf(el)})`).join(", "));
      flag(missing);
      return;
    }
    // The server refuses this too; saying it here keeps the answers on screen as they are.
    const overall = fields().find((el) => "overall" in el.dataset);
    const defects = fields().filter((el) => el !== overall && notGood(el));
    if (overall && defects.length && !notGood(overall)) {
      const notUsable = overall.querySelector(`input:not([value="${overall.dataset.good}"])`);
      flash(`Not submitted: with ${defects.map(answerOf).join(", ")} the ad is not usable. `
        + `Press ${notUsable.dataset.key} for not usable, or change the aspect.`);
      flag([overall]);
      return;
    }
    document.getElementById("lead-time").value = Math.round(performance.now() - shownAt);
    send(f);
  }

  // Space means "everything is ok, usable, submit". It fills in only what is still
  // unanswered; an answer already given that says otherwise (a defect, not usable) is
  // never overwritten: a reflex Space after a, d, f must not store "all good". Then it
  // submits nothing and says why, with the answers left as they are.
  function allGood() {
    const conflicting = fields().filter(notGood);
    if (conflicting.length) {
      const open = fields().filter((el) => !chosen(el));
      flash(`Not submitted: Space means everything is ok, but you chose `
        + `${conflicting.map(answerOf).join(", ")}. `
        + (open.length
          ? `Answer ${open.map((el) => `${nameOf(el)} (${keysOf(el)})`).join(", ")}, then press Enter.`
          : "Press Enter to submit these answers."));
      flag(open);
      return;
    }
    fields().forEach((el) => {
      if (!chosen(el)) choose(el.querySelector(`input[value="${el.dataset.good}"]`));
    });
    submit();
  }

  function drawMarks() {
    const stage = document.getElementById("stage");
    const img = document.getElementById("ad-image");
    if (!stage || !img) return;
    stage.querySelectorAll(".mark").forEach((m) => m.remove());
    const scale = img.clientWidth / img.naturalWidth;
    for (const m of marks) {
      const el = document.createElement("span");
      el.className = m.type === "box" ? "mark box" : "mark";
      el.style.left = `${m.x * scale}px`;
      el.style.top = `${m.y * scale}px`;
      if (m.type === "box") {
        el.style.width = `${m.w * scale}px`;
        el.style.height = `${m.h * scale}px`;
      }
      stage.appendChild(el);
    }
    document.getElementById("marks").value = JSON.stringify(marks);
  }

  // Click the image for a point, drag for a box; both in image pixels.
  let dragStart = null;
  function toImage(img, ev) {
    const rect = img.getBoundingClientRect();
    const scale = img.naturalWidth / rect.width;
    const clamp = (v, hi) => Math.max(0, Math.min(hi, Math.round(v)));
    return { x: clamp((ev.clientX - rect.left) * scale, img.naturalWidth),
             y: clamp((ev.clientY - rect.top) * scale, img.naturalHeight) };
  }
  document.addEventListener("mousedown", (ev) => {
    const img = ev.target.closest && ev.target.closest("#ad-image");
    if (!img) return;
    ev.preventDefault();
    dragStart = toImage(img, ev);
  });
  document.addEventListener("mouseup", (ev) => {
    const img = document.getElementById("ad-image");
    if (!dragStart || !img) return;
    const end = toImage(img, ev);
    const w = Math.abs(end.x - dragStart.x), h = Math.abs(end.y - dragStart.y);
    if (w < 4 && h < 4) {
      marks.push({ type: "point", x: dragStart.x, y: dragStart.y });
    } else {
      marks.push({ type: "box", x: Math.min(end.x, dragStart.x), y: Math.min(end.y, dragStart.y),
                   w, h });
    }
    dragStart = null;
    drawMarks();
  });

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
    const key = ev.key.toLowerCase();
    if (key === "enter") { ev.preventDefault(); submit(); return; }
    if (key === " ") { ev.preventDefault(); allGood(); return; }
    if (key === "x") { send(document.getElementById("skip-form")); return; }
    if (key === "u") { send(document.getElementById("undo-form")); return; }
    if (key === "c") { marks = []; drawMarks(); return; }
    if (key === "/") {
      ev.preventDefault();
      document.querySelector("#label-form textarea[name=reason]")?.focus();
      return;
    }
    setChoice(key);
  });

  // A new task was swapped in: reset the clock and the marks.
  document.body.addEventListener("htmx:afterSwap", () => {
    shownAt = performance.now();
    marks = [];
  });
})();
