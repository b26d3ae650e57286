import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ALL_SETTINGS, CLIENT_SETTINGS, LANGUAGES, MODEL_CHOICES, SERVER_SETTINGS } from '../config';

// out/test/ -> the extension folder
const root = path.resolve(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

interface Property {
  type: string;
  default: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
  items?: { type: string };
  description?: string;
  markdownDescription?: string;
}
const properties = pkg.contributes.configuration.properties as Record<string, Property>;
/** package.nls.json (English) and package.nls.ko.json: the texts of package.json's `%key%`s. */
const nls = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.json'), 'utf8')) as Record<string, string>;
const nlsKo = JSON.parse(fs.readFileSync(path.join(root, 'package.nls.ko.json'), 'utf8')) as Record<string, string>;

/** `text` with a `%key%` replaced by its text in `table`, as VS Code shows it. */
function localized(text: string, table: Record<string, string> = nls): string {
  const match = /^%([\w.-]+)%$/.exec(text);
  return match ? table[match[1]] : text;
}

/** Every `%key%` string anywhere in `value`. */
function references(value: unknown): string[] {
  if (typeof value === 'string') {
    const match = /^%([\w.-]+)%$/.exec(value);
    return match ? [match[1]] : [];
  }
  if (Array.isArray(value)) {
    return value.flatMap(references);
  }
  if (value && typeof value === 'object') {
    return Object.values(value).flatMap(references);
  }
  return [];
}

/** The server's settings, as the server's spec lists them. */
const SERVER_KEYS = [
  'model',
  'backend',
  'openai.baseUrl',
  'openai.apiKey',
  'openai.model',
  'gpuLayers',
  'contextSize',
  'maxTokens',
  'temperature',
  'language',
  'cacheDir',
  'logLevel',
  'fimFamily',
  'threads',
  'batchThreads',
  'styleGuide',
  'repoContextTokens',
  'rankCandidates',
  'usageRetentionDays',
];
const CLIENT_KEYS = ['server.path', 'server.pythonPath', 'server.extraArgs'];

describe('package.json contributes.configuration', () => {
  it('has exactly the server keys plus the client-only keys', () => {
    const expected = [...SERVER_KEYS, ...CLIENT_KEYS].map((k) => `codesaga.${k}`).sort();
    assert.deepEqual(Object.keys(properties).sort(), expected);
  });

  it('matches the keys config.ts knows', () => {
    assert.deepEqual(SERVER_SETTINGS.map((s) => s.key).sort(), [...SERVER_KEYS].sort());
    assert.deepEqual(CLIENT_SETTINGS.map((s) => s.key).sort(), [...CLIENT_KEYS].sort());
  });

  it('agrees with config.ts on type, default, enum and range', () => {
    for (const spec of ALL_SETTINGS) {
      const prop = properties[`codesaga.${spec.key}`];
      const where = `codesaga.${spec.key}`;
      if (spec.type === 'string[]') {
        assert.equal(prop.type, 'array', where);
        assert.equal(prop.items?.type, 'string', where);
      } else {
        assert.equal(prop.type, spec.type, where);
      }
      assert.deepEqual(prop.default, spec.default, where);
      assert.deepEqual(prop.enum, spec.enum, where);
      assert.equal(prop.minimum, spec.minimum, where);
      assert.equal(prop.maximum, spec.maximum, where);
      assert.ok(prop.description ?? prop.markdownDescription, `${where} has a description`);
    }
  });

  it('has the documented defaults', () => {
    const defaults = Object.fromEntries(Object.entries(properties).map(([k, p]) => [k, p.default]));
    assert.deepEqual(defaults, {
      'codesaga.model': 'auto',
      'codesaga.backend': 'llama',
      'codesaga.openai.baseUrl': 'http://127.0.0.1:8080/v1',
      'codesaga.openai.apiKey': '',
      'codesaga.openai.model': '',
      'codesaga.gpuLayers': -1,
      'codesaga.contextSize': 2048,
      'codesaga.maxTokens': 64,
      'codesaga.temperature': 0.2,
      'codesaga.language': 'auto',
      'codesaga.cacheDir': '',
      'codesaga.logLevel': 'info',
      'codesaga.fimFamily': 'auto',
      'codesaga.threads': 0,
      'codesaga.batchThreads': 0,
      'codesaga.styleGuide': '',
      'codesaga.repoContextTokens': 384,
      'codesaga.rankCandidates': 1,
      'codesaga.usageRetentionDays': 30,
      'codesaga.server.path': 'codesaga',
      'codesaga.server.pythonPath': '',
      'codesaga.server.extraArgs': [],
    });
  });

  it('restricts only existing settings in untrusted workspaces', () => {
    for (const key of pkg.capabilities.untrustedWorkspaces.restrictedConfigurations as string[]) {
      assert.ok(properties[key], key);
    }
  });
});

/** The commands that wrap VS Code's inline suggestion commands (suggestionEvents.ts). */
const INLINE_COMMANDS = ['codesaga.inlineSuggest.acceptNextWord', 'codesaga.inlineSuggest.acceptNextLine', 'codesaga.inlineSuggest.hide'];

describe('package.json manifest', () => {
  it('names the extension and its entry point', () => {
    assert.equal(pkg.name, 'codesaga');
    assert.equal(pkg.publisher, 'codesaga');
    assert.equal(pkg.displayName, 'CodeSaga');
    assert.equal(pkg.main, './out/extension.js');
    assert.ok(fs.existsSync(path.join(root, 'out', 'extension.js')), 'compiled entry point exists');
  });

  it('contributes the four palette commands and the inline suggestion commands', () => {
    const commands = (pkg.contributes.commands as { command: string; title: string; category?: string }[]).map(
      (c) => [c.command, c.category ? `${c.category}: ${localized(c.title)}` : localized(c.title)],
    );
    assert.deepEqual(commands, [
      ['codesaga.restartServer', 'CodeSaga: Restart Server'],
      ['codesaga.openChat', 'CodeSaga: Chat'],
      ['codesaga.pickModel', 'CodeSaga: Pick Model'],
      ['codesaga.showLog', 'CodeSaga: Show Log'],
      ['codesaga.inlineSuggest.acceptNextWord', 'CodeSaga: Accept Next Word of Inline Suggestion'],
      ['codesaga.inlineSuggest.acceptNextLine', 'CodeSaga: Accept Next Line of Inline Suggestion'],
      ['codesaga.inlineSuggest.hide', 'CodeSaga: Hide Inline Suggestion'],
    ]);
    // The inline suggestion commands act on the suggestion in the editor: keys, not the palette.
    assert.deepEqual(
      (pkg.contributes.menus.commandPalette as { command: string; when: string }[]).map((m) => [m.command, m.when]),
      INLINE_COMMANDS.map((id) => [id, 'false']),
    );
  });

  it('binds the inline suggestion commands to VS Code\'s keys, only while a CodeSaga suggestion shows', () => {
    const bindings = pkg.contributes.keybindings as { command: string; key: string; mac?: string; when: string }[];
    assert.deepEqual(
      bindings.map((b) => [b.command, b.key, b.mac]),
      [
        // editor.action.inlineSuggest.acceptNextWord's default keys
        ['codesaga.inlineSuggest.acceptNextWord', 'ctrl+right', 'cmd+right'],
        // editor.action.inlineSuggest.hide's
        ['codesaga.inlineSuggest.hide', 'escape', undefined],
      ],
    );
    for (const b of bindings) {
      const terms = b.when.split(' && ');
      // suggestionEvents.ts sets this context key while it follows a CodeSaga suggestion
      assert.ok(terms.includes('codesaga.inlineSuggestionShown'), b.command);
      assert.ok(terms.includes('inlineSuggestionVisible'), b.command);
      assert.ok(terms.includes('editorTextFocus'), b.command);
    }
  });

  it('is localised in English and Korean: every %key% has both texts', () => {
    const used = [...new Set(references(pkg))].sort();
    assert.deepEqual(Object.keys(nls).sort(), used);
    assert.deepEqual(Object.keys(nlsKo).sort(), used);
    for (const key of used) {
      assert.ok(nls[key].trim(), key);
      assert.match(nlsKo[key], /[\uac00-\ud7a3]/, `${key} is Korean`);
    }
    assert.equal(localized(pkg.contributes.commands[2].title, nlsKo), '모델 선택');
  });

  it('activates on every language of the document selector', () => {
    const onLanguage = (pkg.activationEvents as string[])
      .filter((e) => e.startsWith('onLanguage:'))
      .map((e) => e.slice('onLanguage:'.length));
    assert.deepEqual(onLanguage.sort(), [...LANGUAGES].sort());
  });

  it('keeps @types/vscode no newer than engines.vscode', () => {
    const engine = String(pkg.engines.vscode).replace(/^[\^~>=]+/, '');
    const types = String(pkg.devDependencies['@types/vscode']).replace(/^[\^~>=]+/, '');
    const num = (v: string): number[] => v.split('.').map((x) => parseInt(x, 10));
    const [e, t] = [num(engine), num(types)];
    const cmp = t[0] - e[0] || t[1] - e[1] || t[2] - e[2];
    assert.ok(cmp <= 0, `@types/vscode ${types} is newer than engines.vscode ${engine}`);
  });

  it('ships vscode-languageclient as a runtime dependency', () => {
    assert.ok(pkg.dependencies['vscode-languageclient']);
  });
});

// ---------------------------------------------------------------- the server

const repoRoot = path.resolve(root, '..', '..');
const settingsPy = path.join(repoRoot, 'server', 'codesaga', 'settings.py');
const registryToml = path.join(repoRoot, 'models', 'registry.toml');

interface PyField {
  key: string;
  default: unknown;
  enum?: string[];
  minimum?: number;
  maximum?: number;
}

const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());

