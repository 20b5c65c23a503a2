/**
 * One bad input, flag or path for the edge corpus (test/e2e/edge-corpus.e2e.test.ts): what a user
 * (or an attacker) gives retailctl, and what they must get back. Every case runs the built binary in
 * a fresh directory against the emulator; the runner checks, besides `code` and `message`: exactly
 * one `error:` line, no stack trace, no "unexpected error", no write request reaching AWS, and
 * nothing created or changed at the `untouched` paths.
 */
import type { S3Client } from '@aws-sdk/client-s3';

/** A file to create in the case directory: text/bytes, a symlink, a directory, or a FIFO. */
export type CorpusFile = string | Buffer | { symlink: string } | { dir: true } | { fifo: true };

export interface CorpusSetup {
  /** The case's own directory (its cwd). */
  dir: string;
  endpoint: string;
  s3: S3Client;
}

export interface CorpusCase {
  /** What the case is, as a user would say it. */
  name: string;
  /** Arguments after `retailctl`. `--endpoint-url` is added by the runner unless `noEndpoint`. */
  args: string[];
  /** Files to create first, by path relative to the case directory. */
  files?: Record<string, CorpusFile>;
  /** Anything else to prepare (buckets, records) before the run; its requests are not checked. */
  setup?: (s: CorpusSetup) => Promise<void>;
  env?: Record<string, string>;
  noEndpoint?: boolean;
  /** Expected exit code (2 unless said). */
  code?: number;
  /** Must appear in the `error:` line (a string, or a pattern tested against that line). */
  message: string | RegExp;
  /** Paths (relative to the case directory, or absolute) that must be as before the run: absent, or byte-identical. */
  untouched?: string[];
  /** Further checks on what the run printed or left. */
  check?: (r: { stdout: string; stderr: string; dir: string }) => void | Promise<void>;
  /** The run may write to AWS (a case whose point is what happens after a write); default false. */
  allowWrites?: boolean;
  /** The case needs root (e.g. to show a device would have been replaced); skipped otherwise. */
  rootOnly?: boolean;
}
