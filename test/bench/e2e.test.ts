/**
 * The end-to-end benchmark (src/bench/e2e.ts): both sides get the same settings (checked on the command line and
 * job file each is given), results are aggregated and printed from hand-made runs (no processes), and, where
 * Python with TRL and stories260K are present, a tiny whole run of both toolkits on generated long-prompt data
 * through bench/measure.py: the same pairs kept on both sides, every figure present. No timing is asserted.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  buildE2eReport, e2eMarkdown, E2E_DEFAULTS, oursAccuracy, oursArgs, oursPhases, runE2e, shuffledCopy, sideOrder, sideRow, trlJob, REPO_ROOT, type E2eRun,
} from '../../src/bench/e2e';
import { parseSetOption } from '../../src/recipes/load';
import { allOf, describeIf } from '../helpers/gates';
import { pythonWith, PYTHON } from '../helpers/python';
import { sharedFiles, sharedPath } from '../helpers/shared';

const files = { model: '/m', train: '/t.jsonl', eval: '/e.jsonl', out: '/o' };

describe('e2e: the same run on both sides', () => {
  test("our command line: TRL's settings, over-long pairs dropped, no prompt limit; DPO with β, sigmoid and precomputed reference", () => {
    const a = oursArgs('dpo', E2E_DEFAULTS, files, 'tensorflow');
    expect(a.slice(0, 10)).toEqual(['dpo', '--model', '/m', '--data', '/t.jsonl', '--eval-data', '/e.jsonl', '--out', '/o', '--overwrite']);
    const flag = (f: string) => a[a.indexOf(f) + 1];
    expect([flag('--epochs'), flag('--batch-size'), flag('--lr'), flag('--max-length'), flag('--seed'), flag('--beta'), flag('--loss-type'), flag('--backend')])
      .toEqual(['1', '8', '0.0005', '512', '42', '0.1', 'sigmoid', 'tensorflow']);
    // every --set parses to the recipe value TRL's job file carries
    const sets = Object.fromEntries(a.flatMap((x, i) => (x === '--set' ? [parseSetOption(a[i + 1])] : [])).map((o) => [o.key, o.value]));
    expect(sets).toEqual({
      'dpo.lr_scheduler_type': 'cosine', 'dpo.warmup_steps': 0, 'dpo.weight_decay': 0, 'dpo.max_grad_norm': 1, 'dpo.logging_steps': 10,
      'dpo.max_prompt_length': null, 'dpo.truncation_mode': 'drop', 'dpo.shuffle': false, 'dpo.precompute_ref_log_probs': true,
    });
    const reward = oursArgs('reward', E2E_DEFAULTS, files);
    expect(reward).not.toContain('--beta');
    expect(reward).not.toContain('--backend');
    expect(reward).toContain('reward.truncation_mode="drop"');
    expect(trlJob('dpo', E2E_DEFAULTS, files)).toEqual({
      stage: 'dpo', ...files, epochs: 1, batch_size: 8, learning_rate: 5e-4, lr_scheduler_type: 'cosine', warmup_steps: 0, weight_decay: 0,
      max_grad_norm: 1, max_length: 512, seed: 42, logging_steps: 10, beta: 0.1, loss_type: 'sigmoid', precompute_ref_log_probs: true, paired: true,
    });
    // unpaired: each side shuffles by itself
    expect(oursArgs('reward', { ...E2E_DEFAULTS, paired: false }, files).join(' ')).not.toContain('shuffle');
  });

  test('paired order: the train file\'s lines in one seeded order, the same for every call; not JSONL is an error that says what to do', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-order-'));
    const src = path.join(dir, 'train.jsonl');
    const rows = Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt: `p${i}`, chosen: 'a', rejected: 'b' }));
    fs.writeFileSync(src, rows.join('\n') + '\n\n');
    const a = fs.readFileSync(shuffledCopy(src, 42, path.join(dir, 'a', 'train.jsonl')), 'utf8').trim().split('\n');
    const b = fs.readFileSync(shuffledCopy(src, 42, path.join(dir, 'b', 'train.jsonl')), 'utf8').trim().split('\n');
    const c = fs.readFileSync(shuffledCopy(src, 7, path.join(dir, 'c', 'train.jsonl')), 'utf8').trim().split('\n');
    expect(a).toEqual(b);
    expect([...a].sort()).toEqual([...rows].sort());
    expect(a).not.toEqual(rows);
    expect(c).not.toEqual(a);
    expect(() => shuffledCopy(path.join(dir, 'train.parquet'), 42, path.join(dir, 'd.jsonl'))).toThrow(/must be \.jsonl; convert it or pass --no-paired/);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("our phases: the summary's phase object when there is one, else the training loop and the rest", () => {
    expect(oursPhases({ wall_seconds: 3.5 }, 5.75)).toMatchObject({ phases: { train_loop: 3.5, rest_of_process: 2.25 } });
    expect(oursPhases({ wall_seconds: 3.5, phases: { load: 1, reference: 0.5, train: 3, eval: 0.2 } }, 6)).toEqual({
      phases: { load: 1, reference: 0.5, train: 3, eval: 0.2 }, from: 'summary.json phases',
    });
    expect(oursPhases({ phase_seconds: { train: 2 } }, 3).from).toBe('summary.json phase_seconds');
    expect(oursPhases({}, 3).phases).toEqual({ train_loop: null, rest_of_process: null });
    expect(oursAccuracy('reward', { eval: { eval_accuracy: 0.8 } })).toBe(0.8);
    expect(oursAccuracy('dpo', { eval: { 'eval_rewards/accuracies': 0.75, eval_accuracy: 0.1 } })).toBe(0.75);
    expect(oursAccuracy('dpo', { eval: null })).toBeNull();
  });
});

describe('e2e: report', () => {
  const run = (side: 'ours' | 'trl', round: number, wall: number, extra: Partial<E2eRun> = {}): E2eRun => ({
    dataset: 'long', stage: 'reward', side, round, seed: 42, command: 'x', exit_code: 0, wall_s: wall, cpu_s: wall * 1.5, peak_rss_mib: side === 'ours' ? 800 + round : 1500,
    eval_accuracy: side === 'ours' ? 0.9 : 0.885, eval_loss: side === 'ours' ? 0.35 : 0.36, records: { train: 100, eval: 20 }, train_pairs: 64, eval_pairs: 13, steps: 8, tokens: 50000,
    phases: side === 'ours' ? { train_loop: wall / 2, rest_of_process: wall / 2 } : { imports: 10, train: wall - 10 },
    phases_from: side === 'ours' ? 'summary.json wall_seconds' : 'bench/trl_e2e.py', runtime: side, load1: 1.2 + round / 10, ...extra,
  });
  const runs = [run('ours', 1, 10), run('trl', 1, 50), run('ours', 2, 12), run('trl', 2, 40), run('ours', 3, 11), run('trl', 3, 45, { error: 'exited with 1: boom', wall_s: NaN })];
  const report = buildE2eReport({ model: '/m', settings: E2E_DEFAULTS, command: 'npm run bench:e2e', datasets: ['long'], stages: ['reward'] }, { long: { train: '/t', eval: '/e' } } as never, runs);

  test('medians over the successful rounds, speed-up = TRL / ours, accuracy difference in points', () => {
    const row = report.rows[0];
    expect(row.ours).toMatchObject({ rounds: 3, wall_s: 11, cpu_s: 16.5, peak_rss_mib: 803, eval_accuracy: 0.9, train_pairs: 64, phases: { train_loop: 5.5, rest_of_process: 5.5 } });
    expect(row.trl).toMatchObject({ rounds: 2, wall_s: 45, peak_rss_mib: 1500, phases: { imports: 10, train: 35 } });
    expect(row.speedup).toBe(+(45 / 11).toFixed(2));
    expect(row.cpu_speedup).toBe(+(67.5 / 16.5).toFixed(2));
    expect(row.accuracy_delta_points).toBe(1.5);
    expect(report.load_avg).toEqual({ min: 1.3, max: 1.5 });
    expect(sideRow([run('trl', 1, 5, { error: 'x' })])).toBeNull();
  });

  test('markdown: the command, the settings, one row per data set and stage, phases and failures', () => {
    const md = e2eMarkdown(report);
    expect(md).toMatch(/^Measured \d{4}-\d\d-\d\d with `npm run bench:e2e`; 1-minute load average 1\.3–1\.5/);
    expect(md).toContain('One epoch, batch 8, lr 0.0005 cosine, warmup 0, max_length 512 (longer pairs dropped on both sides), DPO sigmoid β 0.1 with precomputed reference log-probs, seed 42.');
    expect(md).toContain('| long-prompt (generated) | reward | 64+13 / 64+13 | 50,000 / 50,000 | 11.0 | 45.0 | 4.09x | 16.5 / 67.5 | 90.0% | 88.5% | +1.5 | 0.3500 / 0.3600 | 803 / 1,500 |');
    expect(md).toContain('Paired: the train file shuffled once (seeded) and read in that order on both sides;');
    expect(md).toContain('- long reward, ours: train_loop 5.5, rest_of_process 5.5');
    expect(md).toContain('Our phases from summary.json wall_seconds. ');
    expect(md).toContain('- long reward, TRL: imports 10.0, train 35.0');
    expect(md).toContain('Failed: long reward trl round 3: exited with 1: boom');
    expect(md).not.toContain('by seed');
    expect(report.rows[0].by_seed).toEqual([{ seed: 42, ours: { eval_accuracy: 0.9, eval_loss: 0.35 }, trl: { eval_accuracy: 0.885, eval_loss: 0.36 }, accuracy_delta_points: 1.5 }]);
  });

  test('which side goes first alternates turn by turn, over rounds and seeds alike', () => {
    expect([1, 2, 3, 4].map((t) => sideOrder(['ours', 'trl'], t)[0])).toEqual(['ours', 'trl', 'ours', 'trl']);
    expect(sideOrder(['ours'], 2)).toEqual(['ours']);
  });

  test('several seeds: accuracy and loss are means over the seeds (each seed the median of its rounds), times medians over every run, a table seed by seed', () => {
    // seed 1: ours 0.70 and 0.72 over two rounds (median 0.71), TRL 0.78; seed 2: ours 0.80, TRL 0.74; seed 3: ours 0.75, TRL failed
    const at = (side: 'ours' | 'trl', seed: number, round: number, wall: number, acc: number, extra: Partial<E2eRun> = {}) => run(side, round, wall, { seed, eval_accuracy: acc, eval_loss: 1 - acc, ...extra });
    const seeded = [
      at('ours', 1, 1, 10, 0.7), at('ours', 1, 2, 30, 0.72), at('trl', 1, 1, 50, 0.78), at('ours', 2, 1, 20, 0.8), at('trl', 2, 1, 70, 0.74),
      at('ours', 3, 1, 12, 0.75), at('trl', 3, 1, 60, 0.1, { error: 'exited with 1: boom', wall_s: NaN }),
    ];
    const r = buildE2eReport({ model: '/m', settings: E2E_DEFAULTS, command: 'c', datasets: ['long'], stages: ['reward'], seeds: [1, 2, 3] }, { long: { train: '/t', eval: '/e' } } as never, seeded);
    expect([r.seeds, r.settings.seed]).toEqual([[1, 2, 3], 1]);
    const row = r.rows[0];
    expect(row.ours!.eval_accuracy).toBeCloseTo((0.71 + 0.8 + 0.75) / 3, 12);
    expect(row.ours!.eval_loss).toBeCloseTo((0.29 + 0.2 + 0.25) / 3, 12);
    expect(row.trl!.eval_accuracy).toBeCloseTo((0.78 + 0.74) / 2, 12);
    expect([row.ours!.wall_s, row.trl!.wall_s, row.ours!.rounds]).toEqual([16, 60, 4]); // ours 10, 30, 20, 12 s
    expect(row.by_seed.map((b) => [b.seed, b.ours?.eval_accuracy, b.trl?.eval_accuracy ?? null, b.accuracy_delta_points])).toEqual([
      [1, 0.71, 0.78, -7], [2, 0.8, 0.74, 6], [3, 0.75, null, null],
    ]);
    const md = e2eMarkdown(r);
    expect(md).toContain('seeds 1, 2, 3 (the whole comparison once per seed)');
    expect(md).toContain('Accuracy and loss: means over the 3 seeds');
    expect(md).toContain('| long-prompt (generated) | reward | 1 | 71.0% | 78.0% | -7.0 | 0.2900 / 0.2200 |');
    expect(md).toContain('| long-prompt (generated) | reward | 3 | 75.0% | — | — | 0.2500 / — |');
    // Δ over the two seeds with both sides: -7 and +6, mean -0.5, sd sqrt(((−6.5)² + 6.5²) / 1) = 9.19, se 6.5
    expect(md).toContain('- long reward: ours ahead on 1, TRL on 1, level on 0 of 2 seeds; Δ mean -0.5 points, standard deviation over seeds 9.2, standard error of the mean 6.5.');
    expect(md).toContain('Failed: long reward trl seed 3 round 1: exited with 1: boom');
    expect(() => buildE2eReport({ model: '/m', settings: E2E_DEFAULTS, datasets: ['long'], stages: ['reward'], seeds: [1, 1] }, {} as never, [])).toThrow(/seeds 1,1: expected distinct integers >= 0/);
  });
});

describeIf(allOf(pythonWith(['torch', 'transformers', 'trl', 'datasets']), sharedFiles('models/stories260K/hf/config.json', 'models/stories260K/hf/model.safetensors', 'models/stories260K/hf/tokenizer.json')),
  'e2e: a tiny whole run of both toolkits', () => {
    let dir: string;
    beforeAll(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('reward and DPO on generated long-prompt data: same pairs kept, accuracies, times and peak RSS on both sides', async () => {
      const lines: string[] = [];
      const report = await runE2e({
        datasets: ['long'], stages: ['reward', 'dpo'], sides: ['ours', 'trl'], rounds: 1, model: sharedPath('models', 'stories260K', 'hf'), python: PYTHON,
        rlhf: [process.execPath, path.join(REPO_ROOT, 'bench', 'run-ts.js'), path.join(REPO_ROOT, 'bench', 'rlhf-src.ts')],
        long: { dir: path.join(dir, 'data'), train: 20, eval: 10, seed: 5 }, shipped: { train: '', eval: '' },
        settings: E2E_DEFAULTS, workDir: path.join(dir, 'runs'), log: (l) => lines.push(l),
      });
      expect(report.runs.filter((r) => r.error)).toEqual([]);
      expect(report.runs).toHaveLength(4);
      for (const r of report.runs) {
        expect([r.exit_code, r.wall_s > 0, r.cpu_s > 0, r.peak_rss_mib > 50]).toEqual([0, true, true, true]);
        expect(r.records).toEqual({ train: 20, eval: 10 });
        expect(r.eval_accuracy).toBeGreaterThanOrEqual(0);
        expect(r.eval_accuracy).toBeLessThanOrEqual(1);
        expect(r.steps).toBe(Math.ceil(r.train_pairs! / 8));
      }
      for (const row of report.rows) {
        // The same filter on both sides (prompt + completion over 512 tokens dropped) keeps the same pairs; their
        // token counts differ only where the two tokenise the prompt/completion boundary differently.
        expect(row.ours!.train_pairs).toBe(row.trl!.train_pairs);
        expect(row.ours!.eval_pairs).toBe(row.trl!.eval_pairs);
        expect(row.ours!.train_pairs).toBeLessThan(20); // the data's long tail is over max_length
        expect(Math.abs(row.ours!.tokens! - row.trl!.tokens!) / row.trl!.tokens!).toBeLessThan(0.02);
        expect(row.speedup).toBeCloseTo(row.trl!.wall_s / row.ours!.wall_s, 1);
        // each side's own clock ran inside the time measured from outside
        expect(row.trl!.phases.total_in_process!).toBeLessThan(row.trl!.wall_s);
        expect(row.ours!.phases.train_loop ?? Object.values(row.ours!.phases)[0]).toBeGreaterThan(0);
      }
      expect(report.rows.find((r) => r.stage === 'dpo')!.trl!.phases.reference).toBeGreaterThan(0);
      // Paired (the default): one order, one tokenizer.json and one initial reward model, so both sides train the same
      // model on the same ids: held-out losses agree to float rounding (two seeds' draws would differ by far more).
      expect(report.paired_start).toEqual({ policy: path.join(dir, 'runs', 'paired-start', 'policy'), reward: path.join(dir, 'runs', 'paired-start', 'reward') });
      const lossGap = (stage: string) => {
        const row = report.rows.find((r) => r.stage === stage)!;
        return { stage, ours: row.ours!.eval_loss!, trl: row.trl!.eval_loss!, gap: Math.abs(row.ours!.eval_loss! - row.trl!.eval_loss!) / row.trl!.eval_loss! };
      };
      for (const [stage, most] of [['reward', 1e-4], ['dpo', 1e-4]] as const) {
        const g = lossGap(stage);
        expect({ ...g, within: g.gap <= most }).toEqual({ ...g, within: true }); // the values show when it fails
      }
      for (const row of report.rows) expect([row.stage, row.ours!.eval_accuracy, row.ours!.tokens]).toEqual([row.stage, row.trl!.eval_accuracy, row.trl!.tokens]);
      const md = e2eMarkdown(report);
      expect(md.split('\n').filter((l) => l.startsWith('| long-prompt (generated) |'))).toHaveLength(2);
      expect(lines.some((l) => l.startsWith('[ours dpo] step'))).toBe(true);
    }, 900000);
  });

describeIf(sharedFiles('models/stories260K/hf/config.json', 'models/stories260K/hf/model.safetensors', 'models/stories260K/hf/tokenizer.json'),
  'e2e: several seeds, ours alone', () => {
    test('each seed runs with its own seed in its own folder, and the report gives each seed\'s accuracy', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'e2e-seeds-'));
      try {
        const report = await runE2e({
          datasets: ['long'], stages: ['reward'], sides: ['ours'], rounds: 1, seeds: [3, 4], model: sharedPath('models', 'stories260K', 'hf'), python: PYTHON,
          rlhf: [process.execPath, path.join(REPO_ROOT, 'bench', 'run-ts.js'), path.join(REPO_ROOT, 'bench', 'rlhf-src.ts')],
          long: { dir: path.join(dir, 'data'), train: 24, eval: 10, seed: 5 }, shipped: { train: '', eval: '' },
          settings: { ...E2E_DEFAULTS, paired: false }, workDir: path.join(dir, 'runs'), log: () => undefined,
        });
        expect(report.runs.filter((r) => r.error)).toEqual([]);
        expect(report.runs.map((r) => [r.seed, r.command.includes(`--seed ${r.seed} `), r.command.includes(path.join(dir, 'runs', `seed-${r.seed}`))])).toEqual([[3, true, true], [4, true, true]]);
        expect(report.seeds).toEqual([3, 4]);
        const row = report.rows[0];
        expect(row.by_seed.map((b) => b.seed)).toEqual([3, 4]);
        const accs = report.runs.map((r) => r.eval_accuracy!);
        expect(row.by_seed.map((b) => b.ours!.eval_accuracy)).toEqual(accs);
        expect(row.ours!.eval_accuracy).toBeCloseTo((accs[0] + accs[1]) / 2, 12);
        expect(row.trl).toBeNull();
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 300000);
  });
