/** What the queue needs to know of a write waiting for its group. */
export interface Queued {
  /** How many operations it applies: a group's are bounded. */
  size: number;
  /** Two writes with one key (an Idempotency-Key) never share a group: the second waits for the next. */
  exclusiveKey?: string;
}

export interface GroupLimits {
  /** How many groups hold a connection at once; while they run, new writes gather into the next ones. */
  groupsInFlight: number;
  /** Bounds one group's transaction (its locks and its SQL); a larger write still goes, alone. */
  maxOperations: number;
}

/** The oldest writes, up to the size bound, and the rest in their order. */
export function takeGroup<T extends Queued>(queue: T[], maxOperations: number): { group: T[]; rest: T[] } {
  const group: T[] = [];
  const rest: T[] = [];
  const keys = new Set<string>();
  let operations = 0;
  for (const item of queue) {
    const key = item.exclusiveKey;
    if ((group.length && operations + item.size > maxOperations) || (key !== undefined && keys.has(key))) {
      rest.push(item);
      continue;
    }
    group.push(item);
    operations += item.size;
    if (key !== undefined) keys.add(key);
  }
  return { group, rest };
}

/**
 * Group commit: writes that arrive while earlier groups hold the database wait here, and each free
 * slot takes the oldest of them as one group — one transaction for all of them.
 */
export class GroupCommitQueue<T extends Queued> {
  private queue: T[] = [];
  private inFlight = 0;

  constructor(
    private readonly runGroup: (group: T[]) => Promise<void>,
    private readonly limits: GroupLimits,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    this.startGroups();
  }

  private startGroups(): void {
    while (this.inFlight < this.limits.groupsInFlight && this.queue.length) {
      const { group, rest } = takeGroup(this.queue, this.limits.maxOperations);
      this.queue = rest;
      this.inFlight++;
      void this.runGroup(group).finally(() => {
        this.inFlight--;
        this.startGroups();
      });
    }
  }
}
