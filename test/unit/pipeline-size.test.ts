/**
 * Each command's orchestration stays readable: no function in src/lib/<feature>/pipeline.ts is longer
 * than ORCHESTRATION_MAX lines. Work that grows goes into the feature's gather / plan / render /
 * execute modules, or the shared apply step (src/lib/plan/).
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/moto.js';

const ORCHESTRATION_MAX = 80;
const LIB = path.join(ROOT, 'src', 'lib');

/** Every function-like node of a file with its name and length in lines. */
export function functionLengths(file: string, text: string): { name: string; lines: number }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: { name: string; lines: number }[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
      const start = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const parent = node.parent;
      const name = (node as ts.FunctionDeclaration).name?.getText() ?? (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ? parent.name.getText() : '(anonymous)');
      out.push({ name, lines: end - start + 1 });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const pipelines = readdirSync(LIB, { withFileTypes: true })
  .filter((e) => e.isDirectory() && existsSync(path.join(LIB, e.name, 'pipeline.ts')))
  .map((e) => path.join(LIB, e.name, 'pipeline.ts'));

describe('src/lib/*/pipeline.ts', () => {
  it('are found', () => {
    expect(pipelines.map((p) => path.relative(LIB, p)).sort()).toEqual(expect.arrayContaining(['cdn/pipeline.ts', 'images/pipeline.ts', 'inventory/pipeline.ts', 'prescale/pipeline.ts']));
  });

  it(`have no function over ${ORCHESTRATION_MAX} lines`, () => {
    const long = pipelines.flatMap((file) => functionLengths(file, readFileSync(file, 'utf8')).filter((f) => f.lines > ORCHESTRATION_MAX).map((f) => `${path.relative(LIB, file)}: ${f.name} (${f.lines} lines)`));
    expect(long).toEqual([]);
  });

  it('the measure sees a long function', () => {
    const body = Array.from({ length: ORCHESTRATION_MAX + 1 }, (_, i) => `  const x${i} = ${i};`).join('\n');
    expect(functionLengths('x.ts', `export async function big() {\n${body}\n}\nconst small = () => 1;\n`)).toEqual([
      { name: 'big', lines: ORCHESTRATION_MAX + 3 },
      { name: 'small', lines: 1 },
    ]);
  });
});
