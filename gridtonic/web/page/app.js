// gridtonic's page: a virtual grid (keys go to the same surface as a hardware grid) and the screen.
// Everything shown comes from the server's "state" and "frame" messages, so every open page shows
// the same thing; every edit is a message the server checks before applying it.
"use strict";

const $ = (id) => document.getElementById(id);
let ws = null;
let state = null;
let built = "";  // layout the grid was built for
let slot = "a";
const latched = new Set();  // "x,y" keys held by ctrl/cmd-click
const pointers = new Map();  // pointerId → {anchor: "x,y", over: "x,y" | null}
const keyboardHeld = new Map();  // KeyboardEvent.code → "x,y"
window.gridtonic = { frames: 0, levels: "", sentAt: new Map() };  // for tests and the benchmark

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function connect() {
  // the page's token (its address, as gridtonic printed it) lets this page play
  const token = new URLSearchParams(location.search).get("token") || "";
  ws = new WebSocket(`ws://${location.host}/ws?token=${encodeURIComponent(token)}`);
  ws.onopen = () => { $("conn").textContent = "connected"; $("conn").className = "on"; };
  ws.onclose = () => {
    $("conn").textContent = "reconnecting…"; $("conn").className = "off";
    setTimeout(connect, 1000);
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "state") { state = msg; drawState(); }
    else if (msg.type === "frame") drawFrame(msg);
    else if (msg.type === "error") showError(msg.message);
    else if (msg.type === "note") showError(msg.message, "note");
  };
}

function showError(text, kind = "error") {
  const e = $("error");
  e.textContent = text; e.hidden = false; e.className = kind;
  clearTimeout(showError.timer);
  showError.timer = setTimeout(() => { e.hidden = true; }, 6000);
}

// -- the virtual grid ------------------------------------------------------------------------------

function key(xy, down) {
  const [x, y] = xy.split(",").map(Number);
  if (down) window.gridtonic.sentAt.set(xy, performance.now());
  send({ type: "key", x, y, down });
}

function buildGrid(lay) {
  const grid = $("grid");
  grid.replaceChildren();
  grid.style.gridTemplateColumns = `repeat(${lay.width}, auto)`;
  const names = {};
  for (const [kind, rows] of Object.entries(lay.lanes)) {
    for (const y of rows) for (let x = 0; x < lay.width; x++) names[`${x},${y}`] = `${kind} lane`;
  }
  for (const [name, [x, y]] of Object.entries(lay.keys)) names[`${x},${y}`] = name;
  for (let y = 0; y < lay.height; y++) {
    for (let x = 0; x < lay.width; x++) {
      const k = document.createElement("div");
      k.className = "key" + (names[`${x},${y}`] ? " fn" : "");
      k.dataset.xy = `${x},${y}`;
      k.style.setProperty("--l", 0);
      if (names[`${x},${y}`]) k.title = names[`${x},${y}`];
      grid.append(k);
    }
  }
  built = JSON.stringify(lay);
  $("layout-name").textContent = lay.name;
}

function keyAt(ev) {
  const el = document.elementFromPoint(ev.clientX, ev.clientY);
  return el && el.classList.contains("key") ? el.dataset.xy : null;
}

$("grid").addEventListener("pointerdown", (ev) => {
  const xy = keyAt(ev);
  if (!xy) return;
  ev.preventDefault();
  if (ev.ctrlKey || ev.metaKey) {  // latch: held until ctrl/cmd-clicked again
    const on = !latched.has(xy);
    on ? latched.add(xy) : latched.delete(xy);
    document.querySelector(`[data-xy="${xy}"]`).classList.toggle("latched", on);
    key(xy, on);
    return;
  }
  pointers.set(ev.pointerId, { anchor: xy, over: null });
  key(xy, true);
});

document.addEventListener("pointermove", (ev) => {
  const p = pointers.get(ev.pointerId);
  if (!p) return;
  const xy = keyAt(ev);
  const over = xy === p.anchor ? null : xy;
  if (over === p.over) return;
  if (p.over) key(p.over, false);  // dragging from a held key presses each key it passes over
  if (over) key(over, true);
  p.over = over;
});

function pointerEnd(ev) {
  const p = pointers.get(ev.pointerId);
  if (!p) return;
  if (p.over) key(p.over, false);
  key(p.anchor, false);
  pointers.delete(ev.pointerId);
}
document.addEventListener("pointerup", pointerEnd);
document.addEventListener("pointercancel", pointerEnd);

function releaseAll() {  // the page lost focus: let go of everything it holds
  if (!pointers.size && !latched.size && !keyboardHeld.size) return;
  pointers.clear(); latched.clear(); keyboardHeld.clear();
  document.querySelectorAll(".latched").forEach((k) => k.classList.remove("latched"));
  send({ type: "release" });
}
window.addEventListener("blur", releaseAll);
document.addEventListener("visibilitychange", () => { if (document.hidden) releaseAll(); });

