/**
 * The README.md of a checkpoint folder: a Hugging Face model card. YAML metadata first (library_name,
 * pipeline_tag, tags such as `rlhf-tfjs` / `sft` / `reward-model` / `dpo`, and base_model, datasets and
 * license when they are known), then what the model is, how it was trained (the recipe as JSON), its
 * metrics, and working code that loads it in transformers and in this toolkit.
 *
 * base_model and datasets name Hugging Face Hub ids, so (as TRL's cards do) a parent that is a local
 * folder or `config:NAME`, or data read from local files, is described in the body and left out of the
 * metadata; callers pass Hub ids explicitly (ModelCardInfo).
 *
 * Does NOT: write files (checkpoint.ts writes README.md with the other files, atomically), read the
 * recipe schema (the recipe is rendered as the JSON it is), or invent a license.
 */
import type { ModelConfig } from '../model/config';
import { architectureOf } from '../model/families';

export const MODEL_CARD_FILE = 'README.md';

/** What the caller knows beyond the checkpoint itself. */
export interface ModelCardInfo {
  /** The training stage that made the model: 'sft' | 'reward' | 'dpo' (tags and the description follow it). */
  stage?: string;
  /** Hub id of the model it started from (metadata base_model). A local parent goes in the body only. */
  baseModel?: string;
  /** Hub dataset ids (metadata datasets). Local data files go in the body only. */
  datasets?: string[];
  /** SPDX-style licence id (metadata license); left out when unknown. */
  license?: string;
  /** The folder as the usage code should name it. @default the path given to saveCheckpoint */
  path?: string;
}

/** What saveCheckpoint knows about the folder it writes. */
export interface ModelCardContext {
  kind: 'policy' | 'reward';
  config: ModelConfig;
  tokenizer: { kind: string; vocabSize: number; bosId: number | null; eosId: number | null };
  /** Files transformers' AutoTokenizer reads (tokenizer.json, tokenizer_config.json); [] if none. */
  hfTokenizerFiles: string[];
  step: number;
  recipe?: unknown;
  metrics?: Record<string, number>;
  parent?: string | null;
  /** The folder as given to saveCheckpoint. */
  dir: string;
}

const STAGE_TAGS: Record<string, string[]> = { sft: ['sft'], reward: ['reward-model'], dpo: ['dpo'] };

/** README.md text for a checkpoint folder. Example: a DPO policy -> tags [rlhf-tfjs, dpo, llama]. */
export function renderModelCard(ctx: ModelCardContext, info: ModelCardInfo = {}): string {
  const stage = info.stage ?? (ctx.kind === 'reward' ? 'reward' : undefined);
  // Sections end with a blank line; JSON and code hold no blank-line runs, so collapsing them is safe.
  return [frontMatter(ctx, info, stage), body(ctx, info, stage)].join('\n').replace(/\n{3,}/g, '\n\n');
}

/** The YAML block. Scalars are written as JSON strings, which YAML reads as double-quoted scalars. */
function frontMatter(ctx: ModelCardContext, info: ModelCardInfo, stage: string | undefined): string {
  const q = (s: string) => JSON.stringify(s);
  const tags = ['rlhf-tfjs', ...(stage ? STAGE_TAGS[stage] ?? [stage] : []), ctx.config.model_type];
  const lines = ['---', 'library_name: transformers', `pipeline_tag: ${ctx.kind === 'reward' ? 'text-classification' : 'text-generation'}`];
  if (info.license) lines.push(`license: ${q(info.license)}`);
  if (info.baseModel) lines.push(`base_model: ${q(info.baseModel)}`);
  if (info.datasets && info.datasets.length > 0) lines.push('datasets:', ...info.datasets.map((d) => `- ${q(d)}`));
  lines.push('tags:', ...[...new Set(tags)].map((t) => `- ${q(t)}`), '---', '');
  return lines.join('\n');
}

function body(ctx: ModelCardContext, info: ModelCardInfo, stage: string | undefined): string {
  const where = info.path ?? ctx.dir;
  const parts = [
    `# ${titleOf(ctx, stage)}`,
    '',
    description(ctx, stage),
    '',
    provenance(ctx),
    '',
    metricsSection(ctx.metrics),
    transformersSection(ctx, where),
    toolkitSection(ctx, where),
    tokenizerSection(ctx),
  ];
  if (ctx.recipe !== undefined) parts.push('## Recipe', '', 'The recipe this model was trained with (all defaults filled in):', '', '```json', JSON.stringify(ctx.recipe, null, 2), '```', '');
  return parts.join('\n');
}

