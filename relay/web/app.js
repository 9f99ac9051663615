// baycount dashboard: live bays over /api/ws (no polling), START/STOP with the API token,
// the history with totals per day and CSV, and each session's count over time and pictures.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
};

const site = { tz: "Asia/Makassar", readToken: false };
const bays = new Map();
const TOKEN_KEY = "baycount.token";

// ---- time, in the site's zone ----
function fmt(iso, opts) {
  if (!iso) return "–";
  return new Intl.DateTimeFormat("en-GB", { timeZone: site.tz, ...opts }).format(new Date(iso));
}
const clock = (iso) => fmt(iso, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
const dayTime = (iso) => fmt(iso, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
const day = (iso) => fmt(iso, { year: "numeric", month: "2-digit", day: "2-digit" });
function duration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  if (h) return `${h} h ${String(m).padStart(2, "0")} min`;
  if (m) return `${m} min ${String(r).padStart(2, "0")} s`;
  return `${r} s`;
}

// ---- the API ----
class ApiError extends Error {}

function askToken() {
  const dialog = $("#token-dialog");
  const form = $("#token-form");
  form.reset();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const token = dialog.returnValue === "ok" ? form.token.value.trim() : "";
      if (token) localStorage.setItem(TOKEN_KEY, token);
      resolve(token);
    }, { once: true });
    dialog.showModal();
  });
}

