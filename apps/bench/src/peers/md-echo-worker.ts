/**
 * A user's minimal Majordomo service: one `MajordomoWorker` answering 'echo' with its request,
 * written as an application would (the library's defaults, a handler that returns the body).
 * The `mdworker` vs-c shape runs it under the book's C broker and C client; it measures what
 * `MajordomoWorker` costs the service's process per request.
 *
 *   node apps/bench/dist/peers/md-echo-worker.js [broker]   (default tcp://127.0.0.1:5555)
 */
import { MajordomoWorker } from '@zpatterns/majordomo';

const worker = new MajordomoWorker({
  broker: process.argv[2] ?? 'tcp://127.0.0.1:5555',
  service: 'echo',
  handler: (request) => request,
});
await worker.start();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
const stop = (): void => {
  void worker.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
