import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SECRET_VARIABLES } from '../src/config/validate-config';

interface Service {
  environment?: Record<string, string>;
  ports?: string[];
  secrets?: string[];
}

const compose = parse(readFileSync(join(process.cwd(), 'docker', 'compose.yaml'), 'utf8')) as {
  services: Record<string, Service>;
  secrets: Record<string, { file: string }>;
};

describe('docker/compose.yaml', () => {
  it('publishes every port on the loopback interface only', () => {
    const published = Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => [name, p]));
    expect(published.length).toBeGreaterThan(0);
    expect(published.filter(([, port]) => !port.startsWith('127.0.0.1:'))).toEqual([]);
  });

  it('hands secrets to the containers as files, never as plain environment', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      const env = service.environment ?? {};
      const plain = Object.keys(env).filter((key) => /PASSWORD$|SECRET$|_URL$/.test(key) && !key.endsWith('_FILE'));
      expect({ name, plain }).toEqual({ name, plain: [] });
      for (const [key, value] of Object.entries(env).filter(([key]) => key.endsWith('_FILE'))) {
        const secret = /^\/run\/secrets\/(\w+)$/.exec(value)?.[1];
        expect({ key, declared: secret !== undefined && secret in compose.secrets }).toEqual({ key, declared: true });
        expect(service.secrets).toContain(secret);
      }
    }
    const inventory = compose.services.inventory.environment!;
    for (const variable of SECRET_VARIABLES.filter((v) => v !== 'EVENTS_AMQP_URL')) {
      expect(inventory[`${variable}_FILE`]).toMatch(/^\/run\/secrets\//);
    }
  });
});
