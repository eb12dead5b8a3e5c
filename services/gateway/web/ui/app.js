// The gateway's page: request a scene, follow it live over Server-Sent Events, look at it.
//
// Streams are read with fetch() rather than EventSource so that the API key travels as a
// header; a dropped stream is read again from the last event id (Last-Event-ID).

import * as THREE from "./vendor/three/three.module.min.js";
import { GLTFLoader } from "./vendor/three/addons/loaders/GLTFLoader.js";
import { OrbitControls } from "./vendor/three/addons/controls/OrbitControls.js";

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = "holodeck.apiKey";
const RECONNECT_MS = 1000;
const STAGES = ["planner", "imagegen", "meshgen", "assembly"];
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

// ---------------------------------------------------------------- requests --

function headers(extra = {}) {
  const key = $("api-key").value.trim();
  return key ? { "X-API-Key": key, ...extra } : { ...extra };
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: headers(options.headers) });
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      if (body.error) message = `${body.error.code}: ${body.error.message}`;
    } catch { /* not JSON */ }
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return response;
}

// One SSE message at a time from a fetch() body: fields until a blank line.
async function* readEvents(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let message = { event: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    const lines = buffer.split(/\r\n|\r|\n/);
    buffer = lines.pop();
    for (const line of lines) {
      if (line === "") {
        if (message.data.length) yield { ...message, data: message.data.join("\n") };
        message = { event: "message", data: [], id: null };
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "data") message.data.push(text);
        else if (field === "event") message.event = text;
        else if (field === "id") message.id = text;
      }
    }
  }
}

// Follows `path` until `onMessage` returns true (the end) or `signal` aborts.
async function follow(path, onMessage, signal, onProblem) {
  let lastId = null;
  while (!signal.aborted) {
    try {
      const extra = lastId ? { "Last-Event-ID": lastId } : {};
      const response = await api(path, { headers: extra, signal });
      for await (const message of readEvents(response)) {
        if (message.id) lastId = message.id;
        if (onMessage(message.event, JSON.parse(message.data))) return;
      }
    } catch (error) {
      if (signal.aborted) return;
      onProblem?.(error);
      if (error.status && error.status < 500 && error.status !== 429) return;
    }
    await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
  }
}

// ------------------------------------------------------------------ viewer --

class Viewer {
  constructor(container, tooltip) {
    this.container = container;
    this.tooltip = tooltip;
    this.renderer = null;
    this.names = new Map();
  }

  ensure() {
    if (this.renderer) return;
    // preserveDrawingBuffer: the picture can be read back (screenshots, checks).
    this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(window.devicePixelRatio);
    this.renderer.outputColorSpace = THREE.SRGBColorSpace;
    this.renderer.setClearColor(0xe9edf2);
    this.container.appendChild(this.renderer.domElement);
    this.scene3d = new THREE.Scene();
    this.camera = new THREE.PerspectiveCamera(50, 1, 0.05, 500);
    this.controls = new OrbitControls(this.camera, this.renderer.domElement);
    this.controls.enableDamping = true;
    this.controls.addEventListener("change", () => this.render());
    this.scene3d.add(new THREE.HemisphereLight(0xffffff, 0x8d8d8d, 2.2));
    const sun = new THREE.DirectionalLight(0xffffff, 1.8);
    sun.position.set(4, 10, 6);
    this.scene3d.add(sun);
    this.raycaster = new THREE.Raycaster();
    this.pointer = new THREE.Vector2();
    this.renderer.domElement.addEventListener("pointermove", (e) => this.hover(e));
    this.renderer.domElement.addEventListener("pointerleave", () => { this.tooltip.hidden = true; });
    new ResizeObserver(() => this.resize()).observe(this.container);
    this.resize();
    const tick = () => {
      requestAnimationFrame(tick);
      if (this.controls.update()) this.render();
    };
    tick();
  }

  resize() {
    if (!this.renderer) return;
    const { clientWidth: w, clientHeight: h } = this.container;
    if (!w || !h) return;
    this.renderer.setSize(w, h, false);
    this.camera.aspect = w / h;
    this.camera.updateProjectionMatrix();
    this.render();
  }

