// The page's words in English and Chinese; t(key) in the current language.
const strings = {
  en: {
    newChat: "New chat", conversations: "Conversations", settings: "Settings", export: "Export JSON",
    theme: "Theme", light: "Light", dark: "Dark", language: "Language", model: "Model",
    send: "Send", stop: "Stop", regenerate: "Regenerate", edit: "Edit", copy: "Copy", copied: "Copied",
    rename: "Rename", delete: "Delete", confirmDelete: "Delete this conversation?", save: "Save",
    saveSend: "Save & send", cancel: "Cancel", placeholder: "Message (Enter to send, Shift+Enter for a new line)",
    systemPrompt: "System prompt", temperature: "Temperature", topP: "Top-p", maxTokens: "Max tokens",
    apiKey: "API key", apiKeyNeeded: "This server needs an API key.", apiKeyStored: "Stored in this browser only.",
    ok: "OK", close: "Close", untitled: "New conversation", stopped: "stopped", error: "Error",
    tokens: "tokens", ttft: "TTFT", empty: "Ask something to start.", noModels: "no model",
    menu: "Conversations", you: "You", assistant: "Assistant",
  },
  zh: {
    newChat: "新对话", conversations: "对话", settings: "设置", export: "导出 JSON",
    theme: "主题", light: "浅色", dark: "深色", language: "语言", model: "模型",
    send: "发送", stop: "停止", regenerate: "重新生成", edit: "编辑", copy: "复制", copied: "已复制",
    rename: "重命名", delete: "删除", confirmDelete: "删除这个对话？", save: "保存",
    saveSend: "保存并发送", cancel: "取消", placeholder: "输入消息（Enter 发送，Shift+Enter 换行）",
    systemPrompt: "系统提示词", temperature: "温度", topP: "Top-p", maxTokens: "最大 token 数",
    apiKey: "API 密钥", apiKeyNeeded: "此服务器需要 API 密钥。", apiKeyStored: "只保存在本浏览器中。",
    ok: "确定", close: "关闭", untitled: "新对话", stopped: "已停止", error: "错误",
    tokens: "个 token", ttft: "首字延迟", empty: "提个问题开始吧。", noModels: "没有模型",
    menu: "对话", you: "你", assistant: "助手",
  },
};

let lang = "en";
export const languages = Object.keys(strings);
export function setLanguage(l) { lang = strings[l] ? l : "en"; document.documentElement.lang = lang === "zh" ? "zh-CN" : "en"; }
export function getLanguage() { return lang; }
export function t(key) { return strings[lang][key] ?? strings.en[key] ?? key; }
export function defaultLanguage() { return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en"; }
