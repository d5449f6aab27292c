import { describe, expect, it, vi } from 'vitest'
import { allowed, argumentsOf, needsForm, operationOf, useCatalogue, type ActionSpec } from '../src/lib/actions'
import type { ObjectOf } from '../src/store/core'

const api = vi.hoisted(() => ({ get: vi.fn() }))
vi.mock('../src/api/client', () => ({ get: api.get, post: vi.fn(), errorText: String }))

// the shapes `GET /api/v1/vms/actions` answers (pydantic's JSON schema)
const start: ActionSpec = {
  name: 'start',
  summary: 'Start the VM',
  destructive: false,
  task: true,
  xapi: 'VM.start',
  arguments: {
    type: 'object',
    properties: {
      paused: { type: 'boolean', default: false, title: 'Paused' },
      force: { type: 'boolean', default: false, title: 'Force' },
    },
  },
}
const migrate: ActionSpec = {
  name: 'migrate',
  summary: 'Move the VM',
  destructive: false,
  task: true,
  xapi: 'VM.pool_migrate',
  arguments: {
    type: 'object',
    required: ['host'],
    properties: {
      host: {
        type: 'string',
        title: 'Host',
        pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$',
      },
      live: { type: 'boolean', default: true, title: 'Live' },
    },
  },
}
const copy: ActionSpec = {
  name: 'copy',
  summary: 'Copy',
  destructive: false,
  task: true,
  xapi: 'VM.copy',
  arguments: {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', title: 'Name', maxLength: 255, minLength: 1 },
      sr: { anyOf: [{ type: 'string', pattern: '^[0-9a-fA-F]{8}-…$' }, { type: 'null' }], default: null, title: 'Sr' },
    },
  },
}
const resize: ActionSpec = {
  name: 'resize',
  summary: 'Grow',
  destructive: false,
  task: true,
  xapi: 'VDI.resize',
  arguments: { type: 'object', required: ['size'], properties: { size: { type: 'integer', title: 'Size' } } },
}

describe('actions from the API catalogue', () => {
  it('reads the arguments from the JSON schema', () => {
    expect(argumentsOf(start).map((a) => [a.name, a.kind, a.required, a.default])).toEqual([
      ['paused', 'boolean', false, false],
      ['force', 'boolean', false, false],
    ])
    expect(argumentsOf(migrate).map((a) => [a.name, a.kind, a.required])).toEqual([
      ['host', 'host', true],
      ['live', 'boolean', false],
    ])
    expect(argumentsOf(copy).map((a) => [a.name, a.kind, a.required])).toEqual([
      ['name', 'string', true],
      ['sr', 'sr', false],
    ])
    expect(argumentsOf(resize)[0].kind).toBe('integer')
  })

  it('asks for a form only when an argument is required', () => {
    expect(needsForm(start)).toBe(false)
    expect(needsForm(migrate)).toBe(true)
  })

  it('offers an action when XAPI allows the operation of its call', () => {
    const halted: ObjectOf<'vm'> = {
      id: 'v',
      type: 'vm',
      allowed_operations: ['start', 'clone', 'destroy', 'pool_migrate'],
    }
    expect(allowed(start, halted)).toBe(true)
    expect(allowed(simple('clean-shutdown', 'VM.clean_shutdown'), halted)).toBe(false)
    expect(allowed(migrate, halted)).toBe(true) // VM.pool_migrate: the catalogue names the call
    expect(allowed(simple('rename', 'VM.set_name_label'), halted)).toBe(true) // a setter: always
    expect(allowed(start, { id: 'v', type: 'vm' })).toBe(true) // no list: let XAPI decide
    expect(allowed(start, undefined)).toBe(false)
    expect(operationOf(simple('hard-reboot', 'VM.hard_reboot'))).toBe('hard_reboot')
    expect(operationOf(migrate)).toBe('pool_migrate')
    expect(operationOf(simple('add-tag', 'VM.add_tags'))).toBeNull()
    expect(operationOf(simple('remove-tag', 'SR.remove_tags'))).toBeNull()
    expect(operationOf(simple('set-on-boot', 'VDI.set_on_boot'))).toBe('set_on_boot') // XAPI's one
  })

  it('enables or disables a host by its state', () => {
    const enable = simple('enable', 'host.enable')
    const disable = simple('disable', 'host.disable')
    expect(allowed(enable, { id: 'h', type: 'host', enabled: false })).toBe(true)
    expect(allowed(disable, { id: 'h', type: 'host', enabled: false })).toBe(false)
    expect(allowed(disable, { id: 'h', type: 'host', enabled: true, allowed_operations: [] })).toBe(true)
  })

  it('cancels a task that XAPI says can be cancelled', () => {
    const cancel = simple('cancel', 'task.cancel')
    expect(allowed(cancel, { id: 't', type: 'task', status: 'pending', allowed_operations: ['cancel'] })).toBe(true)
    expect(allowed(cancel, { id: 't', type: 'task', status: 'success', allowed_operations: [] })).toBe(false)
  })

  it("loads a collection's catalogue once, the tasks' like any other", async () => {
    const cancel = simple('cancel', 'task.cancel')
    api.get.mockResolvedValueOnce([cancel])
    const tasks = useCatalogue('tasks')
    expect(tasks.value).toBeNull() // until the API answers
    await vi.waitFor(() => expect(tasks.value).toEqual([cancel]))
    expect(api.get).toHaveBeenCalledWith('/tasks/actions')
    expect(useCatalogue('tasks')).toBe(tasks)
    expect(api.get).toHaveBeenCalledTimes(1)
  })

  it('asks again for a catalogue that failed to load', async () => {
    api.get.mockRejectedValueOnce(new Error('offline'))
    const failed = useCatalogue('vdis')
    await vi.waitFor(() => expect(failed.value).toEqual([]))
    api.get.mockResolvedValueOnce([resize])
    const again = useCatalogue('vdis')
    await vi.waitFor(() => expect(again.value).toEqual([resize]))
    expect(api.get).toHaveBeenLastCalledWith('/vdis/actions')
  })
})

/** An action without arguments, as the catalogue lists it. */
function simple(name: string, xapi: string): ActionSpec {
  return { name, summary: name, destructive: false, task: true, xapi, arguments: { type: 'object', properties: {} } }
}
