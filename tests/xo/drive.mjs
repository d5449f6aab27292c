// Drives Xen Orchestra's XAPI connector (npm `xen-api`) against a pool, through its public API
// only, and prints one JSON line of what it saw; tests/integration/sim/test_xo_connector.py runs it.
//
//   node tests/xo/drive.mjs URL USER PASSWORD TRANSPORT HALTED_VM_UUID [TIMEOUT_SECONDS]
//
// TRANSPORT is the connector's `transport` option: json-rpc or xml-rpc. The steps: connect, wait
// until every type the connector found through system.listMethods is loaded, count the objects
// per type, call a method with a bogus ref, start the halted VM with callAsync('VM.start', …),
// wait until the VM in xapi.objects is Running (delivered by the connector's own event loop:
// nothing here polls), start it again (synchronously, then through callAsync: both must fail),
// take a barrier (every event up to now is applied), count again, disconnect. Exit 0 with the
// results, or exit 1 with an `error` field (and what was recorded until then) on any unexpected
// failure, including the event loop failing or the overall timeout.

import { format } from 'node:util'
import { createClient } from 'xen-api'

const [url, user, password, transport, vmUuid, timeoutArg] = process.argv.slice(2)
if (vmUuid === undefined) {
  process.stderr.write('usage: node drive.mjs URL USER PASSWORD json-rpc|xml-rpc VM_UUID [TIMEOUT_S]\n')
  process.exit(2)
}
const timeoutMs = Number(timeoutArg ?? 60) * 1e3
const started = Date.now()

const results = { transport, stage: 'init' }

// The connector reports what goes wrong in its background work (initial fetch of a type, the
// event loop) with console.warn: keep every warning, and still show it on stderr.
results.warnings = []
const warn = console.warn.bind(console)
console.warn = (...args) => {
  results.warnings.push(format(...args).slice(0, 2000))
  warn(...args)
}

const describeError = error =>
  error == null
    ? null
    : {
        code: error.code ?? null,
        params: error.params ?? null,
        message: String(error.message ?? error).slice(0, 2000),
        method: error.call?.method ?? null,
      }

let finished = false
function finish(exitCode) {
  if (finished) return
  finished = true
  results.elapsed_ms = Date.now() - started
  process.stdout.write(JSON.stringify(results) + '\n', () => process.exit(exitCode))
}

function fail(error) {
  if (results.error === undefined) {
    results.error = `${results.stage}: ${error?.stack ?? error}`.slice(0, 4000)
    results.error_detail = describeError(error)
  }
  finish(1)
}

process.on('unhandledRejection', fail)
process.on('uncaughtException', fail)
setTimeout(() => fail(new Error(`timed out after ${timeoutMs / 1e3} s`)), timeoutMs)

const xapi = createClient({
  url,
  auth: { user, password },
  transport,
  allowUnauthorized: true,
})

// The event loop's signals: a failure fails every wait at once instead of waiting for the timeout.
results.event_fetches = 0
results.event_fetching_errors = []
let rejectOnEventError
const eventLoopFailed = new Promise((resolve, reject) => {
  rejectOnEventError = reject
})
eventLoopFailed.catch(() => {})
xapi.on('eventFetchingSuccess', () => {
  results.event_fetches++
})
xapi.on('eventFetchingError', error => {
  results.event_fetching_errors.push(describeError(error))
  rejectOnEventError(Object.assign(new Error(`event loop failed: ${error?.message ?? error}`), { cause: error }))
})

// A step that needs no event: only the overall timeout bounds it.
const step = (stage, promise) => {
  results.stage = stage
  return promise
}

// A step that completes through the connector's event loop (task results, xapi.objects, the
// barrier): it fails at once when the event loop fails.
const eventStep = (stage, promise) => {
  results.stage = stage
  return Promise.race([promise, eventLoopFailed])
}

const countByType = () => {
  const counts = {}
  for (const object of Object.values(xapi.objects.all)) {
    counts[object.$type] = (counts[object.$type] ?? 0) + 1
  }
  return counts
}

const expectFailure = async (wait, stage, promise) => {
  try {
    const value = await wait(stage, promise)
    return { succeeded: true, value }
  } catch (error) {
    if (error?.code === undefined) throw error // not an API error: unexpected
    return describeError(error)
  }
}

try {
  await step('connect', xapi.connect())
  const objectsFetched = xapi.objectsFetched
  await step('objectsFetched', objectsFetched)
  results.loaded_ms = Date.now() - started
  results.loaded_counts = countByType()
  results.pool_ref = xapi.pool.$ref

  // the classes the connector watches, computed as it does from system.listMethods
  const methods = await step('system.listMethods', xapi.call('system.listMethods'))
  results.discovered_types = [
    ...new Set(methods.filter(m => m.endsWith('.get_all_records')).map(m => m.slice(0, m.indexOf('.')))),
  ].sort()

  // a call with a ref that names nothing
  const bogus = 'OpaqueRef:00000000-dead-beef-0000-000000000000'
  results.bogus_ref = bogus
  results.bogus_call = await expectFailure(step, 'bogus ref', xapi.call('VM.get_power_state', bogus))

  results.stage = 'find VM'
  const vm = xapi.getObjectByUuid(vmUuid)
  const ref = vm.$ref
  results.vm_ref = ref
  results.vm_type = vm.$type
  results.initial_power_state = vm.power_state

  // Every state of the VM that reaches xapi.objects, with how many event.from calls had
  // answered by then; resolves when it is Running.
  results.power_states_seen = []
  const fetchesBeforeStart = results.event_fetches
  results.event_fetches_before_start = fetchesBeforeStart
  const running = new Promise(resolve => {
    const watch = objects => {
      const object = objects[vmUuid]
      if (object === undefined) return
      results.power_states_seen.push({ power_state: object.power_state, event_fetches: results.event_fetches })
      if (object.power_state === 'Running') resolve(object)
    }
    xapi.objects.on('add', watch)
    xapi.objects.on('update', watch)
  })

  const startResult = await eventStep('callAsync VM.start', xapi.callAsync('VM.start', ref, false, false))
  results.start_result = startResult
  const runningVm = await eventStep('wait for Running', running)
  results.running = {
    power_state: runningVm.power_state,
    resident_on: runningVm.resident_on,
    domid: runningVm.domid,
    event_fetches: results.event_fetches,
  }
  results.running_via_event_loop =
    results.power_states_seen.find(seen => seen.power_state === 'Running').event_fetches > fetchesBeforeStart

  results.second_start = await expectFailure(step, 'second VM.start', xapi.call('VM.start', ref, false, false))
  results.second_start_async = await expectFailure(
    eventStep,
    'second callAsync VM.start',
    xapi.callAsync('VM.start', ref, false, false)
  )

  await eventStep('barrier', xapi.barrier())
  results.final_counts = countByType()
  const finalVm = xapi.getObjectByUuid(vmUuid)
  results.final_vm = {
    power_state: finalVm.power_state,
    resident_on: finalVm.resident_on,
    domid: finalVm.domid,
    current_operations: finalVm.current_operations,
  }

  // The initial load happened once: a restart of the main loop (SESSION_INVALID, EVENTS_LOST)
  // would have made a new objectsFetched promise and fetched everything again.
  results.reloaded = xapi.objectsFetched !== objectsFetched
  results.watch_events_error = describeError(xapi.watchEventsError)
  results.status_before_disconnect = xapi.status

  await step('disconnect', xapi.disconnect())
  results.status = xapi.status
  results.stage = 'done'
  finish(0)
} catch (error) {
  fail(error)
}
