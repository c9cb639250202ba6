/**
 * Runs the README's library example (read from README.md itself, so the two cannot drift apart) on
 * the shipped data, in a temp folder, with the import pointed at the source tree.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as api from '../../src';

const REPO = path.resolve(__dirname, '../..');

function readmeExample(): string {
  const md = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const m = /## Library\n\n```ts\n([\s\S]*?)```/.exec(md);
  if (!m) throw new Error('README.md has no ```ts block under "## Library"');
  return m[1];
}

test('the README library example runs and its numbers are sane', async () => {
  const code = readmeExample();
  expect(code).toContain("from 'rlhf-tfjs'");
  const cwd = process.cwd();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-readme-'));
  fs.symlinkSync(path.join(REPO, 'data'), path.join(dir, 'data'));
  const logged: unknown[][] = [];
  // Strip the import line and the top-level awaits' module syntax; run the body as an async function.
  const body = code.replace(/^import .*$/m, '').replace(/console\.log/g, 'log');
  const fn = new Function('api', 'log', `const { trainReward, trainDpo, compareRewards } = api; return (async () => {${body}})();`);
  process.chdir(dir);
  try {
    await fn(api, (...a: unknown[]) => logged.push(a));
  } finally {
    process.chdir(cwd);
  }
  expect(logged).toHaveLength(1);
  const [explicitAcc, implicitAcc, agreement, html] = logged[0] as [number, number, number, string];
  for (const v of [explicitAcc, implicitAcc, agreement]) {
    expect(v).toBeGreaterThanOrEqual(0);
    expect(v).toBeLessThanOrEqual(1);
  }
  expect(fs.existsSync(html)).toBe(true);
  expect(fs.existsSync(path.join(dir, 'runs/api/reward/final/model.safetensors'))).toBe(true);
});
