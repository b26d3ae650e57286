/**
 * Tells the server what became of the inline suggestions it sent: shown,
 * partly accepted, or dismissed.  (Whole acceptance needs nothing here: VS
 * Code runs the item's `codesaga.acceptInlineCompletion` command, which the
 * language client sends to the server.)
 *
 * VS Code's stable API has no shown / partly accepted / dismissed callbacks
 * for inline completion providers (they are in the proposed
 * `inlineCompletionsAdditions` API, closed to published extensions), so this
 * builds them from stable parts:
 *
 * - shown: the provider middleware sees the items the server returns; the
 *   first CodeSaga item of a result VS Code will use is "the suggestion" from
 *   then on.  "Shown" means handed to VS Code to show: VS Code may still not
 *   draw it (for instance when the text it would insert is already there).
 * - partly accepted: VS Code's own `editor.action.inlineSuggest.acceptNextWord`
 *   (Ctrl+Right, Cmd+Right on macOS) and `acceptNextLine` are wrapped by our
 *   commands, bound to the same keys while a CodeSaga suggestion is shown.
 *   Each runs the built-in command, then reads how much of the suggestion is
 *   in the document before the cursor.  This is reliable where watching
 *   document changes is not: an insertion that matches the suggestion may be
 *   typed, pasted, auto-closed or an accept, and a one-character word accept
 *   looks like typing.  Here an accept is counted only when the user asked
 *   for one.  Accepts made otherwise (the hover toolbar's buttons, a key bound
 *   to the built-in command itself) are not seen.
 * - dismissed: the suggestion goes away with nothing accepted: Escape (our
 *   command, wrapping `editor.action.inlineSuggest.hide`), the cursor leaves
 *   it or text that does not match it is typed, another editor becomes
 *   active, the document closes, or the server's next result for the
 *   document replaces it.
 *
 * Each suggestion (told apart by its request id, `command.arguments[3]`) gets
 * at most one "shown" and one "dismissed"; partial accepts are sent with
 * growing lengths, and after one nothing more is sent for the suggestion.
 */
import * as vscode from 'vscode';
import { ExecuteCommandSignature, Middleware } from 'vscode-languageclient/node';

/** Command the server attaches to its items: arguments `[source, length, uri, requestId]`. */
export const ACCEPT_COMMAND = 'codesaga.acceptInlineCompletion';
/** Params `{ item }`: the item was handed to VS Code to show. */
export const DID_SHOW_METHOD = 'textDocument/didShowCompletion';
/** Params `{ item, acceptedLength }`: UTF-16 code units of `item.insertText` in the document so far. */
export const DID_PARTIALLY_ACCEPT_METHOD = 'textDocument/didPartiallyAcceptCompletion';
/** Params `{ item }`: the item went away with none of it accepted. */
export const DID_DISMISS_METHOD = 'codesaga/didDismissCompletion';
/** Context key, true while a CodeSaga suggestion is shown; our keybindings need it. */
export const CONTEXT_KEY = 'codesaga.inlineSuggestionShown';

/** Our commands and the built-in command each one runs. */
export const WRAPPED_COMMANDS = {
  'codesaga.inlineSuggest.acceptNextWord': 'editor.action.inlineSuggest.acceptNextWord',
  'codesaga.inlineSuggest.acceptNextLine': 'editor.action.inlineSuggest.acceptNextLine',
  'codesaga.inlineSuggest.hide': 'editor.action.inlineSuggest.hide',
} as const;

/** How many request ids are remembered as already shown (a suggestion is never shown twice). */
const REMEMBERED_IDS = 256;

interface LspPosition {
  line: number;
  character: number;
}

/** LSP `InlineCompletionItem`, rebuilt from the item VS Code got; the server reads `insertText` and `command.arguments`. */
export interface LspInlineCompletionItem {
  insertText: string;
  range?: { start: LspPosition; end: LspPosition };
  command: { title: string; command: string; arguments: unknown[] };
}

/** What the tracker needs of the running language client. */
export interface ServerLink {
  sendNotification(method: string, params: unknown): Promise<void>;
  asRange(range: vscode.Range): { start: LspPosition; end: LspPosition };
}

interface Tracked {
  readonly item: LspInlineCompletionItem;
  readonly requestId: string;
  readonly uri: string;
  /** Where the suggestion's text starts in the document. */
  readonly anchor: vscode.Position;
  readonly text: string;
  /** UTF-16 code units reported as accepted (0: none). */
  accepted: number;
  /** Document version right after the last partial accept. */
  acceptedAtVersion?: number;
  /** A wrapped accept command is running. */
  accepting: boolean;
}

