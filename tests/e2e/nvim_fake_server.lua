-- An in-process stand-in for `codesaga serve`, for Neovim tests of the ghost-text module that
-- need exact, scripted suggestions (no model). Returns a `cmd` function for vim.lsp.config.
--
-- It negotiates utf-16 positions (unlike the real server with Neovim, which picks utf-8), so
-- the module's position conversions are exercised. Everything it receives is recorded in
-- _G.codesaga_fake; set _G.codesaga_fake.reply to the insertText of the next answers
-- (nil: answer with no items) and .delay_ms to answer inline completions that much later
-- (a slow model: a cancelled request is still answered, as a busy server may do).
_G.codesaga_fake = { requests = {}, commands = {}, cancelled = {}, reply = nil, delay_ms = 0 }
local fake = _G.codesaga_fake

return function(dispatchers)
  local closing = false
  local next_id = 0
  local server = {}

  function server.request(method, params, callback)
    next_id = next_id + 1
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
            arguments = { 'model', #fake.reply },
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
