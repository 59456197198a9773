// Bundles the page into dist/: app.js (esbuild, one file, no runtime
// dependency on any CDN), index.html and style.css copied as they are.
// Run through `npm run build`, which first regenerates gen/ from the .proto.
import { build } from "esbuild";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
await build({
  entryPoints: [join(here, "src/app.js")],
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  legalComments: "linked",
  outfile: join(dist, "app.js"),
  logLevel: "warning",
});
for (const f of ["index.html", "style.css"]) await copyFile(join(here, "src", f), join(dist, f));
console.log(`web: built ${dist}`);
