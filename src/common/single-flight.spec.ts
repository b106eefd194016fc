import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../../test/support/wait';
import { SingleFlight } from './single-flight';

/** A piece of work the test lets finish. */
function gatedWork() {
  const runs: (() => void)[] = [];
  const work = () => new Promise<void>((resolve) => runs.push(resolve));
  return { runs, work };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('SingleFlight', () => {
  it('runs once at a time, and requests made during a run make exactly one more run', async () => {
    const { runs, work } = gatedWork();
    const flight = new SingleFlight(work);
    flight.request();
    flight.request();
    flight.request();
    expect(runs).toHaveLength(1);
    runs[0]();
    await settle();
    expect(runs).toHaveLength(2); // the three requests during the first run made one more
    runs[1]();
    await settle();
    expect(runs).toHaveLength(2); // nothing asked since: no third run
  });

  it('gathers requests for gatherMs before a run, and a failed run does not stop later ones', async () => {
    let calls = 0;
    const flight = new SingleFlight(() => {
      calls++;
      return Promise.reject(new Error('down'));
    }, 20);
    flight.request();
    flight.request();
    expect(calls).toBe(0);
    await waitFor('the gathered run', () => calls === 1, 1000);
    await sleep(40);
    expect(calls).toBe(1); // the second request came before the run started: served by it
    flight.request();
    await waitFor('a run after the failed one', () => calls === 2, 1000);
  });

  it('stop() waits for the current run and refuses new ones', async () => {
    const { runs, work } = gatedWork();
    const flight = new SingleFlight(work);
    flight.request();
    let stopped = false;
    const stopping = flight.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    runs[0]();
    await stopping;
    flight.request();
    await settle();
    expect(runs).toHaveLength(1);
  });
});
