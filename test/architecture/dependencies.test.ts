/**
 * The folder rules of .dependency-cruiser.js (docs/architecture.md) can fail: on a copy of src/ with a
 * deliberately added import circle (between folders, and inside one) and a deliberately added forbidden import
 * (compare/ -> train/), dependency-cruiser reports each one,
 * under the rule it breaks, and exits non-zero; on the same copy without them it reports nothing. (npm test runs
 * the same check over the real src/ before jest: scripts/test-all.js.)
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const REPO = path.resolve(__dirname, '../..');

/** Runs the project's check (scripts/depcheck.js, as npm test does) on a copy: its exit status and "RULE: FROM -> TO" lines. */
function depcheck(dir: string): { status: number | null; lines: string[] } {
  const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'depcheck.js'), '--root', dir], { encoding: 'utf8' });
  if (r.error) throw r.error;
  const lines = r.stdout.trim().split('\n');
  expect(lines[lines.length - 1]).toMatch(/^dependencies: \d+ violations? in \d+ modules/); // it ran
  return { status: r.status, lines: lines.slice(0, -1) };
}

let copy: string;
beforeAll(() => {
  copy = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-depcruise-'));
  fs.cpSync(path.join(REPO, 'src'), path.join(copy, 'src'), { recursive: true });
  for (const f of ['.dependency-cruiser.js', 'tsconfig.json']) fs.copyFileSync(path.join(REPO, f), path.join(copy, f));
  // node_modules for resolving packages (they are not cruised: includeOnly src/).
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(copy, 'node_modules'));
});
afterAll(() => fs.rmSync(copy, { recursive: true, force: true }));

test('the untouched copy has no violation', () => {
  const r = depcheck(copy);
  expect(r.lines).toEqual([]);
  expect(r.status).toBe(0);
}, 120_000);

test('added circles and a forbidden import each fail the check, named', () => {
  // A circle between folders: recipes/load.ts imports util/suggest.ts, which now imports recipes/load.ts back.
  fs.appendFileSync(path.join(copy, 'src/util/suggest.ts'), "\nimport { RecipeError } from '../recipes/load';\nexport const circle = RecipeError;\n");
  // A circle inside one folder: two new modules importing each other.
  fs.writeFileSync(path.join(copy, 'src/data/ring-a.ts'), "import { b } from './ring-b';\nexport const a = () => b;\n");
  fs.writeFileSync(path.join(copy, 'src/data/ring-b.ts'), "import { a } from './ring-a';\nexport const b = () => a;\n");
  // An import the rules forbid without a circle: compare/ reaching into train/.
  fs.writeFileSync(path.join(copy, 'src/compare/upward.ts'), "import { shares } from '../train/loop';\nexport const up = shares;\n");

  const r = depcheck(copy);
  expect(r.status).toBe(1);
  expect(r.lines.sort()).toEqual([
    'audit-not-train: src/compare/upward.ts -> src/train/loop.ts',
    'layer-util: src/util/suggest.ts -> src/recipes/load.ts',
    'no-circular: src/data/ring-a.ts -> src/data/ring-b.ts (circle: src/data/ring-a.ts -> src/data/ring-b.ts -> src/data/ring-a.ts)',
    'no-circular: src/recipes/load.ts -> src/util/suggest.ts (circle: src/recipes/load.ts -> src/util/suggest.ts -> src/recipes/load.ts)',
  ]);
}, 120_000);
