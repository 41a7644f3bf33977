// Markdown to safe HTML: marked (CommonMark + GFM), highlight.js for code blocks, DOMPurify
// over the result. TeX between $…$, $$…$$, \(…\) and \[…\] is kept verbatim (escaped, in a
// .math element) so that Markdown never reads its underscores, asterisks or backslashes.
import DOMPurify from "dompurify";
import { Marked } from "marked";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import c from "highlight.js/lib/languages/c";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import diff from "highlight.js/lib/languages/diff";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import markdown from "highlight.js/lib/languages/markdown";
import python from "highlight.js/lib/languages/python";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";

const languages = { bash, c, cpp, css, diff, go, java, javascript, json, markdown, python, rust,
                    sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);

export function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[ch]);
}

const mathBlock = {
  name: "mathBlock",
  level: "block",
  start: (src) => src.match(/\$\$|\\\[/)?.index,
  tokenizer(src) {
    const m = /^\$\$([\s\S]+?)\$\$[^\S\n]*(?:\n|$)/.exec(src) || /^\\\[([\s\S]+?)\\\][^\S\n]*(?:\n|$)/.exec(src);
    if (m) return { type: "mathBlock", raw: m[0], text: m[1] };
  },
  renderer: (tok) => `<div class="math math-display">${escapeHtml(tok.text)}</div>\n`,
};

const mathInline = {
  name: "mathInline",
  level: "inline",
  start: (src) => src.match(/\$|\\\(/)?.index,
  tokenizer(src) {
    // $…$ only when it cannot be money: no space inside the delimiters, no digit after.
    const m = /^\$\$([^$]+?)\$\$/.exec(src) || /^\$(?![\s$])((?:\\.|[^\\$\n])+?)(?<![\s\\])\$(?!\d)/.exec(src) ||
              /^\\\((.+?)\\\)/.exec(src);
    if (m) return { type: "mathInline", raw: m[0], text: m[1] };
  },
  renderer: (tok) => `<span class="math">${escapeHtml(tok.text)}</span>`,
};

let copyLabel = "Copy";
export function setCopyLabel(s) { copyLabel = s; }

const marked = new Marked({
  gfm: true,
  breaks: true,
  extensions: [mathBlock, mathInline],
  renderer: {
    code({ text, lang }) {
      const name = (lang || "").trim().split(/\s+/)[0].toLowerCase();
      let html;
      if (name && hljs.getLanguage(name)) html = hljs.highlight(text, { language: name, ignoreIllegals: true }).value;
      else html = escapeHtml(text);
      return `<div class="code"><div class="code-head"><span class="code-lang">${escapeHtml(name || "text")}</span>` +
             `<button type="button" class="copy-code">${escapeHtml(copyLabel)}</button></div>` +
             `<pre><code class="hljs">${html}</code></pre></div>\n`;
    },
    // Remote images would break the page's Content-Security-Policy (and leak the reader's
    // address): they become links.
    image({ href, text }) {
      return `<a href="${escapeHtml(href)}">${escapeHtml(text || href)}</a>`;
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

export function renderMarkdown(src) {
  const html = marked.parse(src);
  return DOMPurify.sanitize(html, {
    FORBID_TAGS: ["style", "form", "input", "textarea", "select", "img", "video", "audio", "iframe", "object", "embed"],
    FORBID_ATTR: ["style", "srcset"],
  });
}
