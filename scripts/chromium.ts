/**
 * How this project starts Debian's Chromium through playwright-core (never a downloaded
 * browser): headless, and with none of Chromium's own network traffic, which this
 * machine's closed network would refuse. Used by the browser tests and the dashboard picture.
 */
import { existsSync } from "node:fs";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Debian's `chromium-headless-shell`: the same Chromium build (Blink, V8, the network
 * stack) in its headless shell, without the desktop browser's windowing and UI layers,
 * which is what Playwright itself runs for headless tests. Measured on this project's
 * browser suite: 91 CPU-s against 159 for the full browser in its headless mode, with
 * every test passing alike. (The real binary, not /usr/bin's `sh` wrapper, so no shell
 * stays in between the browser and Playwright.)
 */
export const HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell";
/** Debian's full browser, used when the headless shell is not installed. */
export const FULL_CHROMIUM = "/usr/bin/chromium";

/** The browser binary: `CHROMIUM_PATH`, else Debian's headless shell, else Debian's full Chromium. */
export const CHROMIUM_PATH =
  process.env.CHROMIUM_PATH ?? (existsSync(HEADLESS_SHELL) || !existsSync(FULL_CHROMIUM) ? HEADLESS_SHELL : FULL_CHROMIUM);
