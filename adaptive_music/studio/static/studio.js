// The studio page. Actions go to the studio's HTTP API, which sends them as bridge
// requests; everything shown about the music comes from the bridge's events over /ws.
"use strict";

const $ = (id) => document.getElementById(id);
const WINDOW_MS = 6000;          // the timeline shows the last six seconds
const BEATS_KEPT = 512;           // beats whose drawing (and hearing) times the page keeps
const marks = [];                // {t, kind: "beat"|"bar"|"start"|"end", label, sample}
const levels = [];               // {t, rms, peak}: what the browser played, when it is heard
const studio = { beatsDrawn: 0, firstBeatDrawnAt: null, events: {}, lastMoodStart: null, beats: new Map() };
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
  studio.map = map;
  showEntryNames();
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
  // Played here, an event comes as its audio is pulled, up to the worklet's buffer early:
  // it is shown when the worklet plays its sample (null: not known until the worklet plays).
  // Otherwise it comes as it is heard.
  const t = browserAudio ? heardAt(data.sample) : performance.now();
  if (topic === "beat") {
    marks.push({ t, kind: data.beat === 0 ? "bar" : "beat", label: `${data.bar}.${data.beat + 1}`, sample: data.sample });
    studio.beats.set(data.sample, { arrived: performance.now() });
    if (studio.beats.size > BEATS_KEPT) studio.beats.delete(studio.beats.keys().next().value);
    if (browserAudio) browserAudio.player.port.postMessage({ watch: data.sample });
  } else if (topic === "mood") {
    marks.push({ t, kind: data.phase, label: data.text });
    if (data.phase === "start") studio.lastMoodStart = { t, text: data.text, sample: data.sample };
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

// The timeline: now at the right edge, beats and bars as lines, transitions as flags, and
// the level of what this browser plays as a scrolling strip along the bottom.
const COLOURS = { beat: "#444b5a", bar: "#9ab", start: "#7c7", end: "#db9", level: "#5a8" };
const LEVEL_HEIGHT = 40;         // pixels; the strip shows -60..0 dBFS
function draw() {
  const canvas = $("timeline");
  const g = canvas.getContext("2d");
  const now = performance.now();
  const x = (t) => canvas.width * (1 - (now - t) / WINDOW_MS);
  g.clearRect(0, 0, canvas.width, canvas.height);
  for (const m of marks) if (m.t === null) m.t = heardAt(m.sample);
  while (marks.length && marks[0].t !== null && now - marks[0].t > WINDOW_MS) marks.shift();
  while (levels.length && now - levels[0].t > WINDOW_MS) levels.shift();
  for (const m of marks) {
    if (m.t === null || m.t > now) continue;  // not heard yet
    g.strokeStyle = COLOURS[m.kind];
    g.lineWidth = m.kind === "beat" ? 1 : 2;
    const top = m.kind === "start" || m.kind === "end" ? 0 : 30;
    g.beginPath(); g.moveTo(x(m.t), top); g.lineTo(x(m.t), canvas.height - LEVEL_HEIGHT); g.stroke();
    g.fillStyle = COLOURS[m.kind];
    if (m.kind === "bar") g.fillText(m.label, x(m.t) + 3, 42);
    if (m.kind === "start" || m.kind === "end") g.fillText(`${m.kind}: ${m.label}`.slice(0, 40), x(m.t) + 3, m.kind === "start" ? 12 : 24);
    if ((m.kind === "beat" || m.kind === "bar") && !m.drawn) {
      m.drawn = true;
      studio.beatsDrawn += 1;
      if (studio.firstBeatDrawnAt === null) studio.firstBeatDrawnAt = now;
      canvas.dataset.beatsDrawn = studio.beatsDrawn;
      const beat = studio.beats.get(m.sample);
      if (beat) beat.drawn = now;
    }
  }
  let shown = null;
  g.fillStyle = COLOURS.level;
  for (let i = 0; i < levels.length && levels[i].t <= now; i++) {
    const level = levels[i];
    const right = i + 1 < levels.length ? Math.min(levels[i + 1].t, now) : now;
    const h = LEVEL_HEIGHT * Math.max(0, 1 + dbfs(level.rms) / 60);
    g.fillRect(x(level.t), canvas.height - h, Math.max(1, x(right) - x(level.t)), h);
    shown = level;
  }
  if (shown) showLevel(shown);
  requestAnimationFrame(draw);
}

const dbfs = (amplitude) => (amplitude > 0 ? Math.max(-120, 20 * Math.log10(amplitude)) : -120);
function showLevel(level) {
  const meter = $("level");
  meter.value = Math.max(0, 60 + dbfs(level.rms));
  meter.dataset.rms = level.rms;
  meter.dataset.peak = level.peak;
  $("level-text").textContent = `${dbfs(level.rms).toFixed(1)} dBFS rms, ${dbfs(level.peak).toFixed(1)} peak`;
}

// Browser audio: the worklet pulls the soundtrack over /audio (needs --output engine).
// The worklet's buffer: what it rides out of a stalled server, and its latency; ?buffer=SECONDS sets it.
const WORKLET_BUFFER_SECONDS = Math.min(Math.max(Number(new URLSearchParams(location.search).get("buffer")) || 0.5, 0.05), 5);
studio.received = { keepFrames: 48000, frames: 0, blocks: [] };  // for tests: the PCM received first
let browserAudio = null;         // {context, player, clock: {position, time}} while this page plays

// The performance.now() time at which the browser's output plays AudioContext time `time`.
function contextToPage(context, time) {
  const stamp = context.getOutputTimestamp();
  if (stamp.performanceTime) return stamp.performanceTime + 1000 * (time - stamp.contextTime);
  return performance.now() + 1000 * (time - context.currentTime + context.baseLatency + (context.outputLatency || 0));
}

// When stream position `sample` is heard here: null unless this page plays the music.
function heardAt(sample) {
  if (!browserAudio || !browserAudio.clock || typeof sample !== "number") return null;
  const { context, clock } = browserAudio;
  return contextToPage(context, clock.time + (sample - clock.position) / context.sampleRate);
}

async function listen() {
  $("listen").disabled = true;
  const context = new AudioContext({ sampleRate: 48000, latencyHint: "interactive" });
  await context.audioWorklet.addModule("/static/pcm-player.js");
  const player = new AudioWorkletNode(context, "pcm-player", {
    outputChannelCount: [2], processorOptions: { bufferSeconds: WORKLET_BUFFER_SECONDS },
  });
  player.connect(context.destination);
  const ws = new WebSocket(`ws://${location.host}/audio`);
  ws.binaryType = "arraybuffer";
  const asks = [];   // pulls asked for before the stream opened
  let opened = false;
  let ended = false;  // the studio closed the stream: its reason stays shown, Listen starts another
  const end = (reason) => {
    if (ended) return;
    ended = true;
    $("browser-audio").textContent = reason;
    if (browserAudio && browserAudio.context === context) browserAudio = null;
    studio.audio = null;
    context.close();
    $("listen").disabled = false;
  };
  ws.onopen = () => ws.send(JSON.stringify({ open: { sample_rate: context.sampleRate, channels: 2 } }));
  ws.onclose = () => end("browser audio stopped: the studio closed the stream");
  ws.onmessage = (m) => {
    if (typeof m.data === "string") {
      const reply = JSON.parse(m.data);
      if (reply.error) { end(reply.error); return; }
      studio.audioOpen = reply;
      opened = true;
      browserAudio = { context, player, clock: null };
      for (const ask of asks.splice(0)) ws.send(JSON.stringify(ask));
      return;
    }
    const position = Number(new DataView(m.data).getBigUint64(0, true));
    const pcm = new Float32Array(m.data.slice(8));
    const kept = studio.received;
    if (kept.frames < kept.keepFrames) {
      kept.blocks.push({ position, pcm: pcm.slice() });
      kept.frames += pcm.length / 2;
    }
    player.port.postMessage({ position, pcm }, [pcm.buffer]);
  };
  player.port.onmessage = ({ data }) => {
    if (data.pull) {
      if (opened) ws.send(JSON.stringify({ pull: data.pull })); else asks.push({ pull: data.pull });
    } else if (data.played !== undefined) {  // a beat's sample, as the worklet played it
      const beat = studio.beats.get(data.played);
      if (beat) beat.heard = contextToPage(context, data.time);
    } else if (data.stats && !ended) {
      if (data.clock && browserAudio) browserAudio.clock = data.clock;
      levels.push({ t: contextToPage(context, data.level.time), rms: data.level.rms, peak: data.level.peak });
      studio.audio = { ...data.stats, outputLatency: context.outputLatency, baseLatency: context.baseLatency };
      const s = studio.audio;
      $("browser-audio").textContent = `underruns ${s.underruns} · buffered ${(1000 * s.buffered / context.sampleRate).toFixed(0)} ms`
        + ` · output latency ${(1000 * (s.outputLatency + s.baseLatency)).toFixed(0)} ms · received ${(s.received / context.sampleRate).toFixed(1)} s`;
    }
  };
  await context.resume();
}

// Render from the page: the music played so far, or a script of events, rendered offline by
// the studio and downloaded.
async function download(status, name, fmt, request) {
  $(status).textContent = "rendering…";
  const response = await request;
  if (!response.ok) { $(status).textContent = (await response.json()).error; return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = `${name}.${fmt}`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  $(status).textContent = `${Number(response.headers.get("X-Rendered-Seconds")).toFixed(2)} s rendered`;
}

const renderTimeline = (fmt) => download("render-status", "studio-timeline", fmt, fetch(`/api/render?format=${fmt}`));
const renderScript = (fmt) => download("script-status", "studio-script", fmt, fetch("/api/render/script", {
  method: "POST", headers: { "Content-Type": "application/json" },
  body: JSON.stringify({ script: $("script").value, seconds: Number($("script-seconds").value), format: fmt }),
}));

// Stems preview: the map rendered as `adaptive-music stems` renders it, each file playable here.
function audioPlayer(file, loop) {
  const audio = document.createElement("audio");
  Object.assign(audio, { controls: true, preload: "none", loop, src: `/api/stems/file?name=${encodeURIComponent(file)}` });
  return audio;
}

function showStems(listing) {
  const out = $("stems");
  out.replaceChildren();
  for (const mood of listing.moods) {
    const row = document.createElement("div");
    row.className = "stem-loop";
    row.append(`${mood.name} · ${mood.bpm} bpm ${mood.meter} · layers ${mood.layers.join(", ")} `, audioPlayer(mood.file, true));
    out.append(row);
  }
  if (!listing.transitions.length) return;
  const details = document.createElement("details");
  details.append(Object.assign(document.createElement("summary"), { textContent: `${listing.transitions.length} transitions` }));
  for (const t of listing.transitions) {
    const row = document.createElement("div");
    row.className = "stem-transition";
    row.append(`${t.from} → ${t.to} `, audioPlayer(t.file, false));
    details.append(row);
  }
  out.append(details);
}

async function buildStems() {
  $("stems-status").textContent = "rendering stems…";
  try {
    const listing = await api("/api/stems", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ bars: Number($("stems-bars").value) }),
    });
    showStems(listing);
    $("stems-status").textContent = `${listing.moods.length} loops, ${listing.transitions.length} transitions`;
  } catch (e) { $("stems-status").textContent = e.message; }
}