async function api(path, options = {}, retried = false) {
  const headers = { "content-type": "application/json" };
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError("the relay cannot be reached; check the network");
  }
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  // 401: no token or a wrong one; 403: a viewer's token where an operator's is needed.
  if ((response.status === 401 || (response.status === 403 && options.method)) && !retried) {
    localStorage.removeItem(TOKEN_KEY);
    if (await askToken()) return api(path, options, true);
  }
  if (!response.ok) throw new ApiError((body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

/** The token as a query parameter, for what cannot send headers (WebSocket, download links). */
function tokenQuery(sep) {
  const token = localStorage.getItem(TOKEN_KEY);
  return site.readToken && token ? `${sep}access_token=${encodeURIComponent(token)}` : "";
}

// ---- live bays ----
function card(bay) {
  let c = $(`.card[data-bay="${CSS.escape(bay.bay)}"]`);
  if (!c) {
    c = el("article", { class: "card", "data-bay": bay.bay },
      el("h2", {}, bay.bay, " ", el("small", { class: "name" })),
      el("a", { href: `#/bay/${encodeURIComponent(bay.bay)}`, title: "the live view", class: "live-link" },
        el("img", { class: "view", alt: `what bay ${bay.bay}'s camera sees`, hidden: true }),
        el("span", {}, "live view ›")),
      el("div", { class: "state" }),
      el("div", { class: "count", "data-testid": "count" }),
      el("div", { class: "meta" }),
      el("div", { class: "health" }),
      el("form", { class: "control" },
        el("input", { name: "plate", placeholder: "Plate, e.g. KT 8899 TEST", autocomplete: "off" }),
        el("button", { type: "submit", class: "start" }, "START"),
        el("button", { type: "button", class: "stop" }, "STOP")),
      el("p", { class: "error", hidden: true }));
    c.querySelector("input").setAttribute("list", "plates");
    c.querySelector("form").addEventListener("submit", (e) => { e.preventDefault(); control(bay.bay, "start"); });
    c.querySelector(".stop").addEventListener("click", () => control(bay.bay, "stop"));
    const list = $("#bays");
    const after = [...list.children].find((x) => x.dataset.bay > bay.bay);
    list.insertBefore(c, after || null);
    viewObserver.observe(c);
  }
  return c;
}

// ---- live view: the picture of each bay on screen, every few seconds while it is online ----
const VIEW_EVERY_MS = 4000;
const onScreen = new Set();
const viewObserver = new IntersectionObserver((entries) => {
  for (const e of entries) {
    const bay = e.target.dataset.bay;
    if (e.isIntersecting) { onScreen.add(bay); refreshView(bay); } else onScreen.delete(bay);
  }
});

/** Loads the bay's picture aside and shows it once it has come, so the card never flickers. */
function refreshView(bay) {
  const b = bays.get(bay);
  const img = $(`.card[data-bay="${CSS.escape(bay)}"] .view`);
  if (!b || !img) return;
  if (!b.online) { img.hidden = true; return; }
  const next = new Image();
  next.onload = () => { img.src = next.src; img.hidden = false; };
  next.onerror = () => { img.hidden = true; };
  next.src = `/api/bays/${encodeURIComponent(bay)}/snapshot.jpg?t=${Date.now()}${tokenQuery("&")}`;
}

setInterval(() => {
  if (document.visibilityState === "visible") onScreen.forEach(refreshView);
}, VIEW_EVERY_MS);

function render(bay) {
  bays.set(bay.bay, bay);
  const c = card(bay);
  c.dataset.online = bay.online;
  c.dataset.phase = bay.phase;
  $(".name", c).textContent = bay.name || "";
  const loading = bay.phase === "loading";
  $(".state", c).textContent = !bay.online
    ? "offline"
    : loading ? `loading ${bay.plate || "?"}` : "idle";
  $(".count", c).textContent = loading ? bay.count : "–";
  $(".meta", c).textContent = loading
    ? `since ${clock(bay.started_at)} (${duration((Date.now() - Date.parse(bay.started_at)) / 1000)})` +
      (bay.started_by ? ` · started by ${bay.started_by}` : "") + (bay.out ? ` · ${bay.out} out` : "")
    : bay.last_seen ? `last heard ${clock(bay.last_seen)}` : "never heard from";
  const h = bay.health || {};
  const level = (name, v) => {
    const span = el("span", { class: v === "ok" ? "" : "down" }, `${name} ${v || "unknown"}`);
    return span;
  };
  const health = $(".health", c);
  health.replaceChildren(level("camera", h.camera), " · ", level("detector", h.detector),
    ` · ${(h.fps || 0).toFixed(1)} fps`,
    h.detect_fps != null && h.detect_fps < (h.fps || 0) ? ` (detector ${h.detect_fps.toFixed(1)})` : "",
    h.detail ? ` · ${h.detail}` : "");
  $(".start", c).hidden = loading;
  $("input", c).hidden = loading;
  $(".stop", c).hidden = !loading;
  $("#no-bays").hidden = bays.size > 0;
}

async function control(bay, action) {
  const c = card(bays.get(bay));
  const error = $(".error", c);
  error.hidden = true;
  const buttons = c.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const body = action === "start"
      ? { plate: $("input", c).value, by: "dashboard" }
      : { by: "dashboard" };
    const result = await api(`/api/bays/${encodeURIComponent(bay)}/${action}`, {
      method: "POST", body: JSON.stringify(body),
    });
    if (action === "stop" && result && result.session) {
      error.hidden = false;
      error.className = "error done";
      error.textContent = `Stopped: ${result.session.plate}, final count ${result.session.count}`;
    }
    if (action === "start") { $("input", c).value = ""; loadPlates(); }
  } catch (e) {
    error.className = "error";
    error.hidden = false;
    error.textContent = e.message;
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

let socket = null;
let retry = 500;
function connect() {
  const link = $("#link");
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/api/ws${tokenQuery("?")}`);
  socket.onopen = () => {
    retry = 500;
    link.dataset.state = "up";
    link.textContent = "live";
    $("#banner").hidden = true;
  };
  socket.onmessage = (m) => {
    const u = JSON.parse(m.data);
    if (u.type === "snapshot") {
      for (const b of u.bays) render(b);
    } else if (u.type === "bay" || u.type === "count") {
      render(u.bay);
    }
  };
  socket.onclose = () => {
    link.dataset.state = "down";
    link.textContent = "disconnected";
    const banner = $("#banner");
    banner.hidden = false;
    banner.textContent = `Disconnected from the relay; reconnecting in ${(retry / 1000).toFixed(1)} s…`;
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 10000);
  };
}

// Elapsed times move on between updates.
setInterval(() => { for (const b of bays.values()) if (b.phase === "loading") render(b); }, 1000);

async function loadPlates() {
  try {
    const { plates } = await api("/api/plates");
    $("#plates").replaceChildren(...plates.map((p) => el("option", { value: p.plate })));
  } catch { /* the menu is a convenience */ }
}

// ---- history ----
/** The instant a day (`YYYY-MM-DD`) starts in the site's zone, `days` later. */
function siteMidnight(date, days = 0) {
  const guess = Date.parse(`${date}T00:00:00Z`) + days * 86400000;
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: site.tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(guess));
  const get = (t) => Number(parts.find((p) => p.type === t).value);
  const shown = Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
  return new Date(guess - (shown - guess)).toISOString();
}

function query(form) {
  const q = new URLSearchParams();
  for (const k of ["bay", "plate"]) {
    const v = form[k].value.trim();
    if (v) q.set(k, v);
  }
  // Whole days in the site's zone: from its first instant to the end of the `to` day.
  if (form.from.value) q.set("from", siteMidnight(form.from.value));
  if (form.to.value) q.set("to", siteMidnight(form.to.value, 1));
  q.set("limit", "500");
  return q;
}

async function showHistory() {
  const form = $("#filters");
  const select = form.bay;
  const chosen = select.value;
  select.replaceChildren(el("option", { value: "" }, "all"),
    ...[...bays.keys()].sort().map((b) => el("option", { value: b }, b)));
  select.value = chosen;
  const q = query(form);
  $("#csv").href = `/api/sessions.csv?${q}${tokenQuery("&")}`;
  const error = $("#history-error");
  error.hidden = true;
  let sessions = [];
  try {
    ({ sessions } = await api(`/api/sessions?${q}`));
  } catch (e) {
    error.hidden = false;
    error.textContent = e.message;
  }
  $("#sessions tbody").replaceChildren(...sessions.map((s) => el("tr", { "data-session": s.id },
    el("td", {}, el("a", { href: `#/session/${s.id}` }, dayTime(s.started_at))),
    el("td", {}, s.stopped_at ? clock(s.stopped_at) : "loading"),
    el("td", {}, s.bay),
    el("td", {}, s.plate || "?"),
    el("td", { class: "num" }, s.correction ? `${s.corrected_count} (${s.count} ${s.correction > 0 ? "+" : ""}${s.correction})` : String(s.count)),
    el("td", {}, s.duration_seconds != null ? duration(s.duration_seconds) : "–"),
    el("td", {}, [s.started_by, s.stopped_by].filter(Boolean).join(" / ")))));
  const totals = new Map();
  for (const s of sessions) {
    const d = day(s.started_at);
    const t = totals.get(d) || { n: 0, count: 0 };
    t.n += 1;
    t.count += s.corrected_count;
    totals.set(d, t);
  }
  $("#totals tbody").replaceChildren(...[...totals].map(([d, t]) =>
    el("tr", {}, el("td", {}, d), el("td", { class: "num" }, String(t.n)), el("td", { class: "num" }, String(t.count)))));
}

