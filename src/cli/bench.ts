/** `rlhf bench`: wired to the benchmark module once it exists (performance issue). */
import type { CommandModule } from 'yargs';

export const benchCommand: CommandModule = {
  command: 'bench',
  describe: 'Benchmark training and scoring throughput (see bench/)',
  builder: (y) => y,
  handler: async () => {
    throw new Error('rlhf bench is not implemented yet');
  },
};
