// The chat page in a real browser (Debian's chromium through playwright-core) against real
// `beanbag serve` processes; run by test_web. Environment: BB_BIN (the beanbag binary),
// BB_CHROMIUM (the browser), BB_FIXTURE (a random-weight model that never stops by itself
// once its end tokens BB_FIXTURE_STOP_IDS are forbidden), BB_ARTIFACTS (screenshots go there).
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const bin = process.env.BB_BIN;
const artifacts = process.env.BB_ARTIFACTS || ".";
mkdirSync(artifacts, { recursive: true });
let failures = 0, passed = 0;
const servers = [];

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}\n  ${(e.stack || String(e)).split("\n").slice(0, 6).join("\n  ")}`);
  }
}

// Starts `beanbag serve --port 0 ARGS`; resolves with its base URL once the model is ready.
function serve(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(bin, ["serve", "--port", "0", "-q", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    servers.push(p);
    let out = "", port = 0;
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60000);
    p.stdout.on("data", (d) => {
      out += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) port = Number(m[1]);
      if (port && /ready/.test(out)) { clearTimeout(timer); resolve(`http://127.0.0.1:${port}`); }
    });
    p.on("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
}

async function api(base, path, body, key) {
  const headers = { "Content-Type": "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  const res = await fetch(base + path, { method: "POST", headers, body: JSON.stringify(body) });
  assert.equal(res.status, 200, `${path}: ${res.status}`);
  return res.json();
}

const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem("beanbag.conversations") || "[]"));
const currentConv = async (page) => {
  const id = await page.evaluate(() => localStorage.getItem("beanbag.current"));
  return (await stored(page)).find((c) => c.id === id);
};
// Waits until the page has no answer streaming (the send button is back) and n messages shown.
async function settled(page, n) {
  await page.waitForFunction((n) => !document.getElementById("send").hidden &&
    document.querySelectorAll("#messages article").length === n &&
    document.querySelector("#messages article:last-child .stats")?.textContent !== "", n, { timeout: 60000 });
}

async function setSettings(page, { temperature, maxTokens, system }) {
  await page.click("#open-settings");
  if (temperature != null) await page.fill("#set-temperature", String(temperature));
  if (maxTokens != null) await page.fill("#set-max-tokens", String(maxTokens));
  if (system != null) await page.fill("#set-system", system);
  await page.click("#settings button[value=save]");
}