// ---- one session ----
let chart = null;
/** A session still loading, or stopped a moment ago, gains counts and pictures (a bay sends a
 * picture after its count, and one away for a while sends them late): while its page is on
 * screen it is looked at again every few seconds, and drawn again when something changed. */
const SESSION_POLL_MS = 3000;
const SESSION_SETTLES_MS = 120000;
let sessionPoll = null;

/** What of a session and its pictures the page shows: two looks that agree changed nothing. */
const sessionShown = (s, pieces) => JSON.stringify([s.count, s.corrected_count, s.out, s.stopped_at,
  s.events.length, s.corrections.length, pieces.map((p) => [p.id, p.dropped, p.pruned])]);

function watchSession(id, shown, stoppedAt) {
  clearTimeout(sessionPoll);
  if (stoppedAt && Date.now() - Date.parse(stoppedAt) > SESSION_SETTLES_MS) return;
  const onScreen = () => !$("#session-view").hidden && evidence.session === id;
  sessionPoll = setTimeout(async () => {
    if (!onScreen()) return;
    try {
      const path = `/api/sessions/${encodeURIComponent(id)}`;
      const [s, { evidence: pieces }] = await Promise.all([api(path), api(`${path}/evidence`)]);
      if (!onScreen()) return;
      if (sessionShown(s, pieces) !== shown) showSession(id, { s, pieces });
      else watchSession(id, shown, s.stopped_at);
    } catch {
      if (onScreen()) watchSession(id, shown, stoppedAt);
    }
  }, SESSION_POLL_MS);
}

