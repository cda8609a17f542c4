/**
 * The WAF's per-IP rate-based rule: more than `limit` requests from one address in
 * the trailing window (WAF's default, 5 minutes) are blocked with the custom response
 * of contract/edge-responses.json, the same data the stack's WAF rule is built from.
 */
import edgeResponses from "../../contract/edge-responses.json";

export const TOO_MANY_REQUESTS = edgeResponses.tooManyRequests;

export class RateLimiter {
  private readonly seen = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs = 5 * 60_000,
  ) {}

  /** Counts one request from `ip`; false when it is over the limit (WAF blocks it). */
  allow(ip: string, now = Date.now()): boolean {
    const times = (this.seen.get(ip) ?? []).filter((t) => t > now - this.windowMs);
    times.push(now);
    this.seen.set(ip, times);
    return times.length <= this.limit;
  }

  /** Forgets every address (tests: "five minutes later"). */
  reset(): void {
    this.seen.clear();
  }
}
