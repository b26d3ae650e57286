/**
 * VS Code / Cursor client of the CodeSaga language server.
 *
 * Starts `codesaga serve` (stdio) through vscode-languageclient 10, which gives
 * inline completions (LSP 3.18 `textDocument/inlineCompletion`), work-done
 * progress in the status bar and server messages as notifications.  Adds the
 * commands Restart Server, Chat, Pick Model and Show Log, a status bar item,
 * and error messages that name the setting to change.  What it shows is
 * localized with `vscode.l10n` (l10n/bundle.l10n.*.json); the log stays in
 * English.  suggestionEvents.ts tells the server what became of its
 * suggestions.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  CompletionRequest,
  DynamicFeature,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  Executable,
  LanguageClient,
  LanguageClientOptions,
  ProgressType,
  ResponseError,
  RevealOutputChannelOn,
  State,
  StaticFeature,
} from 'vscode-languageclient/node';
import {
  ALL_SETTINGS,
  LANGUAGES,
  RESTART_KEYS,
  MODEL_CHOICES,
  SECTION,
  isModelPath,
  redactServerOptions,
  toClientSettings,
  toServerOptions,
} from './config';
import {
  DEFAULT_SERVER_PATH,
  ResolveContext,
  ServerCommand,
  findExecutable,
  formatCommandLine,
  resolveServerCommand,
  virtualEnvCandidates,
} from './serverCommand';
import { Message, english, msg } from './messages';
import { SuggestionEvents } from './suggestionEvents';

export const CHAT_METHOD = 'codesaga/chat';
const CHAT_PARTIAL = new ProgressType<{ delta?: string } | undefined>();

interface ChatParams {
  partialResultToken?: string;
  sessionId?: string;
  message: string;
  textDocument?: { uri: string };
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
}

interface ChatResult {
  sessionId: string;
  reply: string;
}

/** The server restarts we tolerate before giving up, within RESTART_WINDOW_MS. */
const MAX_RESTARTS = 4;
const RESTART_WINDOW_MS = 3 * 60 * 1000;
const RESTART_DEBOUNCE_MS = 500;

/**
 * LanguageClient without the completion-list feature, and whose own "couldn't
 * start" / "connection closed" pop-ups are kept in the log only: the
 * extension shows its own, which name the setting to change.
 */
class CodeSagaLanguageClient extends LanguageClient {
  // The server also offers its suggestion as a textDocument/completion item,
  // for editors without inline completion.  VS Code has inline completion, so
  // leave that feature out: the suggestion shows once, as ghost text, and the
  // model is not asked twice per keystroke.
  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    const method = (feature as Partial<DynamicFeature<unknown>>).registrationType?.method;
    if (method === CompletionRequest.method) {
      return;
    }
    super.registerFeature(feature);
  }

  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, showNotification === 'force' ? false : showNotification);
  }

  // When the server dies during start-up, vscode-languageclient (9 and 10) rejects its
  // internal start promise before anyone listens to it, and calls `void
  // this.stop()` on a client that cannot be stopped yet.  Both surface as
  // "unhandled promise rejection" noise.  Mark them handled here; callers
  // still see the rejection of the promises they get.
  override start(): Promise<void> {
    const result = super.start();
    const internal = (this as unknown as { _onStart?: Promise<void> })._onStart;
    internal?.catch(() => undefined);
    return result;
  }

  override stop(timeout?: number): Promise<void> {
    const result = super.stop(timeout);
    result.catch(() => undefined);
    return result;
  }
}

class ServerErrorHandler implements ErrorHandler {
  private readonly restarts: number[] = [];

  constructor(
    private readonly hasRun: () => boolean,
    private readonly onGiveUp: () => void,
  ) {}

