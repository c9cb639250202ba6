/**
 * `npm run bench:e2e`: the end-to-end benchmark (src/bench/e2e.ts): one epoch of reward-model and DPO training
 * in this toolkit (`rlhf reward|dpo`, the built CLI) and in TRL (bench/trl_e2e.py) from the same JSONL files and
 * model folder, whole-process wall time, CPU time, peak RSS and held-out accuracy side by side.
 *
 *   RLHF_PYTHON=/path/to/python-with-trl node bench/run-ts.js bench/e2e.ts [--datasets long,shipped]
 *       [--stages reward,dpo] [--rounds 1] [--model ../shared/models/stories260K/hf] [--long-train 2400]
 *       [--long-eval 400] [--long-seed 7] [--long-dir .cache/bench/long-prefs] [--train data/prefs.jsonl]
 *       [--eval data/prefs-eval.jsonl] [--batch 8] [--lr 5e-4] [--max-length 512] [--seed 42[,1,2,...]] [--backend B]
 *       [--no-paired] [--no-trl] [--torch-mkl-intel-path] [--from-src] [--work-dir DIR] [--json] [--out FILE]
 *
 * Paired (default): both sides read the train pairs in one seeded order and start from one copy of the model (DPO)
 * or one initial reward model (reward), so the accuracy columns compare the toolkits; --no-paired lets each side
 * draw its own. A list of seeds (--seed 42,1,2,3) repeats the whole comparison once per seed and reports the mean
 * held-out accuracy and each seed's: unpaired, one seed's accuracies differ by the draw of the data order by several
 * points on either side.
 * --torch-mkl-intel-path: on an AMD CPU, TRL's MKL takes its Intel code path (src/bench/mkl-shim.ts) instead of the
 * generic one stock torch takes there.
 * Markdown on stdout (or the JSON report with --json); progress on stderr. Exit 1 when a run failed.
 * The built CLI must match the sources (`npm run build`): a stale dist/ is refused, since it would time old code;
 * --from-src runs the sources through bench/run-ts.js instead (slower start-up: for checks, not for figures).
 */
import * as fs from 'fs';
import * as path from 'path';
import yargs from 'yargs';
import { defaultStoriesDir } from '../src/bench/models';
import { E2E_DATASETS, E2E_DEFAULTS, E2E_STAGES, e2eMarkdown, REPO_ROOT, runE2e, type E2eDataset, type E2eStage } from '../src/bench/e2e';

/** A path as the command line shows it: relative to the repository when inside it or beside it (../shared), else absolute. */
const shown = (p: string) => {
  const rel = path.relative(REPO_ROOT, path.resolve(p));
  return rel.startsWith(`..${path.sep}..`) || path.isAbsolute(rel) ? path.resolve(p) : rel;
};

function list<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((x) => x.trim()).filter(Boolean);
  const bad = items.filter((x) => !allowed.includes(x as T));
  if (bad.length || !items.length) throw new Error(`--${flag} ${raw}: expected a comma-separated list of ${allowed.join(', ')}`);
  return items as T[];
}

/** --seed 42 or --seed 42,1,2: distinct integers >= 0. */
function seedList(raw: string): number[] {
  const items = String(raw).split(',').map((x) => x.trim());
  const seeds = items.map(Number);
  if (!items.length || items.some((x) => !/^\d+$/.test(x)) || new Set(seeds).size !== seeds.length) {
    throw new Error(`--seed ${raw}: expected an integer >= 0, or several distinct ones separated by commas (e.g. 42,1,2,3)`);
  }
  return seeds;
}