function titleOf(ctx: ModelCardContext, stage: string | undefined): string {
  const c = ctx.config;
  const size = `${c.num_hidden_layers} layers, hidden ${c.hidden_size}, vocabulary ${c.vocab_size}`;
  const what = ctx.kind === 'reward' ? 'Reward model' : stage === 'dpo' ? 'DPO policy' : stage === 'sft' ? 'SFT policy' : 'Causal language model';
  return `${what} (${c.model_type}, ${size})`;
}

/** One paragraph: what the model computes and how it was trained. */
function description(ctx: ModelCardContext, stage: string | undefined): string {
  const arch = architectureOf(ctx.config, ctx.kind === 'reward' ? 'sequence_classification' : 'causal_lm');
  if (ctx.kind === 'reward') {
    return (
      `A Bradley-Terry reward model (\`${arch}\`, one label) trained by rlhf-tfjs on preference pairs: ` +
      'it scores a prompt followed by a response with one number, read at the last non-padding token; a higher score means ' +
      'more preferred. Training minimised `-log σ(r(chosen) - r(rejected))`' + rewardExtras(ctx.recipe) + '.'
    );
  }
  if (stage === 'dpo') {
    const d = section(ctx.recipe, 'dpo');
    const loss = d?.loss_type !== undefined ? ` (loss_type ${JSON.stringify(d.loss_type)}${d.beta !== undefined ? `, β = ${d.beta}` : ''})` : '';
    return `A causal language model (\`${arch}\`) trained with Direct Preference Optimization${loss} by rlhf-tfjs, against a frozen reference model. Its implicit reward is β·(log π(y|x) − log π_ref(y|x)).`;
  }
  if (stage === 'sft') return `A causal language model (\`${arch}\`) fine-tuned by rlhf-tfjs with supervised fine-tuning on the chosen responses of preference data.`;
  return `A causal language model (\`${arch}\`) saved by rlhf-tfjs.`;
}

function rewardExtras(recipe: unknown): string {
  const r = section(recipe, 'reward');
  const extras: string[] = [];
  if (typeof r?.center_rewards_coefficient === 'number' && r.center_rewards_coefficient > 0) extras.push(`plus ${r.center_rewards_coefficient}·mean((r_c + r_r)²)`);
  if (r?.use_margin === true) extras.push('with the data\'s margins subtracted where present');
  return extras.length ? ` ${extras.join(', ')}` : '';
}

/** recipe[name] as an object, or undefined (the recipe is opaque here). */
function section(recipe: unknown, name: string): Record<string, unknown> | undefined {
  const s = recipe && typeof recipe === 'object' ? (recipe as Record<string, unknown>)[name] : undefined;
  return s && typeof s === 'object' ? (s as Record<string, unknown>) : undefined;
}

function provenance(ctx: ModelCardContext): string {
  const lines = [`- Optimizer steps: ${ctx.step}`];
  if (ctx.parent) lines.push(`- Started from: \`${ctx.parent}\``);
  const data = section(ctx.recipe, 'data');
  if (typeof data?.train === 'string') lines.push(`- Training data: \`${data.train}\``);
  if (typeof data?.eval === 'string') lines.push(`- Evaluation data: \`${data.eval}\``);
  if (ctx.kind === 'reward') lines.push(`- Padding token id: ${ctx.config.pad_token_id ?? 'none'} (transformers reads the score at the last token that is not padding)`);
  return lines.join('\n');
}

/** Eval metrics (eval_*) and the last training step's metrics, as two tables. */
function metricsSection(metrics: Record<string, number> | undefined): string {
  const entries = Object.entries(metrics ?? {}).filter(([, v]) => typeof v === 'number');
  if (entries.length === 0) return '';
  const table = (rows: Array<[string, number]>) => ['| metric | value |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${formatNumber(v)} |`)].join('\n');
  const evalRows = entries.filter(([k]) => k.startsWith('eval_'));
  const trainRows = entries.filter(([k]) => !k.startsWith('eval_'));
  const out: string[] = [];
  if (evalRows.length) out.push('## Evaluation', '', 'On the held-out data after the last step (metric names as in TRL):', '', table(evalRows), '');
  if (trainRows.length) out.push('## Training (last step)', '', table(trainRows), '');
  return out.join('\n') + '\n';
}

/** 4 significant digits; integers as they are. Example: 0.123456 -> "0.1235", 450 -> "450". */
function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Number(v.toPrecision(4)).toString();
}

/** Ids around the text, as data/collate.ts builds a training sequence (BOS before the prompt, EOS after the response). */
function pyIds(ctx: ModelCardContext): { bos: string; eos: string } {
  const t = ctx.tokenizer;
  return { bos: t.bosId === null ? '[]' : `[${t.bosId}]`, eos: t.eosId === null ? '[]' : `[${t.eosId}]` };
}

