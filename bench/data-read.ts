/**
 * Read throughput and peak memory of the data layer on a generated preference JSONL.
 *
 *   node bench/run-ts.js bench/data-read.ts [--records 200000] [--dir /tmp]
 *
 * Does: write N explicit-prompt records (prompt ~150 B, completions ~100-300 B, 1 in 10 conversational,
 * some with margin/subset) to JSONL and JSONL.gz, then in a fresh child process per case time
 *   baseline — modules loaded, nothing read (the RSS floor: node + TypeScript transpiler + modules)
 *   stream  — readPreferences, counting records (what inspect/convert do)
 *   gzip    — the same from .jsonl.gz
 *   load    — loadPreferences, all records kept in memory (what training does)
 *   inspect — inspectData with the byte tokenizer (tokenises every record)
 * and print one JSON line per case: records/s and peak RSS (getrusage maxRSS of that child).
 * Does NOT assert anything or compare against other tools.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { mulberry32 } from '../src/data/rng';

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : dflt;
}

const WORDS = 'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(' ');

function sentence(rng: () => number, bytes: number): string {
  let s = '';
  while (s.length < bytes) s += WORDS[Math.floor(rng() * WORDS.length)] + ' ';
  return s.trim();
}

async function generate(file: string, n: number): Promise<void> {
  const rng = mulberry32(1);
  const out = fs.createWriteStream(file);
  const gz = zlib.createGzip();
  gz.pipe(fs.createWriteStream(file + '.gz'));
  for (let i = 0; i < n; i++) {
    const p = sentence(rng, 100 + rng() * 100);
    const c = sentence(rng, 100 + rng() * 200);
    const r = sentence(rng, 100 + rng() * 200);
    const rec: Record<string, unknown> =
      i % 10 === 0
        ? { prompt: [{ role: 'user', content: p }], chosen: [{ role: 'assistant', content: c }], rejected: [{ role: 'assistant', content: r }] }
        : { prompt: p, chosen: c, rejected: r };
    if (i % 3 === 0) rec.margin = rng();
    if (i % 4 === 0) rec.subset = ['a', 'b', 'c'][i % 3];
    const line = JSON.stringify(rec) + '\n';
    if (!gz.write(line)) await new Promise<void>((res) => gz.once('drain', () => res()));
    if (!out.write(line)) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res) => { out.end(() => res()); });
  await new Promise((res) => { gz.end(); gz.once('end', res); });
  await new Promise((res) => setTimeout(res, 200));
}

async function child(kind: string, file: string): Promise<void> {
  const { readPreferences, loadPreferences, newReadStats } = await import('../src/data/read');
  const { inspectData } = await import('../src/data/inspect');
  const t0 = process.hrtime.bigint();
  let n = 0;
  if (kind === 'stream' || kind === 'gzip') {
    const stats = newReadStats();
    for await (const _r of readPreferences(kind === 'gzip' ? file + '.gz' : file, {}, stats)) n++;
  } else if (kind === 'baseline') {
    // Modules loaded (incl. the TypeScript compiler run-ts.js uses), nothing read: the floor under the others.
  } else if (kind === 'load') {
    n = (await loadPreferences(file)).records.length;
  } else {
    n = (await inspectData(file)).records;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ case: kind, records: n, seconds: +s.toFixed(2), recordsPerSec: n ? Math.round(n / s) : 0, peakRssMiB: Math.round(rssMiB) }) + '\n');
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3], process.argv[4]);
  const n = Number(arg('records', '200000'));
  const dir = fs.mkdtempSync(path.join(arg('dir', os.tmpdir()), 'rlhf-bench-data-'));
  const file = path.join(dir, 'prefs.jsonl');
  try {
    process.stderr.write(`generating ${n} records in ${file} ...\n`);
    await generate(file, n);
    process.stderr.write(`${(fs.statSync(file).size / 1e6).toFixed(1)} MB (gz ${(fs.statSync(file + '.gz').size / 1e6).toFixed(1)} MB)\n`);
    for (const kind of ['baseline', 'stream', 'gzip', 'load', 'inspect']) {
      const r = spawnSync(process.execPath, [path.join(__dirname, 'run-ts.js'), __filename, '--child', kind, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      process.stdout.write(r.stdout);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
