import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The system account PostgreSQL runs as when Tideline runs as root: PostgreSQL refuses to run as root. */
export interface PostgresUser {
  uid: number;
  gid: number;
}

const NAME = 'postgres';
const CHECK_TIMEOUT_MS = 10_000;

export function runningAsRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The `postgres` system user (no home, no login shell), created when this machine lacks it. */
export function ensurePostgresUser(): PostgresUser {
  const existing = lookUpPostgresUser();
  if (existing) return existing;
  const shell = ['/usr/sbin/nologin', '/sbin/nologin'].find((s) => existsSync(s)) ?? '/bin/false';
  // Either command fails harmlessly when the group or user already exists (another process made them first).
  const outputs = [
    spawnSync('groupadd', ['--system', NAME], { encoding: 'utf8' }),
    spawnSync('useradd', ['--system', '--gid', NAME, '--no-create-home', '--shell', shell, NAME], { encoding: 'utf8' }),
  ].map((r) => (r.error ? r.error.message : r.stderr.trim()));
  const created = lookUpPostgresUser();
  if (created) return created;
  throw new Error(
    `running as root, PostgreSQL needs a "${NAME}" system user to run as, and creating it failed: `
      + outputs.filter(Boolean).join('; '),
  );
}

function lookUpPostgresUser(): PostgresUser | undefined {
  const [uid, gid] = ['-u', '-g'].map((flag) => {
    const r = spawnSync('id', [flag, NAME], { encoding: 'utf8' });
    return r.status === 0 ? Number.parseInt(r.stdout, 10) : NaN;
  });
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
}

/** Runs a POSIX shell test as `user`, so the kernel itself says what that user may do. */
function testAsUser(user: PostgresUser, script: string, args: string[]): boolean {
  const r = spawnSync('/bin/sh', ['-c', script, 'sh', ...args], { ...user, stdio: 'ignore', timeout: CHECK_TIMEOUT_MS });
  return r.status === 0;
}

/** True when `user` can enter `dir` and create files in it. */
export function canWriteDir(user: PostgresUser, dir: string): boolean {
  return testAsUser(user, 'test -d "$1" && test -w "$1" && test -x "$1"', [dir]);
}

/** The first of `dir`'s ancestors, or `dir` itself, that `user` cannot traverse (from `/` down); undefined when none. */
export function untraversableFolder(user: PostgresUser, dir: string): string | undefined {
  const chain: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    chain.unshift(d);
    if (path.dirname(d) === d) break;
  }
  // One shell for the whole chain: stops at the first folder that fails.
  const r = spawnSync('/bin/sh', ['-c', 'for d; do test -x "$d" || { printf %s "$d"; exit 1; }; done', 'sh', ...chain], {
    ...user,
    encoding: 'utf8',
    timeout: CHECK_TIMEOUT_MS,
  });
  if (r.status === 0) return undefined;
  return r.stdout || dir;
}

/** True when `user` can run `binary --version`: the file, the folders above it and its libraries are all reachable. */
export function canRun(user: PostgresUser, binary: string): boolean {
  const r = spawnSync(binary, ['--version'], { ...user, stdio: 'ignore', timeout: CHECK_TIMEOUT_MS });
  return !r.error && r.status === 0;
}