function transformersSection(ctx: ModelCardContext, where: string): string {
  const { bos, eos } = pyIds(ctx);
  const common = [
    'import torch',
    `from transformers import AutoTokenizer, ${ctx.kind === 'reward' ? 'AutoModelForSequenceClassification' : 'AutoModelForCausalLM'}`,
    '',
    `path = ${JSON.stringify(where)}  # this folder`,
    'tokenizer = AutoTokenizer.from_pretrained(path)',
  ];
  const code =
    ctx.kind === 'reward'
      ? [
        ...common,
        'model = AutoModelForSequenceClassification.from_pretrained(path).eval()',
        '',
        'prompt, response = "What is 2 + 2?", "The answer is 4."',
        '# The sequence as it was trained: BOS, prompt, response, EOS.',
        `ids = ${bos} + tokenizer(prompt, add_special_tokens=False).input_ids + tokenizer(response, add_special_tokens=False).input_ids + ${eos}`,
        'with torch.no_grad():',
        '    score = model(torch.tensor([ids])).logits[0, 0].item()',
        'print(score)',
      ]
      : [
        ...common,
        'model = AutoModelForCausalLM.from_pretrained(path).eval()',
        '',
        '# The prompt as it was trained: BOS, then the text.',
        `ids = torch.tensor([${bos} + tokenizer("What is 2 + 2?", add_special_tokens=False).input_ids])`,
        `out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=32, do_sample=False${ctx.tokenizer.eosId === null ? '' : `, eos_token_id=${ctx.tokenizer.eosId}`})`,
        'print(tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True))',
      ];
  const note =
    ctx.hfTokenizerFiles.length > 0
      ? `AutoTokenizer reads \`tokenizer.json\` + \`tokenizer_config.json\`, written from this toolkit's own tokenizer file and encoding identically; \`tokenizer(text)\` prepends BOS as training did, and \`tokenizer(prompt, response)\` gives the whole training sequence with EOS.`
      : ctx.tokenizer.kind === 'hf'
        ? 'AutoTokenizer reads the folder\'s `tokenizer.json`.'
        : 'This tokenizer has no `tokenizer.json` export (see `rlhf.json`); encode with this toolkit instead.';
  return ['## Use with transformers', '', note, '', '```python', ...code, '```', ''].join('\n');
}

function toolkitSection(ctx: ModelCardContext, where: string): string {
  const w = JSON.stringify(where);
  const cli =
    ctx.kind === 'reward'
      ? `rlhf score --model ${where} --data pairs.jsonl        # one reward per response\nrlhf compare --reward-model ${where} --policy POLICY --data pairs.jsonl --out report`
      : `rlhf generate --model ${where} --prompt "What is 2 + 2?" --temperature 0 --max-new-tokens 32`;
  const lib =
    ctx.kind === 'reward'
      ? [
        "import * as tf from '@tensorflow/tfjs';",
        "import { initBackend, loadRewardModel } from 'rlhf-tfjs';",
        '',
        'await initBackend();',
        `const { model, tokenizer } = loadRewardModel(${w}, { trainable: false });`,
        "const ids = [tokenizer.bosId, ...tokenizer.encode('What is 2 + 2?'), ...tokenizer.encode('The answer is 4.'), tokenizer.eosId].filter((id) => id !== null);",
        "const score = tf.tidy(() => model.scores(tf.tensor2d([ids], undefined, 'int32')).arraySync()[0]);",
        'console.log(score);',
        'model.dispose();',
      ]
      : [
        "import { initBackend, loadPolicy, generate } from 'rlhf-tfjs';",
        '',
        'await initBackend();',
        `const { model, tokenizer } = loadPolicy(${w}, { trainable: false });`,
        "const prompt = [tokenizer.bosId, ...tokenizer.encode('What is 2 + 2?')].filter((id) => id !== null);",
        'const { tokens } = await generate(model, prompt, { maxNewTokens: 32, temperature: 0 });',
        'console.log(tokenizer.decode(tokens));',
        'model.dispose();',
      ];
  return ['## Use with rlhf-tfjs', '', '```bash', cli, '```', '', '```ts', ...lib, '```', ''].join('\n');
}

function tokenizerSection(ctx: ModelCardContext): string {
  const t = ctx.tokenizer;
  const kinds: Record<string, string> = {
    byte: 'byte-level (one token per UTF-8 byte, id = byte + 3)',
    llama2c: "llama2.c's sentencepiece-style BPE with byte fallback (`tokenizer.bin`)",
    hf: 'Hugging Face `tokenizer.json`',
  };
  return [
    '## Tokenizer',
    '',
    `${kinds[t.kind] ?? t.kind}; ${t.vocabSize} ids; BOS ${t.bosId ?? 'none'}, EOS ${t.eosId ?? 'none'}. ` +
      'A training sequence is BOS + prompt + response + EOS; rlhf-tfjs reads its own tokenizer file first (`rlhf.json` names it).',
    '',
  ].join('\n');
}
