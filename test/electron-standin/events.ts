/// <reference types="electron" />
/**
 * TEST-ONLY (Electron stand-in): the event plumbing every stand-in object shares.
 *
 * Electron's emitters declare `on(...)` as a long list of overloads returning `this`
 * typed as the full Electron class. A stand-in implements a subset, so its `this` is not
 * that class: the registration methods here return `any` (only there) so that a class
 * can still `implements Pick<Electron.X, 'on' | …>` and have every other member checked.
 */
import { EventEmitter } from 'node:events';

/* eslint-disable @typescript-eslint/no-explicit-any -- see the header: `any` only as the chainable return type */
export type Listener = (...args: any[]) => void;

export class Emitter extends EventEmitter {
  override on(event: string, listener: Listener): any {
    return super.on(event, listener);
  }
  override once(event: string, listener: Listener): any {
    return super.once(event, listener);
  }
  override off(event: string, listener: Listener): any {
    return super.off(event, listener);
  }
  override addListener(event: string, listener: Listener): any {
    return super.addListener(event, listener);
  }
  override removeListener(event: string, listener: Listener): any {
    return super.removeListener(event, listener);
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Electron's `Event` (preventDefault / defaultPrevented) with extra fields. */
export function electronEvent<P extends object = object>(params?: P): Electron.Event<P> {
  let prevented = false;
  const base = {
    preventDefault: (): void => {
      prevented = true;
    },
    get defaultPrevented(): boolean {
      return prevented;
    },
  };
  return Object.assign(base, params ?? {}) as Electron.Event<P>;
}
