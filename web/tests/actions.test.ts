import { describe, expect, it } from 'vitest'
import { allowed, argumentsOf, needsForm, operationOf, type ActionSpec } from '../src/lib/actions'

// the shapes `GET /api/v1/vms/actions` answers (pydantic's JSON schema)
const start: ActionSpec = {
  name: 'start',
  summary: 'Start the VM',
  destructive: false,
  task: true,
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
  arguments: {
    type: 'object',
    required: ['host'],
    properties: {
      host: { type: 'string', title: 'Host', pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' },
      live: { type: 'boolean', default: true, title: 'Live' },
    },
  },
}
const copy: ActionSpec = {
  name: 'copy',
  summary: 'Copy',
  destructive: false,
  task: true,
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

  it('offers an action when XAPI allows its operation', () => {
    const halted = { id: 'v', type: 'vm', allowed_operations: ['start', 'clone', 'destroy', 'pool_migrate'] }
    expect(allowed('start', halted)).toBe(true)
    expect(allowed('clean-shutdown', halted)).toBe(false)
    expect(allowed('migrate', halted)).toBe(true)
    expect(allowed('rename', halted)).toBe(true)
    expect(allowed('start', { id: 'v', type: 'vm' })).toBe(true) // no list: let XAPI decide
    expect(allowed('start', undefined)).toBe(false)
    expect(operationOf('hard-reboot')).toBe('hard_reboot')
    expect(operationOf('add-tag')).toBeNull()
  })

  it('enables or disables a host by its state', () => {
    expect(allowed('enable', { id: 'h', type: 'host', enabled: false })).toBe(true)
    expect(allowed('disable', { id: 'h', type: 'host', enabled: false })).toBe(false)
    expect(allowed('disable', { id: 'h', type: 'host', enabled: true })).toBe(true)
  })
})
