/**
 * How this project starts Debian's Chromium through playwright-core (never a downloaded
 * browser): headless, and with none of Chromium's own network traffic, which this
 * machine's closed network would refuse. Used by the browser tests and the dashboard picture.
 */
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

/** The browser binary: `CHROMIUM_PATH`, else Debian's. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