/** Draws session `id`, fetched now or as `looked` at it a moment ago (`{ s, pieces }`). */
async function showSession(id, looked = null) {
  clearTimeout(sessionPoll);
  let s;
  if ($("#correct").evidence.value && evidence.session !== id) correctAbout(null);
  const pictures = showEvidence(id, looked && looked.pieces);
  try {
    s = looked ? looked.s : await api(`/api/sessions/${encodeURIComponent(id)}`);
  } catch (e) {
    $("#session-title").textContent = e.message;
    return;
  }
  await pictures;
  $("#session-title").textContent = `${s.plate || "?"} at ${s.bay}`;
  const facts = [
    ["Machine count", s.count], ["Corrected count", s.corrected_count], ["Out", s.out],
    ["Started", `${dayTime(s.started_at)} by ${s.started_by || "?"}`],
    ["Stopped", s.stopped_at ? `${dayTime(s.stopped_at)} by ${s.stopped_by || "?"}` : "still loading"],
    ["Duration", s.duration_seconds != null ? duration(s.duration_seconds) : "–"],
  ];
  $("#session-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  $("#corrections tbody").replaceChildren(...s.corrections.map((c) => el("tr", {},
    el("td", {}, dayTime(c.at)), el("td", {}, c.by), el("td", { class: "num" }, (c.delta > 0 ? "+" : "") + c.delta), el("td", {}, c.reason),
    el("td", {}, c.evidence ? evidenceLink(c.evidence) : ""))));
  const xs = s.events.map((e) => Date.parse(e.at) / 1000);
  const ys = s.events.map((e) => e.count);
  const box = $("#chart");
  if (chart) chart.destroy();
  box.replaceChildren();
  chart = new uPlot({
    width: Math.min(900, box.clientWidth || 600), height: 300,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), site.tz),
    series: [{}, {
      label: "count", stroke: "#1e7e45", width: 2, fill: "rgba(46,204,113,.15)",
      paths: uPlot.paths.stepped({ align: 1 }),
    }],
    axes: [{}, { label: "count", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }],
  }, [xs, ys], box);
  watchSession(id, sessionShown(s, evidence.pieces), s.stopped_at);
  const form = $("#correct");
  form.onsubmit = async (e) => {
    e.preventDefault();
    const err = $("#correct-error");
    err.hidden = true;
    try {
      await api(`/api/sessions/${encodeURIComponent(id)}/corrections`, {
        method: "POST",
        body: JSON.stringify({
          delta: Number(form.delta.value), reason: form.reason.value, by: form.by.value || null,
          evidence: form.evidence.value || null,
        }),
      });
      form.reset();
      correctAbout(null);
      showSession(id);
    } catch (x) {
      err.hidden = false;
      err.textContent = x.message;
    }
  };
}

// ---- a session's pictures: start and stop, a strip of its crossings, one enlarged ----
const evidence = { session: null, pieces: [], shown: -1 };

const KIND_LABEL = { start: "Start", stop: "Stop", crossing: "Crossing" };
/** What a piece shows, in words: `#4 · 10:02:33 · in`. */
const pieceWords = (p) => [`#${p.seq}`, clock(p.time), p.direction || p.kind].join(" · ");
/** Why a piece has no picture, or `null`. */
const missing = (p) => p.dropped ? "picture dropped by the bay (the count is kept)"
  : p.pruned ? "picture deleted after the retention (the count is kept)" : null;
const pictureSrc = (p) => `${p.url}${tokenQuery("?")}`;

