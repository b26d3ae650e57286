/**
 * Pure mapping from the user's `codesaga.*` settings to the
 * `initializationOptions` (and `workspace/configuration` answer) that the
 * CodeSaga language server reads.  No `vscode` import here, so this module is
 * unit tested with the plain Node test runner; its user-visible texts are
 * {@link Message}s, which the extension translates.
 */
import { Message, msg } from './messages';

/** How one setting is checked. */
export interface SettingSpec {
  /** Key inside the `codesaga` section, dotted (`openai.baseUrl`). */
  readonly key: string;
  readonly type: 'string' | 'integer' | 'number' | 'string[]';
  readonly default: string | number | readonly string[];
  readonly enum?: readonly string[];
  readonly minimum?: number;
  readonly maximum?: number;
  /** Expand a leading `~` (paths). */
  readonly path?: boolean;
}

export const SECTION = 'codesaga';

/** Languages the server completes; the client's document selector. */
export const LANGUAGES = [
  'python',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'rust',
  'go',
  'java',
  'c',
  'cpp',
] as const;

/** The server's default for `openai.baseUrl`. */
export const DEFAULT_OPENAI_BASE_URL = 'http://127.0.0.1:8080/v1';

/**
 * Settings the server reads; same names, defaults and ranges as the server's
 * own (server/codesaga/settings.py; a test keeps them in step).  Every key is
 * always sent, so a value the user clears replaces the one sent before (the
 * server merges updates over what it already has).
 */
export const SERVER_SETTINGS: readonly SettingSpec[] = [
  { key: 'model', type: 'string', default: 'auto', path: true },
  { key: 'backend', type: 'string', default: 'llama', enum: ['llama', 'openai'] },
  { key: 'openai.baseUrl', type: 'string', default: DEFAULT_OPENAI_BASE_URL },
  { key: 'openai.apiKey', type: 'string', default: '' },
  { key: 'openai.model', type: 'string', default: '' },
  { key: 'gpuLayers', type: 'integer', default: -1, minimum: -1 },
  { key: 'contextSize', type: 'integer', default: 2048, minimum: 256, maximum: 131072 },
  { key: 'maxTokens', type: 'integer', default: 64, minimum: 1, maximum: 2048 },
  { key: 'temperature', type: 'number', default: 0.2, minimum: 0, maximum: 2 },
  { key: 'language', type: 'string', default: 'auto', enum: ['auto', 'ko', 'en'] },
  { key: 'cacheDir', type: 'string', default: '', path: true },
  { key: 'logLevel', type: 'string', default: 'info', enum: ['error', 'warning', 'info', 'debug'] },
  {
    key: 'fimFamily',
    type: 'string',
    default: 'auto',
    enum: ['auto', 'qwen', 'codellama', 'starcoder', 'deepseek', 'codegemma', 'none'],
  },
  { key: 'threads', type: 'integer', default: 0, minimum: 0 },
  { key: 'batchThreads', type: 'integer', default: 0, minimum: 0 },
  { key: 'styleGuide', type: 'string', default: '' },
  { key: 'repoContextTokens', type: 'integer', default: 384, minimum: 0, maximum: 8192 },
  { key: 'rankCandidates', type: 'integer', default: 1, minimum: 1, maximum: 8 },
  { key: 'usageRetentionDays', type: 'integer', default: 30, minimum: 0, maximum: 3650 },
];

/** Settings only the extension reads (how to start the server); never sent to the server. */
export const CLIENT_SETTINGS: readonly SettingSpec[] = [
  { key: 'server.path', type: 'string', default: 'codesaga' },
  { key: 'server.pythonPath', type: 'string', default: '' },
  { key: 'server.extraArgs', type: 'string[]', default: [] },
];

export const ALL_SETTINGS: readonly SettingSpec[] = [...SERVER_SETTINGS, ...CLIENT_SETTINGS];

