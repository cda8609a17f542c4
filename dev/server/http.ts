/** Small HTTP helpers shared by the dev server's routes. */
import type http from "node:http";

// What CloudFront's managed SecurityHeadersPolicy adds (HSTS aside: this is plain http).
export const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "SAMEORIGIN",
  "Referrer-Policy": "strict-origin-when-cross-origin",
  "X-XSS-Protection": "1; mode=block",
};

export type Headers = Record<string, string | number>;

export function send(res: http.ServerResponse, status: number, body: string | Buffer, type: string, extra: Headers = {}) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache",
    ...extra,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: Headers = {}) {
  send(res, status, JSON.stringify(body), "application/json", extra);
}

/** Reads a body up to maxBytes; null when it was larger (the rest is drained). */
export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.on("end", () => resolve(size <= maxBytes ? Buffer.concat(chunks) : null));
    req.on("error", reject);
  });
}

/** The client's address as API Gateway and WAF see it (IPv4-mapped IPv6 unwrapped). */
export function sourceIp(req: http.IncomingMessage): string {
  return (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
}
