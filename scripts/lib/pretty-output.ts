import type { Command, FlowController, Logger } from 'concurrently';
import { prettyFactory } from 'pino-pretty';

/**
 * In place of concurrently's `LogOutput` when `npm start` writes to a terminal: each JSON log
 * line of an app is shown as pino-pretty shows it (time, level, message, then the fields);
 * any other line as it is. Only the display changes: the apps still write JSON, as in production.
 */
export class PrettyOutput implements FlowController {
  private readonly logger: Logger;
  private readonly pretty = prettyFactory({
    colorize: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,app,name',
    singleLine: true,
  });

  constructor({ logger }: { logger: Logger }) {
    this.logger = logger;
  }

  handle(commands: Command[]): { commands: Command[] } {
    for (const command of commands) {
      for (const stream of [command.stdout, command.stderr]) {
        let partial = '';
        stream.subscribe((chunk: Buffer) => {
          const lines = (partial + chunk.toString()).split('\n');
          partial = lines.pop() ?? '';
          const text = lines.map((line) => this.prettyLine(line)).join('');
          if (text) this.logger.logCommandText(text, command);
        });
      }
    }
    return { commands };
  }

  private prettyLine(line: string): string {
    if (!line.startsWith('{')) return `${line}\n`;
    try {
      return this.pretty(line);
    } catch {
      return `${line}\n`;
    }
  }
}
