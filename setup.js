// Adds cdktf's matchers (toHaveResourceWithProperties, toBeValidTerraform, ...) to expect.
const cdktf = require("cdktf");
cdktf.Testing.setupJest();
