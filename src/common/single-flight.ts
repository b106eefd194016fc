/**
 * Runs `work` one at a time: a request while it runs makes exactly one more run after it, however
 * many requests came meanwhile; one while a run waits to start is served by that run. With `gatherMs`, a run starts that long after the
 * first request, so one run serves a burst of them. `stop()` refuses further runs and waits for the
 * current one. The background loops of the events module (sequencer, delivery worker, publisher) each
 * run through one.
 */
export class SingleFlight {
  private running: Promise<void> | null = null;
  private scheduled?: NodeJS.Timeout;
  private again = false;
  private stopped = false;

  constructor(
    private readonly work: () => Promise<unknown>,
    private readonly gatherMs = 0,
  ) {}

  request(): void {
    if (this.stopped || this.scheduled) return; // a run about to start serves it
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.gatherMs > 0) this.scheduled = setTimeout(() => this.start(), this.gatherMs);
    else this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.scheduled);
    await this.running;
  }

  private start(): void {
    this.scheduled = undefined;
    this.running = this.work()
      .then(
        () => undefined,
        () => undefined, // the work reports its own failures; the next request runs it again
      )
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.request();
        }
      });
  }
}
