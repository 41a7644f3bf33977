// Conversations and settings in localStorage. A conversation: {id, title, created, updated,
// model, messages: [{role, content, stats?}]}.
const KEY = "beanbag.conversations", CURRENT = "beanbag.current", SETTINGS = "beanbag.settings";

function read(key, dflt) {
  try { const v = JSON.parse(localStorage.getItem(key)); return v ?? dflt; } catch { return dflt; }
}

export function loadConversations() {
  const list = read(KEY, []);
  return Array.isArray(list) ? list.filter((c) => c && typeof c.id === "string" && Array.isArray(c.messages)) : [];
}
export function saveConversations(list) { localStorage.setItem(KEY, JSON.stringify(list)); }
export function loadCurrent() { return localStorage.getItem(CURRENT); }
export function saveCurrent(id) { if (id) localStorage.setItem(CURRENT, id); else localStorage.removeItem(CURRENT); }

export const defaultSettings = { system: "", temperature: 0.7, top_p: 1, max_tokens: 1024, model: "",
                                 theme: "", language: "", apiKey: "" };
export function loadSettings() { return { ...defaultSettings, ...read(SETTINGS, {}) }; }
export function saveSettings(s) { localStorage.setItem(SETTINGS, JSON.stringify(s)); }

export function newId() {
  const a = new Uint8Array(8);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
}
