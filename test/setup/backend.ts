/**
 * Jest setup (setupFilesAfterEnv): every test file starts on the backend RLHF_BACKEND names, or the best
 * available one when unset, so the whole suite can be run as `RLHF_BACKEND=wasm npx jest` or
 * `RLHF_BACKEND=tensorflow npx jest`. A requested backend that is unavailable fails loudly (BackendError).
 */
import { initBackend } from '../../src/backend';

beforeAll(async () => {
  await initBackend();
});
