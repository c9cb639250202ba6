/**
 * One run per output folder. A run that writes `<parent>/<name>/` holds the lock file `<parent>/.<name>.lock`
 * (beside the folder, so replacing or deleting the folder leaves it in place) holding its pid, host, start
 * time and command. A second run on the same folder fails at once, naming the holder and the way out.
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
import { IoError } from './errors';

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

/** `/runs/rm` -> `/runs/.rm.lock`. */
export function lockFileFor(dir: string): string {
  const abs = path.resolve(dir);
  if (path.dirname(abs) === abs) throw new FolderLockError(`${abs}: the root folder cannot be an output folder; choose another --out`);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.lock`);
}

/** Locks this process holds: lock file -> what it wrote there. */
const held = new Map<string, LockHolder>();
/** The lock files the current chain of async calls holds (withOutputLock), for nested calls. */
const chain = new AsyncLocalStorage<ReadonlySet<string>>();

/**
 * Takes the lock of output folder `dir` (creating its parent folder), or throws FolderLockError naming the
 * holder. Example message: "output folder /runs/rm is in use by another run: pid 4242 on host gpu1 since
 * 2025-01-02T10:00:00.000Z (rlhf reward --out /runs/rm); wait for it to finish or choose another --out. If
 * no such run exists, delete /runs/.rm.lock".
 */
export function lockOutputFolder(dir: string, o: LockOptions = {}): FolderLock {
  const file = lockFileFor(dir);
  const abs = path.resolve(dir);
  const mine = held.get(file);
  if (mine) {
    throw new FolderLockError(
      `output folder ${abs} is in use by another run in this process (pid ${mine.pid}, since ${mine.since}); ` +
        'wait for it to finish or choose another --out',
    );
  }
  const host = o.host ?? os.hostname();
  const warn = o.warn ?? ((line: string) => process.stderr.write(line + '\n'));
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
  } catch (e) {
    throw new FolderLockError(`output folder ${abs}: cannot create its parent folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another --out`);
  }
  const me: LockHolder = { pid: process.pid, host, since: new Date().toISOString(), command: commandLine(), token: randomBytes(8).toString('hex') };
  let removedStale: LockHolder | null = null;
  for (let attempt = 0; attempt < 50; attempt++) {
    if (create(file, me)) {
      held.set(file, me);
      watchExit();
      if (removedStale) {
        const s = removedStale;
        warn(`warning: output folder ${abs} was locked by pid ${s.pid} (host ${s.host}, since ${s.since}), which is no longer running; took the lock over`);
      }
      return handle(file, abs);
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
    if (takeOver(file, other, me)) removedStale = other;
    else sleep(20); // another run is taking it over, or took it: see who holds it now
  }
  throw new FolderLockError(`output folder ${abs}: could not take the lock ${file} (other runs keep taking and releasing it); try again`);
}

function handle(file: string, dir: string): FolderLock {
  let released = false;
  return {
    file,
    dir,
    release: () => {
      if (released) return;
      released = true;
      const h = held.get(file);
      if (!h) return;
      held.delete(file);
      removeIfOurs(file, h);
      if (held.size === 0) unwatchExit();
    },
  };
}

/**
 * Runs `fn` holding the lock of `dir`, and releases it however `fn` ends. Called again for the same folder
 * from inside `fn` (its chain of async calls), it just runs the inner function: the outer call holds the lock.
 */
export async function withOutputLock<T>(dir: string, fn: () => Promise<T>, o: LockOptions = {}): Promise<T> {
  const file = lockFileFor(dir);
  const outer = chain.getStore();
  if (outer?.has(file)) return fn();
  const lock = lockOutputFolder(dir, o);
  try {
    return await chain.run(new Set([...(outer ?? []), file]), fn);
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
    if (chain.getStore()?.has(file)) continue; // the caller's own
    const h = readHolder(file);
    if (h === 'missing' || h === 'unreadable') continue;
    const live = h.pid === process.pid ? held.get(file)?.token === h.token : processAlive(h.pid);
    if (h.host === host && !live) continue;
    const folder = path.join(path.dirname(file), path.basename(file).slice(1, -'.lock'.length));
    throw new FolderLockError(
      `--overwrite would delete ${folder}, which a run is writing: pid ${h.pid} on host ${h.host} since ${h.since} (${h.command});` +
        ` wait for it to finish or choose another --out. If no such run exists, delete ${file}`,
    );
  }
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
      else if (e.isFile() && /^\..+\.lock$/.test(e.name)) found.push(p);
    }
  }
  return found;
}

/** Creates the lock file with `me` inside, whole, or returns false when it exists. */
function create(file: string, me: LockHolder): boolean {
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
  } catch (e) {
    throw new FolderLockError(`cannot create the lock file ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); choose another --out`);
  } finally {
    removeFile(tmp);
  }
  // No hard links here: exclusive create, then write (readers retry while it is empty).
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new FolderLockError(`cannot create the lock file ${file} (${(e as NodeJS.ErrnoException).code}); choose another --out`);
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
function takeOver(file: string, stale: LockHolder, me: LockHolder): boolean {
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
  for (const [file, h] of held) removeIfOurs(file, h);
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