function pyLiteral(text: string): unknown {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) {
    return Number(t);
  }
  const str = /^"(.*)"$|^'(.*)'$/.exec(t);
  if (str) {
    return str[1] ?? str[2];
  }
  return undefined;
}

function literalValues(annotation: string, aliases: Map<string, string[]>): string[] | undefined {
  const lit = /Literal\[([^\]]*)\]/.exec(annotation);
  if (lit) {
    return lit[1].split(',').map((v) => pyLiteral(v) as string);
  }
  return aliases.get(annotation.trim());
}

/** The fields of one pydantic class in settings.py: `name: annotation = default` or `= Field(default, ge=, le=)`. */
function pyFields(source: string, className: string, aliases: Map<string, string[]>): PyField[] {
  const start = source.indexOf(`class ${className}(`);
  assert.ok(start >= 0, `class ${className} in settings.py`);
  const rest = source.slice(start).split('\n').slice(1);
  const body: string[] = [];
  for (const line of rest) {
    if (line.trim() !== '' && !line.startsWith(' ')) {
      break;
    }
    body.push(line);
  }
  // Join statements spread over several lines (open parentheses).
  const statements: string[] = [];
  let current = '';
  let depth = 0;
  for (const line of body) {
    if (depth === 0 && !/^ {4}\w+: /.test(line)) {
      continue;
    }
    current += ` ${line.trim()}`;
    depth += (line.match(/[([]/g) ?? []).length - (line.match(/[)\]]/g) ?? []).length;
    if (depth <= 0) {
      statements.push(current.trim());
      current = '';
      depth = 0;
    }
  }
  const fields: PyField[] = [];
  for (const st of statements) {
    const m = /^(\w+): (.+?) = (.+)$/.exec(st);
    if (!m || m[1] === 'model_config') {
      continue;
    }
    const [, name, annotation, value] = m;
    const field: PyField = { key: camel(name), default: undefined };
    const call = /^Field\((.*)\)$/.exec(value);
    if (call) {
      const args = call[1].split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).map((a) => a.trim());
      field.default = pyLiteral(args[0]);
      for (const arg of args.slice(1)) {
        const kw = /^(ge|le)=(.+)$/.exec(arg);
        if (kw) {
          field[kw[1] === 'ge' ? 'minimum' : 'maximum'] = Number(kw[2]);
        }
      }
    } else {
      field.default = pyLiteral(value);
    }
    field.enum = literalValues(annotation, aliases);
    fields.push(field);
  }
  return fields;
}

