/**
 * A microtask for the produce path's own jobs. Node's queueMicrotask() makes an AsyncResource
 * per call (an async id, the init hook, a bound function, and runInAsyncScope with the before
 * and after hooks around the job): on an awaited send that was a measurable share of the
 * client's time. A reaction on an already-resolved promise runs in the same V8 microtask queue,
 * in the same order, and carries the async context the way every promise does.
 *
 * The job must not throw: the callers' jobs contain their own errors. One that throws anyway
 * (a bug) surfaces as an unhandled rejection, which Node treats as an uncaught exception by
 * default, as it would a throw inside queueMicrotask().
 */
const resolved = Promise.resolve();

export function microtask(job: () => void): void {
  void resolved.then(job);
}
