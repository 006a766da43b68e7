// Drives txcloudrecord's local API (POST /localrecord/v1/<Cmd>) and follows
// it live through its event stream (GET /localrecord/v1/Events).
// Plain JavaScript for any page; see README "API summary".
"use strict";

const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function base() {
  return `http://127.0.0.1:${$("port").value || 37604}/localrecord/v1/`;
}

function log(text) {
  const line = `${new Date().toLocaleTimeString()} ${text}\n`;
  $("log").textContent += line;
  $("log").scrollTop = $("log").scrollHeight;
}

/** One command: resolves to the Response object, rejects with {Code, Message}. */
async function call(cmd, body = {}) {
  const r = await fetch(base() + cmd, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await r.json();
  const resp = json.Response || {};
  if (resp.Error) {
    log(`${cmd}: error ${resp.Error.Code} ${resp.Error.Message}`);
    throw resp.Error;
  }
  log(`${cmd}: ok`);
  return resp;
}

/** Whether the recorder answers (any answer, even a refusal, means it runs). */
async function reachable() {
  try {
    await fetch(base() + "GetState", { method: "POST", body: "{}" });
    return true;
  } catch (_) {
    return false;
  }
}

/** Start the recorder through its tc-record:// handler if it is not running
 *  (a hidden frame, so this page stays), then wait up to 20 s for it. */
async function launch() {
  if (await reachable()) return true;
  log("recorder not running: launching tc-record://");
  page.launched = true;
  const frame = document.createElement("iframe");
  frame.hidden = true;
  frame.src = "tc-record://launch";
  document.body.appendChild(frame);
  for (let i = 0; i < 40; i++) {
    await sleep(500);
    if (await reachable()) {
      log("recorder is up");
      return true;
    }
  }
  log("the recorder did not start: is txcloudrecord installed (txcloudrecord register-protocol)?");
  return false;
}

// Live state ---------------------------------------------------------------

const page = { state: null, states: [], slices: [], errors: [], launched: false, events: null };
const waiters = [];

function show(s) {
  page.state = s;
  const rec = s.Record;
  if (page.states[page.states.length - 1] !== rec.State) page.states.push(rec.State);
  $("state").textContent = `${rec.State} (${s.Auth.State})`;
  $("duration").textContent = rec.Duration;
  $("frames").textContent = rec.Frames ?? "";
  $("slices").textContent = (rec.Slices || []).length;
  const up = (s.Upload || []).find((u) => u.IsCurrentRecoding) || (s.Upload || [])[0];
  $("upload").textContent = up ? `${up.State} ${up.Duration}/${up.Total} s` : "–";
  showSound(rec);
  for (const w of waiters.splice(0)) {
    if (w.until(s)) w.resolve(s);
    else waiters.push(w);
  }
}

/** A level meter per sound source (peak over the last second, -60…0 dBFS),
 * and the warnings the teacher can act on. */
function showSound(rec) {
  const box = $("sound");
  box.replaceChildren();
  for (const src of rec.AudioSources || []) {
    const row = document.createElement("div");
    const meter = document.createElement("meter");
    meter.min = -60;
    meter.max = 0;
    meter.low = -40;
    meter.high = -6;
    meter.value = Math.max(-60, src.PeakDb);
    const label = document.createElement("span");
    label.textContent = ` ${src.Name}: ${src.State} (${src.PeakDb} dBFS)${src.Note ? " – " + src.Note : ""}`;
    row.append(meter, label);
    box.append(row);
  }
  $("warnings").textContent = (rec.Warnings || []).join(" · ");
}

/** Follow the recorder's events (reconnects by itself, as EventSource does). */
function listen() {
  if (page.events) page.events.close();
  const es = new EventSource(base() + "Events");
  es.addEventListener("state", (e) => show(JSON.parse(e.data)));
  es.addEventListener("slice", (e) => {
    const s = JSON.parse(e.data);
    page.slices.push(s.Path);
    log(`slice ${s.Index} finished: ${s.Path}`);
  });
  es.addEventListener("upload", (e) => {
    const u = JSON.parse(e.data);
    log(`upload ${u.Id}: ${u.State} ${u.Duration}/${u.Total} s`);
  });
  es.addEventListener("warning", (e) => {
    const w = JSON.parse(e.data);
    page.warnings = (page.warnings || []).concat(w.Message);
    log(`warning: ${w.Message}`);
  });
  es.addEventListener("error", (e) => {
    if (e.data) {
      const err = JSON.parse(e.data);
      page.errors.push(err);
      log(`recorder error ${err.Code}: ${err.Message}`);
    }
  });
  page.events = es;
}

/** Resolve with the state once `until(state)` holds (checked on every event). */
function when(until, ms = 20000) {
  return new Promise((resolve, reject) => {
    if (page.state && until(page.state)) return resolve(page.state);
    waiters.push({ until, resolve });
    setTimeout(() => reject(new Error("timed out waiting for the recorder")), ms);
  });
}

// Preview ------------------------------------------------------------------

let previewTimer = null;

async function refreshPreview() {
  try {
    const p = await call("GetPreview", { MaxWidth: 320 });
    $("preview").src = p.Image;
    $("preview").hidden = false;
    return p;
  } catch (_) {
    return null;
  }
}

// Buttons ------------------------------------------------------------------

async function init() {
  if (!(await launch())) return;
  await call("Init", {
    SdkAppId: Number($("sdkappid").value),
    UserId: $("userid").value,
    UserSig: $("usersig").value,
  });
  listen();
}

async function start() {
  const body = { ClassId: Number($("classid").value), SliceTime: Number($("slicetime").value) };
  if ($("wnd").value) body.Wnd = Number($("wnd").value);
  else body.AppProc = $("appproc").value;
  await call("StartRecord", body);
  clearInterval(previewTimer);
  previewTimer = setInterval(refreshPreview, 2000);
}

async function stop() {
  clearInterval(previewTimer);
  await call("StopRecord");
}

const quietly = (f) => () => f().catch(() => {});
$("launch").onclick = quietly(launch);
$("init").onclick = quietly(init);
$("start").onclick = quietly(start);
$("pause").onclick = quietly(() => call("PauseRecord"));
$("resume").onclick = quietly(() => call("ResumeRecord"));
$("stop").onclick = quietly(stop);

// Fields from the address (?port=&sdkappid=&userid=&usersig=&wnd=&classid=&slicetime=).
const params = new URLSearchParams(location.search);
for (const k of ["port", "sdkappid", "userid", "usersig", "wnd", "appproc", "classid", "slicetime"]) {
  if (params.has(k)) $(k).value = params.get(k);
}

// ?auto=1: run a short class by itself and POST what happened to ?report=
// (how the project's browser test drives this page).
async function auto() {
  const report = { ok: false, steps: [] };
  const step = (s) => { report.steps.push(s); log(`auto: ${s}`); };
  try {
    await init();
    step("init");
    await start();
    step("start");
    await when((s) => s.Record.State === "Recording" && s.Record.Frames >= 10);
    await call("PauseRecord");
    await when((s) => s.Record.State === "Paused");
    step("paused");
    await call("ResumeRecord");
    const resumed = await when((s) => s.Record.State === "Recording");
    await when((s) => s.Record.Frames >= resumed.Record.Frames + 10);
    step("resumed");
    report.sound = $("sound").textContent;
    report.meters = document.querySelectorAll("#sound meter").length;
    const p = await refreshPreview();
    report.preview = p && { Width: p.Width, Height: p.Height, Pts: p.Pts, Bytes: p.Image.length };
    await when((s) => (s.Record.Slices || []).length >= 1);
    await stop();
    const last = await when((s) => s.Record.State === "Idle");
    step("stopped");
    await sleep(500); // the last slice's event
    Object.assign(report, {
      ok: true,
      states: page.states,
      slices: page.slices,
      finalSlices: last.Record.Slices,
      duration: $("duration").textContent,
      shown: $("state").textContent,
    });
  } catch (e) {
    report.error = e.Message || String(e);
  }
  report.launched = page.launched;
  report.log = $("log").textContent;
  await fetch(params.get("report"), { method: "POST", body: JSON.stringify(report) });
}

if (params.get("auto") === "1") auto();
