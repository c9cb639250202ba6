/**
 * Full disks and read-only output folders, on real training runs (child processes, tiny reward stage).
 *
 * With root and a working `mount -t tmpfs` (the usual case in this project's container), a 3 MB tmpfs:
 *  - the disk fills while the third checkpoint is written: a CheckpointError naming the folder and
 *    "no space left on the device"; the two earlier checkpoints load, no temp folder is left, and after
 *    the disk grows, resuming finishes bit-identical to an uninterrupted run (nothing was lost);
 *  - the same tmpfs remounted read-only: resuming, or starting a new run in it, gives an error naming
 *    the folder (EROFS), and the earlier outputs are unchanged.
 * Without them, the same tests run their fallback variant, picked when the file loads and named in the test
 * name: the disk-full cases through a file-size limit (`ulimit -f`: write() fails with EFBIG), the read-only
 * case through chmod 0555 (which only binds non-root users; as root without a tmpfs it has no variant and is
 * gated, see helpers/gates.ts). So a run shows no skip where either variant can run.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { testIf, type Requirement } from '../helpers/gates';
import { checkRunFolder, losses, PREFS, runChild, weightsOf } from './helpers/runs';
import type { ChildJob } from './helpers/train-child';

jest.setTimeout(120_000);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rlhf-disk-'));
const mnt = path.join(root, 'mnt');
fs.mkdirSync(mnt);

function tryMount(): string | null {
  if (process.env.RELIABILITY_NO_MOUNT) return 'RELIABILITY_NO_MOUNT is set';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=3m', 'tmpfs', mnt], { stdio: 'pipe' });
    return null;
  } catch (e) {
    return `mount -t tmpfs failed (${String((e as { stderr?: Buffer }).stderr ?? e).trim()})`;
  }
}
const noMount = tryMount();
if (noMount) process.stdout.write(`disk.test: ${noMount}; using ulimit -f (EFBIG) for the full disk and chmod 0555 for read-only\n`);

afterAll(() => {
  if (!noMount) spawnSync('umount', [mnt]);
  fs.rmSync(root, { recursive: true, force: true });
});

const job = (out: string, extra: Partial<ChildJob> = {}): ChildJob => ({ stage: 'reward', out, data: PREFS, steps: 8, saveSteps: 1, keep: 2, ...extra });

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of fs.readdirSync(dir, { recursive: true }).map(String)) {
    const st = fs.lstatSync(path.join(dir, p));
    out[p] = `${st.size} ${st.mtimeMs}`;
  }
  return out;
}

/** Runs `bash -c 'ulimit -f KiB; exec child'`: every file the child writes is limited to `kib` KiB. */
const fileSizeLimit = (kib: number) => ['bash', '-c', `ulimit -f ${kib}; exec "$@"`, 'bash'];

const tmpfs = noMount === null;

async function diskFullOnTmpfs(): Promise<void> {
  const ref = path.join(root, 'ref');
  expect((await runChild(job(ref))).stdout).toMatch(/DONE /);
  const out = path.join(mnt, 'run');
  const r = await runChild(job(out));
  expect(r.code).toBe(1);
  const line = /ERROR (.*)/.exec(r.stdout)![1];
  expect(line).toMatch(new RegExp(`^CheckpointError: checkpoint ${out}/checkpoint-3: could not (write the checkpoint files|flush the files to disk): no space left on the device( \\(.*\\))?; free some space or choose another --out\\. The previous checkpoint \\(if any\\) is unchanged$`));
  expect(r.stdout).not.toMatch(/STACK/);
  const left = checkRunFolder(out);
  expect(left.checkpoints).toEqual([1, 2]);
  expect(left.leftovers).toEqual([]);
  // More space, then resume: the finished run equals the uninterrupted one.
  execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
  const again = await runChild(job(out, { resume: true }));
  expect(again.stdout).toMatch(/DONE /);
  const a = weightsOf(path.join(ref, 'final'));
  const b = weightsOf(path.join(out, 'final'));
  for (const [k, v] of a) expect(Buffer.from(b.get(k)!.buffer).equals(Buffer.from(v.buffer))).toBe(true);
  expect(losses(out)).toEqual(losses(ref));
}

async function diskFullByFileSizeLimit(): Promise<void> {
  const out = path.join(root, 'efbig');
  // 600 KiB: model.safetensors (430 KB) fits, optimizer.safetensors (860 KB) does not.
  const r = await runChild(job(out), undefined, fileSizeLimit(600));
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(new RegExp(`^ERROR CheckpointError: checkpoint ${out}/checkpoint-1: could not write the checkpoint files: a file size limit was hit`, 'm'));
  expect(checkRunFolder(out).leftovers).toEqual([]);
  expect(losses(out)).toHaveLength(1);
}

