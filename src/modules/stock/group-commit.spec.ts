import { GroupCommitQueue, Queued, takeGroup } from './group-commit';

const write = (name: string, size = 1, exclusiveKey?: string) => ({ name, size, exclusiveKey });
const names = (items: { name: string }[]) => items.map((item) => item.name);

describe('takeGroup', () => {
  it('takes every waiting write, oldest first, while they fit the bound', () => {
    const { group, rest } = takeGroup([write('a'), write('b', 3), write('c')], 500);
    expect(names(group)).toEqual(['a', 'b', 'c']);
    expect(rest).toEqual([]);
  });

  it('leaves a write that would pass the bound for the next group, and still takes later ones that fit', () => {
    const { group, rest } = takeGroup([write('a', 300), write('b', 300), write('c', 200), write('d', 1)], 500);
    expect(names(group)).toEqual(['a', 'c']);
    expect(names(rest)).toEqual(['b', 'd']);
  });

  it('a write larger than the bound still goes, alone, when it is the oldest', () => {
    const { group, rest } = takeGroup([write('big', 600), write('small')], 500);
    expect(names(group)).toEqual(['big']);
    expect(names(rest)).toEqual(['small']);
  });

  it('a second write with the same key waits for the next group; other keys and unkeyed writes do not', () => {
    const queue = [
      write('k1', 1, 'K'),
      write('k2', 1, 'K'),
      write('other', 1, 'L'),
      write('plain'),
      write('k3', 1, 'K'),
    ];
    const first = takeGroup(queue, 500);
    expect(names(first.group)).toEqual(['k1', 'other', 'plain']);
    expect(names(first.rest)).toEqual(['k2', 'k3']);
    expect(names(takeGroup(first.rest, 500).group)).toEqual(['k2']);
  });
});

describe('GroupCommitQueue', () => {
  /** A runGroup whose groups finish when the test says. */
  function groups() {
    const started: { names: string[]; finish: () => void }[] = [];
    const run = (group: (Queued & { name: string })[]) =>
      new Promise<void>((finish) => started.push({ names: names(group), finish }));
    return { started, run };
  }
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('runs a write at once while a slot is free; writes arriving meanwhile go together when one frees', async () => {
    const { started, run } = groups();
    const queue = new GroupCommitQueue(run, { groupsInFlight: 1, maxOperations: 500 });
    queue.push(write('a'));
    queue.push(write('b'));
    queue.push(write('c'));
    expect(started.map((g) => g.names)).toEqual([['a']]);
    started[0].finish();
    await settle();
    expect(started.map((g) => g.names)).toEqual([['a'], ['b', 'c']]);
  });

  it('holds at most groupsInFlight groups at once', async () => {
    const { started, run } = groups();
    const queue = new GroupCommitQueue(run, { groupsInFlight: 2, maxOperations: 500 });
    for (const name of ['a', 'b', 'c', 'd']) queue.push(write(name));
    expect(started.map((g) => g.names)).toEqual([['a'], ['b']]);
    started[1].finish();
    await settle();
    expect(started.map((g) => g.names)).toEqual([['a'], ['b'], ['c', 'd']]);
  });
});
