// Keyboard-first labeling. Every action has a key; the page works without this file too
// (plain form posts), this only makes it fast.
(function () {
  "use strict";
  let shownAt = performance.now();
  let marks = [];

  function form() { return document.getElementById("label-form"); }

  function setChoice(key) {
    const input = document.querySelector(`#label-form input[type=radio][data-key="${key}"]`);
    if (!input) return false;
    input.checked = true;
    return true;
  }

  function allChosen() {
    const f = form();
    if (!f) return false;
    return Array.from(f.querySelectorAll(".field")).every(
      (el) => el.querySelector("input[type=radio]:checked"));
  }

  function submit() {
    const f = form();
    if (!f) return;
    if (!allChosen()) {
      const missing = Array.from(f.querySelectorAll(".field"))
        .filter((el) => !el.querySelector("input:checked"))
        .map((el) => el.querySelector(".name").textContent);
      flash("Choose: " + missing.join(", "));
      return;
    }
    document.getElementById("lead-time").value = Math.round(performance.now() - shownAt);
    f.requestSubmit();
  }

  const flash = window.jdreview.flash;

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
    if (key === " ") {
      ev.preventDefault();
      ["q", "w", "e", "r"].forEach(setChoice);
      submit();
      return;
    }
    if (key === "x") { document.getElementById("skip-form")?.requestSubmit(); return; }
    if (key === "u") { document.getElementById("undo-form")?.requestSubmit(); return; }
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
