import { NestFastifyApplication } from '@nestjs/platform-fastify';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.factory';
import { Role, ROLES } from '../../src/common/roles';
import { AuthService } from '../../src/modules/auth/auth.service';
import { PasswordService } from '../../src/modules/users/password.service';
import { UsersRepository } from '../../src/modules/users/users.repository';
import { ADMIN, PASSWORD, serviceEnv } from './service-env';
import { createTestDatabase, TestDatabase } from './test-database';

export interface TestApp {
  app: NestFastifyApplication;
  http: TestAgent;
  dataSource: DataSource;
  database: TestDatabase;
  /** An access token for a user of each role (admin is the bootstrap admin). */
  tokens: Record<Role, string>;
  login(username: string, password: string): Promise<string>;
  createUser(username: string, role: Role, password?: string): Promise<{ id: number; token: string }>;
  close(): Promise<void>;
}

/**
 * Boots the real AppModule, as production builds it, on a fresh database of this project's driver,
 * logs the admin in, and gives a user of each other role (`<role>-user`, PASSWORD) a token. One per process: passport keeps its strategies in a global
 * registry, so a second instance must be a process of its own (support/service-process.ts).
 */
let fixtureHash: Promise<string> | undefined;

/** The environment this suite's worker had before any app: each close goes back to it. */
const baselineEnv = { ...process.env };

/** The next suite in this worker, and the service processes it starts, must not inherit an app's settings. */
function restoreEnv(): void {
  for (const name of Object.keys(process.env)) if (!(name in baselineEnv)) delete process.env[name];
  Object.assign(process.env, baselineEnv);
}

export async function startTestApp(env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  Object.assign(process.env, serviceEnv(database, { LOG_LEVEL: 'silent', ...env }));
  const app = await createApp().catch(async (error: unknown) => {
    await database.drop();
    restoreEnv();
    throw error;
  });
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const http = request(app.getHttpServer());

  const login = async (username: string, password: string): Promise<string> => {
    const res = await http.post('/api/auth/login').send({ username, password }).expect(200);
    return res.body.accessToken as string;
  };
  const adminToken = await login(ADMIN.username, ADMIN.password).catch(async (error: unknown) => {
    await app.close();
    await database.drop();
    restoreEnv();
    throw error;
  });
  const createUser = async (username: string, role: Role, password = PASSWORD) => {
    const res = await http
      .post('/api/users')
      .set('Authorization', `Bearer ${adminToken}`)
      .send({ username, password, role })
      .expect(201);
    return { id: res.body.id as number, token: await login(username, password) };
  };
  const close = async () => {
    await app.close();
    await database.drop();
    restoreEnv();
  };
  const tokens = { admin: adminToken } as Record<Role, string>;
  try {
    // fixtures, not behaviour under test: the role users are stored with one hash of PASSWORD made once per
    // process, and get their tokens from the service's own signer — four argon2 hashes and checks fewer per suite
    const passwordHash = await (fixtureHash ??= app.get(PasswordService).hash(PASSWORD));
    const now = new Date();
    for (const role of ROLES.filter((r) => r !== 'admin')) {
      const user = await app.get(UsersRepository).insert(app.get(DataSource).manager, {
        username: `${role}-user`,
        passwordHash,
        role,
        disabled: false,
        tokenVersion: 0,
        createdAt: now,
        updatedAt: now,
      });
      tokens[role] = await app.get(AuthService).issueToken(user);
    }
  } catch (error) {
    await close(); // a half-started app would keep Jest from exiting
    throw error;
  }
  return { app, http, dataSource: app.get(DataSource), database, tokens, login, createUser, close };
}

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
