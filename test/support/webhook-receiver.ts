import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface Received {
  eventId: string;
  body: string;
  headers: IncomingHttpHeaders;
  /** What the receiver answered (0: it never could — the sender's connection was gone). */
  answered: number;
  /** The sender's port (which process sent it: see process-sockets.ts). */
  remotePort: number;
  /** Whether the signature verified with the standardwebhooks library (a receiver nobody here wrote). */
  signatureValid: boolean;
}

/**
 * A webhook receiver on 127.0.0.1 for tests: records every request, verifies its Standard Webhooks
 * signature with the `standardwebhooks` package, and answers what the test sets (`answer`), after
 * `delayMs`. `down()` stops listening (connections refused), `up()` listens again on the same port.
 */
export class WebhookReceiver {
  readonly received: Received[] = [];
  answer = 200;
  delayMs = 0;
  /** Requests being answered now. */
  inFlight = 0;
  private server: Server | null = null;
  private port = 0;
  private verifier: Webhook | null = null;

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await receiver.up();
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/inventory`;
  }

  /** The secret the service showed at creation, to verify signatures with. */
  useSecret(secret: string): void {
    this.verifier = new Webhook(secret);
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const record: Received = {
          eventId: String(req.headers['webhook-id']),
          body,
          headers: req.headers,
          answered: 0,
          remotePort: req.socket.remotePort ?? 0,
          signatureValid: this.verify(body, req.headers),
        };
        this.received.push(record);
        this.inFlight++;
        const status = this.answer;
        setTimeout(() => {
          this.inFlight--;
          if (req.socket.destroyed) return; // the sender died waiting: it never learns of an answer
          record.answered = status;
          res.writeHead(status).end();
        }, this.delayMs);
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Event ids answered 2xx, each as often as it was. */
  delivered(): string[] {
    return this.received.filter((r) => r.answered >= 200 && r.answered < 300).map((r) => r.eventId);
  }

  private verify(body: string, headers: IncomingHttpHeaders): boolean {
    if (!this.verifier) return false;
    try {
      this.verifier.verify(body, {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      });
      return true;
    } catch {
      return false;
    }
  }
}