/** A piece's picture, lazily loaded, or a placeholder saying why there is none. */
function picture(p, alt) {
  const why = missing(p);
  if (why) return el("p", { class: "placeholder", "data-testid": "no-picture" }, why);
  return el("img", { loading: "lazy", decoding: "async", alt, src: pictureSrc(p) });
}

/** One picture that enlarges when clicked. */
function shot(p, caption) {
  const button = el("button", { type: "button", title: "see it large" },
    picture(p, `${p.kind} ${p.seq}`));
  button.addEventListener("click", () => enlarge(evidence.pieces.indexOf(p)));
  return el("div", { class: "shot", "data-seq": String(p.seq), "data-kind": p.kind }, button, caption);
}

/** Draws session `id`'s pictures: `list`, or fetched now. */
async function showEvidence(id, list = null) {
  const err = $("#evidence-error");
  err.hidden = true;
  evidence.session = id;
  evidence.pieces = [];
  try {
    if (!list) ({ evidence: list } = await api(`/api/sessions/${encodeURIComponent(id)}/evidence`));
  } catch (e) {
    list = [];
    err.hidden = false;
    err.textContent = `pictures: ${e.message}`;
  }
  if (evidence.session !== id) return;
  evidence.pieces = list;
  const end = (kind, label) => {
    const p = list.find((x) => x.kind === kind);
    return p ? [el("strong", {}, label), shot(p, el("span", {}, pieceWords(p)))]
      : [el("strong", {}, label), el("p", { class: "placeholder" }, "no picture stored")];
  };
  $("#start-picture").replaceChildren(...end("start", "Start"));
  $("#stop-picture").replaceChildren(...end("stop", "Stop"));
  $("#strip").replaceChildren(...list.filter((p) => p.kind === "crossing").map((p) =>
    el("li", {}, shot(p, el("span", {}, `#${p.seq} · ${clock(p.time)} · `,
      el("span", { class: `dir-${p.direction}` }, p.direction))))));
}

/** Shows piece `i` of the session large, with its words and the way to the ones beside it. */
function enlarge(i) {
  const p = evidence.pieces[i];
  if (!p) return;
  evidence.shown = i;
  const img = $("#evidence-large");
  const why = missing(p);
  img.hidden = !!why;
  if (why) img.removeAttribute("src"); else img.src = pictureSrc(p);
  img.alt = `${p.kind} ${p.seq}`;
  $("#evidence-missing").hidden = !why;
  $("#evidence-missing").textContent = why || "";
  $("#evidence-caption").textContent = `${KIND_LABEL[p.kind] || p.kind} ${pieceWords(p)}` +
    (p.track != null ? ` · track ${p.track}` : "");
  $("#evidence-prev").disabled = i === 0;
  $("#evidence-next").disabled = i === evidence.pieces.length - 1;
  const dialog = $("#evidence-dialog");
  if (!dialog.open) dialog.showModal();
}

/** The link a correction has to the picture it is about. */
function evidenceLink(id) {
  const p = evidence.pieces.find((x) => x.id === id);
  const seq = id.slice(id.lastIndexOf("-") + 1);
  const a = el("a", { class: "evidence-link", href: `/api/evidence/${id}.jpg${tokenQuery("?")}`, "data-evidence": id },
    p && !missing(p) ? el("img", { loading: "lazy", alt: `picture ${seq}`, src: pictureSrc(p) }) : "",
    `#${seq}`);
  a.addEventListener("click", (e) => {
    const i = evidence.pieces.findIndex((x) => x.id === id);
    if (i >= 0) { e.preventDefault(); enlarge(i); }
  });
  return a;
}

/** The correction form is about piece `p` (or about none). */
function correctAbout(p) {
  const form = $("#correct");
  form.evidence.value = p ? p.id : "";
  const about = $("#correct-evidence");
  about.hidden = !p;
  $("span", about).textContent = p ? `About picture ${pieceWords(p)}` : "";
}

