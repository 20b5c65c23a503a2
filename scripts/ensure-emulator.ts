/** Make sure moto[server] is importable (installing it, pinned, into .venv if not). Used by .ci/run. */
import { ensureMotoPython } from '../test/support/moto.js';

const { python, version } = await ensureMotoPython((line) => console.error(line));
console.error(`moto ${version} ready (${python})`);
