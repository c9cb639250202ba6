/**
 * One run per output folder. A run that writes `<parent>/<name>/` holds the lock file `<parent>/.<name>.lock`
 * (beside the folder, so replacing or deleting the folder leaves it in place) holding its pid, host, start
 * time and command. A second run on the same folder fails at once, naming the holder and the way out.
 * Where the parent cannot be written but the folder can (a volume mounted at /output in a container whose
 * root is read-only), the lock is `<folder>/.rlhf-lock` instead, and clearOutputFolder keeps it.
 *   - created atomically: the content is written to a private temp file and hard-linked into place (link
 *     fails when the name exists), so a reader never sees a half-written lock; where a filesystem has no hard
 *     links, `open(..., 'wx')` then write (a reader that finds it empty retries briefly);
 *   - a lock whose pid is gone on this host (a killed run) is taken over, with a warning; the removal happens
 *     under a second exclusive file (`.<name>.lock.takeover`) after reading the lock again, so two runs that
 *     both found it stale cannot both take it;
 *   - a lock from another host is respected: its pid cannot be checked from here, so the message says so;
 *   - nested calls may take it again: withOutputLock inside withOutputLock on the same folder, in the same
 *     chain of async calls (`rlhf run` holds a stage folder, then the stage's trainer asks for it), runs
 *     inside the outer hold; any other second holder, in this process too, is refused;
 *   - released by release() (callers use try/finally: normal end, errors, and the training loop's stop on
 *     SIGINT/SIGTERM, which returns normally), at process.exit, and on a SIGINT/SIGTERM that nothing else
 *     handles (then the signal is raised again, so the process still ends as it would have).
 *
 * Does NOT: lock reads (loading a model another run is writing is the user's call), or protect against a
 * process that ignores the lock. A recycled pid that now belongs to another process keeps a dead run's lock
 * "alive"; the message names the lock file to delete then.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { AsyncLocalStorage } from 'async_hooks';
import { randomBytes } from 'crypto';
import { processAlive } from './checkpoint';
import { IoError } from '../util/errors';

export class FolderLockError extends IoError {}

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The command line that took it, for people reading the file. */
  command: string;
  /** Random: tells two locks of the same pid apart (a takeover re-checks it). */
  token: string;
}

export interface FolderLock {
  /** The lock file. */
  readonly file: string;
  /** The folder it guards. */
  readonly dir: string;
  /** Gives the lock up and deletes the file (a second call does nothing). */
  release(): void;
}

export interface LockOptions {
  /** Where the takeover of a dead run's lock is reported (default: stderr). */
  warn?: (line: string) => void;
  /** Test seam: the host name (default os.hostname()). */
  host?: string;
}

