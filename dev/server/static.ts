/** site/ served the way CloudFront + S3 serve it: Content-Types and security headers. */
import { readFile, stat } from "node:fs/promises";
import type http from "node:http";
import path from "node:path";
import { send } from "./http";

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".webmanifest": "application/manifest+json",
  ".txt": "text/plain; charset=utf-8",
};

/** Rewrites a file's content as the stack does at synth (chat.html's CSP with sign-in). */
export type Transform = (relative: string, content: Buffer) => Buffer | string;

export async function serveStatic(req: http.IncomingMessage, res: http.ServerResponse, siteDir: string, pathname: string, transform?: Transform) {
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "Method Not Allowed\n", "text/plain; charset=utf-8", { Allow: "GET, HEAD" });
    return;
  }
  let relative: string;
  try {
    relative = decodeURIComponent(pathname === "/" ? "/chat.html" : pathname);
  } catch {
    send(res, 400, "Bad Request\n", "text/plain; charset=utf-8");
    return;
  }
  const file = path.join(siteDir, path.posix.normalize(relative));
  const inside = file.startsWith(siteDir + path.sep) && !relative.includes("\0");
  if (inside && !path.basename(file).startsWith(".")) {
    try {
      if ((await stat(file)).isFile()) {
        const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
        const content = await readFile(file);
        send(res, 200, transform ? transform(relative, content) : content, type);
        return;
      }
    } catch {
      // fall through to 404
    }
  }
  send(res, 404, "Not Found\n", "text/plain; charset=utf-8");
}
