import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** moto version installed when no usable moto is found (pin: behaviour notes in docs/testing.md are for 5.2.x). */
export const MOTO_PIN = '5.2.5';
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const VENV = path.join(ROOT, '.venv');
const VENV_PYTHON = path.join(VENV, 'bin', 'python');

async function motoVersion(python: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(python, ['-c', 'import moto, moto.server, flask; print(moto.__version__)'], { timeout: 60_000 });
    const version = stdout.trim();
    return /^5\./.test(version) ? version : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Python that can run `moto.server`: MOTO_PYTHON, then the project's .venv, then python3.
 * If none can, create .venv and pip-install moto[server] (pinned). Fails with a clear message otherwise.
 */
export async function ensureMotoPython(log: (line: string) => void = () => {}): Promise<{ python: string; version: string }> {
  const candidates = [process.env.MOTO_PYTHON, existsSync(VENV_PYTHON) ? VENV_PYTHON : undefined, 'python3'].filter((c): c is string => Boolean(c));
  for (const python of candidates) {
    const version = await motoVersion(python);
    if (version) return { python, version };
  }
  log(`moto not found: installing moto[server]==${MOTO_PIN} into ${VENV}`);
  try {
    if (!existsSync(VENV_PYTHON)) await run('python3', ['-m', 'venv', VENV], { timeout: 120_000 });
    await run(VENV_PYTHON, ['-m', 'pip', 'install', '--quiet', `moto[server]==${MOTO_PIN}`], { timeout: 600_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    throw new Error(
      `cannot install the AWS emulator: \`python3 -m venv .venv && .venv/bin/pip install "moto[server]==${MOTO_PIN}"\` failed (${(err as Error).message.split('\n')[0]}). ` +
        'Install it by hand (Python 3.9+ with pip and PyPI access are needed) or set MOTO_PYTHON to a python that has moto[server].',
    );
  }
  const version = await motoVersion(VENV_PYTHON);
  if (!version) throw new Error(`moto was installed into ${VENV} but \`import moto.server\` still fails`);
  return { python: VENV_PYTHON, version };
}

/** A free TCP port on 127.0.0.1 (or `preferred` when given). */
export function freePort(preferred = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(preferred, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited with code ${child.exitCode}:\n${output()}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`moto did not answer on ${url} within ${timeoutMs} ms:\n${output()}`);
}

export interface MotoServer {
  endpoint: string;
  port: number;
  version: string;
  /** Forget every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** Start `python -m moto.server` on 127.0.0.1 only. */
export async function startMoto(options: { port?: number; log?: (line: string) => void } = {}): Promise<MotoServer> {
  const { python, version } = await ensureMotoPython(options.log);
  const port = options.port ?? (await freePort());
  let output = '';
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const endpoint = `http://127.0.0.1:${port}`;
  await waitForHttp(`${endpoint}/moto-api/`, child, 30_000, () => output);
  return {
    endpoint,
    port,
    version,
    async reset() {
      const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
    },
    stop() {
      return new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      });
    },
  };
}
