/**
 * The CLI on hostile inputs (cases from test/fixtures/hostile/cases.ts): `rlhf ...` run as a child process
 * exactly as bin/rlhf.js runs it (main(argv) -> exit code), over a transpiled copy of the sources.
 * Each must exit 1 with one line on stderr ("error: <file>: <what is wrong; what was expected>"), no stack
 * trace and no "internal" marker, and write nothing.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { HOSTILE_CASES, hfFolder, BYTE_TOKENIZER_JSON, symlinkTo } from '../fixtures/hostile/cases';
import { buildForChildren, childEnv, REPO } from './helpers/build';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-cli-hostile-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let cliScript: string;
beforeAll(() => {
  cliScript = path.join(buildForChildren(), 'test/reliability/helpers/cli-child.js');
});

function listAll(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true }).map(String).sort();
}

async function inputOf(id: string): Promise<string[]> {
  const c = HOSTILE_CASES.find((x) => x.id === id)!;
  const dir = path.join(root, id);
  fs.mkdirSync(dir);
  const built = await c.build(dir);
  return built.cli!;
}

const CASES: Array<[string, () => Promise<string[]>, RegExp]> = [
  ['generate --model: sharded index pointing at ../../etc/passwd', () => inputOf('hf-index-escape'), /model\.safetensors\.index\.json: weight_map\["model\.norm\.weight"\] is "\.\.\/\.\.\/etc\/passwd"; expected a file name inside the folder/],
  ['generate --model: llama2.c header of a 7B model in a 1 KB file', async () => {
    const dir = path.join(root, 'l2c');
    fs.mkdirSync(dir);
    await (HOSTILE_CASES.find((x) => x.id === 'l2c-7b-claim')!.build(dir));
    return ['generate', '--model', path.join(dir, 'model.bin'), '--max-new-tokens', '1'];
  }, /model\.bin: header \[4096,11008,32,32,32,32000,2048\] implies 26430423068 bytes but the file has 1052/],
  ['generate --model: config.json vocab smaller than the tokenizer', () => inputOf('ckpt-vocab-below-tokenizer'), /its vocabulary has 100 entries but the tokenizer \(byte\) has 259/],
  ['generate --tokenizer: tokenizer.bin -> /dev/zero', async () => {
    const dir = path.join(root, 'devzero-tok');
    hfFolder(path.join(dir, 'model'));
    fs.writeFileSync(path.join(dir, 'model', 'byte_tokenizer.json'), BYTE_TOKENIZER_JSON);
    symlinkTo(path.join(dir, 'tokenizer.bin'), '/dev/zero');
    return ['generate', '--model', path.join(dir, 'model'), '--tokenizer', path.join(dir, 'tokenizer.bin'), '--max-new-tokens', '1'];
  }, /tokenizer\.bin: is not a regular file \(a device, FIFO or socket\)/],
  ['data inspect: datasets state.json naming ../../etc/passwd', () => inputOf('data-state-escape'), /state\.json: _data_files\[0\]\.filename is "\.\.\/\.\.\/etc\/passwd"/],
  ['recipe check: recipe nested 100,000 deep', () => inputOf('recipe-deep'), /recipe\.json: nests deeper than 100 levels/],
  ['reward --data: invalid UTF-8 on line 2', async () => {
    const args = await inputOf('data-bad-utf8');
    return ['reward', '--data', args[2], '--out', path.join(root, 'reward-out'), '--model', 'config:tiny'];
  }, /prefs\.jsonl:2: invalid UTF-8 at byte offset 12 of the line/],
];

describe('rlhf on hostile inputs: exit code 1, one line on stderr, no stack', () => {
  test.each(CASES)('%s', async (_name, args, message) => {
    const argv = await args();
    const before = listAll(root);
    const r = spawnSync(process.execPath, [cliScript, ...argv], { env: childEnv(), encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/oneDNN|absl::|^WARNING: All log messages/.test(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^error: /);
    expect(lines[0]).toMatch(message);
    expect(lines[0]).not.toMatch(/internal \w*Error|\bat .*\.js:\d+/);
    // Nothing written, except an empty output folder a training command may have created before reading its data.
    const after = listAll(root).filter((p) => !before.includes(p));
    expect(after.every((p) => fs.statSync(path.join(root, p)).isDirectory() && fs.readdirSync(path.join(root, p)).length === 0)).toBe(true);
  });
});

test('the child runs the same main() as bin/rlhf.js', () => {
  const bin = fs.readFileSync(path.join(REPO, 'bin/rlhf.js'), 'utf8');
  expect(bin).toMatch(/require\('\.\.\/dist\/cli\/main\.js'\)\s*\.main\(process\.argv\.slice\(2\)\)/);
});
