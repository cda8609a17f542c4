import { DataArchiveFile } from "@cdktf/provider-archive/lib/data-archive-file";
import { Construct } from "constructs";
import { StagedDirectory } from "./staged-directory";

/** Options of {@link FunctionPackage}. */
export interface FunctionPackageOptions {
  /** Directory of the Python code. */
  readonly sourceDir: string;
  /** Modules that must be in it (each function's handler module). @default ["lambda_function.py"] */
  readonly requiredFiles?: readonly string[];
}

/**
 * Files of the function directory that never go into the deployment package:
 * tests, caches and development files.
 */
export function isExcludedFromPackage(relativePath: string): boolean {
  const parts = relativePath.split("/");
  const name = parts[parts.length - 1];
  return (
    parts.some((p) => p === "tests" || p === "__pycache__" || p.startsWith(".")) ||
    name.endsWith(".pyc") ||
    name.endsWith(".md") ||
    name === "conftest.py" ||
    name.startsWith("requirements") ||
    name === "pytest.ini"
  );
}

/**
 * One zip of the chat code, shared by every function that runs it (the REST function and
 * the streaming function use different handlers of the same modules).
 */
export class FunctionPackage extends Construct {
  /** Path of the zip, relative to the stack's Terraform directory. */
  public readonly zipPath: string;
  /** Base64 SHA-256 of the zip: a function redeploys exactly when its code changed. */
  public readonly zipHash: string;
  /** Files that went into the package (relative paths), for tests and review. */
  public readonly files: readonly string[];

  constructor(scope: Construct, id: string, options: FunctionPackageOptions) {
    super(scope, id);
    const source = new StagedDirectory(this, "source", { sourceDir: options.sourceDir, exclude: isExcludedFromPackage });
    this.files = source.files;
    for (const required of options.requiredFiles ?? ["lambda_function.py"]) {
      if (!source.files.includes(required)) throw new Error(`${options.sourceDir} has no ${required} (a handler module of the chat functions)`);
    }
    const archive = new DataArchiveFile(this, "zip", {
      type: "zip",
      sourceDir: source.path,
      outputPath: `${source.path}.zip`,
      // Without a pinned mode the zip records the checkout's umask, and its hash
      // (and so the plan) would differ from machine to machine.
      outputFileMode: "0644",
    });
    this.zipPath = archive.outputPath;
    this.zipHash = archive.outputBase64Sha256;
  }
}
