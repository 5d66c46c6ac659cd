// The studio page. Actions go to the studio's HTTP API, which sends them as bridge
// requests; everything shown about the music comes from the bridge's events over /ws.
"use strict";

const $ = (id) => document.getElementById(id);
const WINDOW_MS = 6000;          // the timeline shows the last six seconds
const marks = [];                // {t, kind: "beat"|"bar"|"start"|"end", label}
const studio = { beatsDrawn: 0, firstBeatDrawnAt: null, events: {}, lastMoodStart: null };
window.studio = studio;          // for tests and bench: what the page has seen

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function act(action) {
  $("action-error").textContent = "";
  return api("/api/action", {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(action),
  }).catch((e) => { $("action-error").textContent = e.message; });
}

function buttons(container, names, type, describe) {
  const div = $(container);
  div.replaceChildren();
  for (const name of Object.keys(names).sort()) {
    const button = document.createElement("button");
    button.textContent = name;
    button.dataset.name = name;
    button.title = describe(names[name]);
    button.addEventListener("click", async () => {
      button.classList.add("fired");
      await act({ type, name });
      setTimeout(() => button.classList.remove("fired"), 300);
    });
    div.append(button);
  }
}

function showMap(map) {
  $("map-file").textContent = map.file;
  buttons("events", map.events, "event", (rule) => JSON.stringify(rule));
  buttons("moods", map.moods, "mood", (text) => text);
  buttons("stingers", map.stingers, "stinger", (text) => text);
}

async function loadMap() {
  const map = await api("/api/map");
  showMap(map);
  $("map-text").value = map.text;
}

// The free-text mood: what explain-mood reads from it.
let explainTimer = null;
function explain() {
  const text = $("mood-text").value.trim();
  clearTimeout(explainTimer);
  if (!text) { $("explain").replaceChildren(); return; }
  explainTimer = setTimeout(async () => {
    try { renderExplanation(await api("/api/explain?text=" + encodeURIComponent(text))); }
    catch (e) { $("explain").textContent = e.message; }
  }, 250);
}

function renderExplanation(info) {
  const out = $("explain");
  out.replaceChildren();
  const p = info.params;
  const line = (text, cls) => { const d = document.createElement("div"); d.textContent = text; if (cls) d.className = cls; out.append(d); };
  line(["valence", "arousal", "tension", "tempo", "density", "brightness"].map((k) => `${k} ${p[k]}`).join(" · "));
  line(`tags: ${p.tags.join(", ") || "-"}`);
  for (const w of info.words) {
    const pulls = Object.entries(w.pulls).map(([k, v]) => `${k} ${v}`).join(", ");
    const how = w.how === "exact" || w.how === "table" ? "" : ` (${w.how}: ${w.matched})`;
    line(`“${w.word}”${how}: ${pulls || "tags only"}`, "word");
    if (w.neighbours) line(`  means like: ${w.neighbours.map((n) => `${n.anchor} ${Math.round(n.weight * 100)}%`).join(", ")}`, "neighbours");
  }
  for (const u of info.unknown) line(`unknown “${u.word}” → ${u.fallback || "neutral"}`, "unknown");
}

// Events from the bridge.
function onEvent(message) {
  const { topic, data } = message;
  studio.events[topic] = (studio.events[topic] || 0) + 1;
  const t = performance.now();
  if (topic === "beat") marks.push({ t, kind: data.beat === 0 ? "bar" : "beat", label: `${data.bar}.${data.beat + 1}` });
  else if (topic === "mood") {
    marks.push({ t, kind: data.phase, label: data.text });
    if (data.phase === "start") studio.lastMoodStart = { t, text: data.text };
    const li = document.createElement("li");
    li.className = `mood-${data.phase}`;
    li.textContent = `${data.phase} at ${Number(data.seconds).toFixed(2)} s: ${data.text} (intensity ${Number(data.intensity).toFixed(2)})`;
    $("transitions").prepend(li);
  } else if (topic === "status") showStatus(data);
  else if (topic === "studio.map") showMap(data);
  else if (topic === "error") $("action-error").textContent = data.message;
}

function showStatus(s) {
  const slider = $("intensity");
  if (document.activeElement !== slider) {  // follow the music unless the designer is dragging it
    slider.value = s.intensity;
    $("intensity-value").textContent = Number(s.intensity).toFixed(2);
  }
  const rows = [
    ["mood", s.mood], ["intensity", Number(s.intensity).toFixed(2)], ["backend", s.backend + (s.fallback ? ` (fallback: ${s.fallback})` : "")],
    ["output", s.output], ["buffered", `${Number(s.buffered).toFixed(3)} s`], ["underruns", s.underruns],
    ["latency", s.latency == null ? "-" : `${(1000 * s.latency).toFixed(1)} ms`], ["bpm", s.bpm], ["paused", s.paused],
  ];
  const body = $("status").tBodies[0];
  body.replaceChildren();
  for (const [key, value] of rows) {
    const tr = body.insertRow();
    tr.dataset.key = key;
    tr.insertCell().textContent = key;
    tr.insertCell().textContent = value;
  }
}

