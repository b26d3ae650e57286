/**
 * A small stand-in for the `vscode` module, enough for vscode-languageclient
 * and extension.ts to run under plain Node: real EventEmitter, Uri, Range,
 * Position, configuration backed by a map, recorded messages, output
 * channels, commands and providers.  Whatever is not written out here is a
 * harmless "deep stub" (callable, constructible, every property another stub),
 * and its name is recorded in `unknownAccesses` to help when it matters.
 */
import * as path from 'node:path';
import { URL, fileURLToPath, pathToFileURL } from 'node:url';

export const unknownAccesses = new Set<string>();

function deepStub(name: string): any {
  const target = function () {
    /* stub */
  };
  return new Proxy(target, {
    get(_t, prop) {
      if (prop === 'then' || prop === Symbol.iterator || prop === Symbol.asyncIterator) {
        return undefined;
      }
      if (prop === Symbol.toPrimitive) {
        return () => 0;
      }
      if (prop === 'dispose') {
        return () => undefined;
      }
      const key = `${name}.${String(prop)}`;
      unknownAccesses.add(key);
      return deepStub(key);
    },
    apply() {
      return deepStub(`${name}()`);
    },
    construct(_t, _args, newTarget) {
      return Reflect.construct(function () {
        /* stub instance */
      }, [], newTarget);
    },
  });
}

function withFallback<T extends object>(name: string, obj: T): T {
  return new Proxy(obj, {
    get(t, prop, receiver) {
      if (prop in t || typeof prop === 'symbol' || prop === 'then') {
        return Reflect.get(t, prop, receiver);
      }
      const key = `${name}.${prop}`;
      unknownAccesses.add(key);
      return deepStub(key);
    },
  });
}

export class Disposable {
  constructor(private readonly fn: () => void = () => undefined) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.fn();
  }
}

export class EventEmitter<T> {
  private listeners = new Set<(e: T) => unknown>();
  event = (listener: (e: T) => unknown, thisArg?: unknown, disposables?: Disposable[]): Disposable => {
    const bound = thisArg ? listener.bind(thisArg) : listener;
    this.listeners.add(bound);
    const d = new Disposable(() => this.listeners.delete(bound));
    disposables?.push(d);
    return d;
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) {
      l(e);
    }
  }
  dispose(): void {
    this.listeners.clear();
  }
}

export class CancellationError extends Error {}

