import { EventEmitter } from 'node:events';
import { Logger, type Command } from 'concurrently';
import { Subject } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StopTogether } from '../scripts/lib/stop-together';

/** What StopTogether reads of concurrently's Command: its name, close events, whether it runs, and kill. */
function app(name: string) {
  const close = new Subject<unknown>();
  const kills: string[] = [];
  const command = { name, close, pid: 1, process: {}, kill: (signal: string) => kills.push(signal) };
  return {
    command: command as unknown as Command,
    kills,
    // As concurrently does: the process is cleared, then `close` is emitted.
    exit: () => (Object.assign(command, { process: undefined }), close.next({})),
  };
}

function startApps() {
  const signals = new EventEmitter();
  const apps = [app('ingress'), app('worker'), app('dashboard')];
  new StopTogether(new Logger({ hide: ['*'] }), signals).handle(apps.map((a) => a.command));
  return { signals, apps };
}

describe('StopTogether (npm start)', () => {
  it('stops the others once when one app exits on its own', () => {
    const { apps } = startApps();
    apps[0]!.exit();
    apps[1]!.exit();
    expect(apps.map((a) => a.kills)).toEqual([[], ['SIGTERM'], ['SIGTERM']]);
  });

  it('sends nothing after Ctrl-C: each app got its one signal, a second would make it exit at once', () => {
    const { signals, apps } = startApps();
    signals.emit('SIGINT');
    apps[0]!.exit();
    expect(apps.map((a) => a.kills)).toEqual([[], [], []]);
  });
});
