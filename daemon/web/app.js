// berrykit's classroom page: draws the kit that berrykitd pushes on /api/events, and sends the
// outside world's presses and sensor values back. Served by berrykitd itself; loads nothing else.
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const MAX_UPDATES = 20000; // kept in berrykitPage.updates for the latency benchmark
  const MAX_LOG = 100;
  const MAX_READINGS = 20;
  const SEND_EVERY_MS = 100; // a dragged slider sends at most ten values a second
  const ERROR_SHOWN_MS = 6000;
  const RECONNECT_MS = 2000; // only when EventSource gave up; it retries by itself otherwise
  const BUZZER_HZ = 2000;
  const BUZZER_VOLUME = 0.03;

  const page = (window.berrykitPage = { version: null, updates: [], errors: [] });
  const $ = (selector) => document.querySelector(selector);
  const entries = new Map(); // part name -> {part, card, kind, view}
  let boardSignature = "";
  let everConnected = false;
  let readings = [];

  // ---- small helpers ------------------------------------------------------------------------

  function html(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    node.append(...children);
    return node;
  }

  function svg(parent, tag, attrs = {}) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    parent.appendChild(node);
    return node;
  }

  let nextId = 0;
  const uniqueId = (what) => `bk-${what}-${++nextId}`;

  const clamp01 = (x) => Math.min(1, Math.max(0, Number(x) || 0));
  const percent = (x) => Math.max(1, Math.round(x * 100));
  // Numbers as a kid's program prints them: 0.5, 21.5, 1 (never 0.30000000000000004).
  const plain = (x) => (typeof x === "number" ? String(Number(x.toFixed(2))) : String(x));
  const decimalsOf = (step) => ((String(step).split(".")[1] || "").length);
  const withUnit = (text, unit) => (unit ? (unit === "%" ? `${text}%` : `${text} ${unit}`) : text);
  const clockTime = (ts) => {
    const when = ts ? new Date(ts) : null;
    return when && !isNaN(when) ? when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }) : "";
  };

  function noteError(kind, message) {
    page.errors.push({ time: Date.now(), kind, message });
    if (page.errors.length > 1000) page.errors.shift();
  }
  window.addEventListener("error", (event) => noteError("script", String(event.message)));
  window.addEventListener("unhandledrejection", (event) => noteError("script", String(event.reason)));

  let errorTimer = null;
  function showError(message) {
    const strip = $("#error");
    strip.textContent = message;
    strip.hidden = false;
    clearTimeout(errorTimer);
    errorTimer = setTimeout(() => (strip.hidden = true), ERROR_SHOWN_MS);
  }

  // ---- talking to berrykitd -----------------------------------------------------------------

  // One queue per part, so a release never overtakes its press and a slider's values arrive in order.
  const sendQueues = new Map();
  function post(path, body) {
    const previous = sendQueues.get(body.part) || Promise.resolve();
    const next = previous.then(() => send(path, body));
    sendQueues.set(body.part, next);
    return next;
  }

  async function send(path, body) {
    let reply;
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      reply = await response.json().catch(() => ({}));
      if (!response.ok || reply.ok !== true) {
        const error = reply.error || {};
        reply = { ok: false, error: { code: error.code || `http_${response.status}`,
          message: error.message || `berrykitd did not accept that (HTTP ${response.status}).` } };
      }
    } catch (failure) {
      reply = { ok: false, error: { code: "unreachable", message: "Could not reach berrykitd. Is it still running?" } };
    }
    if (!reply.ok) {
      noteError(reply.error.code, reply.error.message);
      showError(reply.error.message);
    }
    return reply;
  }

  function connect() {
    const source = new EventSource("/api/events");
    source.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (failure) {
        noteError("bad_event", String(failure));
        return;
      }
      if (message.full) applyFull(message);
      else if (document.body.dataset.connected === "true") applyChange(message);
    };
    source.onerror = () => {
      setConnected(false);
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, RECONNECT_MS);
      }
    };
  }

  function setConnected(connected) {
    document.body.dataset.connected = String(connected);
    if (connected) everConnected = true;
    else {
      const banner = $("#banner");
      banner.textContent = everConnected ? "Lost touch with berrykitd — trying again…" : "Connecting to berrykitd…";
      banner.dataset.lost = String(everConnected);
      releaseAllPresses();
    }
  }

  // ---- applying what berrykitd says ---------------------------------------------------------

  function applyFull(message) {
    const board = message.board || {};
    $("#board-name").textContent = board.name || "";
    $("#board-description").textContent = board.description || "";
    document.title = `berrykit — ${board.name || "classroom"}`;
    const parts = message.parts || [];
    const signature = parts.map((p) => `${p.name}:${p.type}:${(p.controls || []).map((c) => c.quantity)}`).join("|");
    if (signature !== boardSignature) buildBoard(parts);
    boardSignature = signature;
    for (const part of parts) applyPart(part.name, part);
    showCloud(message.cloud || { enabled: false });
    readings = [];
    addReadings(message.readings || []);
    addLog(message.log || [], true);
    page.version = message.version;
    setConnected(true);
  }

  function applyChange(message) {
    for (const [name, change] of Object.entries(message.parts || {})) applyPart(name, change);
    if (message.cloud) showCloud(message.cloud);
    if (message.readings) addReadings(message.readings);
    if (message.log) addLog(message.log);
    if (message.version !== undefined) page.version = message.version;
  }

  function applyPart(name, change) {
    const entry = entries.get(name);
    if (!entry) return;
    const part = entry.part;
    for (const key of ["owner", "controls"]) if (key in change) part[key] = change[key];
    if ("state" in change) part.state = change.state || {};
    if ("state" in change) {
      page.updates.push([performance.timeOrigin + performance.now(), name, change.state]);
      if (page.updates.length > MAX_UPDATES) page.updates.shift();
    }
    showPart(entry);
  }

  // ---- the board ----------------------------------------------------------------------------

  function buildBoard(parts) {
    releaseAllPresses();
    entries.clear();
    const board = $("#board");
    board.textContent = "";
    board.style.setProperty("--columns", Math.min(6, Math.max(4, Math.ceil(parts.length / 3))));
    parts.forEach((data, index) => {
      const part = { ...data, state: data.state || {}, index };
      const kind = KINDS[part.type] || UNKNOWN;
      const card = html("article", { class: "part", "data-part": part.name, "data-type": part.type });
      const kindWords = part.type === "led" && part.color_name ? `${part.color_name} LED` : part.kind || part.type;
      card.append(html("header", {}, html("h2", { class: "name", title: part.name }, part.name),
        html("span", { class: "kind" }, kindWords)));
      const drawing = svg(card, "svg", { class: "drawing", viewBox: "0 0 200 120", "aria-hidden": "true" });
      const view = kind.draw(drawing, part) || {};
      if (kind.pressable) {
        const button = html("button", { type: "button", class: "press", "data-action": "press",
          "aria-label": `${kind.pressable} ${part.name}` }, drawing, html("span", { class: "hint" }, kind.pressable));
        card.appendChild(button);
        wirePress(button, part.name);
      }
      view.word = html("span", { class: "word" });
      view.detail = html("span", { class: "detail" });
      card.append(html("p", { class: "status" }, view.word, " ", view.detail));
      view.extra = card.appendChild(html("p", { class: "extra" }));
      view.sliders = (part.controls || []).map((control) => card.appendChild(makeSlider(part, control)));
      const lines = Object.entries(part.lines || {}).map(([role, line]) => (role && role !== "line" ? `${role} ${line}` : line)).join(", ");
      const about = [part.label || part.kind || part.type, lines].filter(Boolean).join(" · ");
      card.append(html("p", { class: "about", title: about }, about));
      view.owner = card.appendChild(html("p", { class: "owner" }));
      board.appendChild(card);
      entries.set(part.name, { part, card, kind, view });
    });
  }

  function showPart({ part, card, kind, view }) {
    const shown = kind.show(part, view, card) || {};
    view.word.textContent = shown.word || "";
    card.dataset.active = String(Boolean(shown.active));
    view.detail.textContent = shown.detail || "";
    view.extra.textContent = shown.extra || "";
    const owner = part.owner;
    view.owner.textContent = owner ? `used by ${owner.program || "a program"}${owner.pid ? ` (pid ${owner.pid})` : ""}` : "";
    for (const slider of view.sliders) showSlider(part, slider);
  }

  function makeSlider(part, control) {
    const input = html("input", { type: "range", min: control.min, max: control.max, step: control.step,
      "data-part": part.name, "data-quantity": control.quantity, "aria-label": `${part.name} ${control.quantity}` });
    input.value = control.value;
    const output = html("output", {});
    const row = html("label", { class: "control" }, html("span", { class: "quantity" }, control.quantity), input, output);
    if ((part.controls || []).length === 1) row.classList.add("single");
    // While the slider is held or its values are on their way, berrykitd's echoes of older values
    // must not pull it back; once all is quiet it shows what the world has (after a refusal too).
    const sender = { sent: null, lastSent: 0, timer: null, dragging: false, inFlight: 0 };
    input.sender = sender;
    input.output = output;
    input.unit = control.unit;
    const resync = () => {
      const entry = entries.get(part.name);
      if (entry) showSlider(entry.part, input);
    };
    const sendNow = () => {
      clearTimeout(sender.timer);
      sender.timer = null;
      const value = Number(input.value);
      if (value === sender.sent) return;
      sender.sent = value;
      sender.lastSent = performance.now();
      sender.inFlight++;
      post("/api/sensor", { part: part.name, quantity: control.quantity, value }).then((reply) => {
        sender.inFlight--;
        if (!reply.ok) sender.sent = null;
        setTimeout(resync, reply.ok ? 500 : 0);
      });
    };
    input.addEventListener("input", () => {
      showValue(input);
      if (sender.timer) return;
      const wait = sender.lastSent + SEND_EVERY_MS - performance.now();
      if (wait <= 0) sendNow();
      else sender.timer = setTimeout(sendNow, wait);
    });
    input.addEventListener("change", sendNow);
    input.addEventListener("pointerdown", () => (sender.dragging = true));
    for (const type of ["pointerup", "pointercancel", "blur"]) {
      input.addEventListener(type, () => {
        sender.dragging = false;
        setTimeout(resync, 500);
      });
    }
    return row;
  }

  function showSlider(part, row) {
    const input = row.tagName === "INPUT" ? row : row.querySelector("input");
    const control = (part.controls || []).find((c) => c.quantity === input.dataset.quantity);
    if (!control) return;
    const { dragging, timer, inFlight } = input.sender;
    if (control.value !== input.sender.sent) input.sender.sent = null;
    if (!dragging && !timer && !inFlight && typeof control.value === "number") {
      input.value = control.value;
      showValue(input);
    }
  }

  function showValue(input) {
    input.output.textContent = withUnit(Number(input.value).toFixed(decimalsOf(input.step)), input.unit);
  }

  const controlValue = (part, quantity) => {
    const control = (part.controls || []).find((c) => c.quantity === quantity);
    return control ? control : { value: null, min: 0, max: 1, unit: "" };
  };
  const fraction = (c) => clamp01((c.value - c.min) / (c.max - c.min || 1));

  // ---- pressing buttons and waving at the motion sensor -------------------------------------

  const heldReleases = new Set(); // release functions of presses now held, for releaseAllPresses

  function wirePress(button, name) {
    let held = false;
    const release = () => {
      if (!held) return;
      held = false;
      heldReleases.delete(release);
      button.classList.remove("held");
      post("/api/release", { part: name });
    };
    const press = () => {
      if (held) return;
      held = true;
      heldReleases.add(release);
      button.classList.add("held");
      post("/api/press", { part: name });
    };
    button.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return; // the left mouse button, a finger or a pen
      try {
        button.setPointerCapture(event.pointerId);
      } catch (ignored) { /* a pointer that is already gone: its pointerup still releases */ }
      press();
    });
    for (const type of ["pointerup", "pointercancel", "lostpointercapture", "blur"]) button.addEventListener(type, release);
    const isPressKey = (event) => event.key === " " || event.key === "Enter";
    button.addEventListener("keydown", (event) => {
      if (!isPressKey(event)) return;
      event.preventDefault();
      if (!event.repeat) press();
    });
    button.addEventListener("keyup", (event) => {
      if (!isPressKey(event)) return;
      event.preventDefault();
      release();
    });
    button.addEventListener("contextmenu", (event) => event.preventDefault()); // a long touch is a hold
  }

  function releaseAllPresses() {
    for (const release of [...heldReleases]) release();
  }
  document.addEventListener("visibilitychange", () => document.hidden && releaseAllPresses());

  // ---- drawing each type of part ------------------------------------------------------------

  function moduleBoard(g) {
    svg(g, "rect", { x: 3, y: 3, width: 194, height: 114, rx: 12, class: "pcb" });
    for (const [x, y] of [[14, 14], [186, 14], [14, 106], [186, 106]]) svg(g, "circle", { cx: x, cy: y, r: 4, class: "hole" });
  }

  function glow(g, color) {
    const id = uniqueId("glow");
    const gradient = svg(svg(g, "defs"), "radialGradient", { id });
    const stops = [[0, 0.95], [0.45, 0.45], [1, 0]].map(([offset, opacity]) =>
      svg(gradient, "stop", { offset, "stop-color": color, "stop-opacity": opacity }));
    return { fill: `url(#${id})`, stops };
  }

  const DOME = "M70 86V46a30 30 0 0 1 60 0V86Z";

  function drawLed(g, color, legs) {
    moduleBoard(g);
    const halo = glow(g, color);
    const haloCircle = svg(g, "circle", { cx: 100, cy: 54, r: 51, fill: halo.fill, class: "halo" });
    legs.forEach((x, i) => svg(g, "line", { x1: x, y1: 86, x2: x, y2: 112 - (i % 2) * 6, class: "leg" }));
    svg(g, "path", { d: DOME, fill: color, class: "dome-off" });
    const lit = svg(g, "path", { d: DOME, fill: color, class: "dome-lit" });
    svg(g, "rect", { x: 64, y: 82, width: 72, height: 9, rx: 3, fill: color, class: "rim" });
    const shine = svg(g, "ellipse", { cx: 86, cy: 42, rx: 6, ry: 14, class: "shine" });
    return { halo: haloCircle, stops: halo.stops, lit, shine };
  }

  function light(view, amount) {
    const glowing = Math.sqrt(amount); // our eyes see a dim PWM LED brighter than its duty cycle
    view.lit.style.opacity = glowing;
    view.halo.style.opacity = glowing;
    view.shine.style.opacity = 0.2 + 0.6 * glowing;
  }

  function colourName(r, g, b) {
    const max = Math.max(r, g, b), min = Math.min(r, g, b);
    if (max <= 0) return "no colour";
    if ((max - min) / max < 0.2) return "white";
    const d = max - min;
    let hue = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
    hue = (hue * 60 + 360) % 360;
    const names = [[15, "red"], [45, "orange"], [70, "yellow"], [160, "green"], [200, "light blue"],
      [255, "blue"], [290, "purple"], [335, "pink"], [360, "red"]];
    return names.find(([upTo]) => hue < upTo)[1];
  }

  function thermometer(g, x, top, bottom) {
    svg(g, "rect", { x: x - 9, y: top, width: 18, height: bottom - top + 8, rx: 9, class: "glass" });
    svg(g, "circle", { cx: x, cy: bottom + 10, r: 14, class: "glass" });
    svg(g, "circle", { cx: x, cy: bottom + 10, r: 10, class: "mercury" });
    const column = svg(g, "rect", { x: x - 4, y: top, width: 8, height: 0, rx: 4, class: "mercury" });
    return (amount) => {
      const height = 6 + amount * (bottom - top - 4);
      column.setAttribute("y", bottom + 4 - height);
      column.setAttribute("height", height);
    };
  }

  const KINDS = {
    led: {
      draw: (g, part) => drawLed(g, part.color || "#fdd835", [91, 109]),
      show(part, view, card) {
        const value = clamp01(part.state.value);
        card.dataset.on = String(value > 0);
        card.dataset.value = String(part.state.value === undefined ? 0 : Number(part.state.value));
        light(view, value);
        return { active: value > 0, word: value <= 0 ? "OFF" : value >= 1 ? "ON" : `ON ${percent(value)}%` };
      },
    },
    rgb_led: {
      draw(g) {
        const view = drawLed(g, "#eceff1", [85, 95, 105, 115]);
        view.bars = ["R", "G", "B"].map((letter, i) => {
          const x = 148 + i * 14;
          svg(g, "rect", { x, y: 22, width: 11, height: 66, rx: 2, class: "bar-slot" });
          svg(g, "text", { x: x + 5.5, y: 103, class: "bar-letter" }).textContent = letter;
          return svg(g, "rect", { x, y: 88, width: 11, height: 0, rx: 2, class: `bar bar-${letter}` });
        });
        return view;
      },
      show(part, view, card) {
        const value = Array.isArray(part.state.value) ? part.state.value : [0, 0, 0];
        const [r, g, b] = value.map(clamp01);
        const max = Math.max(r, g, b);
        const mixed = max > 0 ? `rgb(${[r, g, b].map((c) => Math.round((255 * c) / max)).join(",")})` : "#eceff1";
        view.lit.setAttribute("fill", mixed);
        for (const stop of view.stops) stop.setAttribute("stop-color", mixed);
        light(view, max);
        [r, g, b].forEach((c, i) => {
          view.bars[i].setAttribute("y", 88 - 66 * c);
          view.bars[i].setAttribute("height", 66 * c);
        });
        card.dataset.value = value.join(",");
        return { active: max > 0, word: max > 0 ? "ON" : "OFF",
          detail: max > 0 ? `looks ${colourName(r, g, b)}` : "", extra: `R ${plain(r)} · G ${plain(g)} · B ${plain(b)}` };
      },
    },
    buzzer: {
      draw(g) {
        moduleBoard(g);
        const waves = svg(g, "g", { class: "waves" });
        for (const [i, r] of [18, 30, 42].entries()) {
          svg(waves, "path", { d: `M${138 + r * 0.2} ${58 - r}a${r + 20} ${r + 20} 0 0 1 0 ${2 * r}`, class: `wave w${i}` });
          svg(waves, "path", { d: `M${62 - r * 0.2} ${58 - r}a${r + 20} ${r + 20} 0 0 0 0 ${2 * r}`, class: `wave w${i}` });
        }
        svg(g, "circle", { cx: 100, cy: 58, r: 36, class: "buzzer-body" });
        svg(g, "circle", { cx: 100, cy: 58, r: 26, class: "buzzer-ring" });
        svg(g, "circle", { cx: 100, cy: 58, r: 6, class: "buzzer-hole" });
      },
      show(part, view, card) {
        const on = Number(part.state.value) > 0;
        card.dataset.on = String(on);
        updateSound();
        return { active: on, word: on ? "BEEP!" : "OFF" };
      },
    },
    button: {
      pressable: "Hold to press",
      draw(g, part) {
        moduleBoard(g);
        for (const [x, y] of [[58, 34], [134, 34], [58, 78], [134, 78]]) svg(g, "rect", { x, y, width: 8, height: 8, class: "leg-pad" });
        svg(g, "rect", { x: 64, y: 22, width: 72, height: 72, rx: 6, class: "switch-base" });
        const cap = svg(g, "g", { class: "cap" });
        svg(cap, "circle", { cx: 100, cy: 58, r: 25, class: `cap-top cap${part.index % 4}` });
        svg(cap, "circle", { cx: 100, cy: 58, r: 17, class: "cap-inner" });
      },
      show(part, view, card) {
        const pressed = Boolean(part.state.pressed);
        card.dataset.pressed = String(pressed);
        return { active: pressed, word: pressed ? "PRESSED" : "not pressed" };
      },
    },
    motion_sensor: {
      pressable: "Hold to wave",
      draw(g) {
        moduleBoard(g);
        const waves = svg(g, "g", { class: "waves" });
        for (const [i, r] of [44, 56, 68].entries()) {
          svg(waves, "path", { d: `M${100 - r} ${70}a${r} ${r} 0 0 1 ${2 * r} 0`, class: `wave w${i}` });
        }
        svg(g, "rect", { x: 58, y: 66, width: 84, height: 40, rx: 4, class: "switch-base" });
        svg(g, "path", { d: "M66 74a34 34 0 0 1 68 0Z", class: "pir-dome" });
        for (const x of [82, 100, 118]) svg(g, "line", { x1: x, y1: 44, x2: x, y2: 74, class: "facet" });
        svg(g, "path", { d: "M70 58h60", class: "facet" });
      },
      show(part, view, card) {
        const motion = Boolean(part.state.motion);
        card.dataset.motion = String(motion);
        return { active: motion, word: motion ? "MOTION!" : "no motion" };
      },
    },
    ds18b20: {
      draw(g) {
        moduleBoard(g);
        svg(g, "path", { d: "M40 96C40 60 60 70 70 40", class: "cable" });
        svg(g, "rect", { x: 62, y: 18, width: 16, height: 28, rx: 4, class: "probe", transform: "rotate(18 70 32)" });
        return { thermometer: thermometer(g, 130, 14, 84) };
      },
      show(part, view) {
        const t = controlValue(part, "temperature");
        view.thermometer(fraction(t));
        return { active: false }; // the slider's value says it in words
      },
    },
    dht22: {
      draw(g) {
        moduleBoard(g);
        svg(g, "rect", { x: 24, y: 18, width: 56, height: 80, rx: 4, class: "dht-box" });
        for (let y = 28; y < 90; y += 12) svg(g, "rect", { x: 32, y, width: 40, height: 5, rx: 2, class: "dht-slot" });
        const thermo = thermometer(g, 112, 14, 84);
        const clip = uniqueId("drop");
        const DROP = "M160 26C172 46 180 58 180 72a20 20 0 0 1-40 0c0-14 8-26 20-46Z";
        svg(svg(g, "clipPath", { id: clip }), "path", { d: DROP });
        svg(g, "path", { d: DROP, class: "drop" });
        const water = svg(g, "rect", { x: 138, y: 92, width: 44, height: 0, class: "water", "clip-path": `url(#${clip})` });
        svg(g, "path", { d: DROP, class: "drop-edge" });
        return { thermo, water };
      },
      show(part, view) {
        const t = controlValue(part, "temperature"), h = controlValue(part, "humidity");
        view.thermo(fraction(t));
        const height = 66 * fraction(h);
        view.water.setAttribute("y", 92 - height);
        view.water.setAttribute("height", height);
        return { active: false }; // the sliders' values say it in words
      },
    },
    light_sensor: {
      draw(g) {
        const sky = svg(g, "rect", { x: 3, y: 3, width: 194, height: 114, rx: 12, class: "sky" });
        const sun = svg(g, "g", { class: "sun" });
        for (let a = 0; a < 360; a += 45) {
          svg(sun, "line", { x1: 100, y1: 12, x2: 100, y2: 4, transform: `rotate(${a} 100 40)`, class: "ray" });
        }
        svg(sun, "circle", { cx: 100, cy: 40, r: 18, class: "sun-disc" });
        svg(g, "circle", { cx: 100, cy: 92, r: 15, class: "ldr" });
        svg(g, "path", { d: "M90 86h16v4h-12v4h12v4h-16", class: "ldr-track" });
        return { sky, sun };
      },
      show(part, view, card) {
        const world = controlValue(part, "light");
        const amount = fraction(world);
        view.sky.style.fill = `hsl(205, ${40 + 40 * amount}%, ${8 + 62 * amount}%)`;
        view.sun.setAttribute("transform", `translate(100 40) scale(${0.35 + 0.65 * amount}) translate(-100 -40)`);
        return showMeasured(part, card, world);
      },
    },
    distance_sensor: {
      draw(g) {
        moduleBoard(g);
        svg(g, "rect", { x: 10, y: 30, width: 62, height: 58, rx: 4, class: "sonar-board" });
        for (const y of [44, 74]) {
          svg(g, "circle", { cx: 41, cy: y, r: 13, class: "sonar-eye" });
          svg(g, "circle", { cx: 41, cy: y, r: 6, class: "sonar-mesh" });
        }
        const ruler = svg(g, "path", { d: "M78 59H170", class: "ruler" });
        const thing = svg(g, "rect", { x: 170, y: 26, width: 14, height: 66, rx: 4, class: "obstacle" });
        return { ruler, thing };
      },
      show(part, view, card) {
        const world = controlValue(part, "distance");
        const x = 80 + 96 * fraction(world);
        view.thing.setAttribute("x", x);
        view.ruler.setAttribute("d", `M78 59H${x}`);
        return showMeasured(part, card, world);
      },
    },
  };

  // Light and distance sensors report what they measured last (null before the first time),
  // written as their slider writes what the world has.
  function showMeasured(part, card, control) {
    const value = part.state.value;
    const known = value !== null && value !== undefined;
    card.dataset.value = known ? String(value) : "";
    const words = known ? withUnit(Number(value).toFixed(decimalsOf(control.step || 0.01)), control.unit) : "not measured yet";
    return { active: false, word: words };
  }

  const UNKNOWN = {
    draw(g, part) {
      svg(g, "rect", { x: 3, y: 3, width: 194, height: 114, rx: 12, class: "unknown" });
      svg(g, "text", { x: 100, y: 70, class: "unknown-mark" }).textContent = "?";
      svg(g, "text", { x: 100, y: 100, class: "unknown-words" }).textContent = "not drawn yet";
    },
    show(part) {
      const words = Object.entries(part.state || {}).map(([key, value]) => `${key} ${JSON.stringify(value)}`);
      return { extra: words.join(", ") || "no state" };
    },
  };

  // ---- the buzzer's sound, only when the teacher switches it on ------------------------------

  const sound = { context: null, gain: null };
  page.beeping = false; // whether the page is making the buzzer's sound now (for the tests)

  function updateSound() {
    if (!sound.context) return;
    const beeping = $("#sound").checked &&
      [...entries.values()].some((e) => e.part.type === "buzzer" && Number(e.part.state.value) > 0);
    sound.gain.gain.setTargetAtTime(beeping ? BUZZER_VOLUME : 0, sound.context.currentTime, 0.005);
    page.beeping = beeping;
  }

  $("#sound").addEventListener("change", (event) => {
    if (event.target.checked && !sound.context) {
      try {
        sound.context = new AudioContext();
        const oscillator = sound.context.createOscillator();
        oscillator.type = "square";
        oscillator.frequency.value = BUZZER_HZ;
        sound.gain = sound.context.createGain();
        sound.gain.gain.value = 0;
        oscillator.connect(sound.gain).connect(sound.context.destination);
        oscillator.start();
      } catch (failure) {
        showError("This browser cannot make sounds, sorry.");
        noteError("sound", String(failure));
        return;
      }
    }
    if (sound.context) {
      updateSound();
      if (event.target.checked) sound.context.resume();
      else setTimeout(() => $("#sound").checked || sound.context.suspend(), 100); // no work while off
    } else {
      page.beeping = false;
    }
  });

  // ---- the cloud panel and the log ----------------------------------------------------------

  function showCloud(cloud) {
    const panel = $("#cloud");
    const connected = Boolean(cloud.enabled && cloud.connected);
    panel.dataset.enabled = String(Boolean(cloud.enabled));
    panel.dataset.connected = String(connected);
    let status, more = "";
    if (!cloud.enabled) status = "Cloud: off";
    else if (connected) [status, more] = ["Cloud: connected", ` to ${cloud.broker || "the broker"}`];
    else [status, more] = ["Cloud: not connected", ` (${cloud.last_error || cloud.state || "no reason given"})`];
    $("#cloud-status").replaceChildren(html("strong", {}, status), html("span", { class: "why" }, more));
    let queue = "berrykitd has no cloud set up (mqtt.url in its config).";
    if (cloud.enabled) {
      queue = `${cloud.queued || 0} waiting to be sent`;
      if (cloud.dropped) queue += `, ${cloud.dropped} dropped (the outbox was full)`;
    }
    $("#cloud-queue").textContent = queue;
  }

  function readingWords(reading) {
    if (reading.error) return `${reading.name}: could not read (${reading.error})`;
    const values = [];
    if ("value" in reading) values.push(withUnit(plain(reading.value), reading.unit));
    if ("temperature" in reading) values.push(withUnit(plain(reading.temperature), "°C"));
    if ("humidity" in reading) values.push(withUnit(plain(reading.humidity), "%"));
    return `${reading.name} ${values.join(" · ")}`;
  }

  function addReadings(list) {
    readings = readings.concat(list).slice(-MAX_READINGS);
    const items = readings.slice().reverse().map((r) =>
      html("li", {}, html("span", { class: "what" }, readingWords(r)),
        html("span", { class: "when" }, [r.seq !== undefined ? `#${r.seq}` : "", clockTime(r.ts)].filter(Boolean).join(" · "))));
    $("#readings").replaceChildren(...items);
  }

  let lastLogNumber = -Infinity;
  function addLog(list, fresh = false) {
    const log = $("#log");
    if (fresh) {
      log.textContent = "";
      lastLogNumber = -Infinity;
    }
    for (const entry of list) {
      if (entry.n <= lastLogNumber) continue; // already shown
      if (typeof entry.n === "number") lastLogNumber = entry.n;
      const item = html("li", {}, html("time", { datetime: entry.ts || "" }, clockTime(entry.ts)), " ",
        html("span", { class: "what" }, entry.text || ""));
      if (entry.part) item.dataset.about = entry.part;
      log.prepend(item);
    }
    while (log.children.length > MAX_LOG) log.lastElementChild.remove();
  }

  setConnected(false);
  connect();
})();
