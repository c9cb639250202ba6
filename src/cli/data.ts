/**
 * `rlhf data inspect | convert`: look at preference data before training; write it in the normal form (JSONL,
 * Parquet or Arrow, as datasets.load_dataset reads them).
 * inspect exits like a linter: it reads every record and prints the whole report, then exits 1 when any
 * record is invalid (0 when none is); --skip-invalid makes them a warning (exit 0), as training skips them.
 */
import type { CommandModule } from 'yargs';
import { convertData, formatInspectReport, inspectData, OUTPUT_FORMATS, type FormatChoice, type OutputFormat } from '../data';
import { loadTokenizer } from '../tokenizer/load';
import { byteProgress } from '../util/progress';
import { formatOption } from './options';
import { printResult } from './output';

const readOptions = (argv: Record<string, unknown>, reading?: ReturnType<typeof byteProgress>) => ({
  format: argv.format as FormatChoice | undefined,
  skipInvalid: argv['skip-invalid'] as boolean,
  split: argv.split as string | undefined,
  limit: argv.limit as number | undefined,
  onProgress: reading?.onProgress,
});

/** A live line while big files are read (terminal only, not with --quiet). */
const reader = (argv: Record<string, unknown>) => byteProgress('reading data', { enabled: !argv.quiet });

export const dataCommand: CommandModule = {
  command: 'data <action>',
  describe: 'Inspect preference data or convert it to the normal form (JSONL, Parquet, Arrow)',
  builder: (y) =>
    y
      .command({
        command: 'inspect <files..>',
        describe: 'Format, counts, invalid records, token-length percentiles, problem cases, subsets',
        builder: (b) =>
          b
            .option('format', formatOption)
            .option('skip-invalid', { type: 'boolean', default: false, describe: 'Invalid records are a warning (exit 0) instead of an error (exit 1, after the full report)' })
            .option('tokenizer', { type: 'string', describe: 'Tokenizer for token lengths (default: byte-level)' })
            .option('max-length', { type: 'number', describe: 'Count pairs over this length' })
            .option('max-prompt-length', { type: 'number' })
            .option('split', { type: 'string', describe: 'Split of an HF DatasetDict folder' })
            .option('limit', { type: 'number' })
            .option('json', { type: 'boolean', default: false, describe: 'Print the report as one JSON object' })
            .example('rlhf data inspect ../shared/data/politeness-dpo.json', 'Counts, lengths and problems of a dataset')
            .example('rlhf data inspect data/prefs.jsonl --tokenizer ../shared/models/stories260K/tok512.bin --max-length 256 --json', 'With a model tokenizer and a length limit'),
        handler: async (argv) => {
          const reading = reader(argv);
          const report = await inspectData(argv.files as string[], {
            ...readOptions(argv, reading),
            skipInvalid: true, // count them all for the report; the exit status says whether they are allowed
            tokenizer: argv.tokenizer ? loadTokenizer(argv.tokenizer as string) : undefined,
            maxLength: argv['max-length'] as number | undefined,
            maxPromptLength: argv['max-prompt-length'] as number | undefined,
          }).finally(reading.finish);
          if (argv.json) printResult(report);
          else process.stdout.write(formatInspectReport(report) + '\n');
          const invalid = report.invalid + report.renderErrors;
          if (invalid === 0) return;
          const what = `${invalid} invalid record${invalid === 1 ? '' : 's'} (listed in the report above)`;
          if (argv['skip-invalid']) {
            process.stderr.write(`warning: ${what}; training with --skip-invalid skips them\n`);
          } else {
            process.stderr.write(`error: ${what}; fix them, or pass --skip-invalid to accept them (training then needs --skip-invalid too)\n`);
            process.exitCode = 1;
          }
        },
      })
      .command({
        command: 'convert <files..>',
        describe: 'Write the records in the normal form {prompt, chosen, rejected, margin?, subset?, id, source} as JSONL, Parquet or Arrow',
        builder: (b) =>
          b
            .option('out', { type: 'string', demandOption: true, describe: 'Output file (.jsonl, .jsonl.gz, .parquet or .arrow)' })
            .option('to', { type: 'string', choices: [...OUTPUT_FORMATS], describe: 'Output format (default: from the --out name, else jsonl); datasets.load_dataset reads each with the same columns' })
            .option('format', formatOption)
            .option('skip-invalid', { type: 'boolean', default: false })
            .option('split', { type: 'string' })
            .option('limit', { type: 'number' })
            .example('rlhf data convert hh.jsonl.gz --out hh-normal.jsonl', 'HH-RLHF transcripts to explicit prompt/chosen/rejected')
            .example('rlhf data convert data/prefs.jsonl --to parquet --out prefs.parquet', 'For datasets.load_dataset("parquet", data_files="prefs.parquet")'),
        handler: async (argv) => {
          const reading = reader(argv);
          const res = await convertData(argv.files as string[], argv.out as string, { ...readOptions(argv, reading), to: argv.to as OutputFormat | undefined }).finally(reading.finish);
          printResult({ written: res.written, out: res.out, format: res.format, invalid: res.stats.invalid, problems: res.stats.problems });
        },
      })
      .demandCommand(1, 'name an action: inspect or convert'),
  handler: () => {},
};
