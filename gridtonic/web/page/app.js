// gridtonic's page: a virtual grid (keys go to the same surface as a hardware grid) and the screen.
// Everything shown comes from the server's "state" and "frame" messages, so every open page shows
// the same thing; every edit is a message the server checks before applying it.
"use strict";

const $ = (id) => document.getElementById(id);
let ws = null;
let state = null;
let built = "";  // layout the grid was built for
let keys = [];  // the virtual grid's keys, row-major
let slot = "a";
const latched = new Set();  // "x,y" keys held by ctrl/cmd-click
const pointers = new Map();  // pointerId → {anchor: "x,y", over: "x,y" | null}
const keyboardHeld = new Map();  // KeyboardEvent.code → "x,y"
const LANE_STEPS = 32;  // steps a pattern lane shows at once (of the 64 every track has)
const LONG_PRESS = 450;  // ms a step is held to inspect it (touch screens have no right-click)
let lanePage = 0;  // which LANE_STEPS the lanes show
let inspected = null;  // {track, step} the inspector edits, or null
let shownSelected = null;  // the selected track at the last draw: a new selection moves the inspector
let positions = null;  // each track's own playhead (the last "positions" message), null when stopped
let fillHeld = false;  // this page holds FILL (button or F)
const METER_FLOOR = -60;  // dBFS at a meter's left end (0 dBFS at its right)
const METER_FALL_MS = 1500;  // a meter falls over its whole scale in this long (40 dB a second)
// and is redrawn this often once messages stop (silence comes once); the first redraw waits two steps,
// so that while messages come (15 a second) it never fires just before one (each costs a page frame)
const METER_STEP_MS = 1000 / 15;
const HOLD_MS = 1500;  // a meter's peak mark stays this long, then drops to the level
let meters = null;  // the last "meters" message
let meterTimer = null;
// for tests and the benchmark
window.gridtonic = { frames: 0, levels: "", sentAt: new Map(), meters: 0, get lastMeters() { return meters; } };

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
    else if (msg.type === "positions") { positions = msg.positions; drawHeads(); }
    else if (msg.type === "meters") { meters = msg; window.gridtonic.meters++; drawMeters(); }
    else if (msg.type === "error") showError(msg.message);
    else if (msg.type === "note") showError(msg.message, "note");
  };
}

function showError(text, kind = "error") {
  if (kind === "error" && state) $("tempo").value = state.tempo;  // a refused tempo shows the one playing
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
  grid.style.gridTemplateColumns = `repeat(${lay.width}, var(--key))`;
  const names = {};
  for (const [kind, rows] of Object.entries(lay.lanes)) {
    for (const y of rows) for (let x = 0; x < lay.width; x++) names[`${x},${y}`] = `${kind} of the selected track`;
  }
  for (const [name, [x, y]] of Object.entries(lay.keys)) names[`${x},${y}`] = lay.labels[name];
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
  keys = [...grid.children];
  built = JSON.stringify(lay);
  $("layout-name").textContent = lay.name;
  $("legend").replaceChildren(...Object.entries(lay.keys).flatMap(([name, [x, y]]) => [
    Object.assign(document.createElement("dt"), { textContent: `${x + 1},${y + 1}` }),
    Object.assign(document.createElement("dd"), { textContent: lay.labels[name] }),
  ]).map((el, i) => { el.dataset.key = Object.keys(lay.keys)[i >> 1]; return el; }));
}

function labelRows(s) {  // each track row of the grid named after its track, the lanes after theirs
  const box = $("row-labels");
  const lay = s.layout;
  const text = Array.from({ length: lay.height }, (_, y) => {
    const t = lay.rows.indexOf(y);
    if (t >= 0 && t < s.tracks.length) return `${t + 1} ${s.tracks[t].name}`;
    const lane = Object.entries(lay.lanes).find(([, rows]) => rows.includes(y));
    return lane ? lane[0] : "";
  });
  if (box.dataset.text === text.join("|")) return;
  box.dataset.text = text.join("|");
  box.replaceChildren(...text.map((t, y) => Object.assign(document.createElement("span"),
    { textContent: t, title: t, className: lay.rows.includes(y) ? "track-label" : "" })));
}