/** `/runs/rm` -> `/runs/.rm.lock`: the lock beside the folder, where it lives when the parent can be written. */
export function lockFileFor(dir: string): string {
  const abs = path.resolve(dir);
  if (path.dirname(abs) === abs) throw new FolderLockError(`${abs}: the root folder cannot be an output folder; choose another --out`);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lock`);
}

/** The lock's name inside the folder, when the parent cannot be written (never `.<name>.lock`: no clash with a subfolder's). */
export const INSIDE_LOCK = '.rlhf-lock';

/** Locks this process holds: output folder -> its lock file and what was written there. */
const held = new Map<string, { file: string; holder: LockHolder }>();
/** The output folders the current chain of async calls holds (withOutputLock), for nested calls. */
const chain = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Where the lock of `abs` goes, creating the folders it needs: beside the folder, else inside it when only
 * the folder can be written. Throws "output folder X cannot be written (EROFS); ..." when neither can.
 */
function placeLock(abs: string): string {
  const beside = lockFileFor(abs);
  const fail = (e: unknown): never => {
    throw new FolderLockError(`output folder ${abs} cannot be written (${whyNotWritable(abs, e as NodeJS.ErrnoException)}); choose another --out`);
  };
  try {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
  } catch (e) {
    fail(e);
  }
  if (writable(path.dirname(abs))) return beside;
  try {
    fs.mkdirSync(abs, { recursive: true });
    fs.accessSync(abs, fs.constants.W_OK);
  } catch (e) {
    fail(e);
  }
  return path.join(abs, INSIDE_LOCK);
}

/**
 * Why a folder cannot be created or written, for messages. The real reason: a recursive mkdir on a read-only
 * filesystem reports ENOENT, so ask the nearest existing folder. Example: "EROFS at /output".
 */
export function whyNotWritable(dir: string, e: NodeJS.ErrnoException): string {
  if (e.code !== 'ENOENT') return e.code ?? e.message;
  let d = path.dirname(dir);
  while (!fs.existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  try {
    fs.accessSync(d, fs.constants.W_OK);
  } catch (a) {
    return `${(a as NodeJS.ErrnoException).code ?? 'not writable'} at ${d}`;
  }
  return e.code;
}

function writable(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Takes the lock of output folder `dir` (creating its parent folder), or throws FolderLockError naming the
 * holder. Example message: "output folder /runs/rm is in use by another run: pid 4242 on host gpu1 since
 * 2025-01-02T10:00:00.000Z (rlhf reward --out /runs/rm); wait for it to finish or choose another --out. If
 * no such run exists, delete /runs/.rm.lock".
 */
export function lockOutputFolder(dir: string, o: LockOptions = {}): FolderLock {
  const abs = path.resolve(dir);
  const mine = held.get(abs);
  if (mine) {
    throw new FolderLockError(
      `output folder ${abs} is in use by another run in this process (pid ${mine.holder.pid}, since ${mine.holder.since}); ` +
        'wait for it to finish or choose another --out',
    );
  }
  const host = o.host ?? os.hostname();
  const warn = o.warn ?? ((line: string) => process.stderr.write(line + '\n'));
  const file = placeLock(abs);
  const create = (f: string, h: LockHolder): boolean => {
    try {
      return createFile(f, h);
    } catch (e) {
      throw new FolderLockError(`output folder ${abs} cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message} at ${f}); choose another --out`);
    }
  };
  const me: LockHolder = { pid: process.pid, host, since: new Date().toISOString(), command: commandLine(), token: randomBytes(8).toString('hex') };
  let removedStale: LockHolder | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (create(file, me)) {
      held.set(abs, { file, holder: me });
      watchExit();
      if (removedStale) {
        const s = removedStale;
        warn(`warning: output folder ${abs} was locked by pid ${s.pid} (host ${s.host}, since ${s.since}), which is no longer running; took the lock over`);
      }
      return handle(abs);
    }
    removedStale = null; // another run created its lock first (it is named below)
    const other = readHolder(file);
    if (other === 'missing') continue; // released between our try and the read: try again
    if (other === 'unreadable') {
      // Being written by a run on a filesystem without hard links, or garbage: wait, then name it.
      if (ageSeconds(file) < 5) {
        sleep(100);
        continue;
      }
      throw new FolderLockError(`output folder ${abs} has a lock file ${file} that is not a lock this toolkit wrote; if no run is using the folder, delete it`);
    }
    if (other.host !== host) {
      throw new FolderLockError(
        `output folder ${abs} is in use by a run on another host: pid ${other.pid} on host ${other.host} since ${other.since}` +
          ` (${other.command}); this host cannot check whether that run is still going. Wait for it, choose another --out, or if it has ended delete ${file}`,
      );
    }
    // Our own pid in a lock this process does not hold: a dead run of an earlier process with the same pid.
    if (other.pid !== process.pid && processAlive(other.pid)) {
      throw new FolderLockError(
        `output folder ${abs} is in use by another run: pid ${other.pid} on host ${other.host} since ${other.since}` +
          ` (${other.command}); wait for it to finish or choose another --out. If no such run exists, delete ${file}`,
      );
    }
    if (takeOver(file, other, me, create)) removedStale = other;
    else sleep(20); // another run is taking it over, or took it: see who holds it now
  }
  throw new FolderLockError(`output folder ${abs}: could not take the lock ${file} (other runs keep taking and releasing it); try again`);
}

function handle(dir: string): FolderLock {
  let released = false;
  return {
    file: held.get(dir)!.file,
    dir,
    release: () => {
      if (released) return;
      released = true;
      const h = held.get(dir);
      if (!h) return;
      held.delete(dir);
      removeIfOurs(h.file, h.holder);
      if (held.size === 0) unwatchExit();
    },
  };
}

/**
 * Runs `fn` holding the lock of `dir`, and releases it however `fn` ends. Called again for the same folder
 * from inside `fn` (its chain of async calls), it just runs the inner function: the outer call holds the lock.
 */
export async function withOutputLock<T>(dir: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const abs = path.resolve(dir);
  const outer = chain.getStore();
  if (outer?.has(abs)) return fn();
  const lock = lockOutputFolder(abs, o);
  try {
    return await chain.run(new Set([...(outer ?? []), abs]), fn);
  } finally {
    lock.release();
  }
}

/**
 * Throws FolderLockError when a live run (not this process) holds a lock inside `dir`: called before
 * `--overwrite` deletes a folder, so it never deletes the output of a run that is still writing
 * (e.g. `rlhf dpo --out runs/q/dpo` while `--out runs/q --overwrite` would remove runs/q).
 */
export function assertNoLiveLocksInside(dir: string, host: string = os.hostname()): void {
  for (const file of lockFilesInside(path.resolve(dir))) {
    const name = path.basename(file);
    const folder = name === INSIDE_LOCK ? path.dirname(file) : path.join(path.dirname(file), name.slice(1, -'.lock'.length));
    if (chain.getStore()?.has(folder)) continue; // the caller's own
    const h = readHolder(file);
    if (h === 'missing' || h === 'unreadable') continue;
    const live = h.pid === process.pid ? held.get(folder)?.holder.token === h.token : processAlive(h.pid);
    if (h.host === host && !live) continue;
    throw new FolderLockError(
      `--overwrite would delete ${folder}, which a run is writing: pid ${h.pid} on host ${h.host} since ${h.since} (${h.command});` +
        ` wait for it to finish or choose another --out. If no such run exists, delete ${file}`,
    );
  }
}

/**
 * `--overwrite`: deletes the output folder `dir` after assertNoLiveLocksInside, keeping this run's lock when
 * it lives inside the folder (.rlhf-lock). The caller holds the folder's lock.
 */
export function clearOutputFolder(dir: string): void {
  const abs = path.resolve(dir);
  assertNoLiveLocksInside(abs);
  const own = held.get(abs);
  if (!own || path.dirname(own.file) !== abs) {
    fs.rmSync(abs, { recursive: true, force: true });
    return;
  }
  for (const n of fs.readdirSync(abs)) if (n !== INSIDE_LOCK) fs.rmSync(path.join(abs, n), { recursive: true, force: true });
}

/** Lock files below `dir` (not following symbolic links; at most 100,000 entries looked at). */
function lockFilesInside(dir: string): string[] {
  const found: string[] = [];
  const stack = [dir];
  let seen = 0;
  while (stack.length && seen < 100_000) {
    const d = stack.pop()!;
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      seen += 1;
      const p = path.join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile() && (e.name === INSIDE_LOCK || /^\..+\.lock$/.test(e.name))) found.push(p);
    }
  }
  return found;
}

/** Creates the lock file with `me` inside, whole, or returns false when it exists; throws fs errors. */
function createFile(file: string, me: LockHolder): boolean {
  const text = JSON.stringify(me) + '\n';
  const tmp = `${file}.${process.pid}-${me.token}.tmp`;
  try {
    fs.writeFileSync(tmp, text, { flag: 'wx' });
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
    }
  } finally {
    try {
      removeFile(tmp);
    } catch {
      // it was never written (the folder cannot be written): the error that matters is already on its way
    }
  }
  // No hard links here: exclusive create, then write (readers retry while it is empty).
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

function readHolder(file: string): LockHolder | 'missing' | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const h = JSON.parse(text) as LockHolder;
    if (Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.token === 'string') {
      return { pid: h.pid, host: h.host, since: String(h.since), command: String(h.command ?? '?'), token: h.token };
    }
  } catch {
    // fall through
  }
  return 'unreadable';
}

/**
 * Removes the dead run's lock `stale` so that ours can be created. Only while holding `<file>.takeover`
 * (exclusive), and only if the lock file still holds `stale` (same token): another run may have taken it over
 * and written its own lock since we read it. Returns whether it removed `stale`.
 */
function takeOver(file: string, stale: LockHolder, me: LockHolder, create: (f: string, h: LockHolder) => boolean): boolean {
  const guard = `${file}.takeover`;
  if (!create(guard, me)) {
    const g = readHolder(guard);
    // A guard left by a run killed in the middle of a takeover: remove it and try again.
    if (g !== 'missing' && g !== 'unreadable' && g.host === me.host && g.pid !== process.pid && !processAlive(g.pid)) removeFile(guard);
    return false;
  }
  try {
    const now = readHolder(file);
    if (now === 'missing' || now === 'unreadable' || now.token !== stale.token) return false;
    removeFile(file);
    return true;
  } finally {
    removeFile(guard);
  }
}

/**
 * Deletes the lock file only if it is still ours (it could have been taken over by mistake, e.g. from another
 * host). Best effort: it runs in finally blocks and at exit, where throwing would hide the run's own outcome;
 * a lock left behind is taken over by the next run on this host.
 */
function removeIfOurs(file: string, me: LockHolder): void {
  try {
    const now = readHolder(file);
    if (now !== 'missing' && now !== 'unreadable' && now.token === me.token) removeFile(file);
  } catch (e) {
    process.stderr.write(`warning: could not remove the lock file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the next run here takes it over\n`);
  }
}

function releaseAll(): void {
  for (const h of held.values()) removeIfOurs(h.file, h.holder);
  held.clear();
}

// process.exit() and signals nothing else handles would skip the callers' finally blocks.
const onExit = () => releaseAll();
const onSignal = (sig: NodeJS.Signals) => {
  // Another handler (the training loop's) stops the run gracefully; its caller then releases the lock.
  if (process.listenerCount(sig) > 1) return;
  releaseAll();
  unwatchExit();
  process.kill(process.pid, sig);
};
const onSigint = () => onSignal('SIGINT');
const onSigterm = () => onSignal('SIGTERM');
let watching = false;

function watchExit(): void {
  if (watching) return;
  watching = true;
  process.on('exit', onExit);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
}

function unwatchExit(): void {
  if (!watching) return;
  watching = false;
  process.off('exit', onExit);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
}

/** `rlhf reward --out runs/rm` (the script's file name and its arguments, at most 200 characters). */
function commandLine(): string {
  const script = process.argv[1] ? path.basename(process.argv[1]).replace(/\.js$/, '') : 'node';
  const text = [script, ...process.argv.slice(2)].join(' ');
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function ageSeconds(file: string): number {
  try {
    return (Date.now() - fs.statSync(file).mtimeMs) / 1000;
  } catch {
    return 0;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** unlink, where the file being gone already is fine (unlinkSync, not rmSync: the fault-injection tests count rmSync calls to find checkpoint pruning). */
function removeFile(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