function drawFrame(msg) {
  window.gridtonic.frames++;
  window.gridtonic.firstFrameAt ??= performance.now();
  window.gridtonic.levels = msg.levels;
  window.gridtonic.lastFrameAt = performance.now();
  const keys = $("grid").children;
  for (let i = 0; i < keys.length && i < msg.levels.length; i++) {
    const l = parseInt(msg.levels[i], 16);
    if (keys[i].dataset.level !== String(l)) {
      keys[i].dataset.level = l;
      keys[i].style.setProperty("--l", l);
    }
  }
  document.querySelectorAll(".step.head").forEach((s) => s.classList.remove("head"));
  if (msg.playhead !== null) {
    document.querySelectorAll(`.steps > :nth-child(${msg.playhead + 1})`).forEach((s) => s.classList.add("head"));
  }
}

// -- keyboard: the function keys of the layout -----------------------------------------------------

const FUNCTION_KEYS = {
  Space: "play", ShiftLeft: "shift", ShiftRight: "shift", KeyM: "mute", KeyI: "introspect",
  KeyC: "clear", KeyG: "generate", BracketLeft: "page_1", BracketRight: "page_2",
};
for (let i = 1; i <= 9; i++) FUNCTION_KEYS[`Digit${i}`] = `slot_${i}`;

function isTyping(ev) {
  return ["INPUT", "SELECT", "TEXTAREA"].includes(ev.target.tagName) && ev.target.type !== "range"
    && ev.target.type !== "radio" && ev.target.type !== "checkbox";
}

