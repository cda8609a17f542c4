import * as crypto from "crypto";
import { Lazy, TerraformResource } from "cdktf";

/**
 * SHA-1 over the arguments these resources are synthesized with (Terraform references
 * stay as their `${...}` text), computed at synth time: it changes exactly when this
 * code or its configuration changes one of them. Values AWS computes are not in it, so
 * it does not change from one plan to the next. Used as a REST API deployment trigger.
 */
export function configurationHash(resources: TerraformResource[]): string {
  return Lazy.stringValue({
    produce: (context) => {
      const config = resources.map((r) => {
        const { "//": _metadata, depends_on: _dependsOn, ...args } = Object.values(
          Object.values(r.toTerraform().resource as Record<string, Record<string, Record<string, unknown>>>)[0],
        )[0];
        return [r.terraformResourceType, args];
      });
      return crypto.createHash("sha1").update(JSON.stringify(context.resolve(config))).digest("hex");
    },
  });
}
