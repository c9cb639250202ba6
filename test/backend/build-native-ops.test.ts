/**
 * scripts/build-native-ops.js, the install-time build of the fused-op addon: a compiler that fails is a
 * named error and leaves the addon already built exactly as it was (an install never loses a working build).
 * Gated (helpers/gates.ts) on tfjs-node having been built by setup-native (no TensorFlow library to link against
 * otherwise): skipped with the reason, or a failure under RLHF_REQUIRE_ORACLES=1.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { testIf, type Requirement } from '../helpers/gates';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { buildNativeOps, BuildError, TARGET } = require('../../scripts/build-native-ops.js') as {
  buildNativeOps(o: { nodeDir: string; locateHeaders: () => string; force?: boolean }): string;
  BuildError: new (m: string) => Error;
  TARGET: string;
};

const ROOT = path.resolve(__dirname, '../..');

function nodeDir(): string | null {
  try {
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json', { paths: [ROOT] }));
    return fs.existsSync(path.join(dir, 'deps', 'lib', 'libtensorflow_framework.so.2')) ? dir : null;
  } catch {
    return null;
  }
}

const builtTfjsNode: Requirement = {
  name: '@tensorflow/tfjs-node built against a local TensorFlow (deps/lib/libtensorflow_framework.so.2)',
  missing: () => (nodeDir() ? null : 'no @tensorflow/tfjs-node/deps/lib/libtensorflow_framework.so.2 here'),
  fix: 'run `npm run setup-native`',
};

const hash = (p: string) => (fs.existsSync(p) ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : null);

testIf(builtTfjsNode, 'a failing compiler is a BuildError naming it, and the existing addon is untouched', () => {
  const dir = nodeDir()!;
  const before = hash(TARGET);
  const leftovers = () => fs.readdirSync(path.dirname(TARGET)).filter((n) => /^rlhf_ops\.\d+\.node$/.test(n));
  const saved = process.env.CXX;
  process.env.CXX = 'false'; // a "compiler" that exits 1
  try {
    let err: unknown;
    try {
      buildNativeOps({ nodeDir: dir, force: true, locateHeaders: () => path.join(dir, 'deps', 'include') }); // never compiled against
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BuildError);
    expect((err as Error).message).toMatch(/^false failed/);
  } finally {
    if (saved === undefined) delete process.env.CXX;
    else process.env.CXX = saved;
  }
  expect(hash(TARGET)).toBe(before);
  expect(leftovers()).toEqual([]);
});