/**
 * How much of `text` is in `document` from `anchor` up to `cursor`, in UTF-16
 * code units of `text`; undefined when the document there is not a prefix of
 * `text` (the suggestion is no longer what the user sees).  A CRLF document
 * matches a suggestion written with LF.
 */
export function takenLength(
  document: vscode.TextDocument,
  anchor: vscode.Position,
  cursor: vscode.Position,
  text: string,
): number | undefined {
  if (document.offsetAt(cursor) < document.offsetAt(anchor)) {
    return undefined;
  }
  const there = document.getText(new vscode.Range(anchor, cursor));
  for (const candidate of [there, there.replace(/\r\n/g, '\n')]) {
    if (text.startsWith(candidate)) {
      return candidate.length;
    }
  }
  return undefined;
}

function requestIdOf(item: vscode.InlineCompletionItem): string | undefined {
  if (item.command?.command !== ACCEPT_COMMAND || typeof item.insertText !== 'string') {
    return undefined;
  }
  const id: unknown = item.command.arguments?.[3];
  return typeof id === 'string' && id !== '' ? id : undefined;
}

/** Follows the suggestion VS Code shows and sends the events above; see the module comment. */
export class SuggestionEvents implements vscode.Disposable {
  private tracked: Tracked | undefined;
  private readonly shownIds = new Set<string>();
  private contextValue = false;
  private readonly disposables: vscode.Disposable[];