/** Registry models offered by "CodeSaga: Pick Model" (models/registry.toml; a test keeps them in step). */
export const MODEL_CHOICES: readonly { readonly name: string; readonly description: Message }[] = [
  { name: 'auto', description: msg('Let the server choose a model that fits this machine') },
  {
    name: 'qwen2.5-coder-0.5b',
    description: msg('Qwen2.5-Coder 0.5B: the default code model, fill-in-the-middle, installed with CodeSaga (469 MB)'),
  },
  { name: 'gemma-3-270m', description: msg('Gemma 3 270M: tiny fallback, installed with CodeSaga (242 MB); prefix-only') },
  { name: 'qwen2.5-coder-1.5b', description: msg('Qwen2.5-Coder 1.5B: fast fill-in-the-middle completions (1.1 GB download)') },
  {
    name: 'qwen2.5-coder-7b',
    description: msg('Qwen2.5-Coder 7B: stronger fill-in-the-middle completions; wants a GPU (4.7 GB download)'),
  },
  { name: 'bllossom-8b', description: msg('Llama 3 Bllossom 8B: chat and explanations in Korean (4.9 GB download)') },
];

/**
 * Settings whose change needs a new server process.  Changes to the other
 * keys are sent to the running server (workspace/didChangeConfiguration),
 * which applies them and reloads the model when needed.  cacheDir is here
 * because the server opens its cache once.
 */
export const RESTART_KEYS: readonly string[] = ['server.path', 'server.pythonPath', 'server.extraArgs', 'cacheDir'];

export interface OpenAIOptions {
  baseUrl: string;
  apiKey: string;
  model: string;
}

/** The nested object sent as `initializationOptions`. */
export interface ServerOptions {
  model: string;
  backend: string;
  openai: OpenAIOptions;
  gpuLayers: number;
  contextSize: number;
  maxTokens: number;
  temperature: number;
  language: string;
  cacheDir: string;
  logLevel: string;
  fimFamily: string;
  threads: number;
  batchThreads: number;
  styleGuide: string;
  repoContextTokens: number;
  rankCandidates: number;
  usageRetentionDays: number;
}

export interface ClientOnlySettings {
  path: string;
  pythonPath: string;
  extraArgs: string[];
}

export interface MapOptions {
  /** Home directory used to expand a leading `~` in path settings. */
  homeDir?: string;
}

export interface ConfigResult<T> {
  value: T;
  /** Problems for the user (invalid values replaced by defaults, unknown keys...); each names its setting first. */
  problems: Message[];
}

type Flat = Record<string, unknown>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Turns a settings object into `{ "openai.baseUrl": ... }` form.  Accepts a
 * nested object (`{openai: {baseUrl}}`), dotted keys, or a mix, with or without
 * the leading `codesaga.` prefix.  Functions (as found on a
 * `WorkspaceConfiguration`) are skipped.
 */
export function flattenSettings(settings: unknown): Flat {
  const out: Flat = {};
  const known = new Set(ALL_SETTINGS.map((s) => s.key));
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [rawKey, value] of Object.entries(obj)) {
      if (typeof value === 'function') {
        continue;
      }
      let key = prefix ? `${prefix}.${rawKey}` : rawKey;
      if (!prefix && key.startsWith(`${SECTION}.`)) {
        key = key.slice(SECTION.length + 1);
      }
      // Recurse into objects unless the key itself is a setting.
      if (isPlainObject(value) && !known.has(key)) {
        walk(value, key);
      } else {
        out[key] = value;
      }
    }
  };
  if (isPlainObject(settings)) {
    walk(settings, '');
  }
  return out;
}

export function expandHome(value: string, homeDir: string | undefined): string {
  if (!homeDir) {
    return value;
  }
  if (value === '~') {
    return homeDir;
  }
  if (value.startsWith('~/') || value.startsWith('~\\')) {
    const sep = homeDir.endsWith('/') || homeDir.endsWith('\\') ? '' : value[1];
    return homeDir + sep + value.slice(2);
  }
  return value;
}

