import { Command, type FlowController, type Logger } from 'concurrently';

/**
 * concurrently's flow control for `npm start`: when one app stops on its own, SIGTERM the others
 * (half a pipeline is worse than none) — but not while a signal is already stopping them all:
 * concurrently's KillOthers would send each app that is still draining a second signal, and a
 * second signal means "exit now" (the worker then leaves its active jobs to stall).
 */
export class StopTogether implements FlowController {
  private stopping = false;

  constructor(
    private readonly logger: Logger,
    signals: NodeJS.EventEmitter = process,
  ) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) signals.on(signal, () => (this.stopping = true));
  }

  handle(commands: Command[]): { commands: Command[] } {
    for (const command of commands) {
      command.close.subscribe(() => {
        if (this.stopping) return;
        this.stopping = true;
        const running = commands.filter((other) => Command.canKill(other));
        if (running.length === 0) return;
        this.logger.logGlobalEvent(`${command.name} stopped: sending SIGTERM to the others`);
        for (const other of running) other.kill('SIGTERM');
      });
    }
    return { commands };
  }
}
