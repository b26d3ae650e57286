/**
 * The runtime strings and their Korean bundle: every `vscode.l10n.t('…')`
 * and `msg('…')` literal in src/ has a translation in
 * l10n/bundle.l10n.ko.json, the bundle has nothing else, and each
 * translation keeps the placeholders, setting ids and product names.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import * as ts from 'typescript';
import { english, formatMessage, msg } from '../messages';

// out/test/ -> the extension folder
const root = path.resolve(__dirname, '..', '..');
const srcDir = path.join(root, 'src');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const bundlePath = path.join(root, 'l10n', 'bundle.l10n.ko.json');
const ko = JSON.parse(fs.readFileSync(bundlePath, 'utf8')) as Record<string, string>;

interface Found {
  keys: Map<string, string>; // key -> where
  nonLiteral: string[]; // call sites whose key is not a string literal
}

/** The localized-string calls of the extension's own sources (not the tests). */
function scan(): Found {
  const found: Found = { keys: new Map(), nonLiteral: [] };
  const files = fs.readdirSync(srcDir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('extension.ts'), `sources in ${srcDir}`);
  for (const file of files) {
    const text = fs.readFileSync(path.join(srcDir, file), 'utf8');
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node)) {
        const callee = node.expression.getText(source);
        if (/(^|\.)l10n\.t$/.test(callee) || callee === 'msg') {
          const first = node.arguments[0];
          const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
          const where = `${file}:${line}`;
          if (first !== undefined && (ts.isStringLiteral(first) || ts.isNoSubstitutionTemplateLiteral(first))) {
            found.keys.set(first.text, where);
          } else {
            found.nonLiteral.push(`${where} ${node.getText(source).split('\n')[0]}`);
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return found;
}

const placeholders = (s: string): string[] => [...new Set(s.match(/\{[^}]+\}/g) ?? [])].sort();

describe('runtime strings in Korean (l10n/bundle.l10n.ko.json)', () => {
  const { keys, nonLiteral } = scan();

  it('finds the strings of every module that shows text', () => {
    const files = new Set([...keys.values()].map((w) => w.split(':')[0]));
    for (const file of ['extension.ts', 'config.ts', 'serverCommand.ts']) {
      assert.ok(files.has(file), `${file} has localized strings`);
    }
    assert.ok(keys.size >= 40, `${keys.size} strings`);
  });

  it('uses only string literals as keys (bar the helper that shows a Message)', () => {
    assert.deepEqual(
      nonLiteral.map((site) => site.replace(/^[\w.]+:\d+ /, '')),
      ['vscode.l10n.t(message.text, ...message.args)'],
    );
  });

  it('has a translation for every string the code uses, and no other', () => {
    const used = [...keys.keys()].sort();
    const missing = used.filter((k) => !(k in ko)).map((k) => `${keys.get(k)}: ${k}`);
    const unused = Object.keys(ko).filter((k) => !keys.has(k));
    assert.deepEqual(missing, [], 'missing from bundle.l10n.ko.json');
    assert.deepEqual(unused, [], 'in bundle.l10n.ko.json but not used');
  });

  it('keeps placeholders, setting ids and product names, and is Korean', () => {
    for (const [key, value] of Object.entries(ko)) {
      assert.deepEqual(placeholders(value), placeholders(key), `placeholders of ${JSON.stringify(key)}`);
      assert.match(value, /[\uac00-\ud7a3]/, `${JSON.stringify(key)} is translated`);
      const kept = key.match(/codesaga\.[\w.]*\w|CodeSaga|PATH|GGUF|\.gguf|--help|-m codesaga|\/new/g) ?? [];
      for (const token of kept) {
        assert.ok(value.includes(token), `${JSON.stringify(value)} keeps ${token}`);
      }
    }
  });

  it('is packaged: package.json names the folder and .vscodeignore keeps it', () => {
    assert.equal(pkg.l10n, './l10n');
    assert.ok(fs.existsSync(bundlePath));
    const ignore = fs.readFileSync(path.join(root, '.vscodeignore'), 'utf8').split('\n');
    assert.deepEqual(
      ignore.filter((line) => /l10n|\*\*\/\*\.json|^\*\*?$/.test(line.trim())),
      [],
      '.vscodeignore leaves l10n/ in',
    );
  });
});

describe('messages', () => {
  it('fills {0} and named placeholders as vscode.l10n.t does', () => {
    assert.equal(formatMessage('{0} of {1}, {0}', ['a', 2]), 'a of 2, a');
    assert.equal(formatMessage('{name} is {what}', { name: 'x', what: true }), 'x is true');
    assert.equal(formatMessage('{1} and {length} stay', ['only']), '{1} and {length} stay');
    // a value is not expanded again
    assert.equal(english(msg('{0} in "{1}"', '${workspaceFolder}', '{0}')), '${workspaceFolder} in "{0}"');
  });
});
