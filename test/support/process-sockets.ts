import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The local TCP ports of a process's sockets (Linux /proc): which MariaDB connections, or which requests
 * to a test's receiver, are that process's (PROCESSLIST and a server both see the client's host:port).
 */
export function localPortsOf(pid: number): Set<number> {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const socket = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (socket) inodes.add(socket[1]);
    } catch {
      // the descriptor closed meanwhile
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const columns = row.trim().split(/\s+/);
      if (columns.length > 9 && inodes.has(columns[9])) ports.add(parseInt(columns[1].split(':').pop()!, 16));
    }
  }
  return ports;
}