test(tmpfs
  ? 'disk full during the third checkpoint (3 MB tmpfs, ENOSPC): clear error, earlier checkpoints intact, resume loses nothing'
  : `disk full during the first checkpoint (fallback, ${noMount}: a file-size limit, ulimit -f, EFBIG): clear error, metrics intact`,
tmpfs ? diskFullOnTmpfs : diskFullByFileSizeLimit);

async function metricsFullOnTmpfs(): Promise<void> {
  execFileSync('mount', ['-o', 'remount,size=16m', mnt]);
  const out = path.join(mnt, 'run-metrics');
  fs.mkdirSync(out);
  // Leave one 4 KiB page: about 16 metrics rows fit, 40 steps do not (and save_steps 0 writes no checkpoint).
  const st = fs.statfsSync(mnt);
  fs.writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(st.bavail * st.bsize - 4096));
  try {
    const r = await runChild(job(out, { steps: 40, saveSteps: 0 }));
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^ERROR RunFolderError: ${out}/metrics\\.jsonl: could not write \\(no space left on the device\\); free some space or choose another --out`, 'm'));
  } finally {
    fs.rmSync(path.join(mnt, 'filler'));
  }
}

async function metricsFullByFileSizeLimit(): Promise<void> {
  const out = path.join(root, 'efbig-metrics');
  // 4 KiB per file: about 16 metrics rows fit, 40 steps do not (and save_steps 0 writes no checkpoint).
  const r = await runChild(job(out, { steps: 40, saveSteps: 0 }), undefined, fileSizeLimit(4));
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(new RegExp(`^ERROR RunFolderError: ${out}/metrics\\.jsonl: could not write \\(a file size limit was hit \\(ulimit -f or the filesystem's maximum\\)\\); free some space or choose another --out`, 'm'));
}

test(tmpfs
  ? 'disk full while appending to metrics.jsonl (tmpfs, ENOSPC): a RunFolderError naming the file'
  : `file-size limit while appending to metrics.jsonl (fallback, ${noMount}: ulimit -f, EFBIG): a RunFolderError naming the file`,
tmpfs ? metricsFullOnTmpfs : metricsFullByFileSizeLimit);

async function readOnlyTmpfs(): Promise<void> {
  const out = path.join(mnt, 'run-ro');
  execFileSync('mount', ['-o', 'remount,size=16m', mnt]); // room for it, whatever the test before left
  expect((await runChild(job(out, { steps: 3 }))).stdout).toMatch(/DONE /);
  execFileSync('mount', ['-o', 'remount,ro', mnt]);
  try {
    const before = snapshot(out);
    const resumed = await runChild(job(out, { steps: 3, resume: true }));
    expect(resumed.code).toBe(1);
    // The output-folder lock (io/lock.ts) is the first write, so its error class reports it.
    expect(resumed.stdout).toMatch(new RegExp(`^ERROR FolderLockError: output folder ${out} cannot be written \\(EROFS\\); choose another --out$`, 'm'));
    const fresh = path.join(mnt, 'run-new');
    const started = await runChild(job(fresh, { steps: 3 }));
    expect(started.code).toBe(1);
    expect(started.stdout).toMatch(new RegExp(`^ERROR FolderLockError: output folder ${fresh} cannot be written \\(EROFS at ${mnt}\\); choose another --out$`, 'm'));
    expect(snapshot(out)).toEqual(before);
    expect(checkRunFolder(out).checkpoints).toEqual([1, 2]);
  } finally {
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
  }
}

async function readOnlyByChmod(): Promise<void> {
  const parent = path.join(root, 'ro');
  fs.mkdirSync(parent);
  fs.chmodSync(parent, 0o555);
  try {
    const out = path.join(parent, 'run');
    const r = await runChild(job(out, { steps: 2 }));
    expect(r.stdout).toMatch(new RegExp(`^ERROR FolderLockError: output folder ${out} cannot be written \\(EACCES\\)`, 'm'));
  } finally {
    fs.chmodSync(parent, 0o755);
  }
}

/** chmod 0555 binds only non-root users: as root without a tmpfs there is no way to make a folder read-only. */
const chmodBinds: Requirement = {
  name: 'a read-only folder for the run (a tmpfs remounted read-only as root, or chmod 0555 as a non-root user)',
  missing: () => (process.getuid?.() === 0 ? `tmpfs: ${noMount}; chmod 0555 does not bind root` : null),
  fix: 'run as root where `mount -t tmpfs` works, or as a non-root user',
};

if (tmpfs) test('read-only filesystem (tmpfs remounted ro, EROFS): resume and a new run both fail naming the folder; earlier outputs unchanged', readOnlyTmpfs);
else testIf(chmodBinds, `read-only folder (fallback, ${noMount}: chmod 0555, EACCES): a new run fails naming the folder`, readOnlyByChmod);
