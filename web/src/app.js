// The chat page: conversations kept in this browser, answers streamed from the server's
// OpenAI-compatible /v1/chat/completions (Server-Sent Events), rendered as Markdown.
import { renderMarkdown, setCopyLabel } from "./markdown.js";
import { t, setLanguage, getLanguage, defaultLanguage } from "./i18n.js";
import * as store from "./store.js";

const $ = (id) => document.getElementById(id);
const state = {
  settings: store.loadSettings(),
  convs: store.loadConversations(),
  current: null,
  streaming: null, // {controller, conv, msg}
};

// ------------------------------------------------------------------ API

let keyPrompt = null; // one key dialog at a time

function askKey() {
  if (keyPrompt) return keyPrompt;
  keyPrompt = new Promise((resolve) => {
    const dlg = $("key-dialog");
    $("key-input").value = "";
    dlg.onclose = () => {
      keyPrompt = null;
      const key = $("key-input").value.trim();
      if (dlg.returnValue === "ok" && key) {
        state.settings.apiKey = key;
        store.saveSettings(state.settings);
        resolve(true);
      } else resolve(false);
    };
    dlg.showModal();
  });
  return keyPrompt;
}

// fetch with the stored API key; a 401 asks for a key and tries again.
async function api(path, options = {}) {
  for (;;) {
    const headers = { ...(options.headers || {}) };
    if (state.settings.apiKey) headers.Authorization = `Bearer ${state.settings.apiKey}`;
    const res = await fetch(path, { ...options, headers });
    if (res.status !== 401) return res;
    await res.body?.cancel();
    if (!(await askKey())) return res;
  }
}

async function errorText(res) {
  try {
    const j = await res.json();
    return j?.error?.message || `HTTP ${res.status}`;
  } catch { return `HTTP ${res.status}`; }
}

async function loadModels() {
  const sel = $("model");
  let ids = [];
  try {
    const res = await api("/v1/models");
    if (res.ok) ids = ((await res.json()).data || []).map((m) => m.id).filter((id) => typeof id === "string");
  } catch { /* the server is away: the picker stays empty */ }
  sel.replaceChildren(...ids.map((id) => new Option(id, id)));
  if (!ids.length) sel.append(new Option(t("noModels"), ""));
  if (ids.includes(state.settings.model)) sel.value = state.settings.model;
}

// ------------------------------------------------------------------ conversations

function persist() { store.saveConversations(state.convs); }

function newConversation() {
  const c = { id: store.newId(), title: "", created: Date.now(), updated: Date.now(), messages: [] };
  state.convs.unshift(c);
  select(c);
  persist();
  return c;
}

function select(conv) {
  if (state.streaming && state.streaming.conv !== conv) stopStreaming();
  state.current = conv;
  store.saveCurrent(conv?.id);
  renderList();
  renderMessages();
  document.body.classList.remove("sidebar-open");
}

function titleOf(c) {
  if (c.title) return c.title;
  const first = c.messages.find((m) => m.role === "user");
  return first ? first.content.replace(/\s+/g, " ").slice(0, 48) : t("untitled");
}

function renderList() {
  const list = $("conv-list");
  list.replaceChildren();
  for (const c of state.convs) {
    const item = document.createElement("div");
    item.className = "conv-item" + (c === state.current ? " active" : "");
    item.dataset.id = c.id;
    const open = document.createElement("button");
    open.type = "button";
    open.className = "conv-open";
    open.textContent = titleOf(c);
    open.onclick = () => select(c);
    const rename = document.createElement("button");
    rename.type = "button";
    rename.className = "icon conv-rename";
    rename.title = rename.ariaLabel = t("rename");
    rename.textContent = "✎";
    rename.onclick = () => startRename(item, c);
    const del = document.createElement("button");
    del.type = "button";
    del.className = "icon conv-delete";
    del.title = del.ariaLabel = t("delete");
    del.textContent = "✕";
    del.onclick = () => {
      if (!confirm(t("confirmDelete"))) return;
      if (state.streaming?.conv === c) stopStreaming();
      state.convs = state.convs.filter((x) => x !== c);
      persist();
      select(state.convs[0] || null);
    };
    item.append(open, rename, del);
    list.append(item);
  }
  $("conv-title").textContent = state.current ? titleOf(state.current) : "";
}