$("#evidence-prev").addEventListener("click", () => enlarge(evidence.shown - 1));
$("#evidence-next").addEventListener("click", () => enlarge(evidence.shown + 1));
$("#evidence-close").addEventListener("click", () => $("#evidence-dialog").close());
$("#evidence-correct").addEventListener("click", () => {
  correctAbout(evidence.pieces[evidence.shown]);
  $("#evidence-dialog").close();
  $("#correct").delta.focus();
});
$("#correct-evidence button").addEventListener("click", () => correctAbout(null));
$("#evidence-dialog").addEventListener("keydown", (e) => {
  if (e.key === "ArrowLeft") enlarge(evidence.shown - 1);
  if (e.key === "ArrowRight") enlarge(evidence.shown + 1);
});

// ---- a bay's page: its camera's picture, large, about twice a second ----
const LIVE_EVERY_MS = 500;
let liveBay = null;

/** Shows `bay`'s pictures one after another until the page shows something else. */
async function showBay(bay) {
  liveBay = bay;
  editor.bay = bay;
  setEditing(false);
  $("#bay-title").textContent = `Bay ${bay}`;
  const img = $("#bay-live");
  const err = $("#bay-error");
  let shown = null;
  let frames = 0;
  while (liveBay === bay && !$("#bay-view").hidden) {
    const b = bays.get(bay);
    $("#bay-state").textContent = !b ? "" : !b.online ? "offline"
      : b.phase === "loading" ? `loading ${b.plate || "?"}: ${b.count}` : "idle";
    const began = Date.now();
    let wait = LIVE_EVERY_MS;
    try {
      const headers = {};
      const token = localStorage.getItem(TOKEN_KEY);
      if (token) headers.authorization = `Bearer ${token}`;
      const r = await fetch(`/api/bays/${encodeURIComponent(bay)}/snapshot.jpg`, { headers });
      if (!r.ok) {
        let body = null;
        try { body = await r.json(); } catch { /* not JSON */ }
        throw new ApiError((body && body.error) || `${r.status} ${r.statusText}`);
      }
      const part = (r.headers.get("x-baycount-region") || "0,0,1,1").split(",").map(Number);
      if (part.length === 4 && part.every(Number.isFinite)) editor.region = part;
      if (editor.editing) drawEditor();
      const url = URL.createObjectURL(await r.blob());
      if (shown) URL.revokeObjectURL(shown);
      shown = url;
      img.src = url;
      img.hidden = false;
      img.dataset.frames = String(++frames);
      err.hidden = true;
    } catch (e) {
      err.hidden = false;
      err.textContent = e instanceof ApiError ? e.message : "the relay cannot be reached; check the network";
      wait = 2000;
    }
    await new Promise((done) => setTimeout(done, Math.max(0, wait - (Date.now() - began))));
  }
}

// ---- the line editor on a bay's page: drag the counting line's ends on the live picture ----
const editor = { bay: null, line: null, region: [0, 0, 1, 1], editing: false };

/** `x1,y1,x2,y2` as numbers. */
const parseLine = (text) => (text || "0,0.5,1,0.5").split(",").map(Number);
const round3 = (v) => Math.round(v * 1000) / 1000;

/** Draws the line being edited over the picture, in the picture's part (`editor.region`). */
function drawEditor() {
  const [rx1, ry1, rx2, ry2] = editor.region;
  const u = (x) => (x - rx1) / (rx2 - rx1), v = (y) => (y - ry1) / (ry2 - ry1);
  const [x1, y1, x2, y2] = editor.line;
  const at = (id, attrs) => { for (const [k, val] of Object.entries(attrs)) $(id).setAttribute(k, val); };
  at("#edit-line", { x1: u(x1), y1: v(y1), x2: u(x2), y2: v(y2) });
  at("#edit-p1", { cx: u(x1), cy: v(y1) });
  at("#edit-p2", { cx: u(x2), cy: v(y2) });
  // Crossing from the line's left to its right (image y down) counts `in`: the arrow points right.
  const mx = (u(x1) + u(x2)) / 2, my = (v(y1) + v(y2)) / 2;
  const dx = u(x2) - u(x1), dy = v(y2) - v(y1), len = Math.hypot(dx, dy) || 1;
  at("#edit-arrow", { x1: mx, y1: my, x2: mx - (dy / len) * 0.12, y2: my + (dx / len) * 0.12 });
  $("#line-value").textContent = `line ${editor.line.map(round3).join(",")}`;
}