function connect() {
  const ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onopen = () => { $("connection").textContent = "live"; $("connection").className = "on"; };
  ws.onmessage = (m) => onEvent(JSON.parse(m.data));
  ws.onclose = () => {
    $("connection").textContent = "disconnected, retrying"; $("connection").className = "off";
    setTimeout(connect, 1000);
  };
}

// The timeline: now at the right edge, beats and bars as lines, transitions as flags.
const COLOURS = { beat: "#444b5a", bar: "#9ab", start: "#7c7", end: "#db9" };
function draw() {
  const canvas = $("timeline");
  const g = canvas.getContext("2d");
  const now = performance.now();
  g.clearRect(0, 0, canvas.width, canvas.height);
  while (marks.length && now - marks[0].t > WINDOW_MS) marks.shift();
  for (const m of marks) {
    const x = canvas.width * (1 - (now - m.t) / WINDOW_MS);
    g.strokeStyle = COLOURS[m.kind];
    g.lineWidth = m.kind === "beat" ? 1 : 2;
    const top = m.kind === "start" || m.kind === "end" ? 0 : 30;
    g.beginPath(); g.moveTo(x, top); g.lineTo(x, canvas.height); g.stroke();
    g.fillStyle = COLOURS[m.kind];
    if (m.kind === "bar") g.fillText(m.label, x + 3, 42);
    if (m.kind === "start" || m.kind === "end") g.fillText(`${m.kind}: ${m.label}`.slice(0, 40), x + 3, m.kind === "start" ? 12 : 24);
    if ((m.kind === "beat" || m.kind === "bar") && !m.drawn) {
      m.drawn = true;
      studio.beatsDrawn += 1;
      if (studio.firstBeatDrawnAt === null) studio.firstBeatDrawnAt = now;
      canvas.dataset.beatsDrawn = studio.beatsDrawn;
    }
  }
  requestAnimationFrame(draw);
}

// Browser audio: the worklet pulls the soundtrack over /audio (needs --output engine).
const AUDIO_HEAD_FRAMES = 48000;
studio.audioHead = { frames: 0, blocks: [] };
async function listen() {
  $("listen").disabled = true;
  const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await context.audioWorklet.addModule("/static/pcm-player.js");
  const player = new AudioWorkletNode(context, "pcm-player", {
    outputChannelCount: [2], processorOptions: { bufferSeconds: 0.5 },
  });
  player.connect(context.destination);
  const ws = new WebSocket(`ws://${location.host}/audio`);
  ws.binaryType = "arraybuffer";
  const asks = [];
  ws.onopen = () => ws.send(JSON.stringify({ open: { sample_rate: context.sampleRate, channels: 2 } }));
  ws.onmessage = (m) => {
    if (typeof m.data === "string") {
      const reply = JSON.parse(m.data);
      if (reply.error) { $("browser-audio").textContent = reply.error; return; }
      studio.audioOpen = reply;
      for (const ask of asks.splice(0)) ws.send(JSON.stringify(ask));
      return;
    }
    const position = Number(new DataView(m.data).getBigUint64(0, true));
    const pcm = new Float32Array(m.data.slice(8));
    if (studio.audioHead.frames < AUDIO_HEAD_FRAMES) {  // kept for tests: what the page received first
      studio.audioHead.blocks.push({ position, samples: Array.from(pcm) });
      studio.audioHead.frames += pcm.length / 2;
    }
    player.port.postMessage({ position, pcm }, [pcm.buffer]);
  };
  player.port.onmessage = ({ data }) => {
    if (data.pull) {
      if (studio.audioOpen) ws.send(JSON.stringify({ pull: data.pull })); else asks.push({ pull: data.pull });
    } else if (data.stats) {
      studio.audio = { ...data.stats, outputLatency: context.outputLatency, baseLatency: context.baseLatency };
      const s = studio.audio;
      $("browser-audio").textContent = `underruns ${s.underruns} · buffered ${(1000 * s.buffered / context.sampleRate).toFixed(0)} ms`
        + ` · output latency ${(1000 * (s.outputLatency + s.baseLatency)).toFixed(0)} ms · received ${(s.received / context.sampleRate).toFixed(1)} s`;
    }
  };
  await context.resume();
}

async function saveMap() {
  $("map-error").textContent = ""; $("map-saved").textContent = "";
  try {
    const map = await api("/api/map", { method: "PUT", headers: { "Content-Type": "text/plain" }, body: $("map-text").value });
    showMap(map);
    $("map-saved").textContent = `saved ${map.file}`;
  } catch (e) { $("map-error").textContent = e.message; }
}

$("mood-text").addEventListener("input", explain);
$("free-mood").addEventListener("submit", (e) => { e.preventDefault(); const text = $("mood-text").value.trim(); if (text) act({ type: "mood", name: text }); });
$("intensity").addEventListener("input", () => { $("intensity-value").textContent = Number($("intensity").value).toFixed(2); });
$("intensity").addEventListener("change", () => act({ type: "intensity", value: Number($("intensity").value) }));
$("pause").addEventListener("click", () => act({ type: "pause" }));
$("resume").addEventListener("click", () => act({ type: "resume" }));
$("save").addEventListener("click", saveMap);
$("listen").addEventListener("click", () => listen().catch((e) => { $("browser-audio").textContent = e.message; }));
loadMap().catch((e) => { $("action-error").textContent = e.message; });
connect();
requestAnimationFrame(draw);
