-- What the user sees of runs: vim.notify lines and the statusline text, fed by the
-- server's work-done progress ($/progress) and its tether/runStatus notifications.
local M = {}

local state = {
  active = nil, -- { run_id, workflow, status, step, message }
  runs = {}, -- run_id -> the same record, for every run seen in this session
  prewarm = {}, -- run_id -> true for docs pre-warm runs (never in the statusline)
  notify = true,
}

-- The docs pre-warm is a run of the built-in "prewarm" workflow whose progress is titled
-- "docs". It counts through every dependency: one line when it ends, not one per library,
-- and the statusline keeps showing the user's runs.
local PREWARM_WORKFLOW = "prewarm"
local PREWARM_TITLE = "docs"

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

--- The pre-warm's progress: remembered quietly, told once at its end.
local function on_prewarm_progress(run_id, value)
  local run = record(run_id, {})
  if value.kind == "report" and type(value.message) == "string" then
    local count = value.message:match("^(%d+/%d+)")
    if count then
      run.count = count
    end
  elseif value.kind == "end" then
    local outcome = value.message or "ended"
    local level = vim.startswith(outcome, "succeeded") and vim.log.levels.INFO or vim.log.levels.WARN
    say(string.format("docs pre-warm %s%s", outcome, run.count and (" (" .. run.count .. ")") or ""), level)
  end
end

--- `$/progress` for tokens the server created for runs ("tether/<run id>").
function M.on_progress(params)
  local run_id = run_id_of(params.token)
  local value = params.value
  if not run_id or type(value) ~= "table" then
    return
  end
  if value.kind == "begin" and value.title == PREWARM_TITLE then
    state.prewarm[run_id] = true
  end
  if state.prewarm[run_id] then
    return on_prewarm_progress(run_id, value)
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
    -- A run waiting for an agent's result is told by its status (see on_run_status),
    -- with the Neovim command to answer it.
    if run.status ~= "waiting" then
      local level = vim.log.levels.INFO
      if run.status ~= "succeeded" then
        level = vim.log.levels.WARN
      end
      say(string.format("%s: %s", run.workflow or run_id, value.message or run.status), level)
    end
  end
  vim.cmd.redrawstatus()
end

--- What to tell when a run waits for an agent's result: never a prompt (it would block
--- the editor), one line with the step, its instruction and the command that answers it.
local function tell_waiting(run, instruction)
  local text = string.format("%s (%s) is waiting for a result at step %s.", run.workflow or "run", run.run_id, run.step or "?")
  if instruction then
    text = text .. " Instruction: " .. instruction .. " (:TetherInstruction)."
  end
  text = text .. string.format(" Answer: write the result to a file, then :TetherResume %s FILE", run.run_id)
  say(text, vim.log.levels.WARN)
end

--- `tether/runStatus`: { run_id, workflow, status, step?, message, instruction_file? }.
function M.on_run_status(params)
  if type(params) ~= "table" or type(params.run_id) ~= "string" then
    return
  end
  if params.workflow == PREWARM_WORKFLOW or state.prewarm[params.run_id] then
    state.prewarm[params.run_id] = true
    return
  end
  local before = state.runs[params.run_id]
  local was = before and before.status
  local run = record(params.run_id, {
    workflow = params.workflow,
    status = params.status,
    step = params.step,
    message = params.message,
    instruction = type(params.instruction_file) == "string" and params.instruction_file or nil,
  })
  if params.status == "running" or not state.active or state.active.run_id == run.run_id then
    state.active = run
  end
  if params.status == "waiting" and was ~= "waiting" then
    tell_waiting(run, run.instruction)
  end
  vim.cmd.redrawstatus()
end

--- A run's status as a command's answer gave it (a cancelled waiting run sends no
--- notification of its own: the statusline would keep saying "waiting").
function M.set_status(run_id, new_status)
  if type(new_status) ~= "string" or not state.runs[run_id] then
    return
  end
  record(run_id, { status = new_status })
  vim.cmd.redrawstatus()
end

--- The run :TetherCancel stops: the active one while it runs or waits for a result.
function M.active_run()
  if state.active and (state.active.status == "running" or state.active.status == "waiting") then
    return state.active.run_id
  end
  return nil
end

--- The instruction file of RUN_ID (or of the active run) when it waits for a result.
function M.instruction(run_id)
  local run = run_id and state.runs[run_id] or state.active
  return run and run.instruction or nil
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
  state.prewarm = {}
end

return M