  error(_error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    if (count !== undefined && count <= 3) {
      return { action: ErrorAction.Continue };
    }
    return { action: ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    if (!this.hasRun()) {
      // Died while starting: start() rejects and we report that there.
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && now - this.restarts[0] > RESTART_WINDOW_MS) {
      this.restarts.shift();
    }
    if (this.restarts.length > MAX_RESTARTS) {
      this.onGiveUp();
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    return { action: CloseAction.Restart, handled: true };
  }
}

function isExecutableFile(candidate: string): boolean {
  try {
    if (!fs.statSync(candidate).isFile()) {
      return false;
    }
    if (process.platform !== 'win32') {
      fs.accessSync(candidate, fs.constants.X_OK);
    }
    return true;
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/** `message` in the display language (English when VS Code has no bundle for it). */
function localize(message: Message): string {
  return vscode.l10n.t(message.text, ...message.args);
}

class CodeSaga implements vscode.Disposable {
  private client: CodeSagaLanguageClient | undefined;
  private clientHasRun = false;
  private queue: Promise<void> = Promise.resolve();
  private restartTimer: NodeJS.Timeout | undefined;
  private chatSessionId: string | undefined;
  private chatChannel: vscode.OutputChannel | undefined;
  private readonly status: vscode.StatusBarItem;
  private readonly suggestions: SuggestionEvents;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.status = vscode.window.createStatusBarItem('codesaga.status', vscode.StatusBarAlignment.Right, 100);
    this.status.name = 'CodeSaga';
    this.status.command = 'codesaga.showLog';
    this.setStatus('stopped');
    this.status.show();
    this.suggestions = new SuggestionEvents(() => {
      const client = this.client;
      if (client === undefined || !client.isRunning()) {
        return undefined;
      }
      return {
        sendNotification: (method, params) => client.sendNotification(method, params),
        asRange: (range) => client.code2ProtocolConverter.asRange(range),
      };
    }, log);
    this.disposables.push(this.status, this.suggestions);
  }

  activate(context: vscode.ExtensionContext): void {
    const register = (id: string, fn: () => unknown): void => {
      context.subscriptions.push(vscode.commands.registerCommand(id, fn));
    };
    register('codesaga.restartServer', () => this.restart());
    register('codesaga.openChat', () => this.openChat());
    register('codesaga.pickModel', () => this.pickModel());
    register('codesaga.showLog', () => this.log.show());
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        // The language client sends every codesaga change to the server
        // (synchronize.configurationSection), which applies it and reloads
        // the model when needed.  Only what the process is started with
        // needs a restart.
        const changed = RESTART_KEYS.filter((key) => e.affectsConfiguration(`${SECTION}.${key}`));
        if (changed.length > 0) {
          this.log.info(`${changed.map((k) => `${SECTION}.${k}`).join(', ')} changed; restarting the server.`);
          this.scheduleRestart();
        } else if (e.affectsConfiguration(SECTION)) {
          this.log.info('CodeSaga settings changed; sent to the server.');
          this.warnAboutSettings();
          if (this.client?.isRunning()) {
            this.setStatus('running', toServerOptions(this.readSettings()).value.model);
          }
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.scheduleRestart()),
    );
    void this.restart();
  }

  // ---------------------------------------------------------------- settings

  private readSettings(scope?: vscode.Uri): Record<string, unknown> {
    const cfg = vscode.workspace.getConfiguration(SECTION, scope);
    const flat: Record<string, unknown> = {};
    for (const spec of ALL_SETTINGS) {
      flat[spec.key] = cfg.get(spec.key);
    }
    return flat;
  }

  private resolveContext(): ResolveContext {
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
    return {
      homeDir: os.homedir(),
      workspaceFolder: folder?.uri.fsPath,
      env: process.env,
      platform: process.platform,
    };
  }

  /** The executable to spawn, or undefined when it cannot be found. */
  private locate(cmd: ServerCommand, configuredPath: string, ctx: ResolveContext): string | undefined {
    const found = findExecutable(cmd.command, ctx, isExecutableFile);
    if (found !== undefined) {
      return found;
    }
    if (cmd.setting === 'codesaga.server.path' && (configuredPath.trim() || DEFAULT_SERVER_PATH) === DEFAULT_SERVER_PATH) {
      return virtualEnvCandidates(ctx.workspaceFolder, ctx.platform).find(isExecutableFile);
    }
    return undefined;
  }

  // ------------------------------------------------------------- lifecycle

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work, work).catch((error: unknown) => {
      this.log.error(`CodeSaga: ${errorText(error)}`);
    });
    this.queue = next;
    return next;
  }