function startRename(item, c) {
  const input = document.createElement("input");
  input.className = "conv-rename-input";
  input.value = titleOf(c);
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    if (save) {
      c.title = input.value.trim();
      c.updated = Date.now();
      persist();
    }
    renderList();
  };
  input.onkeydown = (e) => {
    if (e.isComposing || e.keyCode === 229) return;
    if (e.key === "Enter") finish(true);
    if (e.key === "Escape") finish(false);
  };
  input.onblur = () => finish(true);
  item.replaceChildren(input);
  input.focus();
  input.select();
}

function exportJson() {
  const data = JSON.stringify({ exported: new Date().toISOString(), conversations: state.convs }, null, 2);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([data], { type: "application/json" }));
  a.download = `beanbag-conversations-${new Date().toISOString().slice(0, 10)}.json`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ------------------------------------------------------------------ messages

function statsText(s) {
  if (!s) return "";
  if (s.error) return `${t("error")}: ${s.error}`;
  const parts = [];
  if (s.tokens != null) parts.push(`${s.tokens} ${t("tokens")}`);
  if (s.tps != null) parts.push(`${s.tps.toFixed(1)} tok/s`);
  if (s.ttft != null) parts.push(`${t("ttft")} ${s.ttft.toFixed(2)} s`);
  if (s.stopped) parts.push(t("stopped"));
  return parts.join(" · ");
}

function button(cls, label, onclick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = label;
  b.onclick = onclick;
  return b;
}

function renderBody(el, msg) {
  if (msg.role === "assistant") el.innerHTML = renderMarkdown(msg.content);
  else el.textContent = msg.content;
}

function messageElement(conv, msg, idx) {
  const art = document.createElement("article");
  art.className = `msg ${msg.role}`;
  art.dataset.idx = idx;
  const who = document.createElement("div");
  who.className = "msg-who";
  who.textContent = msg.role === "user" ? t("you") : t("assistant");
  const body = document.createElement("div");
  body.className = "msg-body";
  renderBody(body, msg);
  const meta = document.createElement("div");
  meta.className = "msg-meta";
  const stats = document.createElement("span");
  stats.className = "stats";
  stats.textContent = statsText(msg.stats);
  meta.append(stats);
  const last = idx === conv.messages.length - 1;
  if (msg.role === "assistant") {
    meta.append(button("copy-msg", t("copy"), (e) => copyText(msg.content, e.target)));
    if (last && !msg.pending) meta.append(button("regenerate", t("regenerate"), () => regenerate()));
  } else if (!state.streaming) {
    meta.append(button("edit", t("edit"), () => startEdit(art, conv, idx)));
  }
  art.append(who, body, meta);
  return art;
}

function renderMessages() {
  const box = $("messages");
  box.replaceChildren();
  const conv = state.current;
  if (!conv || !conv.messages.length) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = t("empty");
    box.append(p);
    return;
  }
  conv.messages.forEach((m, i) => box.append(messageElement(conv, m, i)));
  box.scrollTop = box.scrollHeight;
}

function startEdit(art, conv, idx) {
  const msg = conv.messages[idx];
  const ta = document.createElement("textarea");
  ta.className = "edit-input";
  ta.value = msg.content;
  const save = button("primary edit-send", t("saveSend"), () => {
    const text = ta.value.trim();
    if (!text) return;
    conv.messages = conv.messages.slice(0, idx);
    conv.messages.push({ role: "user", content: text });
    conv.updated = Date.now();
    persist();
    renderMessages();
    generate(conv);
  });
  const cancel = button("edit-cancel", t("cancel"), () => renderMessages());
  const row = document.createElement("div");
  row.className = "edit-buttons";
  row.append(save, cancel);
  art.querySelector(".msg-body").replaceChildren(ta, row);
  art.querySelector(".msg-meta").replaceChildren();
  ta.focus();
}

