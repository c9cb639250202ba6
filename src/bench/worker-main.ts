/**
 * Process entry of a benchmark worker (run.ts spawns it): `node worker-main.js JOB.json`, or under
 * bench/run-ts.js from the TypeScript sources. Prints one WorkerResult JSON line on stdout.
 */
import * as fs from 'fs';
import { runWorker, type WorkerJob } from './worker';

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8')) as WorkerJob;
runWorker(job)
  .then((r) => process.stdout.write(JSON.stringify(r) + '\n'))
  .catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