document.addEventListener("keydown", (ev) => {
  if (!state || isTyping(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.code === "ArrowUp" || ev.code === "ArrowDown") {
    const n = state.tracks.length;
    send({ type: "select", track: (state.selected + (ev.code === "ArrowUp" ? n - 1 : 1)) % n });
    ev.preventDefault();
    return;
  }
  let name = FUNCTION_KEYS[ev.code];
  if (name === "page_2" && !state.layout.keys.page_2) name = "page";
  const at = name && state.layout.keys[name];
  if (!at) return;
  ev.preventDefault();
  if (ev.repeat || keyboardHeld.has(ev.code)) return;
  keyboardHeld.set(ev.code, `${at[0]},${at[1]}`);
  key(`${at[0]},${at[1]}`, true);
});

document.addEventListener("keyup", (ev) => {
  const xy = keyboardHeld.get(ev.code);
  if (!xy) return;
  keyboardHeld.delete(ev.code);
  key(xy, false);
});

// -- the screen ------------------------------------------------------------------------------------

function fmt(p, v) {
  if (p.choices.length) return p.choices[Math.round(v)];
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return `${v.toFixed(digits)} ${p.unit}`.trim();
}

// sliders run 0..1000; exponential parameters (frequencies, Q) move on a log scale
function toSlider(p, v) {
  if (p.exp) return 1000 * Math.log(v / p.min) / Math.log(p.max / p.min);
  return 1000 * (v - p.min) / (p.max - p.min);
}
function fromSlider(p, s) {
  const t = s / 1000;
  const v = p.exp ? p.min * Math.pow(p.max / p.min, t) : p.min + t * (p.max - p.min);
  return Math.min(p.max, Math.max(p.min, Number(v.toPrecision(5))));
}

function options(select, items, selected) {
  const want = items.map(([v, label]) => `${v}\u0000${label}`).join("\u0001");
  if (select.dataset.items !== want) {
    select.replaceChildren(...items.map(([v, label]) => new Option(label, v)));
    select.dataset.items = want;
  }
  if (selected !== undefined && document.activeElement !== select) select.value = selected;
}

function drawState() {
  const s = state;
  if (JSON.stringify(s.layout) !== built) buildGrid(s.layout);
  $("play").classList.toggle("on", s.playing);
  $("play").textContent = s.playing ? "stop" : "play";
  if (document.activeElement !== $("tempo")) $("tempo").value = s.tempo;
  $("status").textContent = Object.entries(s.status).map(([k, v]) => `${k}: ${v}`).join(" · ");
  $("prior").textContent = s.prior ? "" : "(no prior loaded yet)";
  drawPatterns(s);
  drawSlots(s);
  const tracks = s.tracks.map((t, i) => [i, `${i + 1} ${t.name}`]);
  options($("basis"), tracks);
  options($("target"), tracks);
  options($("preset"), s.presets.map((n) => [n, n]));
  $("sessions").replaceChildren(...s.sessions.map((n) => new Option(n)));
  drawParams(s);
}

function drawPatterns(s) {
  const box = $("patterns");
  if (box.children.length !== s.tracks.length) {
    box.replaceChildren(...s.tracks.map((_, i) => {
      const row = document.createElement("div");
      row.className = "track";
      row.dataset.track = i;
      row.innerHTML = `<button class="mute-btn">M</button><span class="name"></span><div class="steps">${
        "<span class=step></span>".repeat(32)}</div>`;
      row.querySelector(".mute-btn").onclick = (ev) => { ev.stopPropagation(); send({ type: "mute", track: i }); };
      row.onclick = () => send({ type: "select", track: i });
      return row;
    }));
  }
  s.tracks.forEach((t, i) => {
    const row = box.children[i];
    row.querySelector(".name").textContent = `${i + 1} ${t.name}`;
    row.classList.toggle("selected", i === s.selected);
    row.classList.toggle("muted", t.mute);
    row.classList.toggle("basis", i === s.basis);
    row.classList.toggle("pending", s.pending.includes(i));
    row.dataset.pattern = t.pattern;
    row.dataset.probability = t.probability.join(" ");
    [...row.querySelector(".steps").children].forEach((c, j) => {
      const on = t.pattern[j] === "x", p = t.probability[j];
      c.classList.toggle("on", on);
      c.classList.toggle("chance", on && p < 1);  // a set step that plays only sometimes
      c.style.opacity = on ? 0.35 + 0.65 * t.velocity[j] : "";
      c.style.setProperty("--p", p);
      c.title = on ? `velocity ${Math.round(t.velocity[j] * 100)} %, probability ${Math.round(p * 100)} %` : "";
    });
  });
}

function drawSlots(s) {
  const box = $("slots");
  if (box.children.length !== s.slots.length) {
    box.replaceChildren(...s.slots.map((_, i) => Object.assign(document.createElement("span"),
      { className: "slot", textContent: i + 1 })));
  }
  s.slots.forEach((st, i) => { box.children[i].dataset.state = st; box.children[i].title = st; });
  $("seed").textContent = `seed ${s.seed}`;
}

function drawParams(s) {
  const t = s.tracks[s.selected];
  $("track-name").textContent = `${s.selected + 1} ${t.name}`;
  if (document.activeElement !== $("morph")) $("morph").value = t.morph;
  $("morph-value").textContent = `${Math.round(t.morph * 100)} %`;
  const box = $("params");
  if (!box.children.length) {
    box.replaceChildren(...s.params.map((p) => {
      const row = document.createElement("label");
      row.className = "param";
      row.dataset.name = p.name;
      const input = p.choices.length ? document.createElement("select") : document.createElement("input");
      if (p.choices.length) p.choices.forEach((c, i) => input.append(new Option(c, i)));
      else Object.assign(input, { type: "range", min: 0, max: 1000, step: 1 });
      input.name = p.name;
      input.addEventListener("input", () => {
        const value = p.choices.length ? Number(input.value) : fromSlider(p, Number(input.value));
        row.querySelector("output").textContent = fmt(p, value);
        send({ type: "param", track: state.selected, slot, name: p.name, value });
      });
      row.append(Object.assign(document.createElement("span"), { textContent: p.name }), input,
        document.createElement("output"));
      return row;
    }));
  }
  const patch = slot === "a" ? t.a : t.b;
  s.params.forEach((p, i) => {
    const row = box.children[i];
    const input = row.querySelector(p.choices.length ? "select" : "input");
    const v = patch[p.name];
    row.dataset.value = v;
    if (document.activeElement !== input) input.value = p.choices.length ? v : toSlider(p, v);
    row.querySelector("output").textContent = fmt(p, v);
  });
}

document.querySelectorAll("input[name=slot]").forEach((r) => r.addEventListener("change", () => {
  slot = r.value;
  if (state) drawParams(state);
}));
$("morph").addEventListener("input", () => send({ type: "morph", track: state.selected, value: Number($("morph").value) }));
$("play").onclick = () => send({ type: "transport" });
$("tempo").addEventListener("change", () => send({ type: "tempo", bpm: Number($("tempo").value) }));
$("introspect").onclick = () => send({ type: "introspect", basis: Number($("basis").value), target: Number($("target").value) });
$("generate").onclick = () => send({ type: "generate", track: state.selected });
document.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => {
  send({ type: "preset", name: $("preset").value, slot: b.dataset.preset,
         track: $("preset-track").checked ? state.selected : null });
}));
const sessionName = () => $("session-name").value.trim() || null;
$("save").onclick = () => send({ type: "save", name: sessionName() });
$("load").onclick = () => send({ type: "load", name: sessionName() });

connect();
