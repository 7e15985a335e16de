/** weft validate: placeholder until the command lands (being written now). */
import type { Command } from '../cli.js';

export const command: Command = {
  summary: 'validate (being written)',
  help: 'weft validate: being written',
  run: () => Promise.reject(new Error('weft validate is being written')),
};
