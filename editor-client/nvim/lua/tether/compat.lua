-- Differences between Neovim 0.10 and 0.11+ in the LSP client API, in one place.
local M = {}

local has_011 = vim.fn.has("nvim-0.11") == 1

--- Start (or reuse) a client without attaching it to any buffer: tether has no
--- per-document features, only commands and progress.
function M.start_client(config)
  if has_011 then
    return vim.lsp.start(config, { attach = false })
  end
  for _, client in ipairs(vim.lsp.get_clients({ name = config.name })) do
    if client.config.root_dir == config.root_dir and not client.is_stopped() then
      return client.id
    end
  end
  return vim.lsp.start_client(config)
end

function M.request(client, method, params, handler)
  if has_011 then
    return client:request(method, params, handler)
  end
  return client.request(method, params, handler)
end

function M.request_sync(client, method, params, timeout_ms)
  if has_011 then
    return client:request_sync(method, params, timeout_ms)
  end
  return client.request_sync(method, params, timeout_ms)
end

function M.stop(client)
  if has_011 then
    return client:stop()
  end
  return client.stop()
end

function M.is_stopped(client)
  if has_011 then
    return client:is_stopped()
  end
  return client.is_stopped()
end

return M
