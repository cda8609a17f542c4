import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { Testing } from "cdktf";
import { FunctionPackage, isExcludedFromPackage } from "../stacks/function-package";
import { FIXTURES, StackJson, only } from "./helpers";

function synthPackage(sourceDir = FIXTURES.lambdaDir, requiredFiles?: string[]): { json: StackJson; pkg: FunctionPackage } {
  let pkg!: FunctionPackage;
  const json = JSON.parse(
    Testing.synthScope((scope) => {
      pkg = new FunctionPackage(scope, "function-package", { sourceDir, requiredFiles });
    }),
  );
  return { json, pkg };
}

/** The archive_file data source of a synthesized package. */
const archiveOf = (json: StackJson) => only({ resource: json.data ?? {} } as StackJson, "archive_file");

/** A scratch copy of the fixture handler directory. */
function scratchCopy(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
  fs.cpSync(FIXTURES.lambdaDir, dir, { recursive: true });
  return dir;
}

describe("FunctionPackage", () => {
  it("zips the code with archive_file, a pinned file mode and a relative path", () => {
    const archive = archiveOf(synthPackage().json);
    expect(archive).toMatchObject({ type: "zip", output_file_mode: "0644" });
    expect(archive.source_dir).toMatch(/^assets\/[\w-]+\/[0-9A-F]{16}$/);
    expect(archive.output_path).toBe(`${archive.source_dir}.zip`);
  });

  it("leaves tests, caches and development files out of the package", () => {
    const dir = scratchCopy();
    fs.mkdirSync(path.join(dir, "__pycache__"));
    fs.writeFileSync(path.join(dir, "__pycache__", "lambda_function.cpython-311.pyc"), "bytecode");
    fs.writeFileSync(path.join(dir, ".env"), "SECRET=1");
    expect(synthPackage(dir).pkg.files).toEqual(["conversations_function.py", "lambda_function.py", "stream_failures/__init__.py", "stream_failures/notice.py", "stream_function.py"]);
    expect(["tests/test_x.py", "__pycache__/a.pyc", "x.pyc", "requirements-dev.txt", "README.md", ".env", "conftest.py"].every(isExcludedFromPackage)).toBe(true);
  });

  it("names the package folder after the packaged files only, so caches do not change the plan", () => {
    const dir = scratchCopy();
    const before = archiveOf(synthPackage(dir).json).source_dir;
    fs.mkdirSync(path.join(dir, "__pycache__"));
    fs.writeFileSync(path.join(dir, "__pycache__", "x.pyc"), "bytecode");
    const withCache = archiveOf(synthPackage(dir).json).source_dir;
    fs.appendFileSync(path.join(dir, "lambda_function.py"), "# changed\n");
    const changed = archiveOf(synthPackage(dir).json).source_dir;
    expect(withCache).toBe(before);
    expect(changed).not.toBe(before);
  });

  it("refuses a source directory without a handler module it needs", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "lambda-src-"));
    fs.writeFileSync(path.join(dir, "handler.py"), "");
    expect(() => synthPackage(dir)).toThrow(/has no lambda_function\.py/);
    expect(() => synthPackage(FIXTURES.lambdaDir, ["lambda_function.py", "worker.py"])).toThrow(/has no worker\.py/);
  });
});
