// A thread of the parallel engine started from the TypeScript sources (the test suite): TypeScript
// support first, then the worker itself. The built CLI starts dist/inventory-worker.cjs instead.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