// Form editing: one entry at a time, written into the TOML text (the rest of the file as it
// was) and saved as the text editor's edits are, so a refusal reads the same.
const EVENT_FIELDS = ["mood", "quantize", "ramp", "intensity", "stinger"];
const NUMBER_FIELDS = ["ramp", "intensity"];
const tomlKey = (name) => (/^[A-Za-z0-9_-]+$/.test(name) ? name : JSON.stringify(name));
const tomlValue = (value) => (typeof value === "string" ? JSON.stringify(value) : String(value));
const headerOf = (line) => line.replace(/#.*$/, "").replace(/\s+/g, "");

// [first, end) of the table `header` in `lines`: its header line and body, less the blank and
// comment lines before the next table (they belong to it). null when absent.
function tableLines(lines, header) {
  const first = lines.findIndex((line) => headerOf(line) === header);
  if (first < 0) return null;
  let end = first + 1;
  while (end < lines.length && !lines[end].trim().startsWith("[")) end += 1;
  while (end > first + 1 && /^\s*(#.*)?$/.test(lines[end - 1])) end -= 1;
  return [first, end];
}

// The map text with entry `name` of `table` set to `value` (a text, or an event's keys), or removed (null).
function withEntry(text, table, name, value) {
  const lines = text.split("\n");
  if (table === "events") {
    const header = `[events.${tomlKey(name)}]`;
    const body = value === null ? [] : [header, ...Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v)}`)];
    const at = tableLines(lines, headerOf(header));
    if (at) lines.splice(at[0], at[1] - at[0], ...body);
    else if (body.length) appendTable(lines, body);
    return lines.join("\n");
  }
  const line = `${tomlKey(name)} = ${tomlValue(value)}`;
  const at = tableLines(lines, `[${table}]`);
  const key = new RegExp(`^\\s*${tomlKey(name).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*=`);
  const found = at ? lines.slice(at[0] + 1, at[1]).findIndex((l) => key.test(l)) : -1;
  if (found >= 0) lines.splice(at[0] + 1 + found, 1, ...(value === null ? [] : [line]));
  else if (value !== null && at) lines.splice(at[1], 0, line);
  else if (value !== null) appendTable(lines, [`[${table}]`, line]);
  return lines.join("\n");
}

function appendTable(lines, table) {  // after one blank line, the file ending with a newline
  while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
  lines.push("", ...table, "");
}

function showEntryNames() {
  const raw = studio.map.raw;
  const options = (id, names) => $(id).replaceChildren(...names.map((n) => Object.assign(document.createElement("option"), { value: n })));
  options("entry-names", Object.keys(raw[$("entry-table").value] || {}));
  options("mood-names", Object.keys(raw.moods || {}));
  options("stinger-names", Object.keys(raw.stingers || {}));
  const event = $("entry-table").value === "events";
  $("entry-event-fields").hidden = !event;
  $("entry-text-fields").hidden = event;
}

function fillEntry() {  // an existing entry's values, to change
  const table = $("entry-table").value;
  const entry = (studio.map.raw[table] || {})[$("entry-name").value];
  if (entry === undefined) return;
  if (table !== "events") { $("entry-text").value = entry; return; }
  for (const field of EVENT_FIELDS) $(`entry-${field}`).value = entry[field] ?? "";
}

function entryValue() {
  const table = $("entry-table").value;
  if (table !== "events") return $("entry-text").value;
  const old = (studio.map.raw.events || {})[$("entry-name").value] || {};
  const value = Object.fromEntries(Object.entries(old).filter(([k]) => !EVENT_FIELDS.includes(k)));  // keys the form lacks stay
  for (const field of EVENT_FIELDS) {
    const input = $(`entry-${field}`).value.trim();
    if (input !== "") value[field] = NUMBER_FIELDS.includes(field) && !Number.isNaN(Number(input)) ? Number(input) : input;
  }
  return value;
}

async function saveEntry(remove) {
  const name = $("entry-name").value.trim();
  if (!name) { $("map-error").textContent = "an entry needs a name"; return; }
  $("map-text").value = withEntry($("map-text").value, $("entry-table").value, name, remove ? null : entryValue());
  await saveMap();
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
$("stems-build").addEventListener("click", buildStems);
$("entry-table").addEventListener("change", showEntryNames);
$("entry-name").addEventListener("change", fillEntry);
$("entry").addEventListener("submit", (e) => { e.preventDefault(); saveEntry(false); });
$("entry-remove").addEventListener("click", () => saveEntry(true));
for (const fmt of ["wav", "ogg"]) {
  $(`render-${fmt}`).addEventListener("click", () => renderTimeline(fmt));
  $(`script-${fmt}`).addEventListener("click", () => renderScript(fmt));
}
$("listen").addEventListener("click", () => listen().catch((e) => { $("browser-audio").textContent = e.message; }));
loadMap().catch((e) => { $("action-error").textContent = e.message; });
api("/api/stems").then(showStems).catch(() => {});  // a preview built before this page opened
connect();
requestAnimationFrame(draw);
