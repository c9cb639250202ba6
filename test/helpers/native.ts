/**
 * Requirements (helpers/gates.ts) on the machine's backends: the native `tensorflow` backend (tfjs-node built
 * by `npm run setup-native`), its fused kernels (native/build/rlhf_ops.node), a backend by name, and CPUs.
 * Each check is synchronous (jest declares tests synchronously): it loads the package in this process, as
 * initBackend would, without activating it.
 *
 * Does NOT: pick the suite's backend (test/setup/backend.ts does) or fall back to another one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as tf from '@tensorflow/tfjs';
import type { BackendName } from '../../src/backend';
import { loadNativeOps } from '../../src/backend/native-ops';
import { once, type Requirement } from './gates';

const SETUP = 'run `npm run setup-native` (README, Backends)';

/** Why @tensorflow/tfjs-node cannot provide the tensorflow backend here, or null. */
const tensorflowMissing = once(() => {
  try {
    require('@tensorflow/tfjs-node');
  } catch (e) {
    const msg = (e as Error).message.split('\n')[0];
    return /Cannot find module/.test(msg) ? '@tensorflow/tfjs-node is not installed' : `@tensorflow/tfjs-node failed to load: ${msg}`;
  }
  return tf.findBackendFactory('tensorflow') ? null : '@tensorflow/tfjs-node loaded but registered no "tensorflow" backend into this @tensorflow/tfjs';
});

/** The native backend (tfjs-node). */
export const nativeBackend: Requirement = { name: 'the native tensorflow backend (@tensorflow/tfjs-node)', missing: tensorflowMissing, fix: SETUP };

/** The fused kernels of native/rlhf_ops.cc, loadable on the native backend (RLHF_NATIVE_OPS=0 counts as missing). */
export const nativeOps: Requirement = {
  name: 'the fused native ops (native/build/rlhf_ops.node)',
  missing: once(() => {
    const why = tensorflowMissing();
    if (why) return why;
    try {
      const status = loadNativeOps();
      return status.loaded ? null : (status.reason ?? 'not loaded');
    } catch (e) {
      return (e as Error).message;
    }
  }),
  fix: `${SETUP}, and leave RLHF_NATIVE_OPS unset or 1`,
};

/** A backend by name: tensorflow as above; wasm and cpu are regular dependencies, so their package must load. */
export function backend(name: BackendName): Requirement {
  if (name === 'tensorflow') return nativeBackend;
  const pkg = name === 'wasm' ? '@tensorflow/tfjs-backend-wasm' : '@tensorflow/tfjs-backend-cpu';
  return {
    name: `the ${name} backend (${pkg})`,
    missing: once(() => {
      try {
        require(pkg);
        return null;
      } catch (e) {
        return `${pkg} failed to load: ${(e as Error).message.split('\n')[0]}`;
      }
    }),
    fix: 'reinstall dependencies (`npm ci`)',
  };
}

/** At least `n` CPUs this process may run on (the affinity mask: os.availableParallelism). */
export function cpus(n: number): Requirement {
  return {
    name: `${n} usable CPUs`,
    missing: () => (os.availableParallelism() >= n ? null : `only ${os.availableParallelism()} CPU(s) usable by this process`),
    fix: 'run on a machine (or affinity mask) with more CPUs',
  };
}

/** An executable at `file` (e.g. /usr/bin/taskset). */
export function executable(file: string, what: string): Requirement {
  return {
    name: `${file} (${what})`,
    missing: () => {
      try {
        fs.accessSync(file, fs.constants.X_OK);
        return null;
      } catch {
        return `${file} is not there or not executable`;
      }
    },
    fix: `install the package that provides ${file}`,
  };
}
