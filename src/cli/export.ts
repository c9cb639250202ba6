/** `rlhf export`: any model source (llama2.c .bin, HF folder, checkpoint) to a checkpoint folder transformers loads. */
import type { CommandModule } from 'yargs';
import { initBackend, BackendRequest } from '../backend';
import { saveCheckpoint } from '../io/checkpoint';
import { assertNoLiveLocksInside, withOutputLock } from '../io/lock';
import { loadPolicy, loadRewardModel } from '../io/load-model';
import { resolveModelSource, loadModelWeights } from '../io/source';
import { resolveModelPath } from '../io/load-model';
import { printResult } from './output';

export const exportCommand: CommandModule = {
  command: 'export',
  describe: 'Write a model as a Hugging Face folder (config.json + model.safetensors + tokenizer + rlhf.json)',
  builder: (y) =>
    y
      .option('model', { type: 'string', demandOption: true, describe: 'llama2.c .bin, HF folder, checkpoint or run folder' })
      .option('tokenizer', { type: 'string', describe: 'Tokenizer to save with it (default: the model\'s)' })
      .option('out', { type: 'string', demandOption: true })
      .option('overwrite', { type: 'boolean', default: false })
      .example('rlhf export --model ../shared/models/stories260K/stories260K.bin --tokenizer ../shared/models/stories260K/tok512.bin --out checkpoints/stories260K', 'llama2.c -> Hugging Face LlamaForCausalLM folder'),
  handler: async (argv) => {
    await initBackend(argv.backend as BackendRequest | undefined);
    await withOutputLock(argv.out as string, () => exportModel(argv));
  },
};

/** Writes the model as a checkpoint folder; whether it is a reward model is read from its weights (a score head). */
async function exportModel(argv: Record<string, unknown>): Promise<void> {
  const spec = argv.model as string;
  if (argv.overwrite) assertNoLiveLocksInside(argv.out as string);
  const src = resolveModelSource(resolveModelPath(spec));
  const isReward = src.kind !== 'config' && (() => {
    const w = loadModelWeights(src);
    for (const t of w.bundle.tensors.values()) t.dispose();
    return w.head === 'sequence_classification';
  })();
  const common = { tokenizer: argv.tokenizer as string | undefined, trainable: false };
  if (isReward) {
    const rm = loadRewardModel(spec, common);
    try {
      const weights = new Map(rm.model.weights as Map<string, import('@tensorflow/tfjs').Tensor>);
      weights.delete('lm_head.weight');
      const dir = saveCheckpoint(argv.out as string, { kind: 'reward', config: rm.model.config, weights, tokenizer: rm.tokenizer, step: 0, parent: rm.source, overwrite: argv.overwrite as boolean });
      printResult({ out: dir, kind: 'reward', parent: rm.source });
    } finally {
      rm.model.dispose();
    }
  } else {
    const p = loadPolicy(spec, common);
    try {
      const dir = saveCheckpoint(argv.out as string, { kind: 'policy', config: p.model.config, weights: p.model.weights, tokenizer: p.tokenizer, step: 0, parent: p.source, overwrite: argv.overwrite as boolean });
      printResult({ out: dir, kind: 'policy', parent: p.source });
    } finally {
      p.model.dispose();
    }
  }
}
