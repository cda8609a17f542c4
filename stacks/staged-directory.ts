import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AssetType, TerraformAsset } from "cdktf";
import { Construct } from "constructs";

/** Options of {@link StagedDirectory}. */
export interface StagedDirectoryOptions {
  /** Directory to copy. */
  readonly sourceDir: string;
  /** Returns true for a path (relative, POSIX separators) that must not be copied. */
  readonly exclude: (relativePath: string) => boolean;
}

/**
 * Copies a directory, minus excluded files, into the stack's output directory
 * (`cdktf.out/stacks/<stack>/assets/...`).
 *
 * A Terraform Cloud run uploads only that output directory, so whatever Terraform
 * reads at plan time must be inside it. The copy's folder name is a hash of the
 * kept files' names and contents only: caches and test files on the build
 * machine do not change it, so every machine synthesizes the same path.
 */
export class StagedDirectory extends Construct {
  /** Path of the copy relative to the stack's Terraform working directory. */
  public readonly path: string;
  /** Relative paths (POSIX) of the files that were kept, sorted. */
  public readonly files: readonly string[];

  constructor(scope: Construct, id: string, options: StagedDirectoryOptions) {
    super(scope, id);
    this.files = listFiles(options.sourceDir).filter((f) => !options.exclude(f));
    if (this.files.length === 0) throw new Error(`${options.sourceDir} has no files to package`);

    const staging = stagingDirectory();
    const hash = crypto.createHash("sha256");
    for (const file of this.files) {
      const content = fs.readFileSync(path.join(options.sourceDir, file));
      hash.update(`${file}\0${content.length}\0`).update(content);
      fs.mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
      fs.writeFileSync(path.join(staging, file), content);
    }
    const asset = new TerraformAsset(this, "asset", {
      path: staging,
      type: AssetType.DIRECTORY,
      assetHash: hash.digest("hex").slice(0, 16).toUpperCase(),
    });
    this.path = asset.path;
  }
}

/** Staging copies live until the process exits (cdktf copies assets at synth time, after construction). */
const stagingDirs: string[] = [];

function stagingDirectory(): string {
  if (stagingDirs.length === 0) {
    process.once("exit", () => stagingDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chatbot-stage-"));
  stagingDirs.push(dir);
  return dir;
}

/** Every file below `dir`, as sorted relative POSIX paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(child);
      else if (entry.isFile()) out.push(child);
    }
  };
  walk("");
  return out.sort();
}
