-- An in-process stand-in for `codesaga serve`, for Neovim tests of the ghost-text module that
-- need exact, scripted suggestions (no model). Returns a `cmd` function for vim.lsp.config.
--
-- It negotiates utf-16 positions (unlike the real server with Neovim, which picks utf-8), so
-- the module's position conversions are exercised. Everything it receives is recorded in
-- _G.codesaga_fake; set _G.codesaga_fake.reply to the insertText of the next answers
-- (nil: answer with no items) and .delay_ms to answer inline completions that much later
-- (a slow model: a cancelled request is still answered, as a busy server may do).
--
-- `codesaga/chat` is answered like the real server with a partialResultToken: the reply
-- (.chat_reply, else "Answer <n>: <message>") streams as three `$/progress` deltas
-- .chat_delay_ms apart (recorded in .chat_sent), then the result { sessionId, reply }; the
-- params are recorded in .chats. .show_document(uri) sends the server's `window/showDocument`
-- (takeFocus, as the server does for chat and Explain Markdown) and returns the client's answer.
_G.codesaga_fake = {
  requests = {},
  commands = {},
  notifications = {}, -- { method, params } of each notification but $/cancelRequest and exit
  cancelled = {},
  reply = nil,
  delay_ms = 0,
  chats = {},
  chat_sent = {},
  chat_reply = nil,
  chat_delay_ms = 0,
}
local fake = _G.codesaga_fake

--- `text` cut into three pieces (at character boundaries).
local function pieces(text)
  local n = vim.fn.strchars(text)
  local a, b = math.floor(n / 3), math.floor(2 * n / 3)
  return {
    vim.fn.strcharpart(text, 0, a),
    vim.fn.strcharpart(text, a, b - a),
    vim.fn.strcharpart(text, b),
  }
end

return function(dispatchers)
  local closing = false
  local next_id = 0
  local server = {}

  function fake.show_document(uri)
    return dispatchers.server_request('window/showDocument', { uri = uri, takeFocus = true })
  end

  local function chat(params, callback)
    table.insert(fake.chats, params)
    local reply = fake.chat_reply or ('Answer %d: %s'):format(#fake.chats, params.message)
    local session = params.sessionId or ('fake-session-' .. #fake.chats)
    local delay = fake.chat_delay_ms
    for i, piece in ipairs(pieces(reply)) do
      vim.defer_fn(function()
        table.insert(fake.chat_sent, piece)
        dispatchers.notification(
          '$/progress',
          { token = params.partialResultToken, value = { delta = piece } }
        )
      end, delay * i)
    end
    vim.defer_fn(function()
      callback(nil, { sessionId = session, reply = reply })
    end, delay * 4)
  end

  function server.request(method, params, callback)
    next_id = next_id + 1
    if method == 'codesaga/chat' then
      chat(params, callback)
      return true, next_id
    end
    local result = vim.NIL
    if method == 'initialize' then
      result = {
        capabilities = {
          positionEncoding = 'utf-16',
          textDocumentSync = { openClose = true, change = 1 },
          inlineCompletionProvider = true,
          executeCommandProvider = { commands = { 'codesaga.acceptInlineCompletion' } },
        },
        serverInfo = { name = 'codesaga-fake' },
      }
    elseif method == 'textDocument/inlineCompletion' then
      table.insert(fake.requests, { id = next_id, params = params })
      local items = {}
      if fake.reply then
        items[1] = {
          insertText = fake.reply,
          range = { start = params.position, ['end'] = params.position },
          command = {
            title = 'accepted',
            command = 'codesaga.acceptInlineCompletion',
            -- as the real server: [source, length in characters, uri, usage request id]
            arguments = {
              'model',
              vim.fn.strchars(fake.reply),
              params.textDocument.uri,
              'request-' .. next_id,
            },
          },
        }
      end
      result = { items = items }
    elseif method == 'workspace/executeCommand' then
      table.insert(fake.commands, params)
    end
    local delay = method == 'textDocument/inlineCompletion' and fake.delay_ms or 0
    vim.defer_fn(function()
      callback(nil, result)
    end, delay)
    return true, next_id
  end

  function server.notify(method, params)
    if method == '$/cancelRequest' then
      table.insert(fake.cancelled, params.id)
    elseif method == 'exit' then
      closing = true
      dispatchers.on_exit(0, 0)
    else
      table.insert(fake.notifications, { method = method, params = params })
    end
    return true
  end

  function server.is_closing()
    return closing
  end

  function server.terminate()
    closing = true
  end

  return server
end
