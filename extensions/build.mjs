// Bundles each UI extension target with esbuild (as the platform's CLI would), prints every
// bundle's size and fails when one passes the platform's 64 KB limit.
import {mkdirSync, readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {gzipSync} from 'node:zlib';

import {build} from 'esbuild';

const root = dirname(fileURLToPath(import.meta.url));
const LIMIT = 64 * 1024;
const ENTRIES = {
  'checkout-rewards': ['src/checkout.jsx', 'src/thank-you.jsx'],
  'customer-account-rewards': ['src/page.jsx', 'src/profile-block.jsx', 'src/order-status.jsx'],
};
const appUrl = process.env.BEAM_APP_URL || 'https://beam.example.com';

let failed = false;
for (const [extension, entries] of Object.entries(ENTRIES)) {
  const outdir = join(root, extension, 'dist');
  mkdirSync(outdir, {recursive: true});
  const result = await build({
    absWorkingDir: root,
    entryPoints: entries.map((entry) => join(extension, entry)),
    outdir,
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2020',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    define: {BEAM_APP_URL: JSON.stringify(appUrl), 'process.env.NODE_ENV': '"production"'},
    metafile: true,
    logLevel: 'warning',
  });
  for (const file of Object.keys(result.metafile.outputs)) {
    const bytes = readFileSync(join(root, file));
    const gz = gzipSync(bytes).length;
    const over = bytes.length > LIMIT;
    failed ||= over;
    console.log(
      `bundle ${file}: ${bytes.length} bytes (${gz} gzipped)${over ? ' OVER 64 KB LIMIT' : ''}`,
    );
  }
}
if (failed) process.exit(1);
