/**
 * A credential held so that it cannot leak by accident: printing, logging, JSON.stringify or
 * util.inspect of a config that holds one shows `[hidden]`; only reveal() gives the text.
 * Errors and log lines are built from user names and broker messages, never from these.
 */
import { inspect } from 'node:util';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return '[hidden]';
  }

  toJSON(): string {
    return '[hidden]';
  }

  [inspect.custom](): string {
    return '[hidden]';
  }
}