  render() {
    if (!this.renderer) return;
    this.cutaway();
    this.renderer.render(this.scene3d, this.camera);
  }

  // A doll's-house view: the walls between the camera and the room are left out.
  cutaway() {
    if (!this.walls?.length) return;
    const eye = this.camera.position;
    for (const wall of this.walls) {
      const outward = wall.center.clone().sub(this.roomCenter).setY(0);
      const toEye = eye.clone().sub(wall.center).setY(0);
      wall.node.visible = outward.dot(toEye) <= 0;
    }
  }

  static shown(object) {
    for (let node = object; node; node = node.parent) if (!node.visible) return false;
    return true;
  }

  async show(glb, objects) {
    this.ensure();
    if (this.model) this.scene3d.remove(this.model);
    const loader = new GLTFLoader();
    // Textures through <img> (img-src allows blob:), not fetch(), which connect-src limits.
    loader.register((parser) => {
      parser.textureLoader = new THREE.TextureLoader(parser.options.manager);
      return { name: "holodeck_image_textures" };
    });
    const gltf = await loader.parseAsync(glb, "");
    this.model = gltf.scene;
    this.names = new Map(objects.map((o) => [o.object_id, o.category]));
    this.scene3d.add(this.model);
    // From above one corner, far enough for the whole room to fit the view.
    const box = new THREE.Box3().setFromObject(this.model);
    const sphere = box.getBoundingSphere(new THREE.Sphere());
    const center = sphere.center;
    const radius = sphere.radius || 1;
    const fit = radius / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2));
    const direction = new THREE.Vector3(0.6, 2.0, 0.9).normalize();
    this.camera.position.copy(center).addScaledVector(direction, fit * 0.95);
    this.camera.near = radius / 100;
    this.camera.far = radius * 20;
    this.camera.updateProjectionMatrix();
    this.controls.maxDistance = fit * 3;
    this.roomCenter = center.clone();
    this.walls = [];
    this.model.traverse((node) => {
      if (/^wall-\d+$/.test(node.name)) {
        const wallBox = new THREE.Box3().setFromObject(node);
        if (!wallBox.isEmpty()) this.walls.push({ node, center: wallBox.getCenter(new THREE.Vector3()) });
      }
    });
    this.controls.target.copy(center);
    this.controls.update();
    this.render();
  }

  // The object under the pointer: the nearest node, upwards, named by an object id.
  hover(event) {
    if (!this.model) return;
    const rect = this.renderer.domElement.getBoundingClientRect();
    this.pointer.set(
      ((event.clientX - rect.left) / rect.width) * 2 - 1,
      -((event.clientY - rect.top) / rect.height) * 2 + 1,
    );
    this.raycaster.setFromCamera(this.pointer, this.camera);
    const hit = this.raycaster.intersectObject(this.model, true).find((h) => Viewer.shown(h.object));
    let node = hit?.object;
    while (node && !this.names.has(node.name)) node = node.parent;
    if (!node) {
      this.tooltip.hidden = true;
      return;
    }
    this.tooltip.textContent = `${node.name} · ${this.names.get(node.name)}`;
    this.tooltip.style.left = `${event.clientX - rect.left + 12}px`;
    this.tooltip.style.top = `${event.clientY - rect.top + 12}px`;
    this.tooltip.hidden = false;
  }
}

// ------------------------------------------------------------------- scene --

const viewer = new Viewer($("viewer"), $("tooltip"));
let current = null; // { id, abort, objects: Map }

function setStatus(status) {
  const badge = $("scene-status");
  badge.textContent = status;
  badge.className = `badge ${status}`;
  $("progress-bar").className = `bar ${status}`;
}

function setProgress(percent) {
  $("progress-bar").style.width = `${percent}%`;
  $("progress-text").textContent = `${percent} %`;
}

function setStages(stages) {
  for (const li of $("stages").children) {
    li.className = stages[li.dataset.stage] || "PENDING";
  }
}

