import { lookup as dnsLookup, LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import * as ipaddr from 'ipaddr.js';
import type { Agent } from 'undici';

/** undici, loaded by the first delivery rather than at start: until a webhook fires nothing needs it. */
let undici: Promise<typeof import('undici')> | undefined;
export const loadUndici = () => (undici ??= import('undici'));

/**
 * SSRF guard for webhook URLs. In production a webhook may only reach public unicast addresses —
 * never loopback, private, link-local (cloud metadata at 169.254.169.254), unique-local, CGNAT, or
 * addresses that embed one (6to4, Teredo, NAT64) — unless its host is listed in WEBHOOK_ALLOWED_HOSTS.
 * The check runs when a webhook is saved and again on every connection (the resolved address is the one
 * connected to), so a name that later resolves elsewhere (DNS rebinding) is refused too.
 */
export class UrlGuard {
  /**
   * `guarded` connects only to public addresses; `open` connects anywhere: hosts the operator allowed,
   * or any host outside production. Made by the first delivery.
   */
  private agents?: Promise<{ guarded: Agent; open: Agent }>;

  constructor(
    private readonly enforce: boolean,
    private readonly allowedHosts: Set<string>,
  ) {}

  /** The agent a delivery to `url` uses. */
  async agentFor(url: URL): Promise<Agent> {
    const { guarded, open } = await (this.agents ??= this.createAgents());
    return this.isAllowedHost(url) ? open : guarded;
  }

  private async createAgents(): Promise<{ guarded: Agent; open: Agent }> {
    const { Agent } = await loadUndici();
    const open = new Agent();
    return { guarded: this.enforce ? new Agent({ connect: { lookup: publicOnlyLookup } }) : open, open };
  }

  /** Why `url` may not be a webhook's, or null. Resolves its host (production only). */
  async problem(raw: string): Promise<string | null> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return 'must be a valid URL';
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http or https URL';
    if (url.username || url.password) return 'must not carry credentials';
    if (!this.enforce || this.isAllowedHost(url)) return null;
    const host = hostOf(url);
    let addresses: string[];
    try {
      addresses = isIP(host) ? [host] : (await resolveAll(host)).map((a) => a.address);
    } catch {
      return `host ${host} does not resolve`;
    }
    const bad = addresses.find((address) => !isPublic(address));
    return bad
      ? `host ${host} resolves to a non-public address (${bad}); list it in WEBHOOK_ALLOWED_HOSTS to allow it`
      : null;
  }

  private isAllowedHost(url: URL): boolean {
    const host = hostOf(url).toLowerCase();
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    return (
      this.allowedHosts.has(host) ||
      this.allowedHosts.has(`${host}:${port}`) ||
      this.allowedHosts.has(url.host.toLowerCase())
    );
  }
}

/** The URL's host without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

/** Public unicast only: ipaddr.js names every special range, and only plain `unicast` is the open internet. */
export function isPublic(address: string): boolean {
  try {
    return ipaddr.process(address).range() === 'unicast';
  } catch {
    return false;
  }
}

function resolveAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** dns.lookup for net.connect that fails when the name resolves to a non-public address. */
function publicOnlyLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const bad = addresses.find((a) => !isPublic(a.address));
    if (bad) {
      const refused = Object.assign(new Error(`${hostname} resolves to a non-public address (${bad.address})`), {
        code: 'EADDRNOTALLOWED',
      });
      return callback(refused, []);
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
}
