import { PATH_METADATA, METHOD_METADATA, MODULE_METADATA } from '@nestjs/common/constants';
import { AppModule } from '../app.module';
import { IS_PUBLIC, Roles } from './decorators/auth.decorators';

type Class = abstract new (...args: never[]) => unknown;

/** Every controller reachable from AppModule, static or dynamic imports alike. */
function controllersOf(root: Class): Class[] {
  const seen = new Set<unknown>();
  const controllers: Class[] = [];
  const visit = (entry: unknown) => {
    const mod = (entry as { module?: Class })?.module ?? (entry as Class);
    if (!mod || seen.has(mod)) return;
    seen.add(mod);
    const dynamic = entry as { imports?: unknown[]; controllers?: Class[] };
    controllers.push(...(Reflect.getMetadata(MODULE_METADATA.CONTROLLERS, mod) ?? []), ...(dynamic.controllers ?? []));
    [...(Reflect.getMetadata(MODULE_METADATA.IMPORTS, mod) ?? []), ...(dynamic.imports ?? [])].forEach(visit);
  };
  visit(root);
  return controllers;
}

describe('every route has an access rule', () => {
  const routes = controllersOf(AppModule).flatMap((controller) =>
    Object.getOwnPropertyNames(controller.prototype)
      .map((name) => ({ controller, name, handler: controller.prototype[name] as object }))
      .filter(({ handler }) => typeof handler === 'function' && Reflect.hasMetadata(METHOD_METADATA, handler)),
  );

  it('finds the routes', () => {
    expect(routes.length).toBeGreaterThan(10);
  });

  it.each(routes.map((r) => [`${r.controller.name}.${r.name}`, r] as const))('%s is public or names roles', (_, r) => {
    const isPublic = Reflect.getMetadata(IS_PUBLIC, r.handler) ?? Reflect.getMetadata(IS_PUBLIC, r.controller);
    const roles = Reflect.getMetadata(Roles.KEY, r.handler) ?? Reflect.getMetadata(Roles.KEY, r.controller);
    expect(Reflect.getMetadata(PATH_METADATA, r.handler)).toBeDefined();
    expect(isPublic === true || (Array.isArray(roles) && roles.length > 0)).toBe(true);
  });

  it('opens only the contract public routes', () => {
    const open = routes
      .filter((r) => Reflect.getMetadata(IS_PUBLIC, r.handler) ?? Reflect.getMetadata(IS_PUBLIC, r.controller))
      .map((r) => `${r.controller.name}.${r.name}`);
    expect(open.sort()).toEqual(['AuthController.login', 'HealthController.live', 'HealthController.ready']);
  });
});
