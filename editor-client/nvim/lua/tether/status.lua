-- What the user sees of runs: vim.notify lines and the statusline text, fed by the
-- server's work-done progress ($/progress) and its tether/runStatus notifications.
local M = {}

local state = {
  active = nil, -- { run_id, workflow, status, step, message }
  runs = {}, -- run_id -> the same record, for every run seen in this session
  notify = true,
}

local ENDED = { succeeded = true, failed = true, timed_out = true, cancelled = true, paused = true, waiting = true }

function M.configure(opts)
  state.notify = opts.notify_progress ~= false
end

local function say(message, level)
  if state.notify then
    vim.notify("tether: " .. message, level or vim.log.levels.INFO)
  end
end
M.say = say

local function record(run_id, fields)
  local run = state.runs[run_id] or { run_id = run_id }
  for key, value in pairs(fields) do
    run[key] = value
  end
  state.runs[run_id] = run
  return run
end

--- A run the user started from this editor (before any progress arrives).
function M.started(run_id, workflow)
  state.active = record(run_id, { workflow = workflow, status = "running", message = "started" })
  vim.cmd.redrawstatus()
end

-- Run progress tokens are "tether/<run id>" with an optional "/<n>" suffix; run ids have
-- no slash. Other tokens (the docs pre-warm has its own) are skipped by the caller's check.
local function run_id_of(token)
  if type(token) ~= "string" then
    return nil
  end
  return token:match("^tether/([^/]+)")
end

--- `$/progress` for tokens the server created for runs ("tether/<run id>").
function M.on_progress(params)
  local run_id = run_id_of(params.token)
  local value = params.value
  if not run_id or type(value) ~= "table" then
    return
  end
  if value.kind == "begin" then
    state.active = record(run_id, { workflow = value.title, status = "running", message = "started" })
    say(string.format("%s started (%s)", value.title or "run", run_id))
  elseif value.kind == "report" then
    local run = record(run_id, { status = "running", message = value.message })
    state.active = run
    if value.message then
      say(string.format("%s: %s", run.workflow or run_id, value.message))
    end
  elseif value.kind == "end" then
    local run = record(run_id, { message = value.message })
    if not ENDED[run.status or ""] then
      run.status = (value.message or ""):match("^(%S+)") or "ended"
    end
    local level = vim.log.levels.INFO
    if run.status ~= "succeeded" then
      level = vim.log.levels.WARN
    end
    say(string.format("%s: %s", run.workflow or run_id, value.message or run.status), level)
  end
  vim.cmd.redrawstatus()
end

--- `tether/runStatus`: { run_id, workflow, status, step?, message }.
function M.on_run_status(params)
  if type(params) ~= "table" or type(params.run_id) ~= "string" then
    return
  end
  local run = record(params.run_id, {
    workflow = params.workflow,
    status = params.status,
    step = params.step,
    message = params.message,
  })
  if params.status == "running" or not state.active or state.active.run_id == run.run_id then
    state.active = run
  end
  vim.cmd.redrawstatus()
end

--- The run :TetherCancel stops: the active one while it runs.
function M.active_run()
  if state.active and state.active.status == "running" then
    return state.active.run_id
  end
  return nil
end

function M.run(run_id)
  return state.runs[run_id]
end

--- Statusline text: "" before setup, "tether" when idle, "tether: check ▸ lint" while
--- a run goes on, "tether: check failed" after it ends.
function M.statusline(connected)
  if not connected then
    return ""
  end
  local run = state.active
  if not run then
    return "tether"
  end
  local name = run.workflow or run.run_id
  if run.status == "running" then
    if run.step then
      return string.format("tether: %s ▸ %s", name, run.step)
    end
    return string.format("tether: %s running", name)
  end
  return string.format("tether: %s %s", name, run.status or "")
end

function M.reset()
  state.active = nil
  state.runs = {}
end

return M