describe('agreement with the server', () => {
  it('settings.py has the same keys, defaults, enums and ranges', { skip: !fs.existsSync(settingsPy) && 'no server/ beside this folder' }, () => {
    const source = fs.readFileSync(settingsPy, 'utf8');
    const aliases = new Map<string, string[]>();
    for (const m of source.matchAll(/^(\w+) = (Literal\[[^\]]*\])/gm)) {
      aliases.set(m[1], literalValues(m[2], new Map()) ?? []);
    }
    const openai = pyFields(source, 'OpenAISettings', aliases);
    const settings = pyFields(source, 'Settings', aliases);
    const server: PyField[] = [];
    for (const f of settings) {
      if (f.key === 'openai') {
        server.push(...openai.map((o) => ({ ...o, key: `openai.${o.key}` })));
      } else {
        server.push(f);
      }
    }
    assert.deepEqual(server.map((f) => f.key).sort(), SERVER_SETTINGS.map((s) => s.key).sort());
    for (const f of server) {
      const spec = SERVER_SETTINGS.find((s) => s.key === f.key)!;
      assert.deepEqual(spec.default, f.default, `default of ${f.key}`);
      assert.deepEqual(spec.enum, f.enum, `enum of ${f.key}`);
      assert.equal(spec.minimum, f.minimum, `minimum of ${f.key}`);
      assert.equal(spec.maximum, f.maximum, `maximum of ${f.key}`);
    }
  });

  it('Pick Model offers the models of models/registry.toml', { skip: !fs.existsSync(registryToml) && 'no models/registry.toml' }, () => {
    const names = [...fs.readFileSync(registryToml, 'utf8').matchAll(/^\[models\."([^"]+)"\]/gm)].map((m) => m[1]);
    assert.ok(names.length > 0);
    assert.deepEqual(
      MODEL_CHOICES.map((m) => m.name).filter((n) => n !== 'auto').sort(),
      names.sort(),
    );
  });
});
