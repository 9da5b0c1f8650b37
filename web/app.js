// The page talks to the same server's JSON API; nothing is loaded from elsewhere.
"use strict";
const $ = (id) => document.getElementById(id);
let video = null;

function headers() {
  const key = $("api-key").value.trim();
  return key ? { Authorization: "Bearer " + key } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error ? body.error.message : "HTTP " + response.status);
  return body;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function choose(file) {
  if (!file) return;
  video = file;
  const preview = $("preview");
  preview.src = URL.createObjectURL(file);
  preview.hidden = false;
  $("run").disabled = false;
  setStatus(file.name + " (" + (file.size / 1048576).toFixed(1) + " MB)");
}

function showBars(predictions) {
  const list = $("bars");
  list.replaceChildren();
  const best = predictions.length ? predictions[0].probability : 1;
  for (const { label, probability } of predictions) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "label";
    name.textContent = label;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = Math.max(1, (100 * probability) / best) + "%";
    const value = document.createElement("span");
    value.className = "p";
    value.textContent = (100 * probability).toFixed(1) + "%";
    item.append(name, bar, value);
    list.append(item);
  }
}

async function classify() {
  const form = new FormData();
  form.append("file", video, video.name);
  const set = $("label-set").value;
  if (set) form.append("label_set", set);
  else form.append("labels", $("labels").value);
  form.append("top_k", $("top-k").value);
  form.append("views", $("views").value);
  $("run").disabled = true;
  setStatus("classifying…");
  try {
    const result = await api("/v1/classify", { method: "POST", body: form });
    showBars(result.predictions);
    const t = result.timings;
    setStatus("decode " + (1000 * t.decode_seconds).toFixed(0) + " ms, model " + (1000 * t.model_seconds).toFixed(0) + " ms");
  } catch (error) {
    setStatus(error.message, true);
  } finally {
    $("run").disabled = false;
  }
}

async function search(event) {
  event.preventDefault();
  const hits = $("hits");
  hits.replaceChildren();
  try {
    const result = await api("/v1/search", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ query: $("query").value, top_k: 10 }),
    });
    for (const hit of result.results) {
      const item = document.createElement("li");
      item.textContent = hit.score.toFixed(3) + "  " + hit.path;
      hits.append(item);
    }
  } catch (error) {
    const item = document.createElement("li");
    item.textContent = error.message;
    hits.append(item);
  }
}

async function start() {
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); choose(e.dataTransfer.files[0]); });
  $("file").addEventListener("change", (e) => choose(e.target.files[0]));
  $("run").addEventListener("click", classify);
  $("search-form").addEventListener("submit", search);
  $("label-set").addEventListener("change", () => { $("labels").disabled = $("label-set").value !== ""; });
  $("api-key").addEventListener("change", loadServerInfo);
  await loadServerInfo();
}

// The label lists and the model, again after an API key is typed.
async function loadServerInfo() {
  try {
    const sets = await api("/v1/label-sets");
    $("label-set").replaceChildren(new Option("typed below", ""));
    for (const set of sets.data) $("label-set").append(new Option(set.id + " (" + set.count + ")", set.id));
    const models = await api("/v1/models");
    const model = models.data[0];
    $("model").textContent = model.id + " · " + model.meta.frames + " frames · " + model.meta.visual_prompt;
    $("search").hidden = model.meta.index_videos === 0;
  } catch (error) {
    $("model").textContent = error.message;
  }
}

start();
