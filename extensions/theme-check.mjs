// Runs the platform's theme linter on a theme app extension with the
// `theme-app-extension` config and exits non-zero when any error-severity
// offense is found (warnings and infos are printed but do not fail).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { themeCheckRun, Severity } from '@shopify/theme-check-node';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, process.argv[2] || 'beam-theme');
const names = { [Severity.ERROR]: 'error', [Severity.WARNING]: 'warning', [Severity.INFO]: 'info' };

const { offenses } = await themeCheckRun(root, 'theme-check:theme-app-extension');
for (const o of offenses) {
  const file = path.relative(root, fileURLToPath(o.uri));
  const line = o.start ? o.start.line + 1 : 0;
  console.log(`${names[o.severity]} ${o.check} ${file}:${line} ${o.message}`);
}
const errors = offenses.filter((o) => o.severity === Severity.ERROR).length;
console.log(`theme-check: ${offenses.length} offense(s), ${errors} error(s) in ${root}`);
process.exit(errors ? 1 : 0);