function objectRow(objectId, category) {
  let row = current.objects.get(objectId);
  if (row) return row;
  const tr = document.createElement("tr");
  tr.dataset.object = objectId;
  const cells = [objectId, category || ""].map((text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  });
  const bars = {};
  for (const stage of ["imagegen", "meshgen"]) {
    const td = document.createElement("td");
    td.className = "pct";
    const mini = document.createElement("div");
    mini.className = "mini";
    mini.append(document.createElement("div"));
    td.append(mini);
    cells.push(td);
    bars[stage] = mini;
  }
  tr.append(...cells);
  $("objects").tBodies[0].append(tr);
  row = { tr, bars, category: cells[1] };
  current.objects.set(objectId, row);
  return row;
}

function setObject(objectId, stage, percent) {
  const mini = objectRow(objectId).bars[stage];
  if (!mini) return;
  mini.firstChild.style.width = `${percent}%`;
  mini.classList.toggle("done", percent >= 100);
  mini.title = `${percent} %`;
}

function log(text) {
  const li = document.createElement("li");
  li.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  $("log").append(li);
  $("log").scrollTop = $("log").scrollHeight;
}

async function blobOf(url) {
  return (await api(url)).blob();
}

async function showResult(sceneId, artifacts) {
  const names = Object.keys(artifacts);
  const links = $("downloads");
  links.replaceChildren(...names.map((name) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `⬇ ${name}`;
    button.addEventListener("click", async () => {
      const a = document.createElement("a");
      a.href = URL.createObjectURL(await blobOf(artifacts[name]));
      a.download = `${sceneId}-${name}`;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    });
    return button;
  }));
  if (artifacts["floorplan.png"]) {
    const img = $("floorplan");
    img.src = URL.createObjectURL(await blobOf(artifacts["floorplan.png"]));
    img.hidden = false;
    $("plan-note").hidden = true;
  }
  if (artifacts["scene.glb"]) {
    $("viewer-note").textContent = "loading the scene…";
    const glb = await (await blobOf(artifacts["scene.glb"])).arrayBuffer();
    const objects = [...current.objects.entries()].map(([id, row]) => ({
      object_id: id,
      category: row.category.textContent,
    }));
    await viewer.show(glb, objects);
    $("viewer-note").hidden = true;
    $("viewer").dataset.loaded = "true";
  }
}

function onSceneMessage(sceneId, kind, data) {
  if (!current || current.id !== sceneId) return true;
  if (kind === "progress") {
    if (data.stage === "imagegen" || data.stage === "meshgen") {
      setObject(data.object_id, data.stage, Math.min(99, data.percent));
    }
    return false;
  }
  setStatus(data.status);
  setProgress(data.progress);
  setStages(data.stages);
  $("scene-attempt").textContent = data.attempt > 1 ? `attempt ${data.attempt}` : "";
  if (data.prompt) $("scene-prompt").textContent = data.prompt;
  if (kind === "replayed" && data.from_stage !== "assembly") {
    for (const [id] of current.objects) {
      if (data.from_stage !== "meshgen") setObject(id, "imagegen", 0);
      setObject(id, "meshgen", 0);
    }
  }
  for (const obj of data.objects_planned || []) {
    objectRow(obj.object_id, obj.category).category.textContent = obj.category;
  }
  if (kind === "image") setObject(data.object_id, "imagegen", 100);
  if (kind === "mesh") setObject(data.object_id, "meshgen", 100);
  log(`${kind}${data.object_id ? ` ${data.object_id}` : ""} · ${data.status} ${data.progress} %`);
  if (data.error) {
    const where = [data.error.stage, data.error.object_id].filter(Boolean).join(" / ");
    $("scene-error").textContent = `${where}: ${data.error.code}: ${data.error.message}`;
    $("scene-error").hidden = false;
  }
  if (kind === "cancelled") {
    $("scene-error").textContent = `cancelled: ${data.reason}`;
    $("scene-error").hidden = false;
  }
  if (kind === "ready") {
    showResult(sceneId, data.artifacts).catch((error) => {
      $("viewer-note").textContent = `the scene could not be shown: ${error.message}`;
    });
  }
  return false;
}

