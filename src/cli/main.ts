/**
 * The `rlhf` command line: the yargs command table and error handling, nothing else. Each command
 * lives in its own file and only plumbs arguments into library calls.
 * Exit codes: 0 success, 1 an error (one message on stderr; the stack with --verbose),
 * 130 a training run stopped by SIGINT/SIGTERM after writing its checkpoint.
 */
import yargs from 'yargs';
import type { Argv, CommandModule } from 'yargs';
import { filterNativeStartupLog } from '../backend/startup-log';
import { closest } from '../util/suggest';
import { compareCommand, scoreCommand } from './compare';
import { dataCommand } from './data';
import { envCommand } from './env';
import { describeError, UsageError } from './errors';
import { exportCommand } from './export';
import { frontierCommand } from './frontier';
import { generateCommand } from './generate';
import { probeCommand } from './probe';
import { globalOptions } from './options';
import { recipeCommand } from './recipe';
import { runCommand } from './run';
import { dpoCommand, judgeCommand, rewardCommand, sftCommand } from './train';
import { grpoCommand, onlineDpoCommand, rlooCommand } from './online';
import { benchCommand } from './bench';
import { bonCommand } from './bon';

const COMMANDS: CommandModule[] = [
  envCommand, sftCommand, rewardCommand, dpoCommand, judgeCommand, grpoCommand, rlooCommand, onlineDpoCommand, compareCommand, scoreCommand, generateCommand, bonCommand,
  dataCommand, probeCommand, runCommand, exportCommand, benchCommand, recipeCommand, frontierCommand,
];

export function buildCli(argv: string[]): Argv {
  let y = yargs(argv)
    .scriptName('rlhf')
    .usage('$0 <command> [options]\n\nPreference learning on TensorFlow.js: reward models, DPO, and an audit of explicit vs implicit rewards.')
    .demandCommand(1, 'name a command; try: rlhf run recipes/quickstart.json')
    .recommendCommands()
    .strict()
    .help()
    .alias('h', 'help')
    .version(false)
    .wrap(Math.min(110, process.stdout.columns || 100))
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(improveUsageMessage(msg ?? 'invalid arguments', argv));
    });
  for (const c of COMMANDS) y = y.command(c);
  return globalOptions(y);
}

/** Option names of the command named first in argv (read from its own builder), plus the global ones. */
function knownOptions(argv: string[]): string[] {
  const probe = globalOptions(yargs([]));
  const cmd = COMMANDS.find((c) => String(c.command).split(' ')[0] === argv[0]);
  const built = cmd && typeof cmd.builder === 'function' ? (cmd.builder(probe) as Argv) : probe;
  const keys = Object.keys((built as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key);
  return keys.filter((k) => !/[A-Z]/.test(k));
}

/** Adds "did you mean --x?" to yargs' unknown-argument messages. */
function improveUsageMessage(msg: string, argv: string[]): string {
  const cmd = /^Did you mean (.+)\?$/.exec(msg);
  if (cmd) return `unknown command "${argv[0]}"; did you mean ${cmd[1]}? (rlhf --help lists the commands)`;
  const m = /^Unknown arguments?: (.+)$/.exec(msg);
  if (!m) return `${msg} (see --help)`;
  const known = knownOptions(argv);
  const parts = m[1].split(', ').filter((bad) => !/[A-Z]/.test(bad)).map((bad) => {
    const hint = closest(bad, known);
    return hint ? `--${bad} (did you mean --${hint}?)` : `--${bad}`;
  });
  return `unknown option ${parts.join(', ')}; see --help for the options of this command`;
}

/** Runs the CLI; resolves to the exit code (errors are printed, not thrown). */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  // TensorFlow's two start-up INFO lines are noise on a terminal; --verbose keeps them (backend/startup-log.ts).
  filterNativeStartupLog(!verbose);
  try {
    await buildCli(argv).parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    process.stderr.write(describeError(e, verbose) + '\n');
    return 1;
  }
}
