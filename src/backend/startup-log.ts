/**
 * TensorFlow's start-up lines, filtered out of the command line's stderr. Loading libtensorflow prints two INFO
 * lines from its C++ static initialisers, before anything reads TF_CPP_MIN_LOG_LEVEL (tested with TensorFlow
 * 2.21: the variable hides cpu_feature_guard's banner but not these):
 *   WARNING: All log messages before absl::InitializeLog() is called are written to STDERR
 *   I0000 00:00:... port.cc:153] oneDNN custom operations are on. You may see slightly different numerical ...
 * They are not warnings about this run (oneDNN is on in every tfjs-node process; turning it off with
 * TF_ENABLE_ONEDNN_OPTS=0 would change the numbers, so that is not done). While the native library loads, file
 * descriptor 2 points at a temporary file; afterwards it points at the original stderr again and everything
 * captured except those lines is written there, so an unexpected message from the load is still seen.
 *
 * Node has no dup(): the original stderr is reopened through /proc/self/fd/2, which gives an equivalent
 * descriptor for a terminal or a pipe (no file offset to share). A regular file is reopened for appending, unless
 * stdout writes to the same file (`cmd >log 2>&1`: the two share one offset, which a reopened descriptor would
 * not follow). A socket cannot be reopened that way (Node's child_process gives a child socket pairs for 'pipe'
 * stdio): there, and wherever /proc is missing, the lines are left as they are.
 *
 * Does: filter around one synchronous call when asked to (the CLI asks unless --verbose). Does NOT: change
 * TensorFlow's settings or numerics, or touch stderr outside that call.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

/** The lines dropped: absl's notice and the oneDNN INFO line (a leading I<date> <time> <thread> prefix). */
export const STARTUP_NOISE: readonly RegExp[] = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d{4} [\d:.]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on\./,
];

let filtering = false;

/** Whether native start-up lines are filtered (the CLI turns it on unless --verbose; the library leaves them). */
export function filterNativeStartupLog(on: boolean): void {
  filtering = on;
}

/** Keeps every line except the start-up noise. Example: "WARNING: All log messages before absl::...\nreal\n" -> "real\n". */
export function dropStartupNoise(text: string): string {
  const lines = text.split('\n');
  const tail = lines.pop(); // '' after a final newline
  const kept = lines.filter((l) => !STARTUP_NOISE.some((re) => re.test(l)));
  return kept.map((l) => l + '\n').join('') + (tail ?? '');
}

/** How the original stderr can be reopened, or null when it cannot be done safely. */
function reopenFlags(): string | null {
  if (process.platform !== 'linux') return null;
  let st: fs.Stats;
  try {
    st = fs.fstatSync(2);
  } catch {
    return null;
  }
  if (st.isCharacterDevice() || st.isFIFO()) return 'w';
  if (!st.isFile()) return null; // a socket cannot be reopened through /proc
  try {
    const out = fs.fstatSync(1);
    if (out.dev === st.dev && out.ino === st.ino) return null; // shared offset with stdout
  } catch {
    // stdout closed: nothing shares the file's offset
  }
  return 'a';
}

/** Whether descriptors 0 and 1 are open, so that the next open() gets descriptor 2 once it is closed. */
function lowerDescriptorsOpen(): boolean {
  try {
    fs.fstatSync(0);
    fs.fstatSync(1);
    return true;
  } catch {
    return false;
  }
}

/** Runs `load` with stderr filtered as described above (when filtering is on and it can be done safely). */
export function withStartupLogFiltered<T>(load: () => T): T {
  const flags = filtering && lowerDescriptorsOpen() ? reopenFlags() : null;
  if (flags === null) return load();
  let saved: number;
  let fd: number;
  const capture = path.join(os.tmpdir(), `.rlhf-stderr-${process.pid}-${Date.now()}`);
  try {
    saved = fs.openSync('/proc/self/fd/2', flags);
    fd = fs.openSync(capture, 'w+', 0o600);
  } catch {
    return load();
  }
  // Close 2 and open the capture file again: open() returns the lowest free descriptor, 2.
  fs.closeSync(fd);
  fs.closeSync(2);
  const onTwo = fs.openSync(capture, 'r+');
  try {
    return load();
  } finally {
    fs.closeSync(onTwo);
    const back = fs.openSync(`/proc/self/fd/${saved}`, flags); // the lowest free descriptor: 2 again
    fs.closeSync(saved);
    if (back !== 2 || onTwo !== 2) process.emitWarning(`stderr was not on descriptor 2 while TensorFlow loaded (capture ${onTwo}, restored ${back})`);
    let captured = '';
    try {
      captured = fs.readFileSync(capture, 'utf8');
      fs.unlinkSync(capture);
    } catch {
      // nothing was captured
    }
    const kept = dropStartupNoise(captured);
    if (kept) process.stderr.write(kept);
  }
}