function keyAt(ev) {
  const el = document.elementFromPoint(ev.clientX, ev.clientY);
  return el && el.classList.contains("key") ? el.dataset.xy : null;
}

$("grid").addEventListener("pointerdown", (ev) => {
  // the target, not keyAt: hit-testing the point first forced a style update (a meter's, a
  // playhead's) before the key went out; moves need it (a touch keeps targeting where it began)
  const xy = ev.target.classList.contains("key") ? ev.target.dataset.xy : null;
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
  if (!pointers.size && !latched.size && !keyboardHeld.size && !fillHeld) return;
  pointers.clear(); latched.clear(); keyboardHeld.clear();
  fillHeld = false; $("fill").classList.remove("held");
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
  for (let i = 0; i < keys.length && i < msg.levels.length; i++) {
    const l = parseInt(msg.levels[i], 16);
    if (keys[i].dataset.level !== String(l)) {
      keys[i].dataset.level = l;
      keys[i].style.setProperty("--l", l);
    }
  }
}

// -- level meters: scsynth's peaks (linear) at up to 15 a second; the hold and the fall are drawn here,
// stepwise at that rate (a CSS transition would redraw the page at 60 frames a second while it falls) --

function meterFraction(peak) {  // METER_FLOOR..0 dBFS → 0..1
  return peak > 0 ? Math.max(0, Math.min(1, 1 - 20 * Math.log10(peak) / METER_FLOOR)) : 0;
}

const meterState = new WeakMap();  // a meter element → {shown, at, hold, holdAt}: kept here, not in the DOM

function drawMeter(el, peak, now) {  // true while it falls or holds its peak mark over the level
  const f = meterFraction(peak);
  const m = meterState.get(el) || { shown: 0, at: now, hold: 0, holdAt: 0 };
  meterState.set(el, m);
  const shown = Math.max(f, m.shown - (now - m.at) / METER_FALL_MS);  // rises at once, falls steadily
  m.at = now;
  // the transforms straight on the cover and the mark: a custom property on the meter would restyle
  // its whole subtree on every message (twice the style time while the transport plays)
  if (shown !== m.shown) el.firstElementChild.style.transform = `scaleX(${(1 - (m.shown = shown)).toFixed(3)})`;
  if (f >= m.hold || now - m.holdAt > HOLD_MS) {
    if (f !== m.hold) el.lastElementChild.style.transform = `translateX(calc(${f.toFixed(3)} * (100% - 2px)))`;
    m.hold = f;
    m.holdAt = now;
  }
  return m.shown > f || m.hold > f;
}

function drawMeters(fromTimer = false) {
  const msg = meters, now = performance.now();
  let moving = false;
  document.querySelectorAll("#patterns .track").forEach((row, i) => {
    if (msg.tracks[i]) moving = drawMeter(row.querySelector(".meter"), msg.tracks[i][0], now) || moving;
  });
  const [peak, , reduction] = msg.master;
  moving = drawMeter($("master-meter"), peak, now) || moving;
  const gr = reduction > 0.001 ? `GR ${(20 * Math.log10(1 - reduction)).toFixed(1)} dB` : "";
  if ($("reduction").textContent !== gr) $("reduction").textContent = gr;
  clearTimeout(meterTimer);  // silence comes once: the meters fall on without messages
  if (moving) meterTimer = setTimeout(drawMeters, fromTimer ? METER_STEP_MS : 2 * METER_STEP_MS, true);
}

function drawHeads() {  // each lane's own playhead, where it is on the steps shown
  document.querySelectorAll(".step.head").forEach((c) => c.classList.remove("head"));
  if (!positions) return;
  document.querySelectorAll("#patterns .track").forEach((row, i) => {
    const p = positions[i];
    if (p !== undefined && Math.floor(p / LANE_STEPS) === lanePage) {
      row.querySelector(".steps").children[p % LANE_STEPS].classList.add("head");
    }
  });
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
  if (ev.code === "KeyF") {  // FILL while held
    ev.preventDefault();
    holdFill(true);
    return;
  }
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
  if (ev.code === "KeyF") holdFill(false);
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
  labelRows(s);
  $("walkthrough").hidden = !s.first_run || localStorage.getItem("gridtonic.walkthrough") === "done";
  $("play").classList.toggle("on", s.playing);
  $("play").textContent = s.playing ? "stop" : "play";
  if (document.activeElement !== $("tempo")) $("tempo").value = s.tempo;
  if (document.activeElement !== $("master")) $("master").value = s.master_db;
  $("master-value").textContent = `${s.master_db > 0 ? "+" : ""}${s.master_db.toFixed(1)} dB`;
  $("status").textContent = Object.entries(s.status).map(([k, v]) => `${k}: ${v}`).join(" · ");
  $("prior").textContent = !s.prior ? "(no prior loaded yet)" : s.told || "";
  drawIntrospection(s);
  drawPatterns(s);
  drawSlots(s);
  drawSong(s);
  drawInspector(s);
  const tracks = s.tracks.map((t, i) => [i, `${i + 1} ${t.name}`]);
  options($("basis"), tracks);
  options($("target"), tracks);
  options($("preset"), s.presets.map((n) => [n, n]));
  $("preset-hint").hidden = s.presets.length > 0;
  $("preset-hint").textContent = `no presets yet: put Microtonic .mtpreset files in ${s.presets_dir}`;
  document.querySelectorAll("[data-preset]").forEach((b) => { b.disabled = !s.presets.length; });
  $("sessions").replaceChildren(...s.sessions.map((n) => new Option(n)));
  drawParams(s);
  drawPicture(s);
}

// the focus/wild slider moves on a log scale over the session's range (as exponential parameters)
const focusScale = (s) => ({ exp: true, min: s.limits.focus[0], max: s.limits.focus[1] });

function drawIntrospection(s) {
  if (document.activeElement !== $("focus")) $("focus").value = toSlider(focusScale(s), s.focus);
  $("focus-value").textContent = `${s.focus.toFixed(2)}${s.focus < 1 ? " sharper" : s.focus > 1 ? " looser" : ""}`;
  if (document.activeElement !== $("groove")) $("groove").value = s.groove;
  $("groove-value").textContent = `${Math.round(s.groove * 100)} %`;
  document.querySelectorAll("[data-next-bar]").forEach((b) => {
    b.setAttribute("aria-checked", String(b.dataset.nextBar === s.next_bar));
  });
  const name = `${s.selected + 1} ${s.tracks[s.selected].name}`;
  $("groove-track").textContent = `groove ${name}`;
  $("kit").textContent = `kit from ${name}`;
  $("groove-track").disabled = $("kit").disabled = !s.prior;
}

// a step's value in one of the per-step lists (the state leaves out lists that are all default)
function stepValue(s, t, name, j) {
  return t[name] ? t[name][j] : s.limits.defaults[name];
}

function speedLabel(v) {  // 0.75 → "3/4×"
  const d = [1, 2, 4, 8].find((d) => Number.isInteger(v * d));
  return d === 1 ? `${v}×` : `${v * d}/${d}×`;
}

function nudgeLabel(s, n) {
  return n ? `${n > 0 ? "+" : "−"}${Math.abs(n)}/${s.limits.nudge_divisions} step` : "on time";
}

function describeStep(s, t, j) {  // a lane step's hover text: everything the inspector would show
  const v = (name) => stepValue(s, t, name, j);
  if (t.pattern[j] !== "x") return `step ${j + 1}` + (j >= t.length ? " (past the track's length)" : "");
  const parts = [`velocity ${Math.round(v("velocity") * 100)} %`,
    v("condition") ? `condition ${v("condition")}` : `probability ${Math.round(v("probability") * 100)} %`];
  if (v("ratchet") > 1) parts.push(`ratchet ${v("ratchet")} (ramp ${v("ramp")})`);
  if (v("nudge")) parts.push(`nudge ${nudgeLabel(s, v("nudge"))}`);
  if (v("accent")) parts.push("accent");
  const locks = Object.keys(v("locks"));
  if (locks.length) parts.push(`locks ${locks.join(", ")}`);
  return `step ${j + 1}: ${parts.join(", ")}` + (j >= t.length ? " (past the track's length)" : "");
}

function inspect(track, step) {
  inspected = { track, step };
  if (state.selected !== track) send({ type: "select", track });
  drawPatterns(state);
  drawInspector(state);
}

function stepEvents(c, i, k) {  // click: set or clear; right-click, alt-click, long press: inspect
  const at = () => lanePage * LANE_STEPS + k;
  let timer = null, long = false;
  c.addEventListener("pointerdown", (ev) => {
    long = false;
    if (ev.button === 0) timer = setTimeout(() => { long = true; inspect(i, at()); }, LONG_PRESS);
  });
  for (const end of ["pointerup", "pointerleave", "pointercancel"]) c.addEventListener(end, () => clearTimeout(timer));
  c.addEventListener("click", (ev) => {
    if (long) { long = false; return; }  // the long press inspected it
    if (ev.altKey || $("inspect-mode").checked) inspect(i, at());
    else send({ type: "step", track: i, step: at(), on: state.tracks[i].pattern[at()] !== "x" });
  });
  c.addEventListener("contextmenu", (ev) => { ev.preventDefault(); inspect(i, at()); });
}

function drawPatterns(s) {
  const box = $("patterns");
  if (box.children.length !== s.tracks.length) {
    box.replaceChildren(...s.tracks.map((_, i) => {
      const row = document.createElement("div");
      row.className = "track";
      row.dataset.track = i;
      row.innerHTML = `<button class="mute-btn" title="mute">M</button><span class="name"></span>`
        + `<span class="meter" title="level"><i></i><b></b></span><div class="steps">${
        "<span class=step></span>".repeat(LANE_STEPS)}</div>`;
      row.querySelector(".mute-btn").onclick = (ev) => { ev.stopPropagation(); send({ type: "mute", track: i }); };
      row.onclick = () => send({ type: "select", track: i });
      [...row.querySelector(".steps").children].forEach((c, k) => stepEvents(c, i, k));
      return row;
    }));
    drawHeads();
  }
  document.querySelectorAll("[data-lane-page]").forEach((b) => {
    b.setAttribute("aria-checked", String(Number(b.dataset.lanePage) === lanePage));
  });
  s.tracks.forEach((t, i) => {
    const row = box.children[i];
    row.querySelector(".name").textContent = `${i + 1} ${t.name}`;
    row.classList.toggle("selected", i === s.selected);
    row.classList.toggle("muted", t.mute);
    row.classList.toggle("basis", i === s.basis);
    row.classList.toggle("pending", s.pending.includes(i));
    row.dataset.pattern = t.pattern;
    row.dataset.length = t.length;
    row.title = `length ${t.length}, speed ${speedLabel(t.speed)}`;
    [...row.querySelector(".steps").children].forEach((c, k) => {
      const j = lanePage * LANE_STEPS + k;
      const v = (name) => stepValue(s, t, name, j);
      const on = t.pattern[j] === "x", p = v("probability"), ratchet = v("ratchet");
      c.dataset.step = j;
      c.classList.toggle("on", on);
      c.classList.toggle("chance", on && p < 1);  // a set step that plays only sometimes
      c.classList.toggle("accent", on && v("accent"));
      c.classList.toggle("cond", on && v("condition") !== null);
      c.classList.toggle("locked", on && Object.keys(v("locks")).length > 0);
      c.classList.toggle("beyond", j >= t.length);  // not played: past the track's length
      c.classList.toggle("inspected", inspected !== null && inspected.track === i && inspected.step === j);
      c.textContent = on && ratchet > 1 ? ratchet : "";
      c.style.opacity = on ? 0.35 + 0.65 * v("velocity") : "";
      c.style.setProperty("--p", p);
      c.title = describeStep(s, t, j);
    });
  });
}

// -- the step inspector: one step of a track (every per-step setting and its locks), the track's
// length and speed; each control sends one checked message and shows what the state says -----------

const STEP_SHOWN = {
  on: (s, v) => (v ? "plays" : "off"), accent: (s, v) => (v ? "accent" : ""),
  velocity: (s, v) => `${Math.round(v * 100)} %`, probability: (s, v) => `${Math.round(v * 100)} %`,
  condition: (s, v) => (v === null ? "" : v), ratchet: (s, v) => (v > 1 ? `${v} hits` : "1 hit"),
  ramp: (s, v) => (v > 0 ? `+${v.toFixed(2)}` : v.toFixed(2)), nudge: nudgeLabel,
};

function inspectorTrack(s) {
  return inspected ? inspected.track : s.selected;
}

function fieldControl(name) {
  return document.querySelector(`#step-fields [data-field="${name}"] input, #step-fields [data-field="${name}"] select`);
}

function buildInspector(s) {
  options($("speed"), s.limits.speeds.map((v) => [v, speedLabel(v)]));
  options(fieldControl("condition"), [["", "none"], ...s.limits.conditions.map((c) => [c, c])]);
  Object.assign(fieldControl("ratchet"), { min: 1, max: s.limits.ratchet });
  Object.assign(fieldControl("nudge"), { min: -s.limits.nudge, max: s.limits.nudge });
  $("track-length").max = s.limits.steps;
  options($("lock-name"), s.params.map((p) => [p.name, p.label]));
  $("inspector").dataset.built = "1";
}

function lockParam() {
  return state.params.find((p) => p.name === $("lock-name").value);
}

function drawLockValue(s, t, locks) {  // the lock slider: the step's lock, else the track's own value
  const p = lockParam(), input = $("lock-value");
  const v = p.name in locks ? locks[p.name] : t.a[p.name];
  if (p.choices.length) Object.assign(input, { min: 0, max: p.choices.length - 1, step: 1 });
  else Object.assign(input, { min: 0, max: 1000, step: 1 });
  if (document.activeElement !== input) input.value = p.choices.length ? v : toSlider(p, v);
  $("lock-shown").textContent = p.name in locks ? fmt(p, v) : "not locked";
  $("lock-edit").dataset.value = p.name in locks ? v : "";
}

function drawInspector(s) {
  if (!$("inspector").dataset.built) buildInspector(s);
  if (s.selected !== shownSelected) {  // selected elsewhere (keys, another page): inspect its step
    if (inspected && shownSelected !== null) inspected.track = s.selected;
    shownSelected = s.selected;
  }
  if (inspected && !s.tracks[inspected.track]) inspected = null;  // a loaded session has fewer tracks
  const i = inspectorTrack(s), t = s.tracks[i];
  if (document.activeElement !== $("track-length")) $("track-length").value = t.length;
  if (document.activeElement !== $("speed")) $("speed").value = t.speed;
  $("inspector").classList.toggle("idle", !inspected);
  $("inspector").querySelectorAll("#step-fields input, #step-fields select, #lock-fields input, #lock-fields button")
    .forEach((el) => { el.disabled = !inspected; });
  if (!inspected) {
    $("inspected").textContent = "right-click a step (or alt-click, long-press) to inspect it";
    $("locks").replaceChildren();
    return;
  }
  const j = inspected.step;
  $("inspected").textContent = `step ${j + 1} of ${i + 1} ${t.name}` + (j >= t.length ? " (past its length)" : "");
  $("inspector").dataset.track = i;
  $("inspector").dataset.step = j;
  for (const row of document.querySelectorAll("#step-fields [data-field]")) {
    const name = row.dataset.field;
    const v = name === "on" ? t.pattern[j] === "x" : stepValue(s, t, name, j);
    row.dataset.value = JSON.stringify(v);
    row.querySelector("output").textContent = STEP_SHOWN[name](s, v);
    const control = fieldControl(name);
    if (document.activeElement === control) continue;
    if (control.type === "checkbox") control.checked = v;
    else control.value = v === null ? "" : v;
  }
  const locks = stepValue(s, t, "locks", j);
  drawLockValue(s, t, locks);
  $("locks").replaceChildren(...Object.entries(locks).map(([name, v]) => {
    const p = s.params.find((q) => q.name === name);
    const li = document.createElement("li");
    li.dataset.lock = name;
    const label = Object.assign(document.createElement("button"), { className: "lock-name", type: "button",
      textContent: `${p.label} ${fmt(p, v)}`, title: "edit this lock" });
    label.onclick = () => { $("lock-name").value = name; drawLockValue(state, t, locks); };
    const clear = Object.assign(document.createElement("button"), { className: "lock-clear", type: "button",
      textContent: "×", title: `clear the ${p.label} lock` });
    clear.onclick = () => send({ type: "lock", ...where(), name, value: null });
    li.append(label, clear);
    return li;
  }));
}

function where() {  // the inspected step, as messages name it
  return { track: inspected.track, step: inspected.step };
}

for (const row of document.querySelectorAll("#step-fields [data-field]")) {
  const name = row.dataset.field;
  const control = row.querySelector("input, select");
  const sent = () => {
    if (!inspected) return;
    if (name === "on") send({ type: "step", ...where(), on: control.checked });
    else if (name === "velocity" || name === "probability") {
      send({ type: "level", ...where(), lane: name, value: Number(control.value) });
    } else {
      const value = name === "accent" ? control.checked : name === "condition" ? control.value || null
        : Number(control.value);
      send({ type: "step_field", ...where(), field: name, value });
    }
  };
  control.addEventListener(control.type === "range" ? "input" : "change", sent);
}
$("lock-name").addEventListener("change", () => {
  if (inspected) drawLockValue(state, state.tracks[inspected.track], stepValue(state, state.tracks[inspected.track], "locks", inspected.step));
});
$("lock-value").addEventListener("input", () => {
  const p = lockParam(), v = Number($("lock-value").value);
  if (inspected) send({ type: "lock", ...where(), name: p.name, value: p.choices.length ? v : fromSlider(p, v) });
});
$("lock-clear").onclick = () => inspected && send({ type: "lock", ...where(), name: $("lock-name").value, value: null });
$("track-length").addEventListener("change", () => {
  const n = Number($("track-length").value);
  if (Number.isInteger(n) && n >= 1 && n <= state.limits.steps) {
    send({ type: "track_field", track: inspectorTrack(state), field: "length", value: n });
  } else showError(`a length is a whole number of steps, 1 to ${state.limits.steps}`);
});
$("speed").addEventListener("change", () => {
  send({ type: "track_field", track: inspectorTrack(state), field: "speed", value: Number($("speed").value) });
});
document.querySelectorAll("[data-lane-page]").forEach((b) => b.addEventListener("click", () => {
  lanePage = Number(b.dataset.lanePage);
  if (state) drawPatterns(state);
  drawHeads();
}));

// -- song mode and FILL -----------------------------------------------------------------------------

function holdFill(on) {
  if (fillHeld === on) return;
  fillHeld = on;
  $("fill").classList.toggle("held", on);
  send({ type: "fill", held: on });
}

$("fill").addEventListener("pointerdown", (ev) => {
  ev.preventDefault();
  $("fill").setPointerCapture(ev.pointerId);  // let go anywhere: up reaches the button
  holdFill(true);
});
for (const end of ["pointerup", "pointercancel", "lostpointercapture"]) {
  $("fill").addEventListener(end, () => holdFill(false));
}

function setChain() {  // "1 1 2 3" (slot numbers as the page shows them) → the chain
  const words = $("chain").value.split(/[\s,]+/).filter(Boolean);
  const slots = words.map(Number);
  if (!slots.every((n) => Number.isInteger(n) && n >= 1 && n <= state.slots.length)
      || slots.length > state.limits.chain) {
    showError(`a chain is up to ${state.limits.chain} slot numbers from 1 to ${state.slots.length}, e.g. 1 1 2 3`);
    return;
  }
  send({ type: "chain", slots: slots.map((n) => n - 1) });
}
$("chain-set").onclick = setChain;
$("chain").addEventListener("keydown", (ev) => { if (ev.key === "Enter") setChain(); });
$("chain-clear").onclick = () => { $("chain").value = ""; send({ type: "chain", slots: [] }); };

$("fill-every").addEventListener("change", () => {
  const n = Number($("fill-every").value);
  if (Number.isInteger(n) && n >= 0 && n <= state.limits.fill_every) send({ type: "fill_every", bars: n });
  else showError(`fills come every 1 to ${state.limits.fill_every} bars, or 0: only while FILL is held`);
});

function drawSong(s) {
  if (document.activeElement !== $("chain")) $("chain").value = s.chain.map((n) => n + 1).join(" ");
  $("song").dataset.chain = s.chain.join(" ");
  $("fill").classList.toggle("on", s.fill);
  $("fill-every").max = s.limits.fill_every;
  if (document.activeElement !== $("fill-every")) $("fill-every").value = s.fill_every;
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

function paramControl(p, row) {  // a slider, or segmented buttons for a discrete choice
  const sent = (value) => {
    row.querySelector("output").textContent = fmt(p, value);
    send({ type: "param", track: state.selected, slot, name: p.name, value });
  };
  if (!p.choices.length) {
    const input = Object.assign(document.createElement("input"), { type: "range", min: 0, max: 1000, step: 1 });
    input.name = p.name;
    input.setAttribute("aria-label", p.label);
    input.addEventListener("input", () => sent(fromSlider(p, Number(input.value))));
    return input;
  }
  const seg = Object.assign(document.createElement("div"), { className: "seg" });
  seg.setAttribute("role", "radiogroup");
  seg.setAttribute("aria-label", p.label);
  p.choices.forEach((c, i) => {
    const b = Object.assign(document.createElement("button"), { textContent: c, type: "button" });
    b.dataset.value = i;
    b.setAttribute("role", "radio");
    b.onclick = () => { setSegment(seg, i); sent(i); };
    seg.append(b);
  });
  return seg;
}

function setSegment(seg, v) {
  [...seg.children].forEach((b) => b.setAttribute("aria-checked", String(Number(b.dataset.value) === v)));
}

function drawParams(s) {
  const t = s.tracks[s.selected];
  $("track-name").textContent = `${s.selected + 1} ${t.name}`;
  if (document.activeElement !== $("morph")) $("morph").value = t.morph;
  $("morph-value").textContent = `${Math.round(t.morph * 100)} %`;
  const box = $("params");
  if (!box.children.length) {
    const groups = new Map();
    for (const p of s.params) {
      if (!groups.has(p.group)) {
        const fs = document.createElement("fieldset");
        fs.className = "group";
        fs.append(Object.assign(document.createElement("legend"), { textContent: p.group }));
        groups.set(p.group, fs);
      }
      const row = document.createElement("div");
      row.className = "param" + (p.choices.length ? " discrete" : "");
      row.dataset.name = p.name;
      const label = Object.assign(document.createElement("span"), { className: "label", textContent: p.label });
      label.title = p.unit ? `${p.name} (${p.unit})` : p.name;
      row.append(label, paramControl(p, row), document.createElement("output"));
      groups.get(p.group).append(row);
    }
    box.replaceChildren(...groups.values());
  }
  const patch = slot === "a" ? t.a : t.b;
  for (const p of s.params) {
    const row = box.querySelector(`[data-name="${p.name}"]`);
    const v = patch[p.name];
    row.dataset.value = v;
    if (p.choices.length) setSegment(row.querySelector(".seg"), Math.round(v));
    else {
      const input = row.querySelector("input");
      if (document.activeElement !== input) input.value = toSlider(p, v);
    }
    row.querySelector("output").textContent = fmt(p, v);
  }
}

// -- pictures of the sound: core/envelope's curves for the patch being edited -----------------------

const PICTURE_W = 300, PICTURE_H = 100;

function points(values, y) {
  const n = values.length;
  return values.map((v, i) => `${(i * PICTURE_W / (n - 1)).toFixed(2)},${(PICTURE_H - y(v) * PICTURE_H).toFixed(2)}`)
    .join(" ");
}

function drawPicture(s) {
  const pic = s.picture[slot];
  $("env-tone").setAttribute("points", points(pic.tone, (v) => v));
  $("env-noise").setAttribute("points", points(pic.noise, (v) => v));
  const [lo, hi] = pic.pitch_range;
  // pitch on a log scale over its own range (flat: the middle line)
  const y = (hz) => (hi > lo * 1.0001 ? Math.log(hz / lo) / Math.log(hi / lo) * 0.9 + 0.05 : 0.5);
  $("env-pitch").setAttribute("points", pic.pitch.length ? points(pic.pitch, y) : "");
  $("env-pitch").classList.toggle("random", pic.random_pitch);
  $("pitch-range").textContent = !pic.pitch.length ? "none" : pic.random_pitch
    ? `random ${Math.round(lo)}–${Math.round(hi)} Hz` : hi > lo * 1.0001
      ? `${Math.round(pic.pitch[0])} → ${Math.round(pic.pitch[pic.pitch.length - 1])} Hz` : `${Math.round(lo)} Hz`;
  $("length").textContent = `${Math.round(pic.length * 1000)} ms`;
}

document.querySelectorAll("input[name=slot]").forEach((r) => r.addEventListener("change", () => {
  slot = r.value;
  if (state) { drawParams(state); drawPicture(state); }
}));
$("walkthrough-done").onclick = () => {
  localStorage.setItem("gridtonic.walkthrough", "done");
  $("walkthrough").hidden = true;
};
$("morph").addEventListener("input", () => send({ type: "morph", track: state.selected, value: Number($("morph").value) }));
$("play").onclick = () => send({ type: "transport" });
$("tempo").addEventListener("change", () => send({ type: "tempo", bpm: Number($("tempo").value) }));
$("master").addEventListener("input", () => send({ type: "master", db: Number($("master").value) }));
$("introspect").onclick = () => send({ type: "introspect", basis: Number($("basis").value), target: Number($("target").value) });
$("generate").onclick = () => send({ type: "generate", track: state.selected });
$("focus").addEventListener("input", () => send({ type: "introspection", field: "focus",
  value: fromSlider(focusScale(state), Number($("focus").value)) }));
$("groove").addEventListener("input", () => send({ type: "introspection", field: "groove",
  value: Number($("groove").value) }));
document.querySelectorAll("[data-next-bar]").forEach((b) => {
  b.onclick = () => send({ type: "introspection", field: "next_bar", value: b.dataset.nextBar });
});
$("groove-track").onclick = () => send({ type: "groove", track: state.selected });
$("kit").onclick = () => send({ type: "kit", basis: state.selected });
document.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => {
  send({ type: "preset", name: $("preset").value, slot: b.dataset.preset,
         track: $("preset-track").checked ? state.selected : null });
}));
const sessionName = () => $("session-name").value.trim() || null;
$("save").onclick = () => send({ type: "save", name: sessionName() });
$("load").onclick = () => send({ type: "load", name: sessionName() });

connect();
