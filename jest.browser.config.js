/**
 * The chat page in headless Chromium (Debian's chromium-headless-shell via playwright-core) against
 * the local dev server (the real Lambda handlers, the fake model), plus node tests of
 * the dev server itself (HTTP, WebSocket /stream, AWS stand-ins, WAF rule).
 * Run with `npm run test:browser`; UPDATE_SCREENSHOTS=1 also refreshes docs/screenshots/.
 */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__/browser"],
  testMatch: ["**/*.test.ts"],
  // One dev server (warm Python workers) and one browser per file; files run one after another.
  maxWorkers: 1,
  testTimeout: 30000,
  // Type-checking is `npx tsc --noEmit -p .`'s job; here the tests are only transpiled.
  transform: {
    "^.+\\.ts$": [
      "ts-jest",
      {
        tsconfig: {
          isolatedModules: true,
          module: "commonjs",
          target: "ES2022",
          esModuleInterop: true,
          resolveJsonModule: true,
          sourceMap: true,
        },
      },
    ],
  },
};
