/**
 * Bounded whole-file reads for files named by users or by other files (tokenizers, dataset metadata,
 * recipes): opened non-blocking and checked with fstat first, so a FIFO or a device (a symlink to
 * /dev/zero, say) is refused instead of hanging or reading forever, and a 10 GB file is refused by its
 * size before anything is allocated (Node's readFileSync would try to allocate it).
 *
 * Does: read bytes. Does NOT: parse, or decide the limit (callers pass the largest sane size of their kind).
 */
import * as fs from 'fs';
import { IoError } from './errors';

export class FileReadError extends IoError {
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`);
  }
}

/**
 * Opens a user-named file for reading, non-blocking so a FIFO (or a symlink to one) cannot hang the open,
 * and refuses anything but a regular file. `what` names the expected kind; `fail` builds the caller's own
 * error class from the detail. Returns the fd; the caller closes it.
 */
export function openRegularFile(file: string, what: string, fail: (detail: string) => Error): number {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw fail(code === 'ENOENT' ? `does not exist; expected a ${what}` : code === 'EISDIR' ? `is a directory, expected a ${what}` : `cannot open (${code ?? (e as Error).message})`);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw fail(st.isDirectory() ? `is a directory, expected a ${what}` : `is not a regular file (a device, FIFO or socket); expected a ${what}`);
  }
  return fd;
}

/** Reads a whole regular file of at most `maxBytes`; `what` names the expected kind in messages. */
export function readBoundedFile(file: string, maxBytes: number, what = 'file'): Buffer {
  const fd = openRegularFile(file, what, (detail) => new FileReadError(file, detail));
  try {
    const st = fs.fstatSync(fd);
    if (st.size > maxBytes) throw new FileReadError(file, `is ${st.size} bytes; a ${what} is expected to be under ${maxBytes} bytes`);
    const buf = Buffer.alloc(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) break; // shrank while reading: return what is there
      done += n;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  } catch (e) {
    if (e instanceof FileReadError) throw e;
    throw new FileReadError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    fs.closeSync(fd);
  }
}
