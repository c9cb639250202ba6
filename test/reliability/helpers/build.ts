/**
 * A throwaway JavaScript copy of the sources for child processes: every `src/**\/*.ts` and
 * `test/reliability/helpers/*.ts` file is transpiled (typescript.transpileModule, no type-check) into a
 * temp folder that mirrors the repo layout. Children then start without loading TypeScript or
 * transpiling anything (about 3 s saved per spawn), and a half-written file elsewhere cannot break them
 * the way `tsc -p tsconfig.build.json` would.
 *
 * Does: transpile once per content hash (shared by the test files of one run via the folder name).
 * Does NOT: bundle, type-check, or copy node_modules (children get NODE_PATH instead), native/ or scripts/ (linked).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

export const REPO = path.resolve(__dirname, '../../..');

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Transpiles the sources; returns the folder that mirrors REPO (require `<dir>/src/...js`). */
export function buildForChildren(): string {
  const files = [...listTs(path.join(REPO, 'src')), ...listTs(path.join(REPO, 'test/reliability/helpers'))].sort();
  const hash = crypto.createHash('sha1');
  const texts = files.map((f) => {
    const t = fs.readFileSync(f, 'utf8');
    hash.update(f).update('\0').update(t).update('\0');
    return t;
  });
  const dir = path.join(os.tmpdir(), `rlhf-reliability-build-${hash.digest('hex').slice(0, 16)}`);
  if (fs.existsSync(path.join(dir, '.done'))) return dir;
  removeStaleBuilds(dir);
  const tmp = `${dir}.tmp-${process.pid}`;
  files.forEach((f, i) => {
    const out = ts.transpileModule(texts[i], {
      fileName: f,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, resolveJsonModule: true },
    });
    const dest = path.join(tmp, path.relative(REPO, f)).replace(/\.ts$/, '.js');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.outputText);
  });
  // The fused-op addon (native/build, built at install) sits where the sources expect it, ../../native from src/backend.
  fs.symlinkSync(path.join(REPO, 'native'), path.join(tmp, 'native'));
  // The shipped data's tables (plain JavaScript, shared with scripts/generate-data.js), which the oracle requires from src/rewards.
  fs.symlinkSync(path.join(REPO, 'scripts'), path.join(tmp, 'scripts'));
  fs.writeFileSync(path.join(tmp, '.done'), '');
  try {
    fs.renameSync(tmp, dir);
  } catch {
    // Another jest worker built the same hash first: use theirs.
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

/** Builds of older sources (another hash) not touched for an hour: nobody is using them any more. */
function removeStaleBuilds(keep: string): void {
  for (const n of fs.readdirSync(os.tmpdir())) {
    const p = path.join(os.tmpdir(), n);
    if (!n.startsWith('rlhf-reliability-build-') || p === keep) continue;
    try {
      if (Date.now() - fs.statSync(p).mtimeMs > 3600_000) fs.rmSync(p, { recursive: true, force: true });
    } catch {
      // raced with another worker: fine
    }
  }
}

/** Environment for a child that requires the built copy: package imports resolve from the repo. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_PATH: path.join(REPO, 'node_modules'), TF_CPP_MIN_LOG_LEVEL: '3', ...extra };
  delete env.NODE_OPTIONS; // jest's flags are not meant for the child
  return env;
}
