/** Reads setting values with their defaults and records every problem with its source. */
import { DEFAULT_GENERATION, GenerationParameters } from "./environment";
import type { SettingKey, Sourced } from "./settings";

/** Thrown when configuration is invalid; the message lists every problem found. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid chatbot configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Reads one environment's values with their defaults, recording every problem. */
export class Checker {
  constructor(
    private readonly s: Sourced,
    private readonly problems: string[],
  ) {}

  fail(key: SettingKey, value: unknown, allowed: string): void {
    this.problems.push(`${key} = ${JSON.stringify(value)} (from ${this.sourceOf(key)}) is invalid; allowed: ${allowed}`);
  }

  private raw(key: SettingKey): unknown {
    return this.s[key]?.value;
  }

  private sourceOf(key: SettingKey): string {
    return this.s[key]?.source ?? "built-in default";
  }

  /** Whether a setting was given at all (in cdktf.json or the environment). */
  isSet(key: SettingKey): boolean {
    return this.s[key] !== undefined;
  }

  /** Records a problem about a generation parameter, naming where `generation` came from. */
  failGeneration(field: keyof GenerationParameters, value: unknown, allowed: string): void {
    this.problems.push(`generation.${field} = ${JSON.stringify(value)} (from ${this.sourceOf("generation")}) is invalid; allowed: ${allowed}`);
  }

  oneOf<T extends string | number>(key: SettingKey, fallback: T, allowed: readonly T[], what: string): T {
    const value = this.raw(key) ?? fallback;
    if (allowed.includes(value as T)) return value as T;
    this.fail(key, value, `${what}: ${allowed.join(", ")}`);
    return fallback;
  }

  matches(key: SettingKey, fallback: string, pattern: RegExp, what: string): string {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "string" && pattern.test(value)) return value;
    this.fail(key, value, what);
    return fallback;
  }

  optional(key: SettingKey, pattern: RegExp, what: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === "string" && pattern.test(value)) return value;
    this.fail(key, value, what);
    return undefined;
  }

  /** A list of strings each passing `ok` (a JSON list in cdktf.json, comma-separated in the environment). @default [] */
  list(key: SettingKey, ok: (item: string) => boolean, what: string): string[] {
    const value = this.raw(key) ?? [];
    if (!Array.isArray(value) || value.some((item) => typeof item !== "string")) {
      this.fail(key, value, `a list of ${what}`);
      return [];
    }
    const bad = value.filter((item) => !ok(item));
    if (bad.length > 0) {
      this.fail(key, bad.length === 1 ? bad[0] : bad, what);
      return [];
    }
    return [...new Set(value as string[])];
  }

  /** An optional number from min to max. */
  optionalNumber(key: SettingKey, min: number, max: number, what: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (isNumberIn(value, min, max)) return value;
    this.fail(key, value, what);
    return undefined;
  }

  int(key: SettingKey, fallback: number, min: number, max: number): number {
    const value = this.raw(key) ?? fallback;
    if (isNumberIn(value, min, max) && Number.isInteger(value)) return value;
    this.fail(key, value, `a whole number from ${min} to ${max}`);
    return fallback;
  }

  number(key: SettingKey, fallback: number, min: number, max: number): number {
    const value = this.raw(key) ?? fallback;
    if (isNumberIn(value, min, max)) return value;
    this.fail(key, value, `a number from ${min} to ${max}`);
    return fallback;
  }

  bool(key: SettingKey, fallback: boolean): boolean {
    const value = this.raw(key) ?? fallback;
    if (typeof value === "boolean") return value;
    this.fail(key, value, "true or false");
    return fallback;
  }

  /** The generation parameters the configuration itself sets (not defaults). */
  generationSet(): (keyof GenerationParameters)[] {
    const value = this.raw("generation");
    return isObject(value) ? (Object.keys(value).filter((k) => k in DEFAULT_GENERATION) as (keyof GenerationParameters)[]) : [];
  }

  /** Generation parameters: any subset of the known keys over `defaults`, each within TGI's limits. */
  generation(defaults: GenerationParameters = DEFAULT_GENERATION): GenerationParameters {
    const value = this.raw("generation");
    if (value === undefined) return defaults;
    if (!isObject(value)) {
      this.fail("generation", value, `an object with any of: ${Object.keys(DEFAULT_GENERATION).join(", ")}`);
      return defaults;
    }
    for (const field of Object.keys(value)) {
      if (!(field in DEFAULT_GENERATION)) {
        this.problems.push(`unknown generation parameter "${field}" (from ${this.sourceOf("generation")}); known: ${Object.keys(DEFAULT_GENERATION).join(", ")}`);
      }
    }
    const merged = { ...defaults, ...value } as Record<keyof GenerationParameters, unknown>;
    const bad = (field: keyof GenerationParameters, allowed: string) => this.failGeneration(field, merged[field], allowed);
    if (!(isNumberIn(merged.maxNewTokens, 1, 8192) && Number.isInteger(merged.maxNewTokens))) bad("maxNewTokens", "a whole number from 1 to 8192");
    if (typeof merged.doSample !== "boolean") bad("doSample", "true or false");
    if (!isNumberIn(merged.temperature, 0, 100) || merged.temperature === 0) bad("temperature", "a number greater than 0 and at most 100");
    if (merged.repetitionPenalty !== undefined && (!isNumberIn(merged.repetitionPenalty, 0, 100) || merged.repetitionPenalty === 0)) bad("repetitionPenalty", "a number greater than 0 and at most 100");
    if (!isNumberIn(merged.topP, 0, 1) || merged.topP === 0 || merged.topP === 1) bad("topP", "a number strictly between 0 and 1");
    if (merged.topK !== undefined && !(isNumberIn(merged.topK, 1, 1000) && Number.isInteger(merged.topK))) bad("topK", "a whole number from 1 to 1000");
    const stop = merged.stop;
    if (!Array.isArray(stop) || stop.length > 4 || stop.some((x) => typeof x !== "string" || x === "")) {
      bad("stop", "a list of at most 4 non-empty strings");
    }
    return merged as unknown as GenerationParameters;
  }
}

/** A finite number from `min` to `max`, both included. */
function isNumberIn(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isFinite(v) && v >= min && v <= max;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function describe(v: unknown): string {
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v;
}