  /** `link` gives the running client, or undefined when there is none. */
  constructor(
    private readonly link: () => ServerLink | undefined,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables = [
      vscode.window.onDidChangeTextEditorSelection((e) => this.selectionChanged(e)),
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.tracked !== undefined && editor?.document.uri.toString() !== this.tracked.uri) {
          this.goneAway();
        }
      }),
      vscode.workspace.onDidCloseTextDocument((document) => {
        if (document.uri.toString() === this.tracked?.uri) {
          this.goneAway();
        }
      }),
      vscode.commands.registerCommand('codesaga.inlineSuggest.acceptNextWord', () =>
        this.acceptNext(WRAPPED_COMMANDS['codesaga.inlineSuggest.acceptNextWord']),
      ),
      vscode.commands.registerCommand('codesaga.inlineSuggest.acceptNextLine', () =>
        this.acceptNext(WRAPPED_COMMANDS['codesaga.inlineSuggest.acceptNextLine']),
      ),
      vscode.commands.registerCommand('codesaga.inlineSuggest.hide', () =>
        this.hide(WRAPPED_COMMANDS['codesaga.inlineSuggest.hide']),
      ),
    ];
  }

  /** The language client middleware that sees the items handed to VS Code and the whole accepts. */
  readonly middleware: Required<Pick<Middleware, 'provideInlineCompletionItems' | 'executeCommand'>> = {
    provideInlineCompletionItems: async (document, position, context, token, next) => {
      const result = await next(document, position, context, token);
      // A cancelled result is dropped by VS Code; one asked for while the
      // completion list is open only previews that list's item.
      if (!token.isCancellationRequested && context.selectedCompletionInfo === undefined) {
        const items = result === undefined || result === null ? [] : Array.isArray(result) ? result : result.items;
        this.handedOver(document, position, items);
      }
      return result;
    },
    executeCommand: (command: string, args: unknown[], next: ExecuteCommandSignature): vscode.ProviderResult<unknown> => {
      if (command === ACCEPT_COMMAND && this.tracked !== undefined && args[3] === this.tracked.requestId) {
        this.finish(); // accepted whole: the command itself tells the server
      }
      return next(command, args) as vscode.ProviderResult<unknown>;
    },
  };

  /** Forgets the suggestion without a word: the server it came from has stopped. */
  reset(): void {
    this.tracked = undefined;
    this.shownIds.clear();
    this.setContext(false);
  }

  dispose(): void {
    this.reset();
    for (const d of this.disposables) {
      d.dispose();
    }
  }

  private handedOver(document: vscode.TextDocument, position: vscode.Position, items: vscode.InlineCompletionItem[]): void {
    const tracked = this.tracked;
    const sameDocument = tracked !== undefined && tracked.uri === document.uri.toString();
    if (sameDocument && (tracked.accepting || document.version === tracked.acceptedAtVersion)) {
      // Asked for right after a partial accept: VS Code keeps showing the
      // partly accepted suggestion ahead of this result.
      return;
    }
    const item = items.find((i) => requestIdOf(i) !== undefined);
    const requestId = item === undefined ? undefined : requestIdOf(item);
    if (requestId !== undefined && requestId === tracked?.requestId) {
      return;
    }
    // VS Code replaces what it showed in this document by this result.
    if (sameDocument || requestId !== undefined) {
      this.goneAway();
    }
    const link = this.link();
    if (item === undefined || requestId === undefined || link === undefined || this.shownIds.has(requestId)) {
      return;
    }
    const command = item.command!;
    const lspItem: LspInlineCompletionItem = {
      insertText: item.insertText as string,
      command: { title: command.title, command: command.command, arguments: command.arguments ?? [] },
    };
    if (item.range !== undefined) {
      lspItem.range = link.asRange(item.range);
    }
    this.shownIds.add(requestId);
    if (this.shownIds.size > REMEMBERED_IDS) {
      this.shownIds.delete(this.shownIds.values().next().value!);
    }
    this.tracked = {
      item: lspItem,
      requestId,
      uri: document.uri.toString(),
      anchor: item.range?.start ?? position,
      text: lspItem.insertText,
      accepted: 0,
      accepting: false,
    };
    this.setContext(true);
    this.notify(DID_SHOW_METHOD, { item: lspItem });
  }

  private selectionChanged(e: vscode.TextEditorSelectionChangeEvent): void {
    const tracked = this.tracked;
    if (tracked === undefined || e.textEditor.document.uri.toString() !== tracked.uri) {
      return;
    }
    const cursor = e.selections[0];
    // Typing what the suggestion says keeps it; anything else ends it.
    const taken =
      cursor !== undefined && cursor.isEmpty
        ? takenLength(e.textEditor.document, tracked.anchor, cursor.active, tracked.text)
        : undefined;
    if (taken === undefined) {
      this.goneAway();
    } else if (taken >= tracked.text.length) {
      // All of it is in the document: accepted whole (its command follows) or typed to the end.
      this.finish();
    }
  }

  private async acceptNext(builtin: string): Promise<void> {
    const tracked = this.tracked;
    const editor = vscode.window.activeTextEditor;
    if (tracked !== undefined) {
      tracked.accepting = true;
    }
    try {
      await vscode.commands.executeCommand(builtin);
    } finally {
      if (tracked !== undefined) {
        tracked.accepting = false;
      }
    }
    if (tracked === undefined || this.tracked !== tracked || editor === undefined || editor.document.uri.toString() !== tracked.uri) {
      return;
    }
    const taken = takenLength(editor.document, tracked.anchor, editor.selection.active, tracked.text);
    if (taken === undefined || taken <= tracked.accepted) {
      return;
    }
    if (taken >= tracked.text.length) {
      // VS Code accepts the last word as a whole accept, which runs the item's command.
      this.finish();
      return;
    }
    tracked.accepted = taken;
    tracked.acceptedAtVersion = editor.document.version;
    this.notify(DID_PARTIALLY_ACCEPT_METHOD, { item: tracked.item, acceptedLength: taken });
  }

  private async hide(builtin: string): Promise<void> {
    try {
      await vscode.commands.executeCommand(builtin);
    } finally {
      this.goneAway();
    }
  }

  /** The suggestion went away: dismissed, unless some of it was accepted. */
  private goneAway(): void {
    const tracked = this.tracked;
    this.finish();
    if (tracked !== undefined && tracked.accepted === 0) {
      this.notify(DID_DISMISS_METHOD, { item: tracked.item });
    }
  }

  /** The suggestion is done with; nothing more is sent for it. */
  private finish(): void {
    this.tracked = undefined;
    this.setContext(false);
  }

  private setContext(value: boolean): void {
    if (value !== this.contextValue) {
      this.contextValue = value;
      void vscode.commands.executeCommand('setContext', CONTEXT_KEY, value);
    }
  }

  private notify(method: string, params: unknown): void {
    const link = this.link();
    if (link === undefined) {
      return;
    }
    link.sendNotification(method, params).catch((error: unknown) => {
      this.log.warn(`Could not send ${method}: ${error instanceof Error ? error.message : String(error)}`);
    });
  }
}
