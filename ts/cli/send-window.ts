/**
 * What `perf` and `produce` share around each send: at most `size` records unsettled (our
 * send() never blocks, so the CLI bounds what it holds), the sender resumed once half the
 * window has settled (or at Ctrl-C), each outcome counted in Stats, and the first five
 * failures told by name; and the wait for the cluster before the first send, cut short by Ctrl-C.
 */
import { LatencyClock, type Stats } from './report.js';

const WARN_FIRST = 5;

export class SendWindow {
  inFlight = 0;
  readonly clock = new LatencyClock();
  private resume: (() => void) | null = null;
  private warned = 0;
  private readonly wake = (): void => {
    if (this.resume && (this.inFlight < this.size / 2 || this.inFlight === 0 || this.signal?.aborted)) {
      const r = this.resume;
      this.resume = null;
      r();
    }
  };

  constructor(
    private readonly size: number,
    private readonly stats: Stats,
    private readonly warn: (line: string) => void,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.wake);
  }

  /** Waits while the window is full; true when it did (the clock wants a resync after a pause). */
  async waitForRoom(): Promise<boolean> {
    if (this.inFlight < this.size) return false;
    await new Promise<void>((r) => (this.resume = r));
    return true;
  }

  /** Counts one send of `bytes` started at `start` (a clock reading) until it settles. */
  track(sent: Promise<unknown>, i: number, start: number, bytes: number): void {
    this.inFlight++;
    sent.then(
      () => {
        this.inFlight--;
        this.stats.record(this.clock.ackTime() - start, bytes);
        this.wake();
      },
      (err: Error) => {
        this.inFlight--;
        this.stats.errors++;
        if (this.warned++ < WARN_FIRST) this.warn(`record ${i} failed: ${err.message}`);
        this.wake();
      },
    );
  }

  /** After the last send: stop listening for Ctrl-C, and say how many failures went untold. */
  close(): void {
    this.signal?.removeEventListener('abort', this.wake);
    if (this.warned > WARN_FIRST) this.warn(`... ${this.warned - WARN_FIRST} more records failed`);
  }
}

/**
 * Resolves true once `p` has, false as soon as `signal` aborts first: a Ctrl-C while the
 * producer still waits for the cluster (connect, initTransactions) must not wait out its
 * request.timeout.ms (30 s by default, for a cluster that accepts and never answers). `p` is
 * still observed after an abort (its rejection is not left unhandled); the caller closes the
 * producer, which ends what `p` waits on.
 */
export function settledUnlessAborted(p: Promise<unknown>, signal?: AbortSignal): Promise<boolean> {
  if (!signal) return p.then(() => true);
  return new Promise<boolean>((resolve, reject) => {
    const onAbort = (): void => resolve(false);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
