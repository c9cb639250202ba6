/**
 * Issue acceptance: `rlhf generate` on the real stories260K model, greedy, 200 tokens, prints exactly
 * llama2.c run.c's output (../shared/models/stories260K/greedy-200.txt), from the .bin and from the HF folder.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeIf } from '../helpers/gates';
import { sharedFiles, sharedPath } from '../helpers/shared';
import { rlhf } from './helpers';

const SHARED = sharedPath('models/stories260K');
const NEEDS = sharedFiles(...['greedy-200.txt', 'stories260K.bin', 'hf/model.safetensors', 'tok512.bin'].map((f) => `models/stories260K/${f}`));

describeIf(NEEDS, 'rlhf generate reproduces run.c greedy text', () => {
  let expected: string;
  beforeAll(() => {
    expected = fs.readFileSync(path.join(SHARED, 'greedy-200.txt'), 'utf8');
  });
  test.each([['llama2.c .bin', 'stories260K.bin'], ['Hugging Face folder', 'hf']])('from the %s', async (_label, model) => {
    const r = await rlhf('generate', '--model', path.join(SHARED, model), '--tokenizer', path.join(SHARED, 'tok512.bin'), '--temperature', '0', '--max-new-tokens', '200');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(expected);
    expect(r.stderr).toContain(`[200 tokens, finished by max_new_tokens, ${tf.getBackend()} backend]`);
  });
});
