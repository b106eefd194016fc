import { FieldErrors } from '../modules/product-import/import-lines';
import { ImportCounts, ImportObserver } from '../modules/product-import/product-import.service';

/** Where the report goes: stdout, or a test's stand-in. */
export interface ReportStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** A terminal redraws the bar at most this often. */
const REDRAW_MS = 100;
/** Without a terminal, a progress line after this many lines or this long, whichever comes first. */
const LOG_EVERY_LINES = 10_000;
const LOG_EVERY_MS = 2_000;
const BAR_WIDTH = 24;
/** Erase the terminal's current line (carriage return, then CSI 2K). */
const CLEAR_LINE = '\r\x1b[2K';

/** `line 17: reorderPoint: must not be less than 0; name: …` (a record-level problem has no field). */
export function lineErrorText(line: number, errors: FieldErrors): string {
  const fields = Object.entries(errors).map(
    ([field, messages]) => `${field ? `${field}: ` : ''}${messages.join(', ')}`,
  );
  return `line ${line}: ${fields.join('; ')}`;
}

/**
 * The import's report: each refused line as it is known, then a summary. On a terminal a one-line
 * progress bar (lines done, rate, share of the file) redrawn in place; otherwise — a log file, a pipe —
 * plain progress lines now and then, and never a control character.
 */
export class ImportProgress implements ImportObserver {
  private readonly started: number;
  private bar = '';
  private lastDraw = 0;
  private lastLog: { at: number; lines: number };

  constructor(
    private readonly out: ReportStream,
    /** The file's size, for the share done. */
    private readonly totalBytes: number,
    private readonly dryRun: boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now();
    this.lastLog = { at: this.started, lines: 0 };
  }

  refused(line: number, errors: FieldErrors): void {
    this.write(`${lineErrorText(line, errors)}\n`);
  }

  progress(counts: ImportCounts, bytes: number): void {
    const now = this.now();
    const share = this.totalBytes ? Math.min(1, bytes / this.totalBytes) : 1;
    const rate = Math.round(counts.lines / Math.max(0.001, (now - this.started) / 1000));
    if (this.out.isTTY) {
      if (now - this.lastDraw < REDRAW_MS && share < 1) return;
      this.lastDraw = now;
      const filled = Math.round(share * BAR_WIDTH);
      const text = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)} ${percent(share)}  ${counts.lines} lines  ${rate} lines/s  ${counts.failed} failed`;
      this.bar = text.slice(0, Math.max(20, (this.out.columns || 80) - 1));
      this.out.write(`${CLEAR_LINE}${this.bar}`);
      return;
    }
    if (counts.lines - this.lastLog.lines < LOG_EVERY_LINES && now - this.lastLog.at < LOG_EVERY_MS) return;
    this.lastLog = { at: now, lines: counts.lines };
    this.out.write(
      `progress: ${counts.lines} lines (${percent(share).trim()}), ${rate} lines/s, ${counts.failed} failed\n`,
    );
  }

  /** The summary; `stopped` when the import ended early (what is counted was done). */
  finish(counts: ImportCounts, fileName: string, stopped = false): void {
    const seconds = (this.now() - this.started) / 1000;
    const rate = Math.round(counts.lines / Math.max(0.001, seconds));
    const rows: [string, number][] = [
      [this.dryRun ? 'would create' : 'created', counts.created],
      [this.dryRun ? 'would update' : 'updated', counts.updated],
      ['unchanged', counts.unchanged],
      [this.dryRun ? 'would count stock' : 'stock counted', counts.counted],
      ['failed', counts.failed],
    ];
    const what = this.dryRun ? ' (dry run: nothing written)' : '';
    const ended = stopped ? 'stopped after' : 'done:';
    const lines = [
      `${fileName}${what} ${ended} ${counts.lines} lines in ${seconds.toFixed(1)} s (${rate} lines/s)`,
      ...rows.map(([label, n]) => `  ${`${label}:`.padEnd(19)}${n}`),
    ];
    if (counts.failed) lines.push(`${counts.failed} lines had errors: each is listed above with its line number`);
    this.write(`${lines.join('\n')}\n`, false);
  }

  /** Text above the bar: the bar is erased, the text written, the bar drawn again below it. */
  private write(text: string, redraw = true): void {
    if (this.out.isTTY && this.bar) {
      this.out.write(`${CLEAR_LINE}${text}${redraw ? this.bar : ''}`);
      if (!redraw) this.bar = '';
    } else {
      this.out.write(text);
    }
  }
}

const percent = (share: number) => `${Math.floor(share * 100)}%`.padStart(4);