async function run(): Promise<number> {
  const argv = yargs(process.argv.slice(2))
    .strict()
    .option('datasets', { type: 'string', default: E2E_DATASETS.join(',') })
    .option('stages', { type: 'string', default: E2E_STAGES.join(',') })
    .option('rounds', { type: 'number', default: 1 })
    .option('model', { type: 'string', default: defaultStoriesDir() })
    .option('long-train', { type: 'number', default: 2400 })
    .option('long-eval', { type: 'number', default: 400 })
    .option('long-seed', { type: 'number', default: 7 })
    .option('long-dir', { type: 'string', default: path.join(REPO_ROOT, '.cache', 'bench', 'long-prefs') })
    .option('train', { type: 'string', default: path.join(REPO_ROOT, 'data', 'prefs.jsonl') })
    .option('eval', { type: 'string', default: path.join(REPO_ROOT, 'data', 'prefs-eval.jsonl') })
    .option('batch', { type: 'number', default: E2E_DEFAULTS.batch_size })
    .option('lr', { type: 'number', default: E2E_DEFAULTS.learning_rate })
    .option('max-length', { type: 'number', default: E2E_DEFAULTS.max_length })
    .option('seed', { type: 'string', default: String(E2E_DEFAULTS.seed), describe: 'A seed, or several comma-separated: the comparison once per seed' })
    .option('backend', { type: 'string' })
    .option('paired', { type: 'boolean', default: E2E_DEFAULTS.paired })
    .option('torch-mkl-intel-path', { type: 'boolean', default: false, describe: "TRL's MKL on its Intel code path (src/bench/mkl-shim.ts): for AMD CPUs" })
    .option('trl', { type: 'boolean', default: true })
    .option('from-src', { type: 'boolean', default: false })
    .option('work-dir', { type: 'string' })
    .option('json', { type: 'boolean', default: false })
    .option('out', { type: 'string' })
    .parseSync();
  const python = process.env.RLHF_PYTHON || 'python3';
  if (!fs.existsSync(path.join(argv.model, 'config.json'))) throw new Error(`--model ${argv.model}: no config.json there; pass an HF model folder (default ../shared/models/stories260K/hf)`);
  let rlhf = [process.execPath, path.join(REPO_ROOT, 'bin', 'rlhf.js')];
  if (argv['from-src']) rlhf = [process.execPath, path.join(REPO_ROOT, 'bench', 'run-ts.js'), path.join(REPO_ROOT, 'bench', 'rlhf-src.ts')];
  else {
    const { staleness } = require('../scripts/build-stamp.js') as { staleness: (root: string) => string | null };
    const why = staleness(REPO_ROOT);
    if (why) throw new Error(`${why}: the benchmark times the built CLI; run \`npm run build\` first (or pass --from-src to time the sources, slower to start)`);
  }
  const datasets = list<E2eDataset>('datasets', argv.datasets, E2E_DATASETS);
  const stages = list<E2eStage>('stages', argv.stages, E2E_STAGES);
  const seeds = seedList(argv.seed);
  const settings = { ...E2E_DEFAULTS, batch_size: argv.batch, learning_rate: argv.lr, max_length: argv['max-length'], seed: seeds[0], paired: argv.paired };
  const command = [
    `RLHF_PYTHON=${python}`, 'npm run bench:e2e --', `--datasets ${datasets.join(',')}`, `--stages ${stages.join(',')}`, `--rounds ${argv.rounds}`,
    `--model ${shown(argv.model)}`,
    ...(datasets.includes('long') ? [`--long-train ${argv['long-train']}`, `--long-eval ${argv['long-eval']}`, `--long-seed ${argv['long-seed']}`] : []),
    ...(datasets.includes('shipped') ? [`--train ${shown(argv.train)}`, `--eval ${shown(argv.eval)}`] : []),
    `--batch ${argv.batch}`, `--lr ${argv.lr}`, `--max-length ${argv['max-length']}`, `--seed ${seeds.join(',')}`,
    ...(argv.backend ? [`--backend ${argv.backend}`] : []), ...(argv.paired ? [] : ['--no-paired']), ...(argv.trl ? (argv['torch-mkl-intel-path'] ? ['--torch-mkl-intel-path'] : []) : ['--no-trl']), ...(argv['from-src'] ? ['--from-src'] : []),
  ].join(' ');
  const report = await runE2e({
    datasets, stages, sides: argv.trl ? ['ours', 'trl'] : ['ours'], rounds: argv.rounds, seeds, model: argv.model, python, rlhf,
    long: { dir: argv['long-dir'], train: argv['long-train'], eval: argv['long-eval'], seed: argv['long-seed'] },
    shipped: { train: argv.train, eval: argv.eval }, settings, workDir: argv['work-dir'], backend: argv.backend, torchMklIntelPath: argv['torch-mkl-intel-path'], command,
    log: (l) => process.stderr.write(l + '\n'),
  });
  if (argv.out) fs.writeFileSync(argv.out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(argv.json ? JSON.stringify(report) + '\n' : e2eMarkdown(report));
  return report.runs.some((r) => r.error) ? 1 : 0;
}

run().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`bench:e2e: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
