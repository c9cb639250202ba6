/** stdout carries results only (the summary JSON as the last line); everything else goes to stderr. */
export function printResult(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export function info(line: string, quiet = false): void {
  if (!quiet) process.stderr.write(line + '\n');
}