async function openScene(sceneId) {
  current?.abort.abort();
  const abort = new AbortController();
  current = { id: sceneId, abort, objects: new Map() };
  history.replaceState(null, "", `#scene=${encodeURIComponent(sceneId)}`);
  $("scene").hidden = false;
  $("scene-id").textContent = sceneId;
  $("scene-prompt").textContent = "";
  $("scene-error").hidden = true;
  $("objects").tBodies[0].replaceChildren();
  $("log").replaceChildren();
  $("downloads").replaceChildren();
  $("floorplan").hidden = true;
  $("plan-note").hidden = false;
  $("viewer-note").hidden = false;
  $("viewer-note").textContent = "the 3D view appears when the scene is ready";
  delete $("viewer").dataset.loaded;
  setStatus("PENDING");
  setProgress(0);
  setStages({});
  markCurrent();
  try {
    const scene = await (await api(`/v1/scenes/${encodeURIComponent(sceneId)}`, { signal: abort.signal })).json();
    $("scene-prompt").textContent = scene.prompt;
    for (const obj of scene.objects) objectRow(obj.object_id, obj.category);
  } catch (error) {
    if (abort.signal.aborted) return;
    $("scene-error").textContent = error.message;
    $("scene-error").hidden = false;
    return;
  }
  follow(
    `/v1/scenes/${encodeURIComponent(sceneId)}/events`,
    (kind, data) => onSceneMessage(sceneId, kind, data),
    abort.signal,
    (error) => log(`stream interrupted: ${error.message}`),
  );
}

// ------------------------------------------------------------ scene list --

let listTimer = null;

function markCurrent() {
  for (const li of $("scene-list").children) {
    li.classList.toggle("current", li.dataset.scene === current?.id);
  }
}

async function refreshList() {
  const status = $("status-filter").value;
  const query = new URLSearchParams({ page_size: "30" });
  if (status) query.set("status", status);
  try {
    const page = await (await api(`/v1/scenes?${query}`)).json();
    $("scene-list").replaceChildren(...page.items.map((item) => {
      const li = document.createElement("li");
      li.dataset.scene = item.scene_id;
      const prompt = document.createElement("span");
      prompt.className = "prompt";
      prompt.textContent = item.prompt;
      prompt.title = item.prompt;
      const badge = document.createElement("span");
      badge.className = `badge ${item.status}`;
      badge.textContent = TERMINAL.has(item.status) ? item.status : `${item.status} ${item.progress} %`;
      const when = document.createElement("span");
      when.className = "when";
      when.textContent = `${new Date(item.created_at).toLocaleString()} · ${item.object_count} objects`;
      li.append(prompt, badge, when);
      li.addEventListener("click", () => openScene(item.scene_id));
      return li;
    }));
    $("list-error").hidden = true;
    markCurrent();
  } catch (error) {
    $("list-error").textContent = `scenes not listed: ${error.message}`;
    $("list-error").hidden = false;
  }
}

function refreshSoon() {
  clearTimeout(listTimer);
  listTimer = setTimeout(refreshList, 300);
}

let listFeed = null;

function followAll() {
  listFeed?.abort();
  listFeed = new AbortController();
  // New scenes and outcomes, as they happen, refresh the list.
  follow("/v1/events", (kind) => {
    if (kind !== "progress" && kind !== "image" && kind !== "mesh") refreshSoon();
    return false;
  }, listFeed.signal);
}

// --------------------------------------------------------------- request --

async function submit(event) {
  event.preventDefault();
  const button = $("submit");
  const problem = $("form-error");
  problem.hidden = true;
  button.disabled = true;
  try {
    const seed = Number.parseInt($("seed").value || "0", 10);
    const response = await api("/v1/scenes", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: $("prompt").value, options: { seed } }),
    });
    const created = await response.json();
    await openScene(created.scene_id);
    refreshSoon();
  } catch (error) {
    problem.textContent = error.message;
    problem.hidden = false;
  } finally {
    button.disabled = false;
  }
}

function start() {
  const key = $("api-key");
  key.value = sessionStorage.getItem(KEY_STORAGE) || "";
  key.addEventListener("change", () => {
    sessionStorage.setItem(KEY_STORAGE, key.value.trim());
    refreshList();
    followAll();
  });
  $("request").addEventListener("submit", submit);
  $("status-filter").addEventListener("change", refreshList);
  refreshList();
  followAll();
  const match = /scene=([^&]+)/.exec(location.hash);
  if (match) openScene(decodeURIComponent(match[1]));
}

start();
