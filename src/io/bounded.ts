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

/** Reads a whole regular file of at most `maxBytes`; `what` names the expected kind in messages. */
export function readBoundedFile(file: string, maxBytes: number, what = 'file'): Buffer {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new FileReadError(file, code === 'ENOENT' ? `does not exist; expected a ${what}` : code === 'EISDIR' ? `is a folder; expected a ${what}` : `cannot open (${code ?? (e as Error).message})`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) throw new FileReadError(file, `is not a regular file (a device, FIFO or socket); expected a ${what}`);
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