function setEditing(on) {
  editor.editing = on;
  // An SVG element has no `hidden` property: the attribute itself.
  $("#line-editor").toggleAttribute("hidden", !on);
  $("#edit-line-button").hidden = on;
  for (const id of ["#flip-line", "#save-line", "#cancel-line", "#line-hint"]) $(id).hidden = !on;
  if (on) {
    const b = bays.get(editor.bay);
    editor.line = parseLine(b && b.counting && b.counting.line);
    $("#line-error").hidden = true;
    drawEditor();
  } else {
    const b = bays.get(editor.bay);
    $("#line-value").textContent = b && b.counting ? `line ${b.counting.line}` : "";
  }
}

/** Moves an end of the line to where the pointer is, kept inside the camera's picture. */
function dragEnd(handle, event) {
  const box = $("#line-editor").getBoundingClientRect();
  const [rx1, ry1, rx2, ry2] = editor.region;
  const clamp = (t) => Math.min(1, Math.max(0, t));
  const x = clamp(rx1 + ((event.clientX - box.left) / box.width) * (rx2 - rx1));
  const y = clamp(ry1 + ((event.clientY - box.top) / box.height) * (ry2 - ry1));
  const i = handle.dataset.end === "1" ? 0 : 2;
  editor.line[i] = round3(x);
  editor.line[i + 1] = round3(y);
  drawEditor();
}

for (const handle of document.querySelectorAll("#line-editor .handle")) {
  handle.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    // Keeps the drag when the pointer outruns the handle (not for pointers the browser does not know).
    try { handle.setPointerCapture(e.pointerId); } catch { /* no such pointer */ }
    const move = (m) => dragEnd(handle, m);
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", () => handle.removeEventListener("pointermove", move), { once: true });
  });
}
$("#edit-line-button").addEventListener("click", () => setEditing(true));
$("#cancel-line").addEventListener("click", () => setEditing(false));
$("#flip-line").addEventListener("click", () => {
  const [x1, y1, x2, y2] = editor.line;
  editor.line = [x2, y2, x1, y1];
  drawEditor();
});
$("#save-line").addEventListener("click", async () => {
  const err = $("#line-error");
  err.hidden = true;
  const line = editor.line.map(round3).join(",");
  try {
    const saved = await api(`/api/bays/${encodeURIComponent(editor.bay)}/counting`, {
      method: "PUT", body: JSON.stringify({ line, by: "dashboard" }),
    });
    const b = bays.get(editor.bay);
    if (b) b.counting = { ...b.counting, line: saved.line };
    setEditing(false);
    $("#line-value").textContent = `saved: line ${saved.line}`;
  } catch (e) {
    err.hidden = false;
    err.textContent = e.message;
  }
});

// ---- navigation ----
function route() {
  const [, view, arg] = location.hash.split("/");
  const name = ["history", "session", "bay"].includes(view) ? view : "bays";
  for (const v of ["bays", "history", "session", "bay"]) $(`#${v}-view`).hidden = v !== name;
  document.querySelectorAll("nav a").forEach((a) => a.classList.toggle("active", a.dataset.nav === name));
  if (name !== "bay") liveBay = null;
  if (name === "history") showHistory();
  if (name === "session") showSession(decodeURIComponent(arg || ""));
  if (name === "bay") showBay(decodeURIComponent(arg || ""));
}

$("#filters").addEventListener("submit", (e) => { e.preventDefault(); showHistory(); });
window.addEventListener("hashchange", route);

(async () => {
  try {
    const s = await api("/api/site");
    site.tz = s.time_zone || site.tz;
    site.readToken = !!s.read_token_required;
  } catch { /* default zone */ }
  if (site.readToken && !localStorage.getItem(TOKEN_KEY)) await askToken();
  connect();
  loadPlates();
  route();
})();
