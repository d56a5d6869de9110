// The extension bundle: one CommonJS file with everything but `vscode` inlined.
// `npm run build` runs this file; the integration test bundles with the same options.

import { build, type BuildOptions } from "esbuild";
import { join } from "node:path";

export function extensionBundleOptions(outfile: string): BuildOptions {
  return {
    entryPoints: [join(__dirname, "src", "extension.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    // VS Code 1.82 (the oldest this extension supports) runs extensions on Node 18.
    target: "node18",
    external: ["vscode"],
    logLevel: "warning",
  };
}

if (require.main === module) {
  build(extensionBundleOptions(join(__dirname, "dist", "extension.js"))).catch((error: unknown) => {
    // esbuild has already printed the errors with file and line.
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}
