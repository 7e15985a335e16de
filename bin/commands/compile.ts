/** weft compile: placeholder until the command lands (being written now). */
import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'compile (being written)',
  help: 'weft compile: being written',
  run: () => Promise.reject(new Error('weft compile is being written')),
};
