import { connect, ChannelModel } from 'amqplib';
import { createConnection, createServer, Server, Socket } from 'node:net';
import { AddressInfo } from 'node:net';

export const AMQP_URL = process.env.TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const BROKER = new URL(AMQP_URL);

export interface BrokerMessage {
  messageId: string;
  routingKey: string;
  persistent: boolean;
  body: string;
}

/**
 * A consumer of the service's exchange for tests: an exclusive queue bound to every routing key,
 * keeping the messages whose body `keep` accepts (suites running at once share the exchange).
 */
export class BrokerConsumer {
  readonly messages: BrokerMessage[] = [];
  private constructor(private readonly connection: ChannelModel) {}

  static async start(exchange: string, keep: (body: string) => boolean): Promise<BrokerConsumer> {
    const connection = await connect(AMQP_URL);
    const consumer = new BrokerConsumer(connection);
    const channel = await connection.createChannel();
    await channel.assertExchange(exchange, 'topic', { durable: true });
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, exchange, '#');
    await channel.consume(
      queue,
      (message) => {
        if (!message) return;
        const body = message.content.toString('utf8');
        if (keep(body)) {
          consumer.messages.push({
            messageId: String(message.properties.messageId),
            routingKey: message.fields.routingKey,
            persistent: message.properties.deliveryMode === 2,
            body,
          });
        }
      },
      { noAck: true },
    );
    return consumer;
  }

  close(): Promise<void> {
    return this.connection.close();
  }
}

/**
 * A TCP proxy in front of the broker, so a test can take the service's broker connection away:
 * `cut()` drops every open connection, `pause()` also refuses new ones, `resume()` accepts again on
 * the same port. With `holdReplies` the broker's answers (publisher confirms among them) are held back:
 * what the service publishes reaches the broker, but it never learns so — a cut then is mid-publish.
 */
export class BrokerProxy {
  private server: Server | null = null;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  connections = 0;
  holdReplies = false;

  static async start(): Promise<BrokerProxy> {
    const proxy = new BrokerProxy();
    await proxy.resume();
    return proxy;
  }

  get url(): string {
    return `amqp://${BROKER.username}:${BROKER.password}@127.0.0.1:${this.port}`;
  }

  async resume(): Promise<void> {
    const server = createServer((client) => {
      this.connections++;
      const upstream = createConnection(Number(BROKER.port || 5672), BROKER.hostname);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.on('data', (chunk: Buffer) => {
        if (!this.holdReplies) client.write(chunk);
      });
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  async pause(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.cut();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