function show(v: unknown): string {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Checks one value against its spec; returns the value to use. */
export function checkSetting(spec: SettingSpec, raw: unknown, problems: Message[]): unknown {
  const name = `${SECTION}.${spec.key}`;
  if (raw === undefined || raw === null) {
    return spec.default;
  }
  switch (spec.type) {
    case 'string': {
      if (typeof raw !== 'string') {
        problems.push(msg('{0}: expected a string, got {1}; using {2}.', name, show(raw), show(spec.default)));
        return spec.default;
      }
      const value = raw.trim();
      if (spec.enum) {
        if (spec.enum.includes(value)) {
          return value;
        }
        const lower = value.toLowerCase();
        if (spec.enum.includes(lower)) {
          return lower;
        }
        problems.push(msg('{0}: {1} is not one of {2}; using {3}.', name, show(raw), spec.enum.join(', '), show(spec.default)));
        return spec.default;
      }
      if (value === '' && spec.default !== '') {
        return spec.default;
      }
      return value;
    }
    case 'integer':
    case 'number': {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) {
        problems.push(msg('{0}: expected a number, got {1}; using {2}.', name, show(raw), show(spec.default)));
        return spec.default;
      }
      if (spec.type === 'integer' && !Number.isInteger(raw)) {
        problems.push(msg('{0}: expected an integer, got {1}; using {2}.', name, raw, Math.round(raw)));
        raw = Math.round(raw);
      }
      let value = raw as number;
      if (spec.minimum !== undefined && value < spec.minimum) {
        problems.push(msg('{0}: {1} is below the minimum {2}; using {2}.', name, value, spec.minimum));
        value = spec.minimum;
      }
      if (spec.maximum !== undefined && value > spec.maximum) {
        problems.push(msg('{0}: {1} is above the maximum {2}; using {2}.', name, value, spec.maximum));
        value = spec.maximum;
      }
      return value;
    }
    case 'string[]': {
      if (!Array.isArray(raw)) {
        problems.push(msg('{0}: expected a list of strings, got {1}; ignoring it.', name, show(raw)));
        return [...(spec.default as readonly string[])];
      }
      const value: string[] = [];
      for (const item of raw) {
        if (typeof item === 'string') {
          value.push(item);
        } else {
          problems.push(msg('{0}: ignoring {1}, which is not a string.', name, show(item)));
        }
      }
      return value;
    }
  }
}

/** Reports keys that are neither server nor client settings. */
function unknownKeys(flat: Flat, problems: Message[]): void {
  const known = new Set(ALL_SETTINGS.map((s) => s.key));
  for (const key of Object.keys(flat)) {
    if (!known.has(key)) {
      problems.push(msg('{0} is not a CodeSaga setting; ignored.', `${SECTION}.${key}`));
    }
  }
}

/**
 * Maps settings to the server's `initializationOptions`: every server key with
 * its value or default, the `openai.*` keys nested under `openai`, client-only
 * `server.*` keys dropped, invalid values replaced and reported.
 */
export function toServerOptions(settings: unknown, options: MapOptions = {}): ConfigResult<ServerOptions> {
  const flat = flattenSettings(settings);
  const problems: Message[] = [];
  unknownKeys(flat, problems);
  const result: Record<string, unknown> = {};
  for (const spec of SERVER_SETTINGS) {
    let value = checkSetting(spec, flat[spec.key], problems);
    if (spec.path && typeof value === 'string') {
      value = expandHome(value, options.homeDir);
    }
    const dot = spec.key.indexOf('.');
    if (dot < 0) {
      result[spec.key] = value;
    } else {
      const group = spec.key.slice(0, dot);
      const sub = spec.key.slice(dot + 1);
      const nested = (result[group] ??= {}) as Record<string, unknown>;
      nested[sub] = value;
    }
  }
  return { value: result as unknown as ServerOptions, problems };
}

/** Reads the client-only `server.*` settings. */
export function toClientSettings(settings: unknown): ConfigResult<ClientOnlySettings> {
  const flat = flattenSettings(settings);
  const problems: Message[] = [];
  const get = (key: string): unknown => {
    const spec = CLIENT_SETTINGS.find((s) => s.key === key);
    if (!spec) {
      throw new Error(`no client setting ${key}`);
    }
    return checkSetting(spec, flat[key], problems);
  };
  return {
    value: {
      path: get('server.path') as string,
      pythonPath: get('server.pythonPath') as string,
      extraArgs: get('server.extraArgs') as string[],
    },
    problems,
  };
}

/** A copy of the server options that is safe to write to a log. */
export function redactServerOptions(options: ServerOptions): ServerOptions {
  const copy: ServerOptions = { ...options, openai: { ...options.openai } };
  if (copy.openai.apiKey) {
    copy.openai.apiKey = '***';
  }
  return copy;
}

/** True for a model setting that names a file rather than a registry entry. */
export function isModelPath(model: string): boolean {
  return /\.gguf$/i.test(model) || /[\\/]/.test(model);
}
