// A stand-in for the Hugging Face hub, for test_hub: the tree API, resolve URLs that redirect
// to a file store (with the LFS digest headers the real hub sends), Range requests, and a
// few faults on demand. Node's standard library only.
//
//   node fakehub.mjs ROOT   ROOT/OWNER/REPO/PATH are the repositories' files;
//                           ROOT/faults.json maps a file name to "drop-once" (the first
//                           transfer stops half-way) or "corrupt-once" (the first one has a
//                           byte flipped); ROOT/gated.json lists repositories needing the
//                           token "good-token".
// Prints "port N" once listening; GET /_log answers the requests seen, one per line.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = process.argv[2];
const readJson = (f, dflt) => (existsSync(join(root, f)) ? JSON.parse(readFileSync(join(root, f))) : dflt);
const faults = readJson("faults.json", {});
const gated = readJson("gated.json", []);
const log = [];

function walk(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

const sha256 = (buf) => createHash("sha256").update(buf).digest("hex");

function json(res, status, body) {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function authorized(req, repo) {
  return !gated.includes(repo) || req.headers.authorization === "Bearer good-token";
}

function serveFile(req, res, file) {
  const name = file.split("/").pop();
  let data = readFileSync(file);
  const fault = faults[name];
  const range = /^bytes=(\d+)-$/.exec(req.headers.range || "");
  const start = range ? Number(range[1]) : 0;
  if (start > data.length) {
    res.writeHead(416, { "Content-Range": `bytes */${data.length}` });
    return res.end();
  }
  if (fault === "corrupt-once") {
    delete faults[name];
    data = Buffer.from(data);
    data[data.length >> 1] ^= 0xff;
  }
  const body = data.subarray(start);
  const headers = { "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes",
                    "Content-Length": body.length };
  if (range) headers["Content-Range"] = `bytes ${start}-${data.length - 1}/${data.length}`;
  res.writeHead(range ? 206 : 200, headers);
  if (fault === "drop-once") {
    delete faults[name];
    // Half the body, then the connection goes away mid-transfer.
    res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => req.socket.destroy(), 50));
    return;
  }
  res.end(body);
}

const server = createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const path = decodeURIComponent(url.pathname);
  log.push(`${req.method} ${req.url} range=${req.headers.range || "-"} auth=${req.headers.authorization ? "yes" : "no"}`);
  if (path === "/_log") return res.end(log.join("\n") + "\n");
  let m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/main$/.exec(path);
  if (m) {
    const repo = m[1], dir = join(root, repo);
    if (!authorized(req, repo)) return json(res, 401, { error: "Invalid credentials in Authorization header" });
    if (!existsSync(dir)) return json(res, 404, { error: "Repository not found" });
    const files = walk(dir).map((f) => {
      const data = readFileSync(f);
      return { type: "file", oid: "0".repeat(40), size: data.length, path: relative(dir, f),
               lfs: { oid: sha256(data), size: data.length, pointerSize: 134 } };
    });
    // Pages of 4 entries, the next one named by a Link header as the hub does.
    const all = [{ type: "directory", oid: "1".repeat(40), size: 0, path: "docs" }, ...files];
    const from = Number(url.searchParams.get("cursor") || 0);
    if (from + 4 < all.length)
      res.setHeader("Link", `<http://${req.headers.host}${url.pathname}?recursive=true&cursor=${from + 4}>; rel="next"`);
    return json(res, 200, all.slice(from, from + 4));
  }
  m = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
  if (m) {
    const [, repo, file] = m, full = join(root, repo, file);
    if (!authorized(req, repo)) return json(res, 401, { error: "Access to this repository is restricted" });
    if (file.includes("..") || !existsSync(full) || !statSync(full).isFile())
      return json(res, 404, { error: "Entry not found" });
    const data = readFileSync(full);
    // The hub answers a resolve URL of an LFS file with a redirect to its storage, and names
    // the file's SHA-256 and size in X-Linked-Etag / X-Linked-Size.
    // Gated files are stored on "another host" (localhost instead of 127.0.0.1): the token
    // must not follow the redirect there.
    const host = gated.includes(repo) ? `http://localhost:${server.address().port}` : "";
    res.writeHead(302, { Location: `${host}/storage/${repo}/${file}`, "X-Linked-Etag": `"${sha256(data)}"`,
                         "X-Linked-Size": String(data.length), ETag: `"${sha256(data)}"` });
    return res.end();
  }
  m = /^\/(storage|plain)\/(.+)$/.exec(path);
  if (m) {
    const full = m[1] === "plain" ? join(root, "plain", m[2]) : join(root, m[2]);
    if (m[2].includes("..") || !existsSync(full)) return json(res, 404, { error: "no such file" });
    return serveFile(req, res, full);
  }
  json(res, 404, { error: "no such endpoint" });
});

server.listen(0, "127.0.0.1", () => {
  console.log(`port ${server.address().port}`);
});