async function main() {
  const browser = await chromium.launch({ executablePath: process.env.BB_CHROMIUM,
                                          args: ["--no-sandbox", "--disable-gpu"] });
  const demo = await serve(["--parallel", "2"]);
  const ctx = await browser.newContext({ viewport: { width: 1180, height: 760 }, locale: "en-US" });
  await ctx.grantPermissions(["clipboard-read", "clipboard-write"], { origin: demo });
  const page = await ctx.newPage();
  const consoleErrors = [];
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  page.on("pageerror", (e) => consoleErrors.push(String(e)));

  await check("page and assets are served with CSP and caching headers", async () => {
    const res = await page.goto(demo + "/");
    assert.equal(res.status(), 200);
    const h = res.headers();
    assert.match(h["content-type"], /^text\/html/);
    assert.match(h["content-security-policy"], /default-src 'none'/);
    assert.match(h["content-security-policy"], /script-src 'self'/);
    assert.equal(h["cache-control"], "no-cache");
    assert.equal(h["x-content-type-options"], "nosniff");
    const src = await page.getAttribute("script[type=module]", "src");
    const js = await fetch(demo + src);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type"), /^text\/javascript/);
    assert.match(js.headers.get("cache-control"), /immutable/);
    const again = await fetch(demo + "/", { headers: { "If-None-Match": h.etag } });
    assert.equal(again.status, 304);
    assert.equal((await fetch(demo + "/chat")).status, 200);
    assert.equal((await fetch(demo + "/assets/nope.js")).status, 404);
  });

  await check("the model picker lists /v1/models", async () => {
    await page.waitForFunction(() => document.querySelector("#model option")?.value === "beanbag-demo");
  });

  const q1 = "What is 128 + 47?";
  const greedy = async (messages, max_tokens) =>
    (await api(demo, "/v1/chat/completions", { messages, temperature: 0, top_p: 1, max_tokens })).choices[0].message.content;

  await check("a message streams an answer equal to the API's greedy answer, with TTFT and tokens/s", async () => {
    await setSettings(page, { temperature: 0, maxTokens: 48 });
    await page.fill("#input", q1);
    await page.press("#input", "Enter");
    await settled(page, 2);
    const conv = await currentConv(page);
    const want = await greedy([{ role: "user", content: q1 }], 48);
    assert.equal(conv.messages[1].content, want);
    assert.ok(want.length > 0);
    const shown = await page.textContent("#messages article.assistant .msg-body");
    assert.equal(shown.trim(), want.trim());
    const stats = await page.textContent("#messages article.assistant .stats");
    assert.match(stats, /\d+ tokens · [\d.]+ tok\/s · TTFT [\d.]+ s/);
  });

  await check("regenerate replaces the answer (greedy: the same one)", async () => {
    const before = (await currentConv(page)).messages[1].content;
    await page.click("#messages article.assistant .regenerate");
    await settled(page, 2);
    assert.equal((await currentConv(page)).messages[1].content, before);
  });

  await check("edit-and-resend drops the old answer and answers the edited message", async () => {
    await page.click("#messages article.user .edit");
    await page.fill("#messages .edit-input", "What is 12 + 30?");
    await page.click("#messages .edit-send");
    await settled(page, 2);
    const conv = await currentConv(page);
    assert.equal(conv.messages.length, 2);
    assert.equal(conv.messages[0].content, "What is 12 + 30?");
    assert.equal(conv.messages[1].content, await greedy([{ role: "user", content: "What is 12 + 30?" }], 48));
  });

  await check("the Enter that confirms an IME composition does not send", async () => {
    await page.click("#new-chat");
    await page.fill("#input", "3 加 5 等于几？");
    const sent = await page.evaluate(() => {
      const input = document.getElementById("input");
      const enter = (extra) => {
        const e = new KeyboardEvent("keydown", { key: "Enter", code: "Enter", bubbles: true, cancelable: true, ...extra });
        if (extra.keyCode) Object.defineProperty(e, "keyCode", { get: () => extra.keyCode });
        input.dispatchEvent(e);
      };
      input.dispatchEvent(new CompositionEvent("compositionstart", { data: "" }));
      enter({ isComposing: true, keyCode: 229 });     // Chrome, Firefox: keydown during composition
      enter({});                                      // a browser that reports nothing
      input.dispatchEvent(new CompositionEvent("compositionend", { data: "几" }));
      enter({ keyCode: 229 });                        // Safari: keydown after compositionend
      return document.querySelectorAll("#messages article").length;
    });
    assert.equal(sent, 0);
    assert.equal(await page.inputValue("#input"), "3 加 5 等于几？");
    await page.press("#input", "Enter"); // a plain Enter does send
    await settled(page, 2);
    assert.equal(await page.inputValue("#input"), "");
  });

  await check("conversations: list, switch, rename, survive a reload", async () => {
    const items = page.locator("#conv-list .conv-item");
    assert.equal(await items.count(), 2);
    await items.nth(1).locator(".conv-open").click(); // the first conversation (newest on top)
    await page.waitForFunction(() => document.querySelector("#messages article.user")?.textContent.includes("12 + 30"));
    await page.locator("#conv-list .conv-item.active .conv-rename").click();
    await page.fill("#conv-list .conv-rename-input", "Sums");
    await page.press("#conv-list .conv-rename-input", "Enter");
    assert.equal(await page.textContent("#conv-list .conv-item.active .conv-open"), "Sums");
    const before = await page.textContent("#messages");
    await page.reload();
    await page.waitForSelector("#messages article");
    assert.equal(await page.locator("#conv-list .conv-item").count(), 2);
    assert.equal(await page.textContent("#conv-list .conv-item.active .conv-open"), "Sums");
    assert.equal(await page.textContent("#messages"), before);
  });

  await check("Markdown: highlighted code with a copy button, math kept verbatim, HTML sanitized", async () => {
    const md = "Here:\n\n```python\ndef f(x):\n    return x * 2  # twice\n```\n\n" +
               "Inline $a_1 * b_2 = c_3$ and display:\n\n$$\\sum_{i=1}^n x_i$$\n\n" +
               "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\"> ![pic](http://192.0.2.1/x.png) costs $5 and $10.";
    await page.evaluate((md) => {
      const list = JSON.parse(localStorage.getItem("beanbag.conversations"));
      list.unshift({ id: "mdtest", title: "Markdown", created: Date.now(), updated: Date.now(),
                     messages: [{ role: "user", content: "show me" }, { role: "assistant", content: md }] });
      localStorage.setItem("beanbag.conversations", JSON.stringify(list));
      localStorage.setItem("beanbag.current", "mdtest");
    }, md);
    const errorsBefore = consoleErrors.length;
    await page.reload();
    await page.waitForSelector("#messages .code");
    assert.equal(await page.textContent("#messages .code-lang"), "python");
    assert.ok(await page.locator("#messages .code .hljs-keyword").count() >= 1);
    const maths = await page.locator("#messages .math").allTextContents();
    assert.deepEqual(maths, ["a_1 * b_2 = c_3", "\\sum_{i=1}^n x_i"]);
    assert.match(await page.textContent("#messages article.assistant .msg-body"), /costs \$5 and \$10\./);
    assert.equal(await page.locator("#messages script, #messages img").count(), 0);
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    // Chromium reports the onerror attribute it met while DOMPurify parsed the text in an inert
    // document as a blocked inline handler: expected here (the policy working), nowhere else.
    const fresh = consoleErrors.splice(errorsBefore);
    assert.ok(fresh.every((m) => /inline event handler.*blocked/s.test(m)), fresh.join("\n"));
    await page.click("#messages .copy-code");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "def f(x):\n    return x * 2  # twice");
  });

  await check("delete and export", async () => {
    page.once("dialog", (d) => d.accept());
    await page.locator("#conv-list .conv-item.active .conv-delete").click();
    await page.waitForFunction(() => document.querySelectorAll("#conv-list .conv-item").length === 2);
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
    const data = JSON.parse(readFileSync(await download.path(), "utf8"));
    assert.equal(data.conversations.length, 2);
    assert.ok(data.conversations.some((c) => c.title === "Sums"));
  });

  await check("themes and the Chinese UI", async () => {
    await page.locator("#conv-list .conv-item .conv-open", { hasText: "Sums" }).click();
    const theme = await page.getAttribute("html", "data-theme");
    await page.click("#theme-toggle");
    assert.notEqual(await page.getAttribute("html", "data-theme"), theme);
    await page.screenshot({ path: join(artifacts, "web-chat-dark.png") });
    await page.click("#theme-toggle");
    await page.click("#lang-toggle");
    assert.equal(await page.textContent("#send"), "发送");
    assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
    await page.click("#lang-toggle");
    assert.equal(await page.textContent("#send"), "Send");
    await page.screenshot({ path: join(artifacts, "web-chat.png") });
  });

  await check("phone layout: the conversation list slides in over the chat", async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 800 }, isMobile: true, hasTouch: true });
    const p = await phone.newPage();
    await p.goto(demo + "/chat");
    assert.ok(await p.isVisible("#open-sidebar"));
    const box = await p.locator("#sidebar").boundingBox();
    assert.ok(box.x + box.width <= 1, `sidebar on screen at ${box.x}`);
    await p.click("#open-sidebar");
    await p.waitForFunction(() => document.getElementById("sidebar").getBoundingClientRect().x >= 0);
    await p.click("#close-sidebar");
    await p.fill("#input", "What is 9 + 9?");
    await p.click("#send");
    await settled(p, 2);
    await p.screenshot({ path: join(artifacts, "web-chat-phone.png") });
    await phone.close();
  });

  await check("no console errors on the page", async () => {
    assert.deepEqual(consoleErrors, []);
  });

  // A server with an API key, over a model that does not stop by itself (its end tokens
  // forbidden by a logit_bias the test adds to the page's requests): the key is asked for,
  // and Stop cuts a long answer short.
  const fixture = await serve(["-m", process.env.BB_FIXTURE, "--api-key", "sesame", "--ctx-size", "8192", "--threads", "2"]);
  const kctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const kp = await kctx.newPage();
  const bias = Object.fromEntries(process.env.BB_FIXTURE_STOP_IDS.split(",").map((id) => [id, -100]));
  await kp.route("**/v1/chat/completions", (route) => {
    const body = JSON.parse(route.request().postData());
    route.continue({ postData: JSON.stringify({ ...body, logit_bias: bias }) });
  });

  await check("a 401 asks for the API key, which then works", async () => {
    await kp.goto(fixture + "/");
    await kp.waitForSelector("#key-dialog[open]");
    await kp.fill("#key-input", "sesame");
    await kp.click("#key-dialog button[value=ok]");
    await kp.waitForFunction(() => document.querySelector("#model option")?.value && document.querySelector("#model option").value !== "");
  });

  await check("stop ends a streaming answer mid-way and keeps what came", async () => {
    await setSettings(kp, { temperature: 0, maxTokens: 8000 });
    await kp.fill("#input", "hello");
    await kp.press("#input", "Enter");
    await kp.waitForFunction(() => (document.querySelector("#messages article.assistant .msg-body")?.textContent.length || 0) > 0);
    assert.ok(await kp.isVisible("#stop"));
    await kp.click("#stop");
    await settled(kp, 2);
    const conv = await currentConv(kp);
    assert.equal(conv.messages[1].stats.stopped, true);
    assert.ok(conv.messages[1].content.length > 0);
    console.log(`  (stopped after ${[...conv.messages[1].content].length} characters of up to 8000 tokens)`);
    assert.match(await kp.textContent("#messages article.assistant .stats"), /stopped/);
    assert.ok(await kp.isVisible("#send"));
  });

  await browser.close();
}

try {
  await main();
} catch (e) {
  failures++;
  console.log(`not ok - ${e.stack || e}`);
} finally {
  for (const p of servers) p.kill("SIGTERM");
}
console.log(`${passed} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);