  private scheduleRestart(): void {
    if (this.restartTimer !== undefined) {
      clearTimeout(this.restartTimer);
    }
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart();
    }, RESTART_DEBOUNCE_MS);
  }

  restart(): Promise<void> {
    return this.enqueue(async () => {
      await this.stopClient();
      await this.startClient();
    });
  }

  stop(): Promise<void> {
    if (this.restartTimer !== undefined) {
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
    }
    return this.enqueue(() => this.stopClient());
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    this.chatSessionId = undefined;
    this.suggestions.reset();
    if (client === undefined) {
      return;
    }
    if (client.state === State.Starting) {
      // A client can only be stopped once it runs; give the start a moment.
      await Promise.race([client.start().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
    }
    try {
      await client.dispose(3000);
    } catch (error) {
      this.log.warn(`Stopping the server: ${errorText(error)}`);
    }
    this.setStatus('stopped');
  }

  private async startClient(): Promise<void> {
    const settings = this.readSettings();
    const ctx = this.resolveContext();
    const server = toServerOptions(settings, { homeDir: ctx.homeDir });
    const clientSettings = toClientSettings(settings);
    const cmd = resolveServerCommand(clientSettings.value, ctx);
    this.reportProblems([...server.problems, ...clientSettings.problems, ...cmd.problems]);

    const executable = this.locate(cmd, clientSettings.value.path, ctx);
    if (executable === undefined) {
      this.setStatus('error', vscode.l10n.t('server not found'));
      this.reportNotFound(cmd);
      return;
    }

    const commandLine = formatCommandLine(executable, cmd.args);
    this.log.info(`Starting ${commandLine}`);
    this.log.info(`initializationOptions: ${JSON.stringify(redactServerOptions(server.value))}`);

    const serverOptions: Executable = {
      command: executable,
      args: cmd.args,
      options: { cwd: ctx.workspaceFolder, env: { ...process.env } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      initializationOptions: server.value,
      synchronize: { configurationSection: SECTION },
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: new ServerErrorHandler(
        () => this.clientHasRun,
        () => this.reportGaveUp(),
      ),
      initializationFailedHandler: (error) => {
        this.log.error(`Server initialization failed: ${errorText(error)}`);
        return false;
      },
      middleware: {
        ...this.suggestions.middleware,
        workspace: {
          // Answer workspace/configuration for "codesaga" with the same
          // cleaned, nested object as initializationOptions.
          configuration: async (params, token, next) => {
            const result: unknown = await next(params, token);
            if (!Array.isArray(result)) {
              return result as ResponseError;
            }
            const answers = result as unknown[];
            return params.items.map((item, i): unknown => {
              if (item.section !== SECTION) {
                return answers[i];
              }
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return toServerOptions(this.readSettings(scope), { homeDir: ctx.homeDir }).value;
            });
          },
        },
      },
    };

    const client = new CodeSagaLanguageClient('codesaga', 'CodeSaga', serverOptions, clientOptions);
    // Inline completion is a regular feature in languageclient 10 (LSP 3.18);
    // this keeps any still-proposed feature the server may use.
    client.registerProposedFeatures();
    this.client = client;
    this.clientHasRun = false;
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Running) {
        this.clientHasRun = true;
        this.setStatus('running', server.value.model);
      } else if (e.newState === State.Starting) {
        this.setStatus('starting');
      } else {
        this.setStatus('stopped');
      }
    });
    this.setStatus('starting');
    let failure: unknown;
    try {
      await client.start();
    } catch (error) {
      failure = error;
    }
    // start() can also resolve when the server died during start-up (the
    // library drops its start promise when the connection closes), so look
    // at the state too.
    if (this.client === client && (failure !== undefined || !client.isRunning())) {
      this.setStatus('error', vscode.l10n.t('failed to start'));
      this.reportStartFailure(cmd, commandLine, failure ?? new Error('the server exited during start-up'));
    }
  }

  // ------------------------------------------------------------- messages

  /** Checks the server settings again after a change that did not restart. */
  private warnAboutSettings(): void {
    this.reportProblems(toServerOptions(this.readSettings(), { homeDir: os.homedir() }).problems);
  }

  private reportProblems(problems: readonly Message[]): void {
    for (const problem of problems) {
      this.log.warn(english(problem));
    }
    if (problems.length > 0) {
      const first = localize(problems[0]);
      const text =
        problems.length > 1 ? vscode.l10n.t('{0} (and {1} more, see the log)', first, problems.length - 1) : first;
      // A settings problem starts with its setting: open that one, or else the section.
      const setting = /^(codesaga\.[\w.]+)/.exec(english(problems[0]))?.[1] ?? SECTION;
      void this.notify('warning', `CodeSaga: ${text}`, setting);
    }
  }

  private async notify(kind: 'error' | 'warning', message: string, setting: string, retry = false): Promise<void> {
    const openSettings = vscode.l10n.t('Open Settings');
    const showLog = vscode.l10n.t('Show Log');
    const retryLabel = vscode.l10n.t('Retry');
    const actions = [openSettings, showLog, ...(retry ? [retryLabel] : [])];
    const show = kind === 'error' ? vscode.window.showErrorMessage : vscode.window.showWarningMessage;
    const choice = await show(message, ...actions);
    if (choice === openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', setting);
    } else if (choice === showLog) {
      this.log.show();
    } else if (choice === retryLabel) {
      await this.restart();
    }
  }

  private reportNotFound(cmd: ServerCommand): void {
    let message: Message;
    if (cmd.setting === 'codesaga.server.pythonPath') {
      message = msg(
        'CodeSaga: the Python interpreter "{0}" set in "codesaga.server.pythonPath" was not found. Change that setting to a Python that has CodeSaga installed, or clear it to use "codesaga.server.path".',
        cmd.command,
      );
    } else if (cmd.command === DEFAULT_SERVER_PATH) {
      message = msg(
        'CodeSaga: the server "codesaga" was not found on PATH. Install the CodeSaga Python package, or set "codesaga.server.path" to the full path of the codesaga executable (or "codesaga.server.pythonPath" to a Python that has it).',
      );
    } else {
      message = msg(
        'CodeSaga: the server "{0}" set in "codesaga.server.path" was not found or is not executable. Change "codesaga.server.path" (or set "codesaga.server.pythonPath").',
        cmd.command,
      );
    }
    this.log.error(english(message));
    void this.notify('error', localize(message), cmd.setting, true);
  }

  private reportStartFailure(cmd: ServerCommand, commandLine: string, error: unknown): void {
    const text = errorText(error);
    const reason = /disposed|closed|exited/i.test(text) ? vscode.l10n.t('it exited during start-up') : text;
    const message =
      cmd.setting === 'codesaga.server.pythonPath'
        ? vscode.l10n.t(
            'CodeSaga: the server could not be started ({0}). See the log; check that "{1} -m codesaga --help" works, or change "codesaga.server.pythonPath".',
            reason,
            cmd.command,
          )
        : vscode.l10n.t(
            'CodeSaga: the server could not be started ({0}). See the log; check that "{1} --help" works, or change "codesaga.server.path".',
            reason,
            cmd.command,
          );
    this.log.error(`${commandLine}: ${text}`);
    void this.notify('error', message, cmd.setting, true);
  }

  private reportGaveUp(): void {
    const message = msg(
      'CodeSaga: the server stopped {0} times in 3 minutes and will not be restarted. See the log.',
      MAX_RESTARTS + 1,
    );
    this.log.error(english(message));
    this.setStatus('error', vscode.l10n.t('crashed'));
    const showLog = vscode.l10n.t('Show Log');
    const restart = vscode.l10n.t('Restart Server');
    void vscode.window.showErrorMessage(localize(message), showLog, restart).then((choice) => {
      if (choice === showLog) {
        this.log.show();
      } else if (choice === restart) {
        void this.restart();
      }
    });
  }

  /** `detail`: the model when running, the reason (already localized) after an error. */
  private setStatus(state: 'starting' | 'running' | 'stopped' | 'error', detail = ''): void {
    const icon = { starting: '$(sync~spin)', running: '$(hubot)', stopped: '$(circle-slash)', error: '$(error)' }[state];
    this.status.text = `${icon} CodeSaga`;
    this.status.tooltip = {
      starting: () => vscode.l10n.t('CodeSaga is starting. Click to show the log.'),
      running: () => vscode.l10n.t('CodeSaga is running ({0}). Click to show the log.', detail),
      stopped: () => vscode.l10n.t('CodeSaga is stopped. Click to show the log.'),
      error: () => vscode.l10n.t('CodeSaga failed ({0}). Click to show the log.', detail),
    }[state]();
    this.status.backgroundColor =
      state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }

  // ---------------------------------------------------------------- chat

  private chatOutput(): vscode.OutputChannel {
    this.chatChannel ??= vscode.window.createOutputChannel('CodeSaga Chat', 'markdown');
    return this.chatChannel;
  }

  async openChat(): Promise<void> {
    const client = this.client;
    if (client === undefined || !client.isRunning()) {
      const restart = vscode.l10n.t('Restart Server');
      const showLog = vscode.l10n.t('Show Log');
      const choice = await vscode.window.showWarningMessage(
        vscode.l10n.t('CodeSaga: the server is not running.'),
        restart,
        showLog,
      );
      if (choice === restart) {
        await this.restart();
      } else if (choice === showLog) {
        this.log.show();
      }
      return;
    }
    const editor = vscode.window.activeTextEditor;
    // Only documents the client syncs are known to the server.
    const doc = editor?.document;
    const synced =
      doc !== undefined &&
      (doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled') &&
      (LANGUAGES as readonly string[]).includes(doc.languageId);
    const selection = synced && editor && !editor.selection.isEmpty ? editor.selection : undefined;
    const message = await vscode.window.showInputBox({
      title: this.chatSessionId
        ? vscode.l10n.t('CodeSaga Chat (continuing; /new starts over)')
        : vscode.l10n.t('CodeSaga Chat'),
      prompt: selection
        ? vscode.l10n.t('Ask about the selected code')
        : synced
          ? vscode.l10n.t('Ask about the code here')
          : vscode.l10n.t('Ask CodeSaga'),
      placeHolder: selection ? vscode.l10n.t('Explain this code') : vscode.l10n.t('How do I …?'),
      ignoreFocusOut: true,
    });
    if (message === undefined || message.trim() === '') {
      return;
    }
    const out = this.chatOutput();
    if (message.trim() === '/new' || message.trim() === '/reset') {
      this.chatSessionId = undefined;
      out.appendLine(`\n---\n\n_${vscode.l10n.t('New conversation.')}_\n`);
      out.show(true);
      return;
    }

    const partialResultToken = `codesaga-chat-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const params: ChatParams = { message, partialResultToken };
    if (this.chatSessionId !== undefined) {
      params.sessionId = this.chatSessionId;
    }
    let about = '';
    if (synced && editor) {
      params.textDocument = { uri: client.code2ProtocolConverter.asUri(editor.document.uri) };
      // An empty range (the cursor) asks the server for the code around it.
      params.range = client.code2ProtocolConverter.asRange(editor.selection);
      const name = nodePath.basename(editor.document.uri.path);
      const { start, end } = editor.selection;
      about = selection
        ? ` _(${vscode.l10n.t('{0}, lines {1}–{2}', name, start.line + 1, end.line + 1)})_`
        : ` _(${vscode.l10n.t('{0}, line {1}', name, start.line + 1)})_`;
    }

    out.appendLine(`### ${vscode.l10n.t('You')}${about}\n\n${message}\n`);
    out.appendLine('### CodeSaga\n');
    out.show(true);
    // The reply streams in as partial results ({delta}) while the model writes it.
    let streamed = '';
    const partial = client.onProgress(CHAT_PARTIAL, partialResultToken, (value) => {
      if (typeof value?.delta === 'string') {
        streamed += value.delta;
        out.append(value.delta);
      }
    });
    try {
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('CodeSaga is thinking…'), cancellable: true },
        (_progress, token) => client.sendRequest<ChatResult>(CHAT_METHOD, params, token),
      );
      if (result === undefined || result === null || typeof result.reply !== 'string') {
        throw new Error(vscode.l10n.t('the server sent no reply'));
      }
      if (typeof result.sessionId === 'string' && result.sessionId !== '') {
        this.chatSessionId = result.sessionId;
      }
      out.appendLine(streamed === '' ? `${result.reply}\n` : '\n');
    } catch (error) {
      const text = errorText(error);
      out.appendLine(`${streamed === '' ? '' : '\n\n'}> **${vscode.l10n.t('Error:')}** ${text}\n`);
      if (!/cancel/i.test(text)) {
        void vscode.window.showErrorMessage(vscode.l10n.t('CodeSaga chat failed: {0}', text));
      }
    } finally {
      partial.dispose();
    }
  }

  // ------------------------------------------------------------ models

  async pickModel(): Promise<void> {
    type Item = vscode.QuickPickItem & { value?: string; browse?: boolean };
    const cfg = vscode.workspace.getConfiguration(SECTION);
    const current = cfg.get<string>('model', 'auto') || 'auto';
    const currentLabel = vscode.l10n.t('(current)');
    const items: Item[] = MODEL_CHOICES.map((m) => ({
      label: m.name,
      description: m.name === current ? currentLabel : undefined,
      detail: localize(m.description),
      value: m.name,
    }));
    if (!MODEL_CHOICES.some((m) => m.name === current)) {
      items.unshift({
        label: isModelPath(current) ? nodePath.basename(current) : current,
        description: currentLabel,
        detail: current,
        value: current,
      });
    }
    items.push(
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      { label: `$(folder-opened) ${vscode.l10n.t('Browse for a .gguf file…')}`, browse: true, alwaysShow: true },
    );
    const pick = await vscode.window.showQuickPick(items, {
      title: vscode.l10n.t('CodeSaga: Pick Model'),
      placeHolder: vscode.l10n.t('Current model: {0}', current),
      matchOnDetail: true,
    });
    if (pick === undefined) {
      return;
    }
    let value = pick.value;
    if (pick.browse) {
      const defaultUri = isModelPath(current) ? vscode.Uri.file(nodePath.dirname(current)) : undefined;
      const files = await vscode.window.showOpenDialog({
        canSelectMany: false,
        canSelectFiles: true,
        canSelectFolders: false,
        filters: { [vscode.l10n.t('GGUF model')]: ['gguf'] },
        openLabel: vscode.l10n.t('Use this model'),
        title: vscode.l10n.t('CodeSaga: choose a .gguf model'),
        defaultUri,
      });
      if (files === undefined || files.length === 0) {
        return;
      }
      value = files[0].fsPath;
    }
    if (value === undefined || value === current) {
      return;
    }
    await cfg.update('model', value, vscode.ConfigurationTarget.Global);
    const inspected = vscode.workspace.getConfiguration(SECTION).inspect<string>('model');
    const override = inspected?.workspaceFolderValue ?? inspected?.workspaceValue;
    if (override !== undefined && override !== value) {
      void vscode.window.showWarningMessage(
        vscode.l10n.t(
          'CodeSaga: model set to "{0}" in your user settings, but this workspace sets "codesaga.model" to "{1}", which wins.',
          value,
          override,
        ),
      );
    } else {
      this.log.info(`Model set to ${value}.`);
    }
  }

  dispose(): void {
    if (this.restartTimer !== undefined) {
      clearTimeout(this.restartTimer);
    }
    for (const d of this.disposables) {
      d.dispose();
    }
    this.chatChannel?.dispose();
  }
}

let instance: CodeSaga | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('CodeSaga', { log: true });
  context.subscriptions.push(log);
  instance = new CodeSaga(log);
  context.subscriptions.push(instance);
  instance.activate(context);
}

export async function deactivate(): Promise<void> {
  const current = instance;
  instance = undefined;
  if (current !== undefined) {
    await current.stop();
  }
}