async function copyText(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (an insecure origin): the old way.
    const ta = document.createElement("textarea");
    ta.value = text;
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }
  if (btn) {
    const old = btn.textContent;
    btn.textContent = t("copied");
    setTimeout(() => { btn.textContent = old; }, 1200);
  }
}

// ------------------------------------------------------------------ generation

function setStreamingUi(on) {
  $("send").hidden = on;
  $("stop").hidden = !on;
}

function stopStreaming() {
  state.streaming?.controller.abort();
}

function requestBody(conv) {
  const s = state.settings;
  const messages = [];
  if (s.system.trim()) messages.push({ role: "system", content: s.system });
  for (const m of conv.messages) if (!m.pending && !(m.role === "assistant" && m.stats?.error)) messages.push({ role: m.role, content: m.content });
  const body = { messages, stream: true, stream_options: { include_usage: true } };
  if ($("model").value) body.model = $("model").value;
  for (const [k, v] of [["temperature", s.temperature], ["top_p", s.top_p], ["max_tokens", s.max_tokens]])
    if (v !== "" && v != null && Number.isFinite(Number(v))) body[k] = Number(v);
  return body;
}

// Streams an answer to the conversation's messages into a new assistant message.
async function generate(conv) {
  if (state.streaming) return;
  const msg = { role: "assistant", content: "", pending: true };
  const body = requestBody(conv);
  conv.messages.push(msg);
  const controller = new AbortController();
  state.streaming = { controller, conv, msg };
  setStreamingUi(true);
  renderMessages();
  const t0 = performance.now();
  let tFirst = null, chunks = 0, usage = null, error = null, stopped = false;
  let pendingDraw = false;
  const draw = () => {
    pendingDraw = false;
    if (state.current !== conv) return;
    const el = $("messages").querySelector(`article[data-idx="${conv.messages.indexOf(msg)}"] .msg-body`);
    if (el) renderBody(el, msg);
    const box = $("messages");
    box.scrollTop = box.scrollHeight;
  };
  try {
    const res = await api("/v1/chat/completions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok) throw new Error(await errorText(res));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
        const event = buf.slice(0, end);
        buf = buf.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (!data || data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message || "stream error");
        if (j.usage) usage = j.usage;
        const piece = j.choices?.[0]?.delta?.content;
        if (piece) {
          if (tFirst == null) tFirst = performance.now();
          chunks++;
          msg.content += piece;
          if (!pendingDraw) { pendingDraw = true; requestAnimationFrame(draw); }
        }
      }
    }
  } catch (e) {
    if (e.name === "AbortError") stopped = true;
    else error = e.message || String(e);
  }
  const tEnd = performance.now();
  delete msg.pending;
  const tokens = usage?.completion_tokens ?? chunks;
  msg.stats = error ? { error } : {
    tokens,
    ttft: tFirst != null ? (tFirst - t0) / 1000 : null,
    tps: tFirst != null && tEnd > tFirst && tokens > 1 ? (tokens - 1) / ((tEnd - tFirst) / 1000) : null,
    stopped: stopped || undefined,
  };
  conv.updated = Date.now();
  state.streaming = null;
  setStreamingUi(false);
  persist();
  if (state.current === conv) { renderMessages(); renderList(); }
}

function send() {
  const input = $("input");
  const text = input.value.trim();
  if (!text || state.streaming) return;
  const conv = state.current || newConversation();
  conv.messages.push({ role: "user", content: text });
  conv.updated = Date.now();
  input.value = "";
  autoGrow();
  persist();
  renderList();
  generate(conv);
}

