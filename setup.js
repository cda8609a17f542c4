// Adds cdktf's matchers (toHaveResourceWithProperties, toBeValidTerraform, ...) to expect.
const cdktf = require("cdktf");
cdktf.Testing.setupJest();

// cdktf records a creation stack for every token it makes (tokens/private/stack-trace.js
// reads `.stack` of a plain object, thousands of times per synth), and jest's
// source-map-support maps every frame of each of those back to TypeScript: about a third
// of this suite's CPU. Those stacks are only shown when a token fails to resolve; they are
// formatted as V8 does by default (positions in the transpiled JavaScript). Real errors —
// an assertion that fails, an exception a test throws — still get source-mapped traces.
const mapped = Error.prepareStackTrace;
if (mapped) {
  Error.prepareStackTrace = (error, frames) =>
    Object.prototype.toString.call(error) === "[object Error]"
      ? mapped(error, frames)
      : ["Error", ...frames.map((frame) => `    at ${frame}`)].join("\n");
}