export class CancellationTokenSource {
  private emitter = new EventEmitter<void>();
  token = {
    isCancellationRequested: false,
    onCancellationRequested: this.emitter.event,
  };
  cancel(): void {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose(): void {
    this.emitter.dispose();
  }
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly authority: string,
    readonly path: string,
    readonly query: string,
    readonly fragment: string,
  ) {}
  static parse(value: string): Uri {
    const u = new URL(value);
    return new Uri(u.protocol.replace(/:$/, ''), u.host, decodeURIComponent(u.pathname), u.search.replace(/^\?/, ''), u.hash.replace(/^#/, ''));
  }
  static file(p: string): Uri {
    return new Uri('file', '', pathToFileURL(p).pathname.split('/').map(decodeURIComponent).join('/'), '', '');
  }
  get fsPath(): string {
    return this.scheme === 'file' ? fileURLToPath(this.toString()) : this.path;
  }
  with(change: { scheme?: string; path?: string }): Uri {
    return new Uri(change.scheme ?? this.scheme, this.authority, change.path ?? this.path, this.query, this.fragment);
  }
  toString(): string {
    if (this.scheme === 'untitled') {
      return `untitled:${this.path}`;
    }
    const encoded = this.path.split('/').map(encodeURIComponent).join('/');
    return `${this.scheme}://${this.authority}${encoded}${this.query ? `?${this.query}` : ''}`;
  }
  toJSON(): unknown {
    return { scheme: this.scheme, path: this.path };
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(a: Position | number, b: Position | number, c?: number, d?: number) {
    if (typeof a === 'number') {
      this.start = new Position(a, b as number);
      this.end = new Position(c!, d!);
    } else {
      this.start = a;
      this.end = b as Position;
    }
  }
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
}

export class Selection extends Range {
  constructor(
    readonly anchor: Position,
    readonly active: Position,
  ) {
    const forward = anchor.line < active.line || (anchor.line === active.line && anchor.character <= active.character);
    super(forward ? anchor : active, forward ? active : anchor);
  }
}

export class InlineCompletionItem {
  constructor(
    public insertText: string | { value: string },
    public range?: Range,
    public command?: unknown,
  ) {}
  filterText?: string;
}

export class InlineCompletionList {
  constructor(public items: InlineCompletionItem[]) {}
}

export class ThemeColor {
  constructor(readonly id: string) {}
}

export class MarkdownString {
  constructor(public value = '') {}
}

export class SnippetString {
  constructor(public value = '') {}
}

export const ProgressLocation = { SourceControl: 1, Window: 10, Notification: 15 };
export const StatusBarAlignment = { Left: 1, Right: 2 };
export const ConfigurationTarget = { Global: 1, Workspace: 2, WorkspaceFolder: 3 };
export const QuickPickItemKind = { Separator: -1, Default: 0 };
export const InlineCompletionTriggerKind = { Invoke: 0, Automatic: 1 };
export const version = '1.91.0';

/**
 * `vscode.l10n`: `t` looks the message up in `state.l10nBundle` (the
 * contents of an l10n/bundle.l10n.<lang>.json; none: English) and fills
 * `{0}` / `{name}` placeholders from the arguments, as VS Code does.
 */
export const l10n = {
  t(...params: any[]): string {
    let message: string;
    let args: Record<string, unknown>;
    if (typeof params[0] === 'string') {
      message = params[0];
      const rest = params.slice(1);
      args = rest.length === 1 && typeof rest[0] === 'object' && rest[0] !== null ? rest[0] : { ...rest };
    } else {
      const comment = params[0].comment as string | string[] | undefined;
      message = params[0].message;
      args = { ...(params[0].args ?? {}) };
      if (comment !== undefined && comment.length > 0) {
        const key = `${message}/${Array.isArray(comment) ? comment.join('') : comment}`;
        return fill(state.l10nBundle?.[key] ?? message, args);
      }
    }
    return fill(state.l10nBundle?.[message] ?? message, args);
  },
  get bundle(): Record<string, string> | undefined {
    return state.l10nBundle;
  },
  uri: undefined,
};

function fill(template: string, args: Record<string, unknown>): string {
  return template.replace(/\{([^}]+)\}/g, (whole: string, name: string) =>
    Object.prototype.hasOwnProperty.call(args, name) ? String(args[name]) : whole,
  );
}

// ------------------------------------------------------------------ state

export interface Message {
  kind: 'error' | 'warning' | 'info';
  message: string;
  items: string[];
}

export class FakeOutputChannel {
  lines: string[] = [];
  shown = 0;
  constructor(
    readonly name: string,
    readonly languageId?: string,
  ) {}
  get text(): string {
    return this.lines.join('');
  }
  append(s: string): void {
    this.lines.push(s);
  }
  appendLine(s: string): void {
    this.lines.push(`${s}\n`);
  }
  replace(s: string): void {
    this.lines = [s];
  }
  clear(): void {
    this.lines = [];
  }
  show(): void {
    this.shown++;
  }
  hide(): void {
    /* nothing */
  }
  dispose(): void {
    /* nothing */
  }
  trace(s: string): void {
    this.appendLine(`[trace] ${s}`);
  }
  debug(s: string): void {
    this.appendLine(`[debug] ${s}`);
  }
  info(s: string): void {
    this.appendLine(`[info] ${s}`);
  }
  warn(s: string): void {
    this.appendLine(`[warn] ${s}`);
  }
  error(s: string | Error): void {
    this.appendLine(`[error] ${String(s)}`);
  }
  logLevel = 2;
  onDidChangeLogLevel = new EventEmitter<number>().event;
}

export interface ConfigChange {
  affectsConfiguration(section: string): boolean;
}

export const state = {
  settings: new Map<string, unknown>(),
  globalUpdates: [] as { key: string; value: unknown }[],
  messages: [] as Message[],
  channels: [] as FakeOutputChannel[],
  commands: new Map<string, (...args: unknown[]) => unknown>(),
  executed: [] as { id: string; args: unknown[] }[],
  inlineProviders: [] as { selector: unknown; provider: any }[],
  inputBoxAnswers: [] as (string | undefined)[],
  quickPickAnswer: undefined as ((items: any[]) => any) | undefined,
  openDialogAnswer: undefined as Uri[] | undefined,
  activeTextEditor: undefined as any,
  textDocuments: [] as any[],
  progressTitles: [] as string[],
  workspaceFolders: undefined as { uri: Uri; name: string; index: number }[] | undefined,
  onConfig: new EventEmitter<ConfigChange>(),
  /** The translations `l10n.t` uses; undefined: English. */
  l10nBundle: undefined as Record<string, string> | undefined,
  /** Values set with the `setContext` command. */
  contextKeys: new Map<string, unknown>(),
  onSelection: new EventEmitter<{ textEditor: any; selections: Selection[]; kind: number | undefined }>(),
  onActiveEditor: new EventEmitter<any>(),
  onCloseDocument: new EventEmitter<any>(),
  reset(): void {
    this.settings.clear();
    this.globalUpdates = [];
    this.messages = [];
    this.channels = [];
    this.commands.clear();
    this.executed = [];
    this.inlineProviders = [];
    this.inputBoxAnswers = [];
    this.quickPickAnswer = undefined;
    this.openDialogAnswer = undefined;
    this.activeTextEditor = undefined;
    this.textDocuments = [];
    this.progressTitles = [];
    this.workspaceFolders = undefined;
    this.onConfig = new EventEmitter<ConfigChange>();
    this.l10nBundle = undefined;
    this.contextKeys = new Map<string, unknown>();
    this.onSelection = new EventEmitter();
    this.onActiveEditor = new EventEmitter();
    this.onCloseDocument = new EventEmitter();
  },
  /** Makes `editor` the active one, firing onDidChangeActiveTextEditor. */
  activate(editor: any): void {
    this.activeTextEditor = editor;
    this.onActiveEditor.fire(editor);
  },
  /** Puts `editor`'s cursor at `position`, firing onDidChangeTextEditorSelection. */
  select(editor: any, position: Position, end: Position = position): void {
    editor.selection = new Selection(position, end);
    editor.selections = [editor.selection];
    this.onSelection.fire({ textEditor: editor, selections: editor.selections, kind: undefined });
  },
  /** Types `text` at `editor`'s cursor, as a user does: the document changes, then the cursor moves. */
  type(editor: any, text: string): void {
    const at = editor.document.offsetAt(editor.selection.active);
    editor.document.edit(at, 0, text);
    this.select(editor, editor.document.positionAt(at + text.length));
  },
  channel(name: string): FakeOutputChannel | undefined {
    return this.channels.find((c) => c.name === name);
  },
  /** Changes settings and fires onDidChangeConfiguration for them. */
  change(values: Record<string, unknown>): void {
    for (const [k, v] of Object.entries(values)) {
      this.settings.set(k, v);
    }
    const keys = Object.keys(values);
    this.onConfig.fire({
      affectsConfiguration: (section: string) => keys.some((k) => k === section || k.startsWith(`${section}.`)),
    });
  },
};

function nested(prefix: string): Record<string, unknown> | undefined {
  let found = false;
  const out: Record<string, unknown> = {};
  for (const [key, value] of state.settings) {
    if (!key.startsWith(`${prefix}.`)) {
      continue;
    }
    found = true;
    const parts = key.slice(prefix.length + 1).split('.');
    let obj = out;
    for (const part of parts.slice(0, -1)) {
      obj = (obj[part] ??= {}) as Record<string, unknown>;
    }
    obj[parts[parts.length - 1]] = value;
  }
  return found ? out : undefined;
}

function configuration(section: string | undefined): any {
  const full = (key: string): string => (section ? `${section}.${key}` : key);
  return {
    get(key: string, defaultValue?: unknown): unknown {
      const k = full(key);
      if (state.settings.has(k)) {
        return state.settings.get(k);
      }
      return nested(k) ?? defaultValue;
    },
    has(key: string): boolean {
      return state.settings.has(full(key)) || nested(full(key)) !== undefined;
    },
    inspect(key: string): unknown {
      return { key: full(key), globalValue: state.settings.get(full(key)) };
    },
    update(key: string, value: unknown): Promise<void> {
      state.globalUpdates.push({ key: full(key), value });
      state.change({ [full(key)]: value });
      return Promise.resolve();
    },
  };
}

function show(kind: Message['kind']) {
  return (message: string, ...rest: unknown[]): Promise<undefined> => {
    const items = rest.filter((r): r is string => typeof r === 'string');
    state.messages.push({ kind, message, items });
    return Promise.resolve(undefined);
  };
}

function noEvent(): Disposable {
  return new Disposable();
}

export const window = withFallback('window', {
  createOutputChannel(name: string, options?: string | { log: true }): FakeOutputChannel {
    const channel = new FakeOutputChannel(name, typeof options === 'string' ? options : undefined);
    state.channels.push(channel);
    return channel;
  },
  createStatusBarItem(): any {
    return { text: '', tooltip: '', show() {}, hide() {}, dispose() {} };
  },
  showErrorMessage: show('error'),
  showWarningMessage: show('warning'),
  showInformationMessage: show('info'),
  showInputBox(): Promise<string | undefined> {
    return Promise.resolve(state.inputBoxAnswers.shift());
  },
  showQuickPick(items: any[]): Promise<any> {
    return Promise.resolve(state.quickPickAnswer?.(items));
  },
  showOpenDialog(): Promise<Uri[] | undefined> {
    return Promise.resolve(state.openDialogAnswer);
  },
  withProgress(options: { title?: string }, task: (p: unknown, token: unknown) => Promise<unknown>): Promise<unknown> {
    state.progressTitles.push(options.title ?? '');
    return task({ report() {} }, new CancellationTokenSource().token);
  },
  get activeTextEditor(): any {
    return state.activeTextEditor;
  },
  visibleTextEditors: [],
  tabGroups: { all: [], onDidChangeTabs: noEvent },
  get onDidChangeActiveTextEditor() {
    return state.onActiveEditor.event;
  },
  get onDidChangeTextEditorSelection() {
    return state.onSelection.event;
  },
  onDidChangeVisibleTextEditors: noEvent,
});

export const workspace = withFallback('workspace', {
  getConfiguration: configuration,
  get onDidChangeConfiguration() {
    return state.onConfig.event;
  },
  onDidGrantWorkspaceTrust: noEvent,
  get workspaceFolders() {
    return state.workspaceFolders;
  },
  isTrusted: true,
  get textDocuments() {
    return state.textDocuments;
  },
  notebookDocuments: [],
  onDidOpenTextDocument: noEvent,
  get onDidCloseTextDocument() {
    return state.onCloseDocument.event;
  },
  onDidChangeTextDocument: noEvent,
  onDidSaveTextDocument: noEvent,
  onWillSaveTextDocument: noEvent,
  onDidChangeWorkspaceFolders: noEvent,
  onDidOpenNotebookDocument: noEvent,
  onDidCloseNotebookDocument: noEvent,
  onDidChangeNotebookDocument: noEvent,
  onDidSaveNotebookDocument: noEvent,
});

export const commands = withFallback('commands', {
  registerCommand(id: string, fn: (...args: unknown[]) => unknown): Disposable {
    if (state.commands.has(id)) {
      throw new Error(`command '${id}' already exists`);
    }
    state.commands.set(id, fn);
    return new Disposable(() => state.commands.delete(id));
  },
  executeCommand(id: string, ...args: unknown[]): Promise<unknown> {
    state.executed.push({ id, args });
    if (id === 'setContext') {
      state.contextKeys.set(args[0] as string, args[1]);
    }
    const fn = state.commands.get(id);
    return Promise.resolve(fn ? fn(...args) : undefined);
  },
});

function matches(selector: any, document: any): number {
  const list = Array.isArray(selector) ? selector : [selector];
  return list.some(
    (s: any) =>
      (typeof s === 'string' && s === document.languageId) ||
      (typeof s === 'object' && (!s.language || s.language === document.languageId) && (!s.scheme || s.scheme === document.uri.scheme)),
  )
    ? 10
    : 0;
}

export const languages = withFallback('languages', {
  match: matches,
  registerInlineCompletionItemProvider(selector: unknown, provider: unknown): Disposable {
    const entry = { selector, provider };
    state.inlineProviders.push(entry);
    return new Disposable(() => {
      state.inlineProviders = state.inlineProviders.filter((e) => e !== entry);
    });
  },
  createDiagnosticCollection(): any {
    return { set() {}, delete() {}, clear() {}, dispose() {}, forEach() {} };
  },
});

export const env = withFallback('env', { language: 'en', appName: 'Fake Code', machineId: 'test' });

/** A text document of `text` (LF line ends), enough for the language client; `edit` changes it. */
export class FakeTextDocument {
  readonly uri: Uri;
  version = 1;
  readonly isUntitled = false;
  readonly isDirty = false;
  readonly isClosed = false;
  readonly eol = 1;
  constructor(
    readonly fileName: string,
    readonly languageId: string,
    private text: string,
  ) {
    this.uri = Uri.file(fileName);
  }
  private get lines(): string[] {
    return this.text.split('\n');
  }
  get lineCount(): number {
    return this.lines.length;
  }
  getText(range?: Range): string {
    return range ? this.text.slice(this.offsetAt(range.start), this.offsetAt(range.end)) : this.text;
  }
  lineAt(line: number): { text: string } {
    return { text: this.lines[line] };
  }
  /** UTF-16 offset of `p`, as VS Code counts. */
  offsetAt(p: Position): number {
    const lines = this.lines;
    return lines.slice(0, p.line).reduce((n, l) => n + l.length + 1, 0) + Math.min(p.character, lines[p.line]?.length ?? 0);
  }
  positionAt(offset: number): Position {
    const lines = this.lines;
    let line = 0;
    while (line < lines.length - 1 && offset > lines[line].length) {
      offset -= lines[line].length + 1;
      line++;
    }
    return new Position(line, offset);
  }
  /** Replaces `deleteCount` UTF-16 code units at `offset` by `insert`; a new version. */
  edit(offset: number, deleteCount: number, insert: string): void {
    this.text = this.text.slice(0, offset) + insert + this.text.slice(offset + deleteCount);
    this.version++;
  }
  save(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

export function textDocument(file: string, languageId: string, text: string): FakeTextDocument {
  return new FakeTextDocument(file, languageId, text);
}

/** A text editor on `document` with its cursor at `cursor`. */
export function textEditor(document: FakeTextDocument, cursor: Position): any {
  const selection = new Selection(cursor, cursor);
  return { document, selection, selections: [selection] };
}

export function basename(p: string): string {
  return path.basename(p);
}

/** The module object to hand out for `require('vscode')`: these exports, plus stubs for the rest. */
export function asModule(exportsObject: object): object {
  return withFallback('vscode', exportsObject);
}