function regenerate() {
  const conv = state.current;
  if (!conv || state.streaming) return;
  while (conv.messages.length && conv.messages[conv.messages.length - 1].role === "assistant") conv.messages.pop();
  if (!conv.messages.length) return;
  generate(conv);
}

// ------------------------------------------------------------------ page chrome

function applyTheme() {
  const th = state.settings.theme || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
  document.documentElement.dataset.theme = th;
}

function applyLanguage() {
  setLanguage(state.settings.language || defaultLanguage());
  setCopyLabel(t("copy"));
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  renderList();
  renderMessages();
}

function autoGrow() {
  const ta = $("input");
  ta.style.height = "auto";
  ta.style.height = Math.min(ta.scrollHeight, 240) + "px";
}

function openSettings() {
  const s = state.settings;
  $("set-system").value = s.system;
  $("set-temperature").value = s.temperature;
  $("set-top-p").value = s.top_p;
  $("set-max-tokens").value = s.max_tokens;
  $("set-api-key").value = s.apiKey;
  $("set-language").value = getLanguage();
  $("settings").showModal();
}

function closeSettings() {
  if ($("settings").returnValue !== "save") return;
  const s = state.settings;
  s.system = $("set-system").value;
  s.temperature = $("set-temperature").value;
  s.top_p = $("set-top-p").value;
  s.max_tokens = $("set-max-tokens").value;
  const keyChanged = s.apiKey !== $("set-api-key").value.trim();
  s.apiKey = $("set-api-key").value.trim();
  s.language = $("set-language").value;
  store.saveSettings(s);
  applyLanguage();
  if (keyChanged) loadModels();
}

function init() {
  applyTheme();
  // Chinese, Japanese and other IMEs confirm a composition with Enter: that Enter must never
  // send. Chrome reports it with isComposing, Safari fires keydown after compositionend with
  // keyCode 229; the flag covers browsers that report neither.
  let composing = false;
  const input = $("input");
  input.addEventListener("compositionstart", () => { composing = true; });
  input.addEventListener("compositionend", () => { composing = false; });
  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter" || e.shiftKey) return;
    if (e.isComposing || e.keyCode === 229 || composing) return;
    e.preventDefault();
    send();
  });
  input.addEventListener("input", autoGrow);
  $("composer").addEventListener("submit", (e) => { e.preventDefault(); send(); });
  $("stop").onclick = stopStreaming;
  $("new-chat").onclick = () => { if (!state.streaming) newConversation(); input.focus(); };
  $("export").onclick = exportJson;
  $("open-settings").onclick = openSettings;
  $("settings").addEventListener("close", closeSettings);
  $("theme-toggle").onclick = () => {
    state.settings.theme = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    store.saveSettings(state.settings);
    applyTheme();
  };
  $("lang-toggle").onclick = () => {
    state.settings.language = getLanguage() === "zh" ? "en" : "zh";
    store.saveSettings(state.settings);
    applyLanguage();
  };
  $("model").onchange = () => { state.settings.model = $("model").value; store.saveSettings(state.settings); };
  $("open-sidebar").onclick = () => document.body.classList.add("sidebar-open");
  $("close-sidebar").onclick = () => document.body.classList.remove("sidebar-open");
  // Copy buttons of code blocks (rendered HTML carries no handlers).
  $("messages").addEventListener("click", (e) => {
    const b = e.target.closest(".copy-code");
    if (b) copyText(b.closest(".code").querySelector("code").textContent, b);
  });
  // A stream cut off by a reload is kept as far as it came.
  for (const c of state.convs) for (const m of c.messages) if (m.pending) { delete m.pending; m.stats = { stopped: true }; }
  const cur = store.loadCurrent();
  state.current = state.convs.find((c) => c.id === cur) || state.convs[0] || null;
  applyLanguage();
  loadModels();
  input.focus();
}

init();
