/** Unit tests of the stacks: synthesized Terraform JSON, no AWS account, no network. */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__"],
  testMatch: ["**/*.test.ts"],
  // The browser suite has its own config (jest.browser.config.js) and needs Chromium.
  testPathIgnorePatterns: ["/node_modules/", "<rootDir>/__tests__/browser/"],
  transform: { "^.+\\.tsx?$": "ts-jest" },
  setupFilesAfterEnv: ["<rootDir>/setup.js"],
  snapshotFormat: { escapeString: false, printBasicPrototype: false },
};
