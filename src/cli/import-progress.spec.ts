import { ImportCounts } from '../modules/product-import/product-import.service';
import { ImportProgress, lineErrorText, ReportStream } from './import-progress';

const counts = (lines: number, failed = 0): ImportCounts => ({
  lines,
  created: lines - failed,
  updated: 0,
  unchanged: 0,
  counted: 0,
  failed,
});

/** A stand-in for stdout and a clock the test moves. */
function setup(isTTY: boolean, dryRun = false) {
  let written = '';
  const out: ReportStream = { isTTY, columns: 100, write: (text: string) => (written += text) };
  const clock = { now: 0 };
  const report = new ImportProgress(out, 1000, dryRun, () => clock.now);
  return { report, clock, output: () => written };
}

describe('lineErrorText', () => {
  it('names the line, then each field and its reasons; a record-level problem has no field', () => {
    expect(lineErrorText(17, { reorderPoint: ['must not be less than 0'], name: ['a', 'b'] })).toBe(
      'line 17: reorderPoint: must not be less than 0; name: a, b',
    );
    expect(lineErrorText(3, { '': ['a quoted field is never closed'] })).toBe('line 3: a quoted field is never closed');
  });
});

describe('ImportProgress', () => {
  it('on a terminal, redraws one bar in place and keeps error lines above it', () => {
    const { report, clock, output } = setup(true);
    clock.now = 1000;
    report.progress(counts(500), 250);
    report.refused(7, { sku: ['must be 1..64 of [A-Za-z0-9._-]'] });
    clock.now = 2000;
    report.progress(counts(1000, 1), 1000);
    report.finish(counts(1000, 1), 'f.csv');
    const text = output();
    expect(text).toContain('\r\x1b[2K██████░░░░░░░░░░░░░░░░░░  25%  500 lines  500 lines/s  0 failed');
    expect(text).toContain('\r\x1b[2Kline 7: sku: must be 1..64 of [A-Za-z0-9._-]\n██████'); // the bar again, below
    expect(text).toContain('100%  1000 lines  500 lines/s  1 failed');
    expect(text.endsWith('failed:            1\n1 lines had errors: each is listed above with its line number\n')).toBe(
      true,
    );
    expect(text).toContain('\r\x1b[2Kf.csv done: 1000 lines in 2.0 s (500 lines/s)\n');
  });

  it('without a terminal, writes plain lines every 10,000 lines or 2 s, and no control character', () => {
    const { report, clock, output } = setup(false, true);
    clock.now = 500;
    report.progress(counts(5000), 100);
    clock.now = 1000;
    report.progress(counts(10_000), 200);
    clock.now = 1500;
    report.progress(counts(10_500), 210);
    clock.now = 3500;
    report.progress(counts(11_000), 220);
    report.refused(12, { onHand: ['must not be less than 0'] });
    report.finish(counts(11_000, 1), 'f.csv');
    expect(output()).toBe(
      [
        'progress: 10000 lines (20%), 10000 lines/s, 0 failed',
        'progress: 11000 lines (22%), 3143 lines/s, 0 failed',
        'line 12: onHand: must not be less than 0',
        'f.csv (dry run: nothing written) done: 11000 lines in 3.5 s (3143 lines/s)',
        '  would create:      10999',
        '  would update:      0',
        '  unchanged:         0',
        '  would count stock: 0',
        '  failed:            1',
        '1 lines had errors: each is listed above with its line number',
        '',
      ].join('\n'),
    );
  });
});
